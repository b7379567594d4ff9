//! Read-only mode (`-Dreadonlymode.enabled=true`), compared with Apache ZooKeeper 3.9.5: a three-member
//! ensemble of each kind loses two members; the survivor, looking for a leader, serves read-only after its
//! grace period. What it answers is recorded as text and must be the same on both kinds: `isro`, `srvr`, `mntr`,
//! `wchs`, `dump`, the AdminServer's `is_read_only`, `srvr`, `leader` and `zabstate`;
//! a client without the read-only flag (closed unanswered); a read-only client asking for a new session (which
//! ZooKeeper without local sessions answers with a bare NOTREADONLY header, so kazoo's `read_only=True` client
//! cannot connect); a global session brought back (closed); a session id the database does not hold (taken
//! on its password, then reads answered from the tree and writes, `sync` and `closeSession` NOTREADONLY, the
//! tree unchanged). When the two members come back, the survivor serves read-write again, closes its
//! read-only connections, and a kazoo `read_only=True` client that kept trying ends connected read-write.
//! Without the setting, a member looking for a leader answers four-letter words as ZooKeeper's does.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

const IDS: [u64; 3] = [1, 2, 3];
const SURVIVOR: u64 = 1;
const FLAGS: &str = "-Dreadonlymode.enabled=true";

/// Raw client-protocol helpers for the python scripts: frames, the connect handshake (with or without the
/// read-only byte) and ZooKeeper's session password (`java.util.Random` seeded with the id ^ superSecret).
const RAW: &str = r#"
import logging, socket, struct
logging.disable(logging.CRITICAL)
def frame(b): return struct.pack(">i", len(b)) + b
def ustr(x): b = x.encode(); return struct.pack(">i", len(b)) + b
def recv_frame(s):
    buf = b""
    while len(buf) < 4:
        d = s.recv(4 - len(buf))
        if not d: return None
        buf += d
    n = struct.unpack(">i", buf)[0]; body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d: return None
        body += d
    return body
def connect(port, ro, sid=0, pw=b"\0" * 16, timeout=4000):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = struct.pack(">iqiq", 0, 0, timeout, sid) + struct.pack(">i", len(pw)) + pw
    if ro is not None: req += bytes([1 if ro else 0])
    s.sendall(frame(req))
    try: r = recv_frame(s)
    except OSError: r = None
    return s, r
def request(s, xid, op, body=b""):
    s.sendall(frame(struct.pack(">ii", xid, op) + body))
    r = recv_frame(s)
    if r is None: return None
    x, z, err = struct.unpack(">iqi", r[:16])
    return x, z, err, r[16:]
