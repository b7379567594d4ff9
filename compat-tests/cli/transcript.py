"""Scripted sessions of the Java CLI (zkCli.sh) and the C CLI (cli_mt).

A session is a file of commands, one a line (`#` starts a comment), run in one
client session against one server. Its transcript is cut into one segment per
command, and each segment is normalised so that two servers can be compared:
zxids and session ids become symbols in order of first appearance (Z1, Z2..,
S1, S2..; 0 stays 0), dates become <time>, and lines that only describe the
client process (logging, timings, the session id banner) are dropped. Watch
notifications that the Java CLI prints from its event thread may land anywhere,
so they are taken out of the segments and compared as one sorted list.

Files: sessions/NAME.zkcli or sessions/NAME.climt, recorded transcripts from
Apache ZooKeeper in expected/VERSION/NAME.txt (regenerate with `record`). The
Java CLI is the zkCli of the reference release (COMPAT_REFERENCE, as
`run.sh --reference`: 3.9 unless set), and VERSION is that release's.

    COMPAT_REFERENCE=3.9 python3 transcript.py record HOST:PORT   # against a fresh Apache ZooKeeper 3.9.5
    python3 transcript.py show HOST:PORT NAME
"""

import os
import pty
import re
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))
import servers  # noqa: E402  (harness/servers.py: the reference release)

SESSIONS = os.path.join(HERE, "sessions")
CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
MARKER = "printwatches is on"  # zkCli prints this for a bare `printwatches`, locally
SESSION_TIMEOUT = 60

DROP = [
    re.compile(p)
    for p in (
        r"^SLF4J(\(W\))?: ",
        r"^Connecting to ",
        r"^Welcome to ZooKeeper!",
        r"^JLine support is",
        r"^time = -?\d+ msec$",
        r"^Got a new session id: ",
        r"^Watcher SESSION_EVENT state = CONNECTED_STATE$",
        r"^Quitting\.\.\.$",
        r"^bye$",
    )
]
DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"+\d+ \d\d:\d\d:\d\d( [A-Z]{2,5})? \d{4}"
)
ZXID = re.compile(r"\b([cmp]Zxid = |[cm]zxid=)(0x)?([0-9a-fA-F]+)\b")
SESSION = re.compile(r"\b(ephemeralOwner = )(0x)?([0-9a-fA-F]+)\b")
# zkCli 3.9 prints a notification's zxid in decimal (-1 for events that are not a txn's).
EVENT_ZXID = re.compile(r"^(WatchedEvent .* zxid: )(\d+)$")


class Symbols:
    """Gives each distinct value a stable name in order of first appearance."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.names = {}

    def __call__(self, value):
        if int(value, 16) == 0:
            return "0"
        key = value.lower().lstrip("0")
        if key not in self.names:
            self.names[key] = f"{self.prefix}{len(self.names) + 1}"
        return self.names[key]


class Normaliser:
    def __init__(self):
        self.zxids = Symbols("Z")
        self.sessions = Symbols("S")

    def line(self, text):
        text = text.rstrip("\r\n").rstrip()
        if any(p.search(text) for p in DROP):
            return None
        text = DATE.sub("<time>", text)
        text = ZXID.sub(lambda m: m.group(1) + self.zxids(m.group(3)), text)
        text = SESSION.sub(lambda m: m.group(1) + self.sessions(m.group(3)), text)
        text = EVENT_ZXID.sub(lambda m: m.group(1) + self.zxids(format(int(m.group(2)), "x")), text)
        return text


def read_session(name):
    """The commands of sessions/NAME.*, and which CLI runs them."""
    for ext, tool in ((".zkcli", "zkcli"), (".climt", "climt")):
        path = os.path.join(SESSIONS, name + ext)
        if os.path.exists(path):
            with open(path) as f:
                cmds = [ln.rstrip("\n") for ln in f]
            return tool, [c for c in cmds if c.strip() and not c.lstrip().startswith("#")]
    raise FileNotFoundError(f"no session {name} in {SESSIONS}")


def session_names():
    names = {os.path.splitext(f)[0] for f in os.listdir(SESSIONS)}
    return sorted(n for n in names if not n.startswith("."))


WATCH_BLOCK = re.compile(r"^WATCHER::$|^WatchedEvent state:")


def _drain(fd, idle, limit, until=None, settle=None):
    """Read from fd until it has been quiet for `idle` seconds (at most `limit`).

    With `until` (a regex), first keep reading until it matches the output or
    `settle` seconds (default: `limit`) have passed, then wait for quiet."""
    out = b""
    start = time.monotonic()
    end = start + limit
    settle_end = start + (settle if settle is not None else limit)
    quiet_until = start + idle
    while time.monotonic() < end:
        now = time.monotonic()
        waiting = until is not None and now < settle_end and not until.search(out)
        if waiting:
            quiet_until = max(quiet_until, settle_end)
        wait = max(0.0, min(quiet_until, end) - now)
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            if time.monotonic() >= quiet_until:
                break
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
        quiet_until = time.monotonic() + idle
    return out.decode(errors="replace").replace("\r", "").splitlines()


# Every cli_mt reply to a request prints one of these; `exists` of a node that
# is there and `addauth` print nothing, so they wait SETTLE seconds instead.
CLIMT_REPLY = re.compile(rb"rc = -?\d+|Error -?\d+")
CLIMT_CONNECTED = re.compile(rb"CONNECTED_STATE")
SETTLE = 1.5


def run_climt(address, cmds, idle=0.3):
    """Raw segments of a cli_mt session, driven one command at a time on a pty.

    cli_mt is asynchronous, so each command is sent alone and its output read
    until its reply has come (or SETTLE seconds) and the terminal has then been
    quiet for `idle` seconds."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execv(CLI_MT, [CLI_MT, "-h", address])
    segments = []
    try:
        # The banner; commands wait until the session is established.
        _drain(fd, 0.3, 20.0, until=CLIMT_CONNECTED)
        for cmd in cmds:
            os.write(fd, (cmd + "\n").encode())
            out = _drain(fd, idle, 10.0, until=CLIMT_REPLY, settle=SETTLE)
            if out and out[0].strip() == cmd.strip():
                out = out[1:]  # the terminal's echo of the command
            segments.append(out)
        os.write(fd, b"quit\n")
        _drain(fd, 0.5, 5.0)
    finally:
        _reap(pid)
        os.close(fd)
    return segments, []


