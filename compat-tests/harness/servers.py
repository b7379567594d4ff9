"""Starting and stopping the server under test from one zoo.cfg.

Both servers are started from the same configuration file, written by
`write_zoo_cfg`: a fresh dataDir, a loopback client port, tickTime 2000, every
four-letter word allowed and the AdminServer off. Apache ZooKeeper (the
reference chosen with `--reference`, see REFERENCES) runs as zkServer.sh runs
it: QuorumPeerMain on the release's jars; ferrokeeper runs as
`$FERROKEEPER_BIN start <zoo.cfg>`. A server is stopped by its PID only.
"""

import dataclasses
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

COMPAT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAVA_DIR = "/usr/share/java"
MAVEN_DIR = os.path.join(COMPAT_DIR, ".maven")
ZOOKEEPER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
ZOOKEEPER_CLI_MAIN = "org.apache.zookeeper.ZooKeeperMain"
DEBIAN_LOG4J = "/etc/zookeeper/conf/log4j.properties"
# The directory on a Maven reference's class path that holds its logback.xml.
LOGBACK_CONF_DIR = os.path.join(COMPAT_DIR, "reference", "conf")
# The environment variable that carries --reference to the judges' own processes (kazoo's shim, transcript.py).
REFERENCE_ENV = "COMPAT_REFERENCE"
DEFAULT_REFERENCE = "3.9"


@dataclasses.dataclass(frozen=True)
class Reference:
    """One Apache ZooKeeper release the judges can take as the reference."""

    key: str  # the --reference value
    version: str  # what the release reports (zookeeper.version in `envi`)
    curator: str  # the Curator release of the curator judge against it

    @property
    def name(self):
        """The server's name in RESULTS.md."""
        return f"zookeeper-{self.version}"

    @property
    def debian(self):
        return self.key == "3.8.0"

    def jars(self):
        """The server's jars: Debian's (zookeeper.jar names most of its dependencies in its manifest; the rest
        are needed by the Netty connection factory, the AdminServer and log4j logging), or every jar install.sh
        copied from Maven Central for the release."""
        if self.debian:
            names = ("zookeeper.jar", "netty-codec.jar", "netty-resolver.jar", "servlet-api.jar",
                     "slf4j-log4j12.jar", "log4j-1.2.jar")  # fmt: skip
            return [os.path.join(JAVA_DIR, name) for name in names]
        return sorted(glob.glob(os.path.join(MAVEN_DIR, f"zookeeper-{self.version}", "*.jar")))

    def prometheus_provider(self):
        """Whether ZooKeeper's Prometheus metrics provider is on the release's class path (install.sh adds the
        newest served release of it for the 3.9 line; none of the 3.8 line is served, Debian ships none)."""
        return any(os.path.basename(jar).startswith("zookeeper-prometheus-metrics-") for jar in self.jars())

    def installed(self):
        """'' when the release is installed, else what is missing."""
        jars = self.jars()
        if not jars or not all(os.path.exists(jar) for jar in jars):
            where = JAVA_DIR if self.debian else os.path.join(MAVEN_DIR, f"zookeeper-{self.version}")
            return f"Apache ZooKeeper {self.version} is not installed in {where}: run compat-tests/install.sh"
        return ""

    def classpath(self):
        """The server's class path; a Maven release's logback.xml is found on it (logback looks there)."""
        jars = self.jars()
        return ":".join(jars if self.debian else [LOGBACK_CONF_DIR] + jars)

    def logging_props(self, log_dir):
        """JVM properties of the server's logging: INFO and up on the console."""
        if self.debian:
            return [f"-Dzookeeper.log.dir={log_dir}", "-Dzookeeper.root.logger=INFO,CONSOLE",
                    f"-Dlog4j.configuration=file:{DEBIAN_LOG4J}"]  # fmt: skip
        return [f"-Dzookeeper.log.dir={log_dir}"]

    def cli_command(self):
        """zkCli of the release. Debian's zkCli.sh; for a Maven release ZooKeeperMain as its zkCli.sh starts it,
        without the logging binding (Debian's zkCli has none either: the CLI's own output is what is judged) and
        without JLine, as Debian's runs (commands are then read line by line from stdin, with no prompt)."""
        if self.debian:
            return ["/usr/share/zookeeper/bin/zkCli.sh"]
        left_out = ("logback-", "jline-")
        jars = [jar for jar in self.jars() if not os.path.basename(jar).startswith(left_out)]
        java = os.environ.get("COMPAT_REAL_JAVA", "/usr/bin/java")
        return [java, "-Dzookeeper.jmx.log4j.disable=true", "-cp", ":".join(jars), ZOOKEEPER_CLI_MAIN]


