"""Unit tests of the judge's Jute codec, handshake helpers, normaliser and generator.

Run from this directory: python3 -m unittest
The frames named REAL_* were captured from Apache ZooKeeper 3.8.0 (Debian package) on loopback.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import diff  # noqa: E402
import jute  # noqa: E402
import normalize  # noqa: E402
import ops  # noqa: E402
import zkconn  # noqa: E402

# ConnectResponse payload (with the readOnly byte) and the session it opened.
REAL_CONNECT = bytes.fromhex("00000000000075300100000991f90000000000100df2226c16efe9a6335cb1624f5c002d00")
REAL_SESSION_ID = 0x0100000991F90000
# create2 /golden data "gd" acl [31 world:anyone, 1 digest:bob:x]: request and reply.
REAL_CREATE2_REQ = bytes.fromhex(
    "000000010000000f000000072f676f6c64656e000000026764000000020000001f00000005776f726c6400000006616e796f6e6500"
    "0000010000000664696765737400000005626f623a7800000000")
REAL_CREATE2_REP = bytes.fromhex(
    "000000010000000000012f2300000000000000072f676f6c64656e0000000000012f230000000000012f23000001a216dcab430000"
    "01a216dcab43000000000000000000000000000000000000000000000002000000000000000000012f23")
REAL_GETACL_REP = bytes.fromhex(
    "000000020000000000012f2300000000000000020000001f00000005776f726c6400000006616e796f6e650000000100000006646967"
    "65737400000005626f623a780000000000012f230000000000012f23000001a216dcab43000001a216dcab4300000000000000000000"
    "0000000000000000000000000002000000000000000000012f23")
# multi [check /golden v0, create /golden, delete /golden] failing on the create (NODEEXISTS).
REAL_MULTI_REQ = bytes.fromhex(
    "000000030000000e0000000d00ffffffff000000072f676f6c64656e000000000000000100ffffffff000000072f676f6c64656effff"
    "ffff000000010000001f00000005776f726c6400000006616e796f6e65000000000000000200ffffffff000000072f676f6c64656eff"
    "ffffffffffffff01ffffffff")
REAL_MULTI_FAILED_REP = bytes.fromhex(
    "000000030000000000012f2400000000ffffffff000000000000000000ffffffff00ffffff92ffffff92ffffffff00fffffffeffffff"
    "feffffffff01ffffffff")
# multi [check /golden v0, setData /golden null, delete /golden] succeeding.
REAL_MULTI_OK_REP = bytes.fromhex(
    "000000040000000000012f25000000000000000d00000000000000000500000000000000000000012f230000000000012f2500000"
    "1a216dcab43000001a216dcab44000000010000000000000000000000000000000000000000000000000000000000012f23000000020"
    "000000000ffffffff01ffffffff")
REAL_WHOAMI_REP = bytes.fromhex("000000050000000000012f250000000000000001000000026970000000093132372e302e302e31")
# NodeChildrenChanged on /a delivered after setWatches (zxid -1 on 3.8).
REAL_EVENT = bytes.fromhex("ffffffffffffffffffffffff000000000000000400000003000000022f61")
# multiRead containing a delete: MARSHALLINGERROR, yet an (empty) MultiResponse body follows the header.
REAL_MULTIREAD_BAD_REP = bytes.fromhex("0000000a0000000000000009fffffffbffffffff01ffffffff")


class WriterReaderTest(unittest.TestCase):
    def test_primitives_are_big_endian(self):
        w = jute.Writer().int(1).long(-2).bool(True).bool(False)
        self.assertEqual(w.bytes().hex(), "00000001" "fffffffffffffffe" "01" "00")

    def test_null_and_empty_buffers_differ(self):
        self.assertEqual(jute.Writer().buffer(None).bytes(), b"\xff\xff\xff\xff")
        self.assertEqual(jute.Writer().buffer(b"").bytes(), b"\0\0\0\0")
        r = jute.Reader(b"\xff\xff\xff\xff\0\0\0\0")
        self.assertIsNone(r.buffer())
        self.assertEqual(r.buffer(), b"")

    def test_null_string_and_vector(self):
        data = jute.Writer().ustring(None).vector(None, jute.write_string_item).bytes()
        r = jute.Reader(data)
        self.assertIsNone(r.ustring())
        self.assertIsNone(r.vector(jute.read_string_item))

    def test_string_round_trip_utf8_and_nul(self):
        for s in ("", "/a", "/\u00e9", "/a\0b"):
            self.assertEqual(jute.Reader(jute.Writer().ustring(s).bytes()).ustring(), s)
        self.assertEqual(jute.Writer().ustring("/\u00e9").bytes(), b"\0\0\0\x03/\xc3\xa9")

    def test_cesu8_surrogates_from_java_are_kept(self):
        # Java writes U+1F600 as two 3-byte surrogate sequences.
        raw = b"\0\0\0\x06" + bytes.fromhex("eda0bdedb880")
        self.assertEqual(jute.Reader(raw).ustring(), "\ud83d\ude00")

    def test_vector_of_acls(self):
        acls = [(31, "world", "anyone"), (1, "digest", "bob:x")]
        data = jute.Writer().vector(acls, jute.write_acl).bytes()
        self.assertEqual(jute.Reader(data).vector(jute.read_acl), acls)

    def test_any_nonzero_byte_is_true(self):
        self.assertTrue(jute.Reader(b"\x02").bool())

    def test_short_input_raises(self):
        for data, read in ((b"\0\0\0", "int"), (b"\0" * 7, "long"), (b"\0\0\0\x05ab", "buffer"), (b"", "bool")):
            with self.assertRaises(jute.JuteError):
                getattr(jute.Reader(data), read)()

    def test_length_below_minus_one_raises(self):
        with self.assertRaises(jute.JuteError):
            jute.Reader(b"\xff\xff\xff\xfe").buffer()
        with self.assertRaises(jute.JuteError):
            jute.Reader(b"\xff\xff\xff\xfe").vector(jute.read_string_item)

    def test_stat_round_trip_is_68_bytes(self):
        stat = dict(zip(jute.STAT_FIELDS, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)))
        w = jute.Writer()
        jute.write_stat(w, stat)
        self.assertEqual(len(w.bytes()), 68)
        self.assertEqual(jute.read_stat(jute.Reader(w.bytes())), stat)
        self.assertEqual(w.bytes()[-8:], (11).to_bytes(8, "big"))  # pzxid is the last field


class HandshakeTest(unittest.TestCase):
    def test_connect_request_is_45_bytes(self):
        payload = jute.encode_connect(0, b"\0" * 16, 0, 30000)
        self.assertEqual(len(payload), 45)
        self.assertEqual(payload[:16].hex(), "00000000" "0000000000000000" "00007530")
        self.assertEqual(payload[-1], 0)

    def test_decode_real_connect_response(self):
        d = jute.decode_connect(REAL_CONNECT)
        self.assertEqual(d["protocolVersion"], 0)
        self.assertEqual(d["timeOut"], 30000)
        self.assertEqual(d["sessionId"], REAL_SESSION_ID)
        self.assertEqual(len(d["passwd"]), 16)
        self.assertIs(d["readOnly"], False)
        self.assertNotIn("readOnly", jute.decode_connect(REAL_CONNECT[:-1]))

    def test_java_password_matches_real_server(self):
        d = jute.decode_connect(REAL_CONNECT)
        self.assertEqual(zkconn.java_session_password(REAL_SESSION_ID), d["passwd"])
        self.assertNotEqual(zkconn.java_session_password(REAL_SESSION_ID + 1), d["passwd"])


class RequestEncodingTest(unittest.TestCase):
    def test_create2_matches_captured_request(self):
        args = {"path": "/golden", "data": b"gd", "acl": [(31, "world", "anyone"), (1, "digest", "bob:x")],
                "flags": 0}
        got = jute.encode_header(1, jute.CREATE2) + jute.encode_request(jute.CREATE2, args)
        self.assertEqual(got, REAL_CREATE2_REQ)

    def test_multi_matches_captured_request(self):
        args = {"ops": [
            (jute.CHECK, {"path": "/golden", "version": 0}),
            (jute.CREATE, {"path": "/golden", "data": None, "acl": [(31, "world", "anyone")], "flags": 0}),
            (jute.DELETE, {"path": "/golden", "version": -1}),
        ]}
        got = jute.encode_header(3, jute.MULTI) + jute.encode_request(jute.MULTI, args)
        self.assertEqual(got, REAL_MULTI_REQ)

    def test_empty_multi_is_only_the_terminator(self):
        self.assertEqual(jute.encode_request(jute.MULTI, {"ops": []}).hex(), "ffffffff01ffffffff")

    def test_create_ttl_appends_the_ttl(self):
        base = {"path": "/t", "data": None, "acl": [], "flags": 5}
        plain = jute.encode_request(jute.CREATE, base)
        ttl = jute.encode_request(jute.CREATE_TTL, dict(base, ttl=1000))
        self.assertEqual(ttl, plain + (1000).to_bytes(8, "big"))

    def test_set_watches2_has_five_lists(self):
        args = {"relativeZxid": 7, "dataWatches": ["/a"], "existWatches": [], "childWatches": [],
                "persistentWatches": [], "persistentRecursiveWatches": ["/r"]}
        r = jute.Reader(jute.encode_request(jute.SET_WATCHES2, args))
        self.assertEqual(r.long(), 7)
        lists = [r.vector(jute.read_string_item) for _ in range(5)]
        self.assertEqual(lists, [["/a"], [], [], [], ["/r"]])
        self.assertEqual(r.remaining(), 0)

    def test_auth_packet(self):
        got = jute.encode_request(jute.AUTH, {"type": 0, "scheme": "digest", "auth": b"a:b"})
        self.assertEqual(got.hex(), "00000000" "00000006" + b"digest".hex() + "00000003" + b"a:b".hex())


class ReplyDecodingTest(unittest.TestCase):
    def test_create2_reply(self):
        hdr, r = jute.decode_reply_header(REAL_CREATE2_REP)
        self.assertEqual(hdr, {"xid": 1, "zxid": 0x12F23, "err": 0})
        body = jute.decode_body(jute.CREATE2, r)
        self.assertEqual(r.remaining(), 0)
        self.assertEqual(body["path"], "/golden")
        st = body["stat"]
        self.assertEqual((st["czxid"], st["mzxid"], st["pzxid"]), (0x12F23,) * 3)
        self.assertEqual(st["ctime"], st["mtime"])
        self.assertEqual((st["version"], st["dataLength"], st["numChildren"], st["ephemeralOwner"]), (0, 2, 0, 0))

    def test_get_acl_reply(self):
        _, r = jute.decode_reply_header(REAL_GETACL_REP)
        body = jute.decode_body(jute.GET_ACL, r)
        self.assertEqual(body["acl"], [(31, "world", "anyone"), (1, "digest", "bob:x")])
        self.assertEqual(body["stat"]["dataLength"], 2)
        self.assertEqual(r.remaining(), 0)

    def test_failed_multi_reply(self):
        _, r = jute.decode_reply_header(REAL_MULTI_FAILED_REP)
        results = jute.decode_body(jute.MULTI, r)["results"]
        self.assertEqual(r.remaining(), 0)
        self.assertEqual([(x.get("type"), x.get("err"), x.get("errBody")) for x in results[:-1]],
                         [(-1, 0, 0), (-1, -110, -110), (-1, -2, -2)])
        self.assertEqual(results[-1], {"end": (-1, -1)})

    def test_successful_multi_reply(self):
        _, r = jute.decode_reply_header(REAL_MULTI_OK_REP)
        results = jute.decode_body(jute.MULTI, r)["results"]
        self.assertEqual(r.remaining(), 0)
        self.assertEqual([x.get("type") for x in results[:-1]], [jute.CHECK, jute.SET_DATA, jute.DELETE])
        self.assertEqual(results[1]["stat"]["version"], 1)
        self.assertEqual(results[1]["stat"]["dataLength"], 0)

    def test_multi_without_terminator_raises(self):
        with self.assertRaises(jute.JuteError):
            jute.decode_multi_results(jute.Reader(bytes.fromhex("0000000d00ffffffff")))
        with self.assertRaises(jute.JuteError):
            jute.decode_multi_results(jute.Reader(bytes.fromhex("0000006300ffffffff")))

    def test_who_am_i_reply(self):
        _, r = jute.decode_reply_header(REAL_WHOAMI_REP)
        self.assertEqual(jute.decode_body(jute.WHO_AM_I, r), {"clientInfo": [("ip", "127.0.0.1")]})

    def test_notification(self):
        hdr, r = jute.decode_reply_header(REAL_EVENT)
        self.assertEqual(hdr, {"xid": -1, "zxid": -1, "err": 0})
        self.assertEqual(jute.decode_event(r), {"type": 4, "state": 3, "path": "/a"})

    def test_error_reply_keeps_unexpected_body(self):
        d = diff.decode_reply(jute.MULTI_READ, REAL_MULTIREAD_BAD_REP)
        self.assertEqual(d["header"]["err"], -5)
        self.assertEqual(d["errBody"], "ffffffff01ffffffff")

    def test_truncated_reply_is_a_decode_error(self):
        d = diff.decode_reply(jute.CREATE2, REAL_CREATE2_REP[:-3])
        self.assertIn("decodeError", d)


class NormalizerTest(unittest.TestCase):
    def setUp(self):
        self.norm = normalize.Normalizer(window_start_ms=0)

    def test_zxids_anchor_to_operations(self):
        self.norm.register_header_zxid(10, 0)
        self.norm.register_header_zxid(10, 1)
        self.norm.register_header_zxid(14, 2)
        self.assertEqual(self.norm.zxid(10), "op0")
        self.assertEqual(self.norm.zxid(12), "<op2")
        self.assertEqual(self.norm.zxid(14), "op2")
        self.assertEqual(self.norm.zxid(15), "after-last")
        self.assertEqual((self.norm.zxid(0), self.norm.zxid(-1)), (0, -1))

    def test_stat_times_compare_relations_only(self):
        self.norm.register_header_zxid(5, 0)
        self.norm.register_header_zxid(6, 1)
        base = dict(zip(jute.STAT_FIELDS, (5, 5, 1000, 1000, 0, 0, 0, 0, 0, 0, 5)))
        self.assertEqual(self.norm.stat(base)["mtime"], "t")
        other = dict(base, czxid=5, mzxid=6, mtime=1001)
        self.assertEqual(self.norm.stat(other)["mtime"], "t")
        broken = dict(base, ctime=999)
        self.assertEqual(self.norm.stat(broken)["ctime"], "time-differs-within-txn")

    def test_session_ids_become_labels(self):
        self.norm.add_session(0x1234, "S3")
        st = dict(zip(jute.STAT_FIELDS, (0,) * 11), ephemeralOwner=0x1234)
        self.assertEqual(self.norm.stat(st)["ephemeralOwner"], "S3")
        self.assertEqual(self.norm.session(0x9999), "S-unknown")

    def test_ensemble_membership_ports_are_not_compared(self):
        a = b"server.1=127.0.0.1:40017:34381:participant\nserver.2=127.0.0.1:50851:47835:participant\nversion=0"
        b = b"server.1=127.0.0.1:32851:58895:participant\nserver.2=127.0.0.1:39735:57641:participant\nversion=0"
        na = self.norm.body(jute.GET_DATA, {"data": a})["data"]
        self.assertEqual(na, self.norm.body(jute.GET_DATA, {"data": b})["data"])
        self.assertEqual(na, b"server.1=127.0.0.1:<port>:<port>:participant\n"
                             b"server.2=127.0.0.1:<port>:<port>:participant\nversion=0")
        with_client = b"server.3=localhost:1:2:observer;127.0.0.1:2181\nversion=1a"
        self.assertEqual(normalize.membership(with_client),
                         b"server.3=localhost:<port>:<port>:observer;127.0.0.1:<port>\nversion=1a")
        # Anything else is compared as sent: other data, another member id or role, another version.
        for other in (b"server.1=x", b"server.1=127.0.0.1:1:2:leader\nversion=0", b"abc:123", b"", None):
            self.assertEqual(normalize.membership(other), other)
        self.assertNotEqual(normalize.membership(a), normalize.membership(a.replace(b"server.2", b"server.4")))
        self.assertNotEqual(normalize.membership(a), normalize.membership(a.replace(b"version=0", b"version=1")))

    def test_child_lists_keep_their_order(self):
        body = self.norm.body(jute.GET_CHILDREN, {"children": ["b", "a"]})
        self.assertEqual(body["children"], ["b", "a"])

    def test_notification_zxid_minus_one_matches_any(self):
        a = [{"type": 1, "zxid": -1}]
        b = [{"type": 1, "zxid": "op4"}]
        normalize.loose_event_zxids(a, b)
        self.assertEqual(a, b)
        c = [{"type": 1, "zxid": "op3"}]
        d = [{"type": 1, "zxid": "op4"}]
        normalize.loose_event_zxids(c, d)
        self.assertNotEqual(c, d)


class EnsembleTest(unittest.TestCase):
    def test_a_null_acl_list_of_a_multi_create_is_sent_empty_on_ensembles_only(self):
        argv = ["--a", "127.0.0.1:1", "--b", "127.0.0.1:2", "--seed", "1"]
        subs = [(jute.CREATE, {"path": "/a", "data": b"", "acl": None, "flags": 0}),
                (jute.CREATE_CONTAINER, {"path": "/b", "data": b"", "acl": [(31, "world", "anyone")], "flags": 4}),
                (jute.DELETE, {"path": "/c", "version": -1})]
        for flag, want in (([], None), (["--ensemble"], [])):
            judge = diff.Judge(diff.parse_args(argv + flag))
            op = ops.Op("multi", 0, jute.MULTI, {"ops": list(subs)})
            if judge.args.ensemble:
                judge.avoid_ensemble_stall(op)
            self.assertEqual(op.args["ops"][0][1]["acl"], want)
            self.assertEqual(op.args["ops"][1:], subs[1:])
        self.assertEqual(judge.ensemble_stalls_avoided, 1)
        self.assertIn("--ensemble", diff.replay_command(judge.args))
        plain = ops.Op("create", 0, jute.CREATE, dict(subs[0][1]))
        judge.avoid_ensemble_stall(plain)
        self.assertIsNone(plain.args["acl"])  # only a multi's create stops an ensemble


class GeneratorTest(unittest.TestCase):
    def test_same_seed_same_operations(self):
        def draw(seed):
            g = ops.Generator(seed, 4)
            return [g.next().describe() for _ in range(300)]
        self.assertEqual(draw(7), draw(7))
        self.assertNotEqual(draw(7), draw(8))

    def test_digest_id(self):
        # The documented example: super:test.
        self.assertEqual(ops.digest_id("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")

    def test_no_negative_ttl_with_a_non_ttl_mode(self):
        g = ops.Generator(1, 4)
        for _ in range(2000):
            a = g.ttl_create_args()
            self.assertFalse(a["flags"] not in (5, 6) and a["ttl"] < 0, a)


class VersionDifferenceTest(unittest.TestCase):
    def test_a_reference_older_than_the_change_differs(self):
        self.assertTrue(diff.reference_differs("3.8.0", "3.8.4", "3.9.3"))
        self.assertTrue(diff.reference_differs("3.9.2", "3.8.4", "3.9.3"))
        self.assertTrue(diff.reference_differs("3.8.6", "3.9.0"))

    def test_a_reference_with_the_change_does_not(self):
        self.assertFalse(diff.reference_differs("3.8.4", "3.8.4", "3.9.3"))
        self.assertFalse(diff.reference_differs("3.9.5", "3.8.4", "3.9.3"))
        self.assertFalse(diff.reference_differs("3.9.0", "3.9.0"))
        self.assertFalse(diff.reference_differs("3.10.0", "3.9.0"))

    def test_no_known_difference_against_3_9_5(self):
        for entry in diff.VERSION_DIFFERENCES:
            self.assertFalse(diff.reference_differs("3.9.5", *entry[3]), entry[-1])

    def test_create2_results_in_a_multi_against_3_8_0(self):
        op = ops.Op("multi", 0, jute.MULTI, {"ops": [(15, {"path": "/a", "acl": []})]})
        ra = {"err": 0, "zxid": "op1", "body": {"results": [{"type": 1, "err": 0, "path": "/a"}]}}
        rb = {"err": 0, "zxid": "op1", "body": {"results": [{"type": 15, "err": 0, "path": "/a", "stat": {}}]}}
        obs_a, obs_b = {"events": {}, "reply": ra}, {"events": {}, "reply": rb}
        self.assertIsNotNone(diff.version_difference(op, obs_a, obs_b, "3.8.0"))
        self.assertIsNone(diff.version_difference(op, obs_a, obs_b, "3.8.6"))
        rb["body"]["results"][0]["path"] = "/b"
        self.assertIsNone(diff.version_difference(op, obs_a, obs_b, "3.8.0"))


if __name__ == "__main__":
    unittest.main()
