#!/usr/bin/env bash
# Side-by-side benchmark of Apache ZooKeeper 3.8 (the Debian packages) and ferrokeeper on this machine.
#
# Both servers run standalone on 127.0.0.1 from the same zoo.cfg (written to a temp dir on this disk, default
# forceSync, fresh data directory per run) and every workload runs against each in alternation, A B A B, so
# both see the same machine. Then, per server: resident memory after populating znodes of 100 bytes, the p99.9
# of a paced setData load while snapshots of that tree are written against its p99.9 outside them, and the
# recovery time of the data directory (server start until a session opens and a request on it succeeds).
# Every run's JSON line goes to results.jsonl; the ratios are printed at the end and written to summary.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/compare.sh [options]
  --quick               short runs and small trees (a few minutes in all)
  --duration S          seconds measured per workload run (default 10; quick 3)
  --warmup S            seconds of load before measuring, JIT warm-up included (default 5; quick 2)
  --repeats N           A B rounds per workload (default 2)
  --workloads "W ..."   workloads to compare (default: all; see ferrokeeper-bench --help)
  --sizes "N ..."       znode counts at which resident memory is read (default "100000 1000000"; quick "100000 250000")
  --snap-secs S         seconds of paced setData load for the snapshot test (default 40; quick 15)
  --snap-rate R         setData per second during the snapshot test (default 5000)
  --snap-count N        zoo.cfg snapCount for both servers (default 100000, ZooKeeper's; quick 20000)
  --heap SIZE           Java heap for ZooKeeper (default 4g)
  --servers "zk fk"     which servers to run (default both)
  --ferrokeeper BIN     ferrokeeper binary (default: built from this repo)
  --port-base P         first of the 100 client ports used (default 28100)
  --out DIR             where results go (default target/bench-results/<time>)
EOF
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
QUICK=0 DURATION="" WARMUP="" REPEATS=2 SIZES="" SNAP_SECS="" SNAP_RATE=5000 SNAP_COUNT="" HEAP=4g
WORKLOADS="get exists children mixed set create create-seq multi watch-fanout connect-storm ping"
SERVERS="zk fk" FK_BIN="" PORT_BASE=28100 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --repeats) REPEATS=$2; shift ;;
    --workloads) WORKLOADS=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --snap-secs) SNAP_SECS=$2; shift ;;
    --snap-rate) SNAP_RATE=$2; shift ;;
    --snap-count) SNAP_COUNT=$2; shift ;;
    --heap) HEAP=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --ferrokeeper) FK_BIN=$2; shift ;;
    --port-base) PORT_BASE=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  : "${DURATION:=3}" "${WARMUP:=2}" "${SIZES:=100000 250000}" "${SNAP_SECS:=15}" "${SNAP_COUNT:=20000}"
else
  : "${DURATION:=10}" "${WARMUP:=5}" "${SIZES:=100000 1000000}" "${SNAP_SECS:=40}" "${SNAP_COUNT:=100000}"
