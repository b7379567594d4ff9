"""curator judge: Curator recipes (curator/src/compat) against the server.

The Java sources are compiled with javac against the Curator of the reference
(servers.Reference.curator: Curator's newest release from Maven Central with
the ZooKeeper client it names, or Debian's Curator 5.4 and ZooKeeper 3.8 client
jars against Debian's 3.8.0) on every run, then run against the server that
run.py started; each check prints `PASS group/name` or `FAIL group/name: why`.
"""

import glob
import os
import shutil

import results
import servers
from judges.common import parse_pass_fail_lines, run_logged, tail

NAME = "curator"
NEEDS_SERVER = True
JARS = [
    "curator-framework.jar",
    "curator-recipes.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
]
TIMEOUT_SECONDS = 600


def jars():
    version = servers.reference().curator
    if version == "5.4":
        return [os.path.join(servers.JAVA_DIR, jar) for jar in JARS]
    return sorted(glob.glob(os.path.join(servers.MAVEN_DIR, f"curator-{version}", "*.jar"))) or [
        os.path.join(servers.MAVEN_DIR, f"curator-{version}", "curator-recipes.jar")
    ]


def classpath():
    return ":".join(jars())


def run(ctx):
    missing = [j for j in jars() if not os.path.exists(j)]
    if missing or shutil.which("javac") is None:
        why = f"missing {', '.join(missing) or 'javac'}: run compat-tests/install.sh"
        return results.unavailable(NAME, ctx.server, why)
    classes = os.path.join(ctx.work_dir, "classes")
    os.makedirs(classes, exist_ok=True)
    sources = sorted(glob.glob(ctx.path("curator", "src", "compat", "*.java")))
    build = run_logged(
        ["javac", "-nowarn", "-d", classes, "-cp", classpath()] + sources,
        ctx.log("javac.log"),
        timeout=300,
    )
    if build.returncode != 0:
        res = results.Result(NAME, ctx.server, failed=1, note="javac failed (see javac.log)")
        res.failures = [tail(build.log_path, 10)]
        return res
    outcome = run_logged(
        ["java", "-cp", f"{classes}:{classpath()}", "compat.Main", ctx.address],
        ctx.log("checks.log"),
        timeout=TIMEOUT_SECONDS,
    )
    passed, failed, skipped, failures = parse_pass_fail_lines(outcome.log_path)
    res = results.Result(NAME, ctx.server, passed, failed, skipped, failures=failures)
    if outcome.timed_out:
        res.note = f"stopped after {TIMEOUT_SECONDS}s; checks not run count as failed"
        if ctx.reference is not None and ctx.reference.available:
            res.failed += max(0, ctx.reference.passed + ctx.reference.failed - passed - failed)
    elif passed + failed == 0:
        res.failed = max(1, ctx.reference.passed if ctx.reference else 1)
        res.note = f"no check ran (exit {outcome.returncode}; see checks.log)"
    return res
