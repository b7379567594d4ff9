"""Compile and run GoldenDriver (the real Java client) through the proxy.

The driver prints "@drop" or "@offline <ops>" when it wants the network cut;
this module does it with the proxy (and, for @offline, changes znodes through
a direct side connection while the client is cut off), then answers "ok".
"""

import os
import subprocess

from kazoo.client import KazooClient

from zkserver import classpath

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "java", "GoldenDriver.java")
COMPILE_JARS = ["zookeeper.jar", "zookeeper-jute.jar"]
RUN_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar",
            "slf4j-nop.jar"]

JAAS_CLIENT = """Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="saslbob"
    password="saslsecret";
};
"""


def compile_driver(build_dir):
    os.makedirs(build_dir, exist_ok=True)
    subprocess.run(["javac", "-implicit:none", "-d", build_dir, "-cp",
                    classpath(COMPILE_JARS), SOURCE], check=True)
    return build_dir


def _offline(proxy, server_port, spec, log):
    proxy.pause()
    proxy.drop_all()
    side = KazooClient(hosts=f"127.0.0.1:{server_port}", timeout=4.0)
    side.start()
    for op in spec.split(";"):
        verb, path, value = op.split()
        if verb == "set":
            side.set(path, value.encode())
        elif verb == "create":
            side.create(path, value.encode())
        else:
            raise ValueError(f"unknown offline op {op!r}")
        log(f"offline change: {op.strip()}")
    side.stop()
    side.close()
    proxy.resume()


def run(proxy, server_port, build_dir, scenario, log, label="java",
        sasl_dir=None):
    proxy.label = label
    flags = ["-Dzookeeper.sasl.client=false"]
    if sasl_dir is not None:
        jaas = os.path.join(sasl_dir, "jaas-client.conf")
        with open(jaas, "w") as f:
            f.write(JAAS_CLIENT)
        flags = [f"-Djava.security.auth.login.config={jaas}",
                 "-Dzookeeper.sasl.client=true"]
    cmd = ["java", "-cp", build_dir + ":" + classpath(RUN_JARS), *flags,
           "GoldenDriver", proxy.address(), scenario]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    output = []
    for line in proc.stdout:
        line = line.rstrip("\n")
        output.append(line)
        if line == "@drop":
            proxy.wait_quiet()
            proxy.drop_all()
            log("java: connection dropped")
        elif line.startswith("@offline "):
            proxy.wait_quiet()
            _offline(proxy, server_port, line[len("@offline "):], log)
        else:
            continue
        proc.stdin.write("ok\n")
        proc.stdin.flush()
    rc = proc.wait()
    proxy.wait_quiet()
    if rc != 0 or "done" not in output:
        raise RuntimeError(f"java {scenario} failed (rc {rc}):\n"
                           + "\n".join(output[-40:]))
    log(f"java {scenario}: {len(output)} lines of output")
    return output