fi
OUT=${OUT:-$TARGET/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fk-compare.XXXXXX")
ZK_CP=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
SERVER_PID="" PORT=$PORT_BASE RUN=0

log() { printf '%s\n' "$*" | tee -a "$OUT/log.txt" >&2; }

cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

cd "$ROOT"
log "building the load generator${FK_BIN:+ (ferrokeeper from $FK_BIN)}"
cargo build --release -q -p ferrokeeper-bench
BENCH=$TARGET/release/ferrokeeper-bench
if [ -z "$FK_BIN" ] && [[ " $SERVERS " == *" fk "* ]]; then
  cargo build --release -q -p ferrokeeper && FK_BIN=$TARGET/release/ferrokeeper
fi

# --- servers ---------------------------------------------------------------------------------------------

write_cfg() { # dir port
  mkdir -p "$1/data"
  cat >"$1/zoo.cfg" <<EOF
tickTime=2000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
maxClientCnxns=0
snapCount=$SNAP_COUNT
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
EOF
}

zk_command() { # dir
  echo java -Xmx"$HEAP" -cp "$ZK_CP" -Dzookeeper.log.dir="$1" -Dzookeeper.root.logger=INFO,ROLLINGFILE \
    -Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$1/zoo.cfg"
}

fk_command() { # dir
  echo "$FK_BIN" start "$1/zoo.cfg"
}

# start_server zk|fk DIR: starts on a fresh port from DIR/zoo.cfg; sets SERVER_PID, PORT, READY_S.
start_server() {
  local kind=$1 dir=$2 cmd
  RUN=$((RUN + 1))
  PORT=$((PORT_BASE + RUN % 100))
  sed -i "s/^clientPort=.*/clientPort=$PORT/" "$dir/zoo.cfg"
  if [ "$kind" = zk ]; then cmd=$(zk_command "$dir"); else cmd=$(fk_command "$dir"); fi
  # shellcheck disable=SC2086
  $cmd >"$dir/server.out" 2>&1 &
  SERVER_PID=$!
  # the probe gives up if the server process ends first
  "$BENCH" --targets "127.0.0.1:$PORT" --wait-ready 600 >"$dir/ready.json" 2>"$dir/ready.err" &
  local probe=$!
  while kill -0 "$probe" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      kill "$probe" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  if wait "$probe" && READY_S=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ready_s"])' "$dir/ready.json"); then
    return 0
  fi
  log "$kind did not become ready on port $PORT; last output:"
  tail -5 "$dir/server.out" >&2
  stop_server
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

fresh_dir() { # kind -> prints a new directory with a zoo.cfg
  local dir
  dir=$(mktemp -d "$WORK/$1.XXXX")
  write_cfg "$dir" "$PORT"
  echo "$dir"
}

# bench KIND TAG ARGS...: one generator run against the running server, its JSON line kept with kind and tag.
bench() {
  local kind=$1 tag=$2 line
  shift 2
  line=$("$BENCH" --targets "127.0.0.1:$PORT" --server-pid "$SERVER_PID" --json --progress 0 "$@" 2>>"$OUT/bench.err") || {
    log "  $kind $tag: the generator failed (see $OUT/bench.err)"
    return 1
  }
  python3 - "$kind" "$tag" "$line" >>"$RESULTS" <<'EOF'
import json, sys
r = json.loads(sys.argv[3]); r["server"], r["tag"] = sys.argv[1], sys.argv[2]; print(json.dumps(r))
EOF
  python3 - "$line" <<'EOF' | tee -a "$OUT/log.txt" >&2
import json, sys
r = json.loads(sys.argv[1]); l = r["latency_us"]
print(f"    {r['ops_per_s']:>10.0f} ops/s  p50 {l['p50']/1e3:.2f}ms p99 {l['p99']/1e3:.2f}ms "
      f"p99.9 {l['p99_9']/1e3:.2f}ms  errors {r['error_count']} failures {r['failures']}  "
      f"generator CPU {100*r['generator_cpu_share']:.0f}%  server CPU {100*(r.get('server_cpu_share') or 0):.0f}%")
EOF
}

# --- the machine -------------------------------------------------------------------------------------------

fsync_rate() { # appends 4 KiB blocks to a preallocated file with fdatasync, as a transaction log does
  python3 - "$WORK/fsync.probe" <<'EOF'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.posix_fallocate(fd, 0, 64 << 20)
block, n, start = b"x" * 4096, 0, time.monotonic()
while time.monotonic() - start < 3:
    os.pwrite(fd, block, n * 4096); os.fdatasync(fd); n += 1
print(f"{n / (time.monotonic() - start):.0f}")
os.close(fd); os.unlink(sys.argv[1])
EOF
}

log "results in $OUT"
log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shares the cores)"
log "disk: $(df -h "$WORK" | awk 'NR==2 {print $1, $2}'), fdatasync of 4 KiB appends: $(fsync_rate)/s"
log "Apache ZooKeeper: $(zk_command '$DIR')"
log "ferrokeeper: ${FK_BIN:-not built} start \$DIR/zoo.cfg"
log "zoo.cfg (both): $(write_cfg "$WORK/cfg-sample" PORT; grep -v dataDir "$WORK/cfg-sample/zoo.cfg" | tr '\n' ' ')"
log "runs: duration ${DURATION}s after ${WARMUP}s warm-up, $REPEATS rounds, memory at $SIZES znodes"

AVAILABLE=""
for kind in $SERVERS; do
  dir=$(fresh_dir "$kind")
  if start_server "$kind" "$dir"; then
    AVAILABLE="$AVAILABLE $kind"
    stop_server
  else
    log "$kind is not available: its column is left empty"
  fi
done
[ -n "$AVAILABLE" ] || { log "no server could be started"; exit 1; }

# --- workloads, A B A B -----------------------------------------------------------------------------------

workload_args() {
  case "$1" in
    get|exists|set) echo "--sessions 32 --outstanding 8" ;;
    children) echo "--sessions 32 --outstanding 8 --children 1000" ;;
    mixed) echo "--sessions 32 --outstanding 8 --read-ratio 0.9" ;;
    create|create-seq|multi) echo "--sessions 32 --outstanding 8" ;;
    watch-fanout) echo "--sessions 200" ;;
    connect-storm) echo "--sessions 16" ;;
    ping) echo "--sessions 32 --outstanding 8" ;;
    *) echo "--sessions 32 --outstanding 8" ;;
  esac
}