# The newest releases of each line that the registry serves (install.sh fetches them) and Debian's 3.8.0.
REFERENCES = {
    "3.9": Reference("3.9", "3.9.5", "5.9.0"),
    "3.8": Reference("3.8", "3.8.6", "5.9.0"),
    "3.8.0": Reference("3.8.0", "3.8.0", "5.4"),
}


def reference():
    """The reference of this run: --reference, handed down in COMPAT_REFERENCE (3.9 when unset)."""
    key = os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE
    if key not in REFERENCES:
        raise SystemExit(f"{REFERENCE_ENV}={key!r}: the reference is one of {', '.join(REFERENCES)}")
    return REFERENCES[key]


PORT_WAIT_SECONDS = 30.0


def write_zoo_cfg(workdir, port, extra_cfg=None):
    """Write the shared zoo.cfg into workdir and return its path.

    extra_cfg (a dict) replaces the values of keys the shared file has and adds
    the others after them, in its order."""
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    keys = {
        "tickTime": "2000",
        "dataDir": data_dir,
        "clientPort": str(port),
        "clientPortAddress": "127.0.0.1",
        "4lw.commands.whitelist": "*",
        "admin.enableServer": "false",
    }
    keys.update(extra_cfg or {})
    path = os.path.join(workdir, "zoo.cfg")
    with open(path, "w") as cfg:
        cfg.write("".join(f"{key}={value}\n" for key, value in keys.items()))
    return path


def zookeeper_command(cfg_path, log_dir, jvm_props=(), ref=None):
    """The command line that starts Apache ZooKeeper (the run's reference unless ref is given) from cfg_path."""
    ref = ref or reference()
    return [
        os.environ.get("COMPAT_REAL_JAVA", "/usr/bin/java"),
        "-Xmx512m",
        *jvm_props,
        "-cp",
        ref.classpath(),
        *ref.logging_props(log_dir),
        "-Djava.awt.headless=true",
        ZOOKEEPER_MAIN,
        cfg_path,
    ]


def ferrokeeper_command(cfg_path, binary):
    return [binary, "start", cfg_path]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def ask(port, payload, host="127.0.0.1", timeout=2.0):
    """Sends a four-letter word (and what follows it) on a new connection and returns the whole answer, read
    until the server closes. Raises OSError when there is no server to ask."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode(errors="replace")


def srvr(port, host="127.0.0.1"):
    """The `srvr` four-letter word's answer ('' when there is none)."""
    try:
        return ask(port, b"srvr", host)
    except OSError:
        return ""


