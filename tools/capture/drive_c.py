"""Drive the C client's command-line shell (cli_mt) through the proxy.

cli_mt reads one command per line on stdin; each is sent and the proxy is
given time to see the reply before the next line. "!drop" is handled here: it
cuts the proxied connection so the client reconnects and sends setWatches.
"""

import subprocess
import time

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"

MAIN_SCRIPT = """
create /c
create +e /c/eph
create +s /c/seq-
create +es /c/eseq-
create2 /c/c2
create +c /c/cont
create +t=60000 /c/ttl
create /c
exists /c
exists /c/later
create /c/later
get /c
set /c changed
ls /c
create /c/kid
ls2 /c
wexists /c/kid
delete /c/kid
sync /c
config
get /c/none
delete /c
delete /c/none
reconfig -add 5=127.0.0.1:24901:24902;24903
addauth digest cb:pw
get /c
ls /c/c2
wexists /c/absent
!drop
!sleep 3
create /c/c2/after
create /c/absent
myid
quit
"""

READONLY_SCRIPT = """
get /c
quit
"""

AUTHFAIL_SCRIPT = """
addauth nosuchscheme whatever
!sleep 2
quit
"""

TTL_SCRIPT = """
create +t=60000 /c-ttl
create +st=5000 /c-sttl-
quit
"""


def run(proxy, script, log, label="c", extra_args=()):
    proxy.label = label
    proc = subprocess.Popen([CLI_MT, proxy.address(), *extra_args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    proxy.wait_quiet()
    for line in script.strip().splitlines():
        if line == "!drop":
            proxy.drop_all()
            time.sleep(0.5)
        elif line.startswith("!sleep "):
            time.sleep(float(line.split()[1]))
        else:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            time.sleep(0.25)
        proxy.wait_quiet(idle_s=0.25)

    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    proxy.wait_quiet()
    log(f"cli_mt {label}: exit {proc.returncode}, {len(out.splitlines())} lines")
    return out
