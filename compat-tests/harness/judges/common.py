"""What every judge gets (Context) and the process runner they share."""

import dataclasses
import os
import signal
import subprocess
import time

from servers import stop_pid


@dataclasses.dataclass
class Context:
    server: str  # "zookeeper" or "ferrokeeper"
    compat_dir: str  # compat-tests/
    work_dir: str  # compat-tests/.work/<server>/<judge>/, fresh for each run
    ferrokeeper_bin: str
    address: str = ""  # host:port of the server run.py started, when NEEDS_SERVER
    reference: object = None  # the zookeeper row from RESULTS.md, or None
    # callable(kind, port, jvm_props=(), extra_cfg=None, reference=False) -> servers.Server (or servers.Ensemble)
    start_server: object = None
    layout: str = ""  # run.py --mix: the kinds of the ensemble members by id (f ferrokeeper, z Apache ZooKeeper)

    def path(self, *parts):
        return os.path.join(self.compat_dir, *parts)

    def log(self, name):
        return os.path.join(self.work_dir, name)


@dataclasses.dataclass
class Run:
    returncode: int
    timed_out: bool
    seconds: float
    log_path: str


def run_logged(cmd, log_path, timeout, cwd=None, env=None):
    """Run cmd in its own session, output to log_path; kill the whole session on timeout."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_session(proc)
    return Run(proc.returncode, timed_out, time.monotonic() - started, log_path)


def kill_session(proc):
    """TERM the process group we created for proc, then KILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def stop_recorded_pids(pid_file):
    """Stop every PID listed in pid_file that is still running (servers a harness left)."""
    if not os.path.exists(pid_file):
        return
    with open(pid_file) as pids:
        for line in pids:
            line = line.strip()
            if line.isdigit() and _is_server(int(line)):
                stop_pid(int(line))


def _is_server(pid):
    """Guard against a recycled PID: only a process started from a zoo.cfg is stopped."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"zoo.cfg" in cmdline.read()
    except OSError:
        return False


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def parse_pass_fail_lines(path):
    """Count `PASS name` / `FAIL name: why` / `SKIP name: why` lines of a judge's log."""
    passed, failed, skipped, failures = 0, 0, 0, []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("PASS "):
                    passed += 1
                elif line.startswith("FAIL "):
                    failed += 1
                    failures.append(line[5:].strip())
                elif line.startswith("SKIP "):
                    skipped += 1
    except OSError:
        pass
    return passed, failed, skipped, failures
