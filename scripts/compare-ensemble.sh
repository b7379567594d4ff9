#!/usr/bin/env bash
# Side-by-side benchmark of a 3-member Apache ZooKeeper ensemble and a 3-member ferrokeeper ensemble on this
# machine (every member on 127.0.0.1, default forceSync, fresh data directories per run). Workloads run against
# each ensemble in alternation, A B A B:
#   writes (set, create)  32 sessions x 8 outstanding, spread over all three members (followers forward)
#   reads (get)           32 sessions x 8 outstanding, on the two followers only
# then per kind: the time from kill -9 of the leader until a client of a surviving member has a write
# acknowledged, and each member's resident memory after creating znodes of 100 bytes.
# JSON lines go to results.jsonl; ratios to summary.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/compare-ensemble.sh [options]
  --quick               short runs, small tree
  --duration S          seconds measured per workload run (default 10; quick 3)
  --warmup S            seconds of load before measuring (default 5; quick 2)
  --repeats N           A B rounds per workload (default 2)
  --workloads "W ..."   (default "set create get")
  --znodes N            znodes created for the memory figure (default 1000000; quick 100000)
  --zookeeper VERSION   Apache ZooKeeper from compat-tests/.maven (default 3.9.5; 3.8.6 too)
  --heap SIZE           Java heap of each ZooKeeper member (default 2g)
  --out DIR             where results go (default target/bench-results/ensemble-<time>)
USAGE
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
QUICK=0 DURATION="" WARMUP="" REPEATS=2 ZNODES="" ZK_VERSION=3.9.5 HEAP=2g OUT=""
WORKLOADS="set create get"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --repeats) REPEATS=$2; shift ;;
    --workloads) WORKLOADS=$2; shift ;;
    --znodes) ZNODES=$2; shift ;;
    --zookeeper) ZK_VERSION=$2; shift ;;
    --heap) HEAP=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  : "${DURATION:=3}" "${WARMUP:=2}" "${ZNODES:=100000}"
else
  : "${DURATION:=10}" "${WARMUP:=5}" "${ZNODES:=1000000}"
