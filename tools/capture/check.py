#!/usr/bin/env python3
"""Cross-check the golden fixtures against ZooKeeper's own record classes.

Every frame is read by the real Jute classes (java/GoldenCheck.java), must be
consumed exactly and re-serialize to the same bytes; headers, paths, Stats,
data and connect fields must equal what jutedec.py wrote to the manifest. The
txn logs and snapshots are read by the real FileTxnLog and DataTree and
compared with datadir/manifest.json.

Usage: python3 tools/capture/check.py [--golden jute/tests/golden]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from zkserver import classpath  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
KIND = {"request": "req", "response": "resp", "notification": "event",
        "connect_request": "creq", "connect_response": "cresp"}
CHECK_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar"]
STAT_KEYS = ["czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
             "ephemeral_owner", "data_length", "num_children", "pzxid"]
PSTAT_KEYS = ["czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
              "ephemeral_owner", "pzxid"]


def run_java(tasks, work):
    classes = os.path.join(work, "check-classes")
    os.makedirs(classes, exist_ok=True)
    subprocess.run(["javac", "-implicit:none", "-d", classes, "-cp",
                    classpath(CHECK_JARS[:2]),
                    os.path.join(HERE, "java", "GoldenCheck.java")], check=True)
    task_file = os.path.join(work, "tasks.tsv")
    with open(task_file, "w") as fh:
        fh.write("\n".join("\t".join(t) for t in tasks) + "\n")
    out = subprocess.run(["java", "-cp", classes + ":" + classpath(CHECK_JARS),
                          "GoldenCheck", task_file], check=True, capture_output=True,
                         text=True).stdout
    result = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\t")
        if not rest.startswith("OK"):
            result[name] = {"error": rest}
            continue
        kv = {}
        for part in rest.split(";")[1:]:
            key, _, value = part.partition("=")
            if key == "node":
                kv.setdefault("_nodes", []).append(value)
            elif key:
                kv[key] = value
        result.setdefault(name, kv)
    return result


def expected_frame(e):
    f = e["fields"] or {}
    exp = {}
    h = e["header"]
    if h is not None:
        exp["hdr"] = ",".join(str(h[k]) for k in (("xid", "zxid", "err") if "zxid" in h
                                                  else ("xid", "type")))
    body_present = e["direction"] in ("connect_request", "connect_response") or f
    if not body_present:
        return exp
    if "path" in f and e["direction"] in ("request", "response", "notification"):
        exp["path"] = f["path"]
    if "stat" in f:
        exp["stat"] = ",".join(str(f["stat"][k]) for k in STAT_KEYS)
    if "data" in f and e["opcode"] not in (14, 22):
        exp["data"] = "null" if f["data"] is None else f["data"]
    if "session_id" in f:
        exp["sessionid"] = str(f["session_id"])
        exp["timeout"] = str(f["time_out"])
    return exp


def check_client(golden, java, problems):
    entries = json.load(open(os.path.join(golden, "client", "manifest.json")))
    for e in entries:
        if e["direction"] == "fourletter":
            continue
        got = java.get(e["file"])
        if got is None or "error" in got:
            problems.append(f"{e['file']}: {got}")
            continue
        for k, v in expected_frame(e).items():
            if got.get(k) != v:
                problems.append(f"{e['file']}: {k} real={got.get(k)!r} manifest={v!r}")
    return len(entries)


def check_datadir(golden, java, problems):
    m = json.load(open(os.path.join(golden, "datadir", "manifest.json")))
    n = 0
    for f in m["files"]:
        if f["kind"] == "txnlog":
            for t in f["txns"]:
                h = t["header"]
                key = f"{first_log(m)}#{h['zxid']}"
                got = java.get(key, {})
                want = ",".join(str(h[k]) for k in ("client_id", "cxid", "zxid", "time", "type"))
                d = t["digest"]
                want_d = "null" if d is None else f"{d['version']},{d['tree_digest']}"
                if got.get("hdr") != want or got.get("digest") != want_d:
                    problems.append(f"{f['file']} zxid {h['zxid']}: real={got} manifest={want} {want_d}")
                n += 1
        else:
            got = java.get(f["file"], {})
            real = {p.split(",", 1)[0]: p.split(",", 1)[1]
                    for p in parse_nodes(got)}
            for node in f["nodes"]:
                path = node["path"] or "/"
                want = ",".join(str(node["stat"][k]) for k in PSTAT_KEYS)
                if real.get(path) != want:
                    problems.append(f"{f['file']} {path}: real={real.get(path)} manifest={want}")
                n += 1
            if len(real) != len(f["nodes"]):
                problems.append(f"{f['file']}: {len(real)} nodes real, {len(f['nodes'])} in manifest")
    return n


def first_log(m):
    logs = [f["file"] for f in m["files"] if f["kind"] == "txnlog"]
    return min(logs, key=lambda n: int(n.split(".")[1], 16))


def parse_nodes(got):
    return got.get("_nodes", [])


def verify(golden):
    """Number of mismatches between the manifests and the real classes."""
    tasks = []
    for e in json.load(open(os.path.join(golden, "client", "manifest.json"))):
        if e["direction"] in KIND:
            tasks.append((KIND[e["direction"]], os.path.join(golden, "client", e["file"]),
                          str(e["opcode"] if e["opcode"] is not None else 0)))
    m = json.load(open(os.path.join(golden, "datadir", "manifest.json")))
    tasks.append(("log", os.path.join(golden, "datadir", first_log(m)), "0"))
    for f in m["files"]:
        if f["kind"] == "snapshot":
            tasks.append(("snap", os.path.join(golden, "datadir", f["file"]), "0"))
    with tempfile.TemporaryDirectory(prefix="fk-check-") as work:
        java = run_java(tasks, work)
    problems = []
    frames = check_client(golden, java, problems)
    records = check_datadir(golden, java, problems)
    for p in problems:
        print("MISMATCH", p)
    print(f"checked {frames} frames and {records} txns/nodes with the real classes: "
          f"{len(problems)} mismatches")
    return len(problems)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--golden", default=os.path.join(REPO, "jute", "tests", "golden"))
    args = ap.parse_args()
    return 1 if verify(args.golden) else 0


if __name__ == "__main__":
    sys.exit(main())