for workload in $WORKLOADS; do
  for round in $(seq "$REPEATS"); do
    for kind in $AVAILABLE; do
      log "  $workload round $round on $kind"
      dir=$(fresh_dir "$kind")
      start_server "$kind" "$dir" || continue
      # shellcheck disable=SC2046
      bench "$kind" "$workload" --workload "$workload" $(workload_args "$workload") \
        --duration "$DURATION" --warmup "$WARMUP" --label "$kind" || true
      stop_server
      rm -rf "$dir"
    done
  done
done

# --- memory, snapshot stall, recovery ---------------------------------------------------------------------

for kind in $AVAILABLE; do
  dir=$(fresh_dir "$kind")
  log "  memory on $kind"
  start_server "$kind" "$dir" || continue
  have=0
  for size in $SIZES; do
    bench "$kind" "rss-$size" --workload create --ops $((size - have)) --payload 100 --sessions 32 \
      --outstanding 8 --root /mem --label "$kind" || true
    have=$size
  done
  log "  snapshot stall on $kind ($have znodes, $SNAP_RATE setData/s for ${SNAP_SECS}s)"
  bench "$kind" "snapshot-$have" --workload set --rate "$SNAP_RATE" --duration "$SNAP_SECS" --warmup 2 \
    --sessions 32 --outstanding 8 --snapshot-dir "$dir/data/version-2" --label "$kind" || true
  stop_server
  cp -a "$dir" "$WORK/populated-$kind"
  rm -rf "$dir"
done
for round in $(seq "$REPEATS"); do
  for kind in $AVAILABLE; do
    for source in $AVAILABLE; do
      [ "$source" = "$kind" ] || [ "$kind" = fk ] || continue
      dir=$(mktemp -d "$WORK/recover.XXXX")
      cp -a "$WORK/populated-$source/." "$dir/"
      write_cfg "$dir" "$PORT"
      if start_server "$kind" "$dir"; then
        log "  recovery on $kind of the data directory $source wrote: ${READY_S}s"
        python3 -c 'import json,sys; print(json.dumps({"server":sys.argv[1],"tag":"recovery-"+sys.argv[2],"ready_s":float(sys.argv[3]),"round":int(sys.argv[4])}))' \
          "$kind" "$source" "$READY_S" "$round" >>"$RESULTS"
        stop_server
      fi
      rm -rf "$dir"
    done
  done