def java_password(sid):
    seed = ((sid ^ 0xB3415C00) ^ 0x5DEECE66D) & ((1 << 48) - 1)
    out = bytearray()
    while len(out) < 16:
        seed = (seed * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        r = seed >> 16
        for _ in range(min(4, 16 - len(out))):
            out.append(r & 0xFF); r >>= 8
    return bytes(out)
def four(port, word):
    s = socket.create_connection(("127.0.0.1", port), timeout=5); s.sendall(word.encode()); out = b""
    while True:
        d = s.recv(4096)
        if not d: return out.decode()
        out += d
def closed_after(s):
    s.settimeout(3)
    try: return s.recv(1) == b""
    except socket.timeout: return False
"#;

/// What the survivor answers while read-only, as text; `global` is a session created before the loss.
fn read_only_script(global: &str, admin: u16) -> String {
    format!(
        r#"{RAW}
port = int(hosts[0].split(":")[1])
global_sid, global_pw = {global}
srvr = four(port, "srvr")
last = int([l for l in srvr.splitlines() if l.startswith("Zxid: ")][0][6:], 16)
print("isro", four(port, "isro"))
print("srvr mode", [l for l in srvr.splitlines() if l.startswith("Mode: ")])
print("srvr read-only line", "READ-ONLY mode; serving only read-only clients" in srvr)
print("mntr", [l for l in four(port, "mntr").splitlines() if l.startswith("zk_server_state")])
import json, urllib.request
def admin(command):
    with urllib.request.urlopen("http://127.0.0.1:{admin}/commands/" + command, timeout=20) as r:
        return json.loads(r.read())
print("admin is_read_only", admin("is_read_only"))
print("admin srvr server_state", admin("srvr")["server_stats"]["server_state"])
print("admin leader", admin("leader"))
print("admin zabstate", admin("zabstate"))
conf = admin("configuration")
print("admin configuration", sorted(conf), conf["server_id"], conf["tick_time"])
for flag in (None, False):
    s, r = connect(port, flag)
    print("client with read-only flag", flag, "->", "closed unanswered" if r is None else r.hex())
s, r = connect(port, True)
x, z, err = struct.unpack(">iqi", r)
print("new read-only session ->", len(r), "bytes: xid", x, "err", err, "zxid is the last", z == last)
s.close()
s, r = connect(port, True, global_sid, global_pw)
print("global session brought back ->", "closed unanswered" if r is None else r.hex())
sid = (1 << 56) | 0xabcdef0001
s, r = connect(port, True, sid, b"x" * 16)
print("wrong password ->", struct.unpack(">iiq", r[:16]), r[-1], "closed", closed_after(s))
s, r = connect(port, True, sid, java_password(sid))
t, got, ro = struct.unpack(">iq", r[4:16]) + (r[-1],)
print("made-up session ->", t, got == sid, "read-only", ro)
get = lambda op, path, watch: ustr(path) + (b"\1" if watch else b"\0")
acl = struct.pack(">i", 1) + struct.pack(">i", 31) + ustr("world") + ustr("anyone")
ops = [
    ("exists", 3, get(3, "/ro", True)),
    ("getData", 4, get(4, "/ro", True)),
    ("getChildren", 8, get(8, "/ro", False)),
    ("getACL", 6, ustr("/ro")),
    ("sync", 9, ustr("/ro")),
    ("create", 1, ustr("/x") + struct.pack(">i", 1) + b"d" + acl + struct.pack(">i", 0)),
    ("setData", 5, ustr("/ro") + struct.pack(">i", 1) + b"z" + struct.pack(">i", -1)),
    ("delete", 2, ustr("/ro/a") + struct.pack(">i", -1)),
    ("multi", 14, struct.pack(">i", 2) + b"\0" + struct.pack(">i", -1) + ustr("/ro/a") + struct.pack(">i", -1)
        + struct.pack(">i", -1) + b"\1" + struct.pack(">i", -1)),
    ("closeSession", -11, b""),
    ("ping", 11, b""),
]
for i, (name, op, body) in enumerate(ops):
    xid = -2 if op == 11 else i + 1
    got = request(s, xid, op, body)
    if got is None:
        print(name, "-> closed"); break
    x, z, err, rest = got
    if name == "getData":
        rest = rest[4:4 + struct.unpack(">i", rest[:4])[0]]
    elif name == "getChildren":
        rest = rest[4:]
    else:
        rest = len(rest)
    print(name, "-> xid", x, "err", err, "zxid is the last", z == last, rest)
print("still open after closeSession", not closed_after(s))
import re
print("wchs", four(port, "wchs"))
print("dump", re.sub(r"0x[0-9a-f]+", "ID", four(port, "dump").split("Connections dump:")[0]))
c = KazooClient(hosts=hosts[0], read_only=True, timeout=4, connection_retry=dict(max_tries=2, delay=0.2))
try:
    c.start(timeout=6)
    print("kazoo read_only=True ->", c.client_state)
except Exception as e:
    print("kazoo read_only=True ->", type(e).__name__)
c.stop()
print("tree unchanged", four(port, "srvr").count("Zxid: 0x%x" % last) == 1)
"#
    )
}

/// A kazoo `read_only=True` client that keeps trying every member until it is connected read-write, then
/// writes (run in the background while the members come back).
const RECONNECT: &str = r#"
import logging
logging.disable(logging.CRITICAL)
from kazoo.protocol.states import KeeperState
c = KazooClient(hosts=",".join(hosts), read_only=True, timeout=4, connection_retry=dict(max_tries=-1, delay=0.3, max_delay=1))
c.start(timeout=120)
deadline = time.time() + 120
while c.client_state != KeeperState.CONNECTED and time.time() < deadline:
    time.sleep(0.2)
print("state", c.client_state)
c.create("/after", b"rw")
print("wrote", c.get("/after")[0])
print("reads", c.get("/ro")[0], c.get_children("/ro"))
c.stop()
"#;

/// Polls `isro` on `port` until it answers `want`; panics with the members' logs after `within`.
fn wait_for_isro(members: &[Member], port: u16, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if four_letter(port, "isro").as_deref() == Some(want) {
            return;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = members.iter().map(|m| m.log_tail()).collect();
            panic!("isro never answered {want:?}:\n{}", logs.join("\n---\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs the scenario on a three-member ensemble of `kind` and returns its transcript.
fn scenario(kind: Kind) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = Ports::new(&IDS);
    let admin = ensemble::free_port();
    let mut members: Vec<Member> = IDS
        .iter()
        .map(|&id| {
            // The survivor's AdminServer is on.
            let extra = if id == SURVIVOR {
                format!("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n")
            } else {
                "admin.enableServer=false\n".to_owned()
            };
            Member::start_with_flags(dir.path(), id, kind, &ports, &extra, FLAGS)
        })
        .collect();
    wait_for_quorum(&members, Duration::from_secs(60));
    let survivor = ports.client[&SURVIVOR];
    // The data, and a session created on the survivor (so its database holds it) and left open.
    let global = kazoo(
        &[survivor],
        &format!(
            r#"{RAW}
c = KazooClient(hosts=hosts[0]); c.start(timeout=30)
c.ensure_path("/ro/a"); c.set("/ro", b"hello"); c.sync("/ro"); c.stop()
s, r = connect(int(hosts[0].split(":")[1]), False, timeout=6000)
sid = struct.unpack(">q", r[8:16])[0]
print("(%d, bytes.fromhex(%r))" % (sid, r[20:36].hex()))
"#
        ),
    );
    for m in members.iter_mut().filter(|m| m.id != SURVIVOR) {
        m.kill();
    }
    wait_for_isro(&members, survivor, "ro", Duration::from_secs(60));
    let mut transcript = kazoo(&[survivor], &read_only_script(global.trim(), admin));
    // A read-only client keeps trying while the members come back, and ends connected read-write.
    let hosts: Vec<u16> = IDS.iter().map(|id| ports.client[id]).collect();
    let reconnecting = background_kazoo(&hosts, RECONNECT);
    let mut held = held_read_only_connection(survivor);
    let held_first = first_line(&mut held);
    for m in members.iter_mut().filter(|m| m.id != SURVIVOR) {
        m.restart();
    }
    wait_for_quorum(&members, Duration::from_secs(90));
    transcript.push_str(&format!(
        "isro after the election: {:?}\n",
        four_letter(survivor, "isro")
    ));
    transcript.push_str(&format!(
        "held read-only connection: {held_first}, then {}\n",
        finish(held)
    ));
    transcript.push_str(&finish(reconnecting));
    transcript
}

/// A python process running `script` with kazoo, in the background.
fn background_kazoo(hosts: &[u16], script: &str) -> std::process::Child {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sdist = root.join("compat-tests/.cache/kazoo-2.11.0");
    let hosts: Vec<String> = hosts.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let program = format!(
        "import sys, time\nsys.path.insert(0, {:?})\nfrom kazoo.client import KazooClient\n\
         from kazoo.exceptions import *\nhosts = [{}]\n{script}\n",
        sdist.display().to_string(),
        hosts.join(", ")
    );
    Command::new(root.join("compat-tests/.venv/bin/python"))
        .arg("-c")
        .arg(program)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python")
}

/// A read-only connection on a made-up session, pinging until the server closes it.
fn held_read_only_connection(port: u16) -> std::process::Child {
    background_kazoo(
        &[port],
        &format!(
            r#"{RAW}
sid = (1 << 56) | 0xabcdef0002
s, r = connect(int(hosts[0].split(":")[1]), True, sid, java_password(sid), timeout=6000)
print("read-only", r[-1], flush=True)
while True:
    try:
        if request(s, -2, 11) is None: break
    except OSError: break
    time.sleep(0.3)
print("closed by the server")
"#
        ),
    )
}

/// The first line `child` prints (it has started its work).
fn first_line(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let out = child.stdout.as_mut().expect("piped stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).expect("python output") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8_lossy(&line).into_owned()
}

fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python failed:\n{text}");
    text.trim().to_owned()
}

#[test]
fn a_member_cut_off_from_its_quorum_serves_reads_as_zookeeper_does() {
    let zookeeper = scenario(Kind::ZooKeeper("3.9.5"));
    let ferrokeeper = scenario(Kind::Ferrokeeper);
    println!("3.9.5:\n{zookeeper}\nferrokeeper:\n{ferrokeeper}");
    // The facts the transcript must show, on the reference first (a change in the harness shows here).
    for fact in [
        "isro ro",
        "srvr mode ['Mode: read-only']",
        "srvr read-only line True",
        "mntr ['zk_server_state\\tread-only']",
        "client with read-only flag None -> closed unanswered",
        "client with read-only flag False -> closed unanswered",
        "new read-only session -> 16 bytes: xid 0 err -119 zxid is the last True",
        "global session brought back -> closed unanswered",
        "getData -> xid 2 err 0 zxid is the last True b'hello'",
        "create -> xid 6 err -119 zxid is the last True 0",
        "still open after closeSession True",
        "kazoo read_only=True -> KazooTimeoutError",
        "tree unchanged True",
        "isro after the election: Some(\"rw\")",
        "held read-only connection: read-only 1, then closed by the server",
        "state CONNECTED",
        "wrote b'rw'",
    ] {
        assert!(
            zookeeper.contains(fact),
            "3.9.5 did not show {fact:?}:\n{zookeeper}"
        );
    }
    assert_eq!(ferrokeeper, zookeeper);
}

/// What a member looking for a leader (without read-only mode) answers: four-letter words as a ZooKeeper
/// server that is not running answers them, and a client's connect is closed.
fn looking(kind: Kind) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = Ports::new(&IDS);
    let mut members: Vec<Member> = IDS
        .iter()
        .map(|&id| Member::start(dir.path(), id, kind, &ports))
        .collect();
    wait_for_quorum(&members, Duration::from_secs(60));
    for m in members.iter_mut().filter(|m| m.id != SURVIVOR) {
        m.kill();
    }
    let survivor = ports.client[&SURVIVOR];
    wait_for_isro(&members, survivor, "null", Duration::from_secs(60));
    let mut out = String::new();
    for word in [
        "isro", "ruok", "srvr", "stat", "mntr", "conf", "cons", "wchs", "dirs", "hash",
    ] {
        out.push_str(&format!("{word}: {:?}\n", four_letter(survivor, word)));
    }
    out.push_str(&kazoo(
        &[survivor],
        &format!(
            r#"{RAW}
s, r = connect(int(hosts[0].split(":")[1]), True)
print("connect:", "closed unanswered" if r is None else r.hex())
"#
        ),
    ));
    out
}

#[test]
fn a_member_looking_for_a_leader_answers_as_a_zookeeper_server_that_is_not_running() {
    let zookeeper = looking(Kind::ZooKeeper("3.9.5"));
    let ferrokeeper = looking(Kind::Ferrokeeper);
    println!("3.9.5:\n{zookeeper}\nferrokeeper:\n{ferrokeeper}");
    for fact in [
        "isro: Some(\"null\")",
        "ruok: Some(\"imok\")",
        "srvr: Some(\"This ZooKeeper instance is not currently serving requests\\n\")",
        "connect: closed unanswered",
    ] {
        assert!(
            zookeeper.contains(fact),
            "3.9.5 did not show {fact:?}:\n{zookeeper}"
        );
    }
    assert_eq!(ferrokeeper, zookeeper);
}
