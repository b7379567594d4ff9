#!/usr/bin/env bash
# A ferrokeeper ensemble on this machine, each member a process on 127.0.0.1 with its own data directory.
#
#   scripts/local-ensemble.sh start [N]   build (release) and start N members (default 3) under ./ensemble
#   scripts/local-ensemble.sh status      each member's mode (leader / follower)
#   scripts/local-ensemble.sh stop        stop them
#
# Member i listens for clients on 2180+i, for learners on 2887+i and for elections on 3887+i; its zoo.cfg, myid,
# data and log are in ./ensemble/m<i>. Clients connect to all of them, e.g. "127.0.0.1:2181,127.0.0.1:2182,...".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/ensemble
bin=$PWD/target/release/ferrokeeper

members() {
    ls -d "$root"/m* 2>/dev/null | sort -V
}

case "${1:-}" in
start)
    n=${2:-3}
    if [ "$n" -lt 2 ]; then
        echo "an ensemble needs at least 2 members" >&2
        exit 2
    fi
    cargo build --release --quiet
    servers=""
    for i in $(seq 1 "$n"); do
        servers+="server.$i=127.0.0.1:$((2887 + i)):$((3887 + i));$((2180 + i))"$'\n'
    done
    for i in $(seq 1 "$n"); do
        dir=$root/m$i
        mkdir -p "$dir/data"
        [ -f "$dir/data/myid" ] || echo "$i" >"$dir/data/myid"
        cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
$servers
CFG
        nohup "$bin" start "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 &
        echo "member $i: client port $((2180 + i)), log $dir/server.log"
    done
    hosts=$(seq -s, -f "127.0.0.1:%g" 2181 $((2180 + n)))
    echo "connect with: $hosts"
    ;;
status)
    for dir in $(members); do
        "$bin" status "$dir/zoo.cfg" || true
    done
    ;;
stop)
    for dir in $(members); do
        "$bin" stop "$dir/zoo.cfg" || true
    done
    ;;
*)
    echo "usage: $0 start [N] | status | stop" >&2
    exit 2
    ;;
esac