done

# --- ratios -----------------------------------------------------------------------------------------------

python3 - "$RESULTS" "$OUT/summary.md" <<'EOF' | tee -a "$OUT/log.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def pick(server, tag): return [r for r in rows if r["server"] == server and r["tag"] == tag]
def mean(xs): return statistics.mean(xs) if xs else None
def fmt(x, unit=""): return "pending" if x is None else f"{x:,.0f}{unit}" if x >= 100 else f"{x:.2f}{unit}"
def ratio(a, b): return "pending" if a is None or b is None or b == 0 else f"{a / b:.2f}x"
out = ["| workload | ZooKeeper ops/s | ferrokeeper ops/s | ratio | ZooKeeper p99.9 ms | ferrokeeper p99.9 ms | p99.9 ratio | generator CPU |",
       "|---|---|---|---|---|---|---|---|"]
tags = [t for t in dict.fromkeys(r["tag"] for r in rows) if not t.startswith(("rss-", "snapshot-", "recovery-"))]
for tag in tags:
    zk, fk = pick("zk", tag), pick("fk", tag)
    zo, fo = mean([r["ops_per_s"] for r in zk]), mean([r["ops_per_s"] for r in fk])
    zl, fl = mean([r["latency_us"]["p99_9"] / 1e3 for r in zk]), mean([r["latency_us"]["p99_9"] / 1e3 for r in fk])
    gen = max(r["generator_cpu_share"] for r in zk + fk)
    out.append(f"| {tag} | {fmt(zo)} | {fmt(fo)} | {ratio(fo, zo)} | {fmt(zl)} | {fmt(fl)} | {ratio(fl, zl)} | max {100 * gen:.0f}% of a core |")
out += ["", "| figure | ZooKeeper | ferrokeeper | ratio |", "|---|---|---|---|"]
for tag in dict.fromkeys(r["tag"] for r in rows):
    if tag.startswith("rss-"):
        z, f = (mean([r["server_rss_kib"] / 1024 for r in pick(s, tag)]) for s in ("zk", "fk"))
        out.append(f"| resident memory at {int(tag[4:]):,} znodes of 100 B (MiB) | {fmt(z)} | {fmt(f)} | {ratio(f, z)} |")
    elif tag.startswith("snapshot-"):
        for s in ("zk", "fk"):
            for r in pick(s, tag):
                snap = r.get("snapshot") or {}
                d, st = snap.get("during_us", {}), snap.get("steady_us", {})
                out.append(f"| {s}: p99.9 during {len(snap.get('windows', []))} snapshots of {int(tag[9:]):,} znodes vs steady (ms) | "
                           f"during {d.get('p99_9', 0) / 1e3:.2f} ({d.get('count', 0)} ops) | steady {st.get('p99_9', 0) / 1e3:.2f} ({st.get('count', 0)} ops) | "
                           f"{ratio(d.get('p99_9'), st.get('p99_9'))} |")
    elif tag.startswith("recovery-"):
        for s in ("zk", "fk"):
            v = [r["ready_s"] for r in pick(s, tag)]
            if v:
                out.append(f"| {s}: recovery of the directory {tag[9:]} wrote, start to first answered request (s) | {fmt(mean(v)) if s == 'zk' else ''} | {fmt(mean(v)) if s == 'fk' else ''} | |")
z, f = mean([r["ready_s"] for r in pick("zk", "recovery-zk")]), mean([r["ready_s"] for r in pick("fk", "recovery-fk")])
out.append(f"| recovery, each server its own directory (s) | {fmt(z)} | {fmt(f)} | {ratio(f, z)} |")
text = "\n".join(out)
open(sys.argv[2], "w").write(text + "\n")
print(text)
EOF
log "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
log "done: $OUT/summary.md"
