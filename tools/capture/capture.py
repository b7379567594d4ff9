#!/usr/bin/env python3
"""Regenerate ferrokeeper's golden Jute fixtures from the real ZooKeeper 3.8.

Runs two standalone Apache ZooKeeper servers on loopback (run A: defaults;
run B: extendedTypesEnabled for TTL nodes, snapCount=10 to force snapshots),
drives kazoo, the Java client and the C client through a recording proxy,
writes every kind of frame once to <out>/client/ with a manifest of decoded
fields, and copies run B's transaction logs and snapshots to <out>/datadir/
with their decoded contents.

Usage: python3 tools/capture/capture.py [--out jute/tests/golden] [--port-base 24100]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import check  # noqa: E402
import datadir  # noqa: E402
import drive_c  # noqa: E402
import drive_java  # noqa: E402
import drive_kazoo  # noqa: E402
import drive_raw  # noqa: E402
import fixtures  # noqa: E402
from proxy import RecordingProxy  # noqa: E402
from zkserver import RealServer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
SMALL_LOGS = ["-Dzookeeper.preAllocSize=16"]


def log(msg):
    print(f"[capture {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_a(proxy, port, build_dir, work):
    server = RealServer(port, "a", jvm_flags=SMALL_LOGS)
    server.start()
    proxy.target_port = port
    log(f"run A: server on {port}, proxy on {proxy.listen_port}")
    try:
        proxy.phase = "run A (3.8.0 defaults)"
        drive_kazoo.run(proxy, log)
        drive_java.run(proxy, port, build_dir, "main", log)
        drive_java.run(proxy, port, build_dir, "authfail", log)
        proxy.phase = "run A, Java client with a JAAS Client section (SASL DIGEST-MD5)"
        drive_java.run(proxy, port, build_dir, "sasl", log, sasl_dir=work)
        proxy.phase = "run A (3.8.0 defaults)"
        drive_c.run(proxy, drive_c.MAIN_SCRIPT, log)
        proxy.phase = "run A, cli_mt -r (read-only connect)"
        drive_c.run(proxy, drive_c.READONLY_SCRIPT, log, extra_args=["-r"])
        proxy.phase = "run A (3.8.0 defaults)"
        drive_c.run(proxy, drive_c.AUTHFAIL_SCRIPT, log)
        proxy.phase = "run A, hand-built frames (no installed client sends these)"
        drive_raw.run(proxy, log)
    finally:
        proxy.drop_all()
        server.stop()
        server.cleanup()


def run_b(proxy, port, build_dir, out_dir):
    server = RealServer(port, "b", extra_cfg={"snapCount": "10"},
                        jvm_flags=SMALL_LOGS + ["-Dzookeeper.extendedTypesEnabled=true",
                                               "-Dznode.container.checkIntervalMs=1000"])
    server.start()
    proxy.target_port = port
    log(f"run B: server on {port} (extendedTypesEnabled, snapCount=10)")
    try:
        proxy.phase = "run B (extendedTypesEnabled=true, snapCount=10)"
        drive_java.run(proxy, port, build_dir, "ttl", log)
        drive_c.run(proxy, drive_c.TTL_SCRIPT, log)
        proxy.phase = "run B, hand-built TTL requests (clients check these locally)"
        drive_raw.run_ttl(proxy, log)
        time.sleep(1)
    finally:
        proxy.drop_all()
        server.stop()
    copy_datadir(server, out_dir)
    server.cleanup()


def copy_datadir(server, out_dir):
    dst = os.path.join(out_dir, "datadir")
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    src = server.version2_dir()
    files = []
    names = sorted(os.listdir(src), key=lambda n: (n.split(".")[0], int(n.split(".")[1], 16)))
    for name in names:
        with open(os.path.join(src, name), "rb") as fh:
            blob = fh.read()
        if name.startswith("log."):
            info = datadir.decode_txn_log(blob)
        elif name.startswith("snapshot."):
            info = datadir.decode_snapshot(blob)
        else:
            continue
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
        info["file"] = name
        files.append(info)
        log(f"datadir: {name} ({len(blob)} bytes)")
    manifest = {
        "source": "Apache ZooKeeper 3.8.0 standalone, zoo.cfg snapCount=10, "
                  "-Dzookeeper.preAllocSize=16 -Dzookeeper.extendedTypesEnabled=true "
                  "-Dznode.container.checkIntervalMs=1000 "
                  "(capture run B)",
        "files": files,
    }
    with open(os.path.join(dst, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")


def summary(entries):
    per_client = {}
    for e in entries:
        if e["direction"] != "request":
            continue
        for c in [e["client"], *e["also_from"]]:
            per_client.setdefault(c, set()).add(e["opname"] or f"op{e['opcode']}")
    for c, ops in sorted(per_client.items()):
        log(f"{c}: {', '.join(sorted(ops))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--out", default=os.path.join(REPO, "jute", "tests", "golden"))
    ap.add_argument("--port-base", type=int, default=24100)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fk-capture-work-")
    try:
        build_dir = drive_java.compile_driver(os.path.join(work, "classes"))
        proxy = RecordingProxy(args.port_base + 1, args.port_base).start()
        try:
            run_a(proxy, args.port_base, build_dir, work)
            run_b(proxy, args.port_base + 2, build_dir, args.out)
        finally:
            proxy.stop()
        for note in proxy.notes:
            log(f"proxy: {note}")
        b = fixtures.build(proxy.frames, os.path.join(args.out, "client"))
        b.save()
        bad = [e for e in b.entries if "decode_error" in e]
        for e in bad:
            log(f"DECODE ERROR {e['file']}: {e['decode_error']}")
        log(f"{len(proxy.frames)} frames recorded, {len(b.entries)} fixture files")
        summary(b.entries)
        mismatches = check.verify(args.out)
        return 1 if bad or mismatches else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