fi
OUT=${OUT:-$TARGET/bench-results/ensemble-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fk-ensemble.XXXXXX")
ZK_CP=$(ls "$ROOT"/compat-tests/.maven/zookeeper-"$ZK_VERSION"/*.jar 2>/dev/null | tr '\n' ':')
[ -n "$ZK_CP" ] || { echo "Apache ZooKeeper $ZK_VERSION is not in compat-tests/.maven: run compat-tests/install.sh" >&2; exit 1; }
PIDS=() CLIENT=() LEADER=""

log() { printf '%s\n' "$*" | tee -a "$OUT/log.txt" >&2; }

stop_ensemble() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_ensemble; rm -rf "$WORK"' EXIT

cd "$ROOT"
cargo build --release -q -p ferrokeeper -p ferrokeeper-bench
BENCH=$TARGET/release/ferrokeeper-bench
FK_BIN=$TARGET/release/ferrokeeper

mode() { # port -> leader | follower | ""
  python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2); s.sendall(b"srvr"); d = b""
    while True:
        c = s.recv(4096)
        if not c: break
        d += c
    print(next((l[6:] for l in d.decode().splitlines() if l.startswith("Mode: ")), ""))
except OSError:
    print("")
PY
}

# start_ensemble zk|fk: three members in a fresh directory; sets PIDS, CLIENT (ports by member) and LEADER.
start_ensemble() {
  local kind=$1 base ports=() sid
  base=$(mktemp -d "$WORK/$kind.XXXX")
  # below the ephemeral range (32768-), where outgoing connections could hold a port
  for sid in 1 2 3; do ports+=($((21000 + 10 * sid + RANDOM % 5))); done
  CLIENT=("" "${ports[0]}" "${ports[1]}" "${ports[2]}")
  for sid in 1 2 3; do
    mkdir -p "$base/m$sid/data"
    echo "$sid" >"$base/m$sid/data/myid"
    {
      echo "tickTime=2000"; echo "initLimit=10"; echo "syncLimit=5"
      echo "dataDir=$base/m$sid/data"; echo "clientPort=${CLIENT[$sid]}"; echo "clientPortAddress=127.0.0.1"
      echo "maxClientCnxns=0"; echo "admin.enableServer=false"; echo "4lw.commands.whitelist=*"
      for s in 1 2 3; do echo "server.$s=127.0.0.1:$((25000 + 10 * s + RANDOM % 5)):$((26000 + 10 * s + RANDOM % 5))"; done
    } >"$base/m$sid/zoo.cfg.tmp"
  done
  # every member must carry the same server lines
  grep '^server\.' "$base/m1/zoo.cfg.tmp" >"$base/servers"
  for sid in 1 2 3; do
    grep -v '^server\.' "$base/m$sid/zoo.cfg.tmp" >"$base/m$sid/zoo.cfg"
    cat "$base/servers" >>"$base/m$sid/zoo.cfg"
    if [ "$kind" = zk ]; then
      java -Xmx"$HEAP" -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$base/m$sid/zoo.cfg" \
        >"$base/m$sid/server.out" 2>&1 &
    else
      "$FK_BIN" start "$base/m$sid/zoo.cfg" >"$base/m$sid/server.out" 2>&1 &
    fi
    PIDS[$sid]=$!
  done
  for _ in $(seq 600); do
    local modes="" leaders=0
    LEADER=""
    for sid in 1 2 3; do
      m=$(mode "${CLIENT[$sid]}")
      modes="$modes $m"
      if [ "$m" = leader ]; then leaders=$((leaders + 1)); LEADER=$sid; fi
    done
    if [ "$leaders" = 1 ] && [[ "$modes" != *"  "* ]] && [ "$(echo $modes | wc -w)" = 3 ]; then
      return 0
    fi
    sleep 0.2
  done
  log "$kind ensemble did not form"; return 1
}

targets() { # all | followers
  local out=() sid
  for sid in 1 2 3; do
    if [ "$1" = all ] || [ "$sid" != "$LEADER" ]; then out+=("127.0.0.1:${CLIENT[$sid]}"); fi
  done
  (IFS=,; echo "${out[*]}")
}

bench() { # kind tag targets args...
  local kind=$1 tag=$2 t=$3 line
  shift 3
  line=$("$BENCH" --targets "$t" --server-pid "${PIDS[$LEADER]}" --json --progress 0 "$@" 2>>"$OUT/bench.err") || {
    log "  $kind $tag: the generator failed (see $OUT/bench.err)"; return 1; }
  python3 - "$kind" "$tag" "$line" >>"$RESULTS" <<'PY'
import json, sys
r = json.loads(sys.argv[3]); r["server"], r["tag"] = sys.argv[1], sys.argv[2]; print(json.dumps(r))
PY
  python3 - "$line" <<'PY' | tee -a "$OUT/log.txt" >&2
import json, sys
r = json.loads(sys.argv[1]); l = r["latency_us"]
print(f"    {r['ops_per_s']:>10.0f} ops/s  p50 {l['p50']/1e3:.2f}ms p99 {l['p99']/1e3:.2f}ms p99.9 {l['p99_9']/1e3:.2f}ms  errors {r['error_count']} failures {r['failures']}")
PY
}

log "results in $OUT"
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); Apache ZooKeeper $ZK_VERSION (-Xmx$HEAP per member) against ferrokeeper"

for workload in $WORKLOADS; do
  for round in $(seq "$REPEATS"); do
    for kind in zk fk; do
      log "  $workload round $round on $kind"
      start_ensemble "$kind" || { stop_ensemble; continue; }
      scope=all; [ "$workload" = get ] && scope=followers
      bench "$kind" "$workload" "$(targets $scope)" --workload "$workload" --sessions 32 --outstanding 8 \
        --duration "$DURATION" --warmup "$WARMUP" --label "$kind" || true
      stop_ensemble
    done
  done
done

for round in $(seq "$REPEATS"); do
  for kind in zk fk; do
    start_ensemble "$kind" || { stop_ensemble; continue; }
    survivor=1; [ "$LEADER" = 1 ] && survivor=2
    ms=$(python3 - "${PIDS[$LEADER]}" "${CLIENT[$survivor]}" "$ROOT" <<'PY'
import os, signal, sys, time
sys.path.insert(0, os.path.join(sys.argv[3], "compat-tests/.cache/kazoo-2.11.0"))
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry
k = KazooClient(hosts="127.0.0.1:" + sys.argv[2], timeout=10, connection_retry=KazooRetry(max_tries=-1, delay=0.02, max_delay=0.05))
k.start(timeout=30)
k.create("/failover-before", b"")
t = time.monotonic()
os.kill(int(sys.argv[1]), signal.SIGKILL)
n = 0
while True:
    try:
        k.create("/failover-%d" % n, b"")
        break
    except Exception:
        n += 1
        time.sleep(0.01)
print(round((time.monotonic() - t) * 1000))
k.stop()
PY
) || ms=""
    log "  failover on $kind (leader $LEADER killed, writes through member $survivor): ${ms} ms"
    [ -n "$ms" ] && echo "{\"server\":\"$kind\",\"tag\":\"failover\",\"ms\":$ms}" >>"$RESULTS"
    stop_ensemble
  done
done

for kind in zk fk; do
  start_ensemble "$kind" || { stop_ensemble; continue; }
  log "  memory on $kind: $ZNODES znodes of 100 B"
  bench "$kind" "populate" "$(targets all)" --workload create --ops "$ZNODES" --payload 100 --sessions 32 \
    --outstanding 8 --root /mem --label "$kind" || true
  sleep 5
  for sid in 1 2 3; do
    kib=$(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$sid]}/status")
    role=follower; [ "$sid" = "$LEADER" ] && role=leader
    log "    member $sid ($role): $((kib / 1024)) MiB"
    echo "{\"server\":\"$kind\",\"tag\":\"rss\",\"role\":\"$role\",\"kib\":$kib}" >>"$RESULTS"
  done
  stop_ensemble
done

python3 - "$RESULTS" "$OUT/summary.md" <<'PY' | tee -a "$OUT/log.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def pick(s, tag): return [r for r in rows if r["server"] == s and r["tag"] == tag]
def mean(xs): return statistics.mean(xs) if xs else None
def ratio(a, b): return "n/a" if a is None or not b else f"{a / b:.2f}x"
def f(x): return "n/a" if x is None else f"{x:,.1f}"
out = ["| workload | ZooKeeper ops/s | ferrokeeper ops/s | ratio | ZooKeeper p99 ms | ferrokeeper p99 ms | p99 ratio |", "|---|---|---|---|---|---|---|"]
for tag in ("set", "create", "get"):
    z, k = pick("zk", tag), pick("fk", tag)
    if not z and not k: continue
    zo, ko = mean([r["ops_per_s"] for r in z]), mean([r["ops_per_s"] for r in k])
    zl, kl = mean([r["latency_us"]["p99"] / 1e3 for r in z]), mean([r["latency_us"]["p99"] / 1e3 for r in k])
    out.append(f"| {tag} | {f(zo)} | {f(ko)} | {ratio(ko, zo)} | {f(zl)} | {f(kl)} | {ratio(kl, zl)} |")
out += ["", "| figure | ZooKeeper | ferrokeeper | ratio |", "|---|---|---|---|"]
z, k = mean([r["ms"] for r in pick("zk", "failover")]), mean([r["ms"] for r in pick("fk", "failover")])
out.append(f"| kill -9 of the leader to the first acknowledged write (ms) | {f(z)} | {f(k)} | {ratio(k, z)} |")
z, k = mean([r["kib"] / 1024 for r in pick("zk", "rss")]), mean([r["kib"] / 1024 for r in pick("fk", "rss")])
out.append(f"| resident memory per member after the populate (MiB) | {f(z)} | {f(k)} | {ratio(k, z)} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
log "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
