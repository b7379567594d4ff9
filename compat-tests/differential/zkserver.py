"""Start and stop a throw-away Apache ZooKeeper server for validating the judge.

Uses the Apache ZooKeeper jars installed on the machine (Debian: /usr/share/java/zookeeper.jar, whose manifest
names its dependencies) and runs QuorumPeerMain on its own zoo.cfg in a temporary directory, on 127.0.0.1 only.
The container manager is slowed to once an hour (znode.container.checkIntervalMs, a JVM property only) so that it
cannot delete an empty container in the middle of a run: its timing would differ between two servers.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

ZK_JAR = os.environ.get("ZK_JAR", "/usr/share/java/zookeeper.jar")
SLF4J_SIMPLE_JAR = "/usr/share/java/slf4j-simple.jar"  # server warnings and errors go to server.log
ZK_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


class ZkServer:
    """A standalone server in a temporary directory; stop() kills it by its pid and removes the directory."""

    def __init__(self, port, extra_cfg=None, jvm_props=None):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix=f"zk-diff-{port}-")
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        cfg = {
            "tickTime": "2000",
            "dataDir": data,
            "clientPort": str(port),
            "clientPortAddress": "127.0.0.1",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "maxClientCnxns": "0",
        }
        cfg.update(extra_cfg or {})
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        with open(self.cfg_path, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in cfg.items())
        props = {"znode.container.checkIntervalMs": "3600000", "zookeeper.jmx.log4j.disable": "true"}
        props.update(jvm_props or {})
        cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
        props["org.slf4j.simpleLogger.defaultLogLevel"] = "warn"
        cmd += [f"-D{k}={v}" for k, v in props.items()]
        cmd += ["-cp", ZK_JAR + ":" + SLF4J_SIMPLE_JAR, ZK_MAIN, self.cfg_path]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout_s=30.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper on port {self.port} exited; see {self.dir}/server.log")
            try:
                # ruok answers before the server takes sessions; srvr says "not currently serving" until then.
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"srvr")
                    if s.recv(4096).startswith(b"Zookeeper version"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"ZooKeeper on port {self.port} not ready after {timeout_s}s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv):
    """zkserver.py PORT...: start servers, print "port pid dir" per server, leave them running."""
    servers = [ZkServer(int(p)) for p in argv]
    for s in servers:
        s.wait_ready()
        print(s.port, s.proc.pid, s.dir)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
