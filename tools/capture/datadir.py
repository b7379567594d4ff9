"""Decode a real server's version-2 transaction logs and snapshots.

Independent of ferrokeeper's code: the output goes to datadir/manifest.json so
the Rust tests can compare their reading of the same files field by field.
Checksums (Adler-32) are verified here; a mismatch raises.
"""

import zlib

import jutedec as J
from jutedec import DecodeError, Reader, read_acl_list, read_stat_persisted

LOG_MAGIC = 0x5A4B4C47   # "ZKLG"
SNAP_MAGIC = 0x5A4B534E  # "ZKSN"


def _create(r):
    return {"path": r.ustring(), "data": r.hexbuf(), "acl": read_acl_list(r),
            "ephemeral": r.bool(), "parent_c_version": r.int()}


def _create_ttl(r):
    return {"path": r.ustring(), "data": r.hexbuf(), "acl": read_acl_list(r),
            "parent_c_version": r.int(), "ttl": r.long()}


def _create_container(r):
    return {"path": r.ustring(), "data": r.hexbuf(), "acl": read_acl_list(r),
            "parent_c_version": r.int()}


TXN_BODIES = {
    -10: lambda r: {"time_out": r.int()},
    1: _create, 15: _create,
    21: _create_ttl,
    19: _create_container,
    2: lambda r: {"path": r.ustring()},
    20: lambda r: {"path": r.ustring()},
    5: lambda r: {"path": r.ustring(), "data": r.hexbuf(), "version": r.int()},
    16: lambda r: {"path": r.ustring(), "data": r.hexbuf(), "version": r.int()},
    7: lambda r: {"path": r.ustring(), "acl": read_acl_list(r), "version": r.int()},
    -1: lambda r: {"err": r.int()},
    13: lambda r: {"path": r.ustring(), "version": r.int()},
}


def _multi(r):
    txns = []
    for _ in range(r.int()):
        t = r.int()
        data = r.buffer()
        sub = Reader(data)
        body = TXN_BODIES[t](sub)
        sub.expect_end(f"multi sub-txn type {t}")
        txns.append({"type": t, "type_name": J.OPCODES.get(t), "data_hex": data.hex(),
                     "body": body})
    return {"txns": txns}


def decode_txn(data):
    """TxnHeader + record + optional TxnDigest, as a dict."""
    r = Reader(data)
    header = {"client_id": r.long(), "cxid": r.int(), "zxid": r.long(),
              "time": r.long(), "type": r.int()}
    t = header["type"]
    if t == -11:
        # CloseSessionTxn may be absent; a lone TxnDigest is 12 bytes.
        body = {} if r.remaining() in (0, 12) else {"paths2_delete": J.read_strings(r)}
    elif t == 14:
        body = _multi(r)
    else:
        body = TXN_BODIES[t](r)
    digest = None
    if r.remaining() == 12:
        digest = {"version": r.int(), "tree_digest": r.long()}
    r.expect_end(f"txn type {t}")
    return {"header": header, "type_name": J.OPCODES.get(t), "body": body,
            "digest": digest}


def decode_txn_log(blob):
    r = Reader(blob)
    header = {"magic": r.int(), "version": r.int(), "dbid": r.long()}
    if header["magic"] != LOG_MAGIC:
        raise DecodeError(f"log magic {header['magic']:#x}")
    txns = []
    end = None
    while True:
        offset = r.pos
        if r.remaining() < 12:
            end = {"offset": offset, "reason": "eof"}
            break
        checksum, length = r.long(), r.int()
        if length == 0:
            end = {"offset": offset, "reason": "zero record (preallocated padding)"}
            break
        data = r._take(length)
        marker = r._take(1)[0]
        if marker != 0x42:
            raise DecodeError(f"record at {offset}: end marker {marker:#x}")
        if zlib.adler32(data) != checksum:
            raise DecodeError(f"record at {offset}: Adler-32 mismatch")
        txn = decode_txn(data)
        txn.update({"offset": offset, "checksum": checksum, "length": length})
        txns.append(txn)
    padding_zero = all(b == 0 for b in blob[end["offset"]:])
    return {"kind": "txnlog", "size": len(blob), "header": header, "txns": txns,
            "end": end, "tail_all_zero": padding_zero}


def _seal(r, blob):
    expected = zlib.adler32(blob[:r.pos])
    offset = r.pos
    value = r.long()
    if value != expected:
        raise DecodeError(f"seal at {offset}: {value:#x} != {expected:#x}")
    sig = r.ustring()
    if sig != "/":
        raise DecodeError(f"seal at {offset}: signature {sig!r}")
    return {"offset": offset, "checksum": value}


def read_serialized_db(r):
    """SerializeUtils.serializeSnapshot: sessions, ACL cache, nodes up to the "/" terminator."""
    sessions = [{"session_id": r.long(), "timeout": r.int()}
                for _ in range(r.int())]
    acls = [{"ref": r.long(), "acl": read_acl_list(r)} for _ in range(r.int())]
    nodes = []
    while True:
        path = r.ustring()
        if path == "/":
            break
        nodes.append({"path": path, "data": r.hexbuf(), "acl_ref": r.long(),
                      "stat": read_stat_persisted(r)})
    return sessions, acls, nodes


def decode_snapshot(blob):
    r = Reader(blob)
    header = {"magic": r.int(), "version": r.int(), "dbid": r.long()}
    if header["magic"] != SNAP_MAGIC:
        raise DecodeError(f"snapshot magic {header['magic']:#x}")
    sessions, acls, nodes = read_serialized_db(r)
    seals = [_seal(r, blob)]
    digest = None
    if r.remaining():
        digest = {"zxid": r.long(), "digest_version": r.int(), "digest": r.long()}
        seals.append(_seal(r, blob))
    r.expect_end("snapshot")
    return {"kind": "snapshot", "size": len(blob), "header": header,
            "sessions": sessions, "acls": acls, "nodes": nodes, "seals": seals,
            "digest": digest}
