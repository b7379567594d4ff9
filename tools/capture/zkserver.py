"""Start and stop a real Apache ZooKeeper standalone server for captures.

The server runs from its own zoo.cfg in a fresh temporary directory, bound to
127.0.0.1 on the given port, with the admin HTTP server off. It is stopped by
its own PID.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

JAVA_DIR = "/usr/share/java"
SERVER_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar",
               "slf4j-simple.jar"]
SERVER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

JAAS_SERVER = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_saslbob="saslsecret";
};
"""


def stop_process(proc):
    """TERM a server this script started, then KILL it if it is still there after 20 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_mode(host, port):
    """The `Mode:` line of `srvr` (leader, follower, standalone), or None if the server does not answer."""
    try:
        with socket.create_connection((host, port), 2) as s:
            s.sendall(b"srvr")
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
    except OSError:
        return None
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def classpath(jars):
    return ":".join(os.path.join(JAVA_DIR, j) for j in jars)


# The servers a quorum or election capture can run: Debian's 3.8.0 (the default), or a release that
# compat-tests/install.sh put under compat-tests/.maven/zookeeper-VERSION.
DEBIAN = "3.8.0"
MAVEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "compat-tests", ".maven")

LOGBACK_INFO = """<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %level [%thread] %logger{0}: %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
"""


def server_java(version, workdir):
    """`java` and the class path and flags that start `SERVER_MAIN` of this version (its log at INFO)."""
    if version == DEBIAN:
        return ["java", "-cp", classpath(SERVER_JARS), "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"]
    jars_dir = os.path.join(MAVEN_DIR, f"zookeeper-{version}")
    if not os.path.isdir(jars_dir):
        raise SystemExit(f"{jars_dir} is missing: run compat-tests/install.sh")
    jars = sorted(os.path.join(jars_dir, j) for j in os.listdir(jars_dir) if j.endswith(".jar"))
    logback = os.path.join(workdir, "logback.xml")
    with open(logback, "w") as f:
        f.write(LOGBACK_INFO)
    return ["java", "-cp", ":".join(jars), f"-Dlogback.configurationFile={logback}"]


class RealServer:
    """One standalone server; `extra_cfg` and `jvm_flags` tune it per run."""

    def __init__(self, port, name, extra_cfg=None, jvm_flags=None, keep=False):
        self.port = port
        self.name = name
        self.extra_cfg = extra_cfg or {}
        self.jvm_flags = jvm_flags or []
        self.keep = keep
        self.root = tempfile.mkdtemp(prefix=f"fk-capture-{name}-")
        self.data_dir = os.path.join(self.root, "data")
        self.proc = None
        self.log_path = os.path.join(self.root, "server.log")

    def write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        cfg = {
            "tickTime": "2000",
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "maxClientCnxns": "0",
            "authProvider.1":
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        }
        cfg.update(self.extra_cfg)
        path = os.path.join(self.root, "zoo.cfg")
        with open(path, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k}={v}\n")
        with open(os.path.join(self.root, "jaas-server.conf"), "w") as f:
            f.write(JAAS_SERVER)
        return path

    def start(self, timeout_s=60):
        cfg = self.write_config()
        cmd = ["java", "-cp", classpath(SERVER_JARS),
               "-Djava.awt.headless=true",
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
               "-Djava.security.auth.login.config="
               + os.path.join(self.root, "jaas-server.conf"),
               *self.jvm_flags, SERVER_MAIN, cfg]
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited, see {self.log_path}")
            if b"Mode:" in (self.four_letter(b"srvr") or b""):
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not start serving, see {self.log_path}")

    def four_letter(self, word):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 2) as s:
                s.sendall(word)
                out = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return out
                    out += chunk
        except OSError:
            return None

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def version2_dir(self):
        return os.path.join(self.data_dir, "version-2")

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