class Server:
    """One server process started from its own zoo.cfg in a temp directory.

    jvm_props are Java system properties (-Dname=value): Apache ZooKeeper gets
    them on its command line, ferrokeeper in SERVER_JVMFLAGS, the variable
    zkServer.sh passes to the JVM. extra_cfg adds or replaces zoo.cfg keys
    (see write_zoo_cfg)."""

    def __init__(self, kind, port, ferrokeeper_bin, log_dir, jvm_props=(), extra_cfg=None):
        self.kind = kind
        self.jvm_props = list(jvm_props)
        self.port = port
        self.ferrokeeper_bin = ferrokeeper_bin
        self.log_dir = log_dir
        self.workdir = tempfile.mkdtemp(prefix=f"compat-{kind}-{port}-")
        self.cfg_path = write_zoo_cfg(self.workdir, port, extra_cfg)
        self.process = None
        self.log_path = os.path.join(log_dir, f"{kind}-{port}.log")
        self.error = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, wait_seconds=PORT_WAIT_SECONDS, wait_serving=True):
        """Start the server and wait for its port (and, with wait_serving, until it serves); False (with .error)
        if the port never opens. An ensemble member alone cannot serve: its ensemble waits for the election."""
        if port_open(self.port):
            self.error = f"port {self.port} is already in use by another process"
            return False
        env = dict(os.environ)
        if self.kind == "zookeeper":
            missing = reference().installed()
            if missing:
                self.error = missing
                return False
            cmd = zookeeper_command(self.cfg_path, self.workdir, self.jvm_props)
        else:
            cmd = ferrokeeper_command(self.cfg_path, self.ferrokeeper_bin)
            env["SERVER_JVMFLAGS"] = " ".join(self.jvm_props)
        os.makedirs(self.log_dir, exist_ok=True)
        log = open(self.log_path, "w")
        try:
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        except OSError as err:
            self.error = f"cannot start {cmd[0]}: {err}"
            return False
        finally:
            log.close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if port_open(self.port):
                if wait_serving:
                    self._wait_serving(deadline)
                return True
            if self.process.poll() is not None:
                self.error = (
                    f"{self.kind} exited with status {self.process.returncode} "
                    f"before opening 127.0.0.1:{self.port} (log: {self.log_path})"
                )
                return False
            time.sleep(0.2)
        self.error = (
            f"{self.kind} did not open 127.0.0.1:{self.port} within "
            f"{wait_seconds:.0f}s (log: {self.log_path})"
        )
        return False

    def _wait_serving(self, deadline):
        """After the port opens, wait (bounded) until `srvr` stops saying the server is
        not serving yet: Apache ZooKeeper opens its port before it takes sessions. A
        server that does not answer `srvr` at all is taken as ready."""
        while time.monotonic() < deadline:
            answer = srvr(self.port)
            if "not currently serving" not in answer:
                return
            time.sleep(0.2)

    def stop(self):
        """Stop the server by its PID (TERM, then KILL) and remove its temp directory."""
        if self.process is not None and self.process.poll() is None:
            stop_pid(self.process.pid)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def stop_pid(pid, grace=10.0):
    """TERM one process, wait for it, then KILL it if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pid_alive(pid):
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def free_port():
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The letters of a mixed ensemble's layout (run.py --mix): each member's kind, by id.
MEMBER_KINDS = {"f": "ferrokeeper", "z": "zookeeper"}


def parse_layout(layout):
    """The kinds of a layout such as `fzz` (member 1 ferrokeeper, members 2 and 3 Apache ZooKeeper)."""
    kinds = [MEMBER_KINDS.get(letter) for letter in layout.lower()]
    if len(kinds) < 2 or None in kinds:
        raise ValueError(f"{layout!r}: a layout is one letter per member (at least 2), f or z")
    return kinds


def kind_name(kind):
    """A member kind as RESULTS.md names it: ferrokeeper, or the reference release."""
    return "ferrokeeper" if kind == "ferrokeeper" else reference().name


class Ensemble:
    """Members of the given kinds (one per id, from 1) on 127.0.0.1, started together from the shared zoo.cfg
    plus the ensemble's lines (server.N, initLimit, syncLimit, a myid each). Member 1 listens on `port`. Started
    empty, highest id first, the members usually elect the highest id (equal zxids), so member 1 follows, in an
    ensemble of either kind or of both (two fast members may elect before a slow one takes part); which member
    leads is read from `srvr`, never assumed.

    `client` is the member clients are sent to: "follower" (the lowest id that follows) or "leader". With
    `kill_leader`, once the ensemble has formed its leader is killed with SIGKILL and clients are sent to a
    member of the ensemble the survivors elect. `describe()` says what happened, for the row's note. Stands in
    for a Server (address, error, stop)."""

    def __init__(self, kinds, port, ferrokeeper_bin, log_dir, jvm_props=(), extra_cfg=None,
                 client="follower", kill_leader=False):  # fmt: skip
        self.kinds = list(kinds)
        self.kind = self.kinds[0] if len(set(self.kinds)) == 1 else "mixed"
        self.port = port
        self.error = None
        self.client = client
        self.kill_leader = kill_leader
        self.events = []  # what describe() reports
        self.chosen = None  # the member (index) clients are sent to
        size = len(self.kinds)
        ports = {sid: (port if sid == 1 else free_port(), free_port(), free_port()) for sid in range(1, size + 1)}
        lines = {"initLimit": "10", "syncLimit": "5"}
        for sid, (_, quorum, election) in ports.items():
            lines[f"server.{sid}"] = f"127.0.0.1:{quorum}:{election}"
        self.members = []
        for sid, (client_port, _, _) in ports.items():
            cfg = dict(extra_cfg or {})
            cfg.update(lines)
            member = Server(self.kinds[sid - 1], client_port, ferrokeeper_bin, log_dir, jvm_props, cfg)
            with open(os.path.join(member.workdir, "data", "myid"), "w") as myid:
                myid.write(f"{sid}\n")
            self.members.append(member)

    @property
    def address(self):
        port = self.members[self.chosen].port if self.chosen is not None else self.port
        return f"127.0.0.1:{port}"

    def member_name(self, index):
        return f"member {index + 1} ({kind_name(self.kinds[index])})"

    def _elected(self, alive, deadline):
        """Waits until exactly one of the members `alive` (indexes) leads and every other one follows; returns
        the leader's index, or None when the deadline passes (self.error says the modes last seen)."""
        modes = []
        while time.monotonic() < deadline:
            modes = [mode_of(srvr(self.members[i].port)) for i in alive]
            if modes.count("leader") == 1 and all(m in ("leader", "follower") for m in modes):
                return alive[modes.index("leader")]
            time.sleep(0.2)
        shown = ", ".join(f"{i + 1}: {m}" for i, m in zip(alive, modes))
        self.error = f"the {self.kind} ensemble did not elect within the time given: modes by member {shown}"
        return None

    def start(self, wait_seconds=PORT_WAIT_SECONDS):
        """Start every member, wait until one leads and the others follow (with kill_leader: kill the leader and
        wait for the survivors to elect), then pick the member clients use; False (with .error) if not."""
        # Highest id first: the first two members up elect the higher of them, so the highest id leads however
        # long each kind takes to start (as kazoo's harness starts its cluster).
        for member in reversed(self.members):
            if not member.start(wait_seconds, wait_serving=False):
                self.error = member.error
                return False
        alive = list(range(len(self.members)))
        leader = self._elected(alive, time.monotonic() + wait_seconds)
        if leader is None:
            return False
        self.events.append(f"leader {self.member_name(leader)}")
        if self.kill_leader:
            killed_at = time.monotonic()
            os.kill(self.members[leader].process.pid, signal.SIGKILL)
            self.members[leader].process.wait()
            alive.remove(leader)
            leader = self._elected(alive, killed_at + wait_seconds)
            if leader is None:
                return False
            self.events.append(f"killed with SIGKILL; the survivors elected {self.member_name(leader)} "
                               f"in {time.monotonic() - killed_at:.1f} s")  # fmt: skip
        if self.client == "leader":
            self.chosen = leader
            self.events.append("clients on the leader")
        else:
            self.chosen = min(i for i in alive if i != leader)
            self.events.append(f"clients on {self.member_name(self.chosen)}, a follower")
        return True

    def describe(self):
        """What the ensemble did: its leader (and the one elected after the kill) and the member clients used."""
        return "; ".join(self.events)

    def stop(self):
        for member in self.members:
            member.stop()


def mode_of(srvr_answer):
    """The `Mode:` of a `srvr` answer, or None."""
    for line in srvr_answer.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return None