def _reap(pid):
    for _ in range(50):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def transcript(address, name):
    """[(command, normalised lines)] plus a final ('<watch events>', sorted lines)."""
    tool, cmds = read_session(name)
    if tool == "zkcli":
        raw, watches = run_zkcli(address, cmds)
    else:
        raw, watches = run_climt(address, cmds)
    norm = Normaliser()
    result = []
    for cmd, seg in zip(cmds, raw):
        lines = [norm.line(ln) for ln in seg]
        lines = [ln for ln in lines if ln is not None and ln != ""]
        if tool == "climt":
            lines = sort_child_lists(lines)
        else:
            lines = sort_unordered(cmd, lines)
        result.append((cmd, lines))
    if tool == "zkcli":
        events = sorted(n for n in (norm.line(w) for w in watches) if n)
        result.append(("<watch events>", events))
    return result


def sort_child_lists(lines):
    """Sort the child names cli_mt prints after `<path>: rc = 0` for ls and ls2.

    The server returns children in no defined order (Apache ZooKeeper's is a
    hash set's) and zkCli sorts them; so do we for the C client."""
    out, names, in_list = [], [], False
    for line in lines + [None]:
        is_name = line is not None and line.startswith("\t") and "=" not in line
        if in_list and is_name:
            names.append(line)
            continue
        if names:
            out.extend(sorted(names))
            names = []
        in_list = line is not None and line.endswith(": rc = 0")
        if line is not None:
            out.append(line)
    return out


LIST = re.compile(r"^\[(.*)\]$")


def sort_unordered(cmd, lines):
    """Put in order what zkCli prints in the server's (undefined) order.

    `ls -R` walks the tree in getChildren order, list lines such as
    getEphemerals' come as the server returned them, and whoami lists the
    connection's auth ids from a set."""
    if cmd.split()[:2] == ["ls", "-R"]:
        return sorted(lines)
    if cmd.split()[:1] == ["whoami"]:
        return lines[:1] + sorted(lines[1:])
    out = []
    for line in lines:
        m = LIST.match(line)
        if m and m.group(1):
            line = "[" + ", ".join(sorted(m.group(1).split(", "))) + "]"
        out.append(line)
    return out


def run_zkcli(address, cmds):
    """Segments (one list of lines per command) and watch lines of a zkCli session.

    A bare `printwatches` after each command prints a fixed line without talking
    to the server; those lines cut the output into segments. Errors go to
    stderr, which is merged into stdout so the order is kept."""
    script = "printwatches\n" + "".join(f"{c}\nprintwatches\n" for c in cmds) + "quit\n"
    env = dict(os.environ, CLIENT_JVMFLAGS="-Dzookeeper.jmx.log4j.disable=true")
    try:
        proc = subprocess.run(
            servers.reference().cli_command() + ["-server", address],
            input=script.encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=SESSION_TIMEOUT,
            env=env,
        )
        lines = proc.stdout.decode(errors="replace").splitlines()
    except subprocess.TimeoutExpired as err:
        lines = (err.stdout or b"").decode(errors="replace").splitlines()
        lines.append("<session timed out>")
    return _segment(lines, len(cmds))


def _segment(lines, count):
    segments, current, watches = [], [], []
    for line in lines:
        if line.strip() == MARKER:
            segments.append(current)
            current = []
        elif WATCH_BLOCK.search(line):
            if line.startswith("WatchedEvent"):
                watches.append(line)
        else:
            current.append(line)
    segments.append(current)
    # Segment 0 is the connection banner; the text after the last marker is `quit`.
    cmd_segments = segments[1 : count + 1]
    cmd_segments += [["<no output: session ended>"]] * (count - len(cmd_segments))
    return cmd_segments, watches


def render(entries):
    out = []
    for cmd, lines in entries:
        out.append(f"### {cmd}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def parse(text):
    entries, current = [], None
    for line in text.splitlines():
        if line.startswith("### "):
            current = (line[4:], [])
            entries.append(current)
        elif current is not None:
            current[1].append(line)
    return entries


def expected_dir():
    """Where the transcripts recorded from the reference release live."""
    return os.path.join(HERE, "expected", servers.reference().version)


def load_expected(name):
    with open(os.path.join(expected_dir(), name + ".txt")) as f:
        return parse(f.read())


def record(address):
    os.makedirs(expected_dir(), exist_ok=True)
    for name in session_names():
        text = render(transcript(address, name))
        with open(os.path.join(expected_dir(), name + ".txt"), "w") as f:
            f.write(text)
        print(f"recorded {name}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "record":
        record(argv[1])
    elif len(argv) >= 3 and argv[0] == "show":
        sys.stdout.write(render(transcript(argv[1], argv[2])))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
