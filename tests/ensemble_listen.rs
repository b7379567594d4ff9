//! `quorumListenOnAllIPs=true`: a member listens for elections and learners on every address, not only the one
//! its server line names (members behind NAT or with several interfaces rely on it). Shown on loopback: the
//! server lines say 127.0.0.1, and another loopback address (127.0.0.2) reaches the election port of every
//! member and the quorum port of the leader, on ferrokeeper and Apache ZooKeeper 3.9.5 members of one ensemble
//! alike; without the setting, 127.0.0.2 is refused.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

fn reachable(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 2], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

fn ensemble(all_ips: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let extra = format!("admin.enableServer=false\nquorumListenOnAllIPs={all_ips}\n");
    // On a fresh ensemble the highest id leads: a ferrokeeper member.
    let kinds = [Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper, Kind::Ferrokeeper];
    let members: Vec<Member> = ids
        .iter()
        .zip(kinds)
        .map(|(&id, kind)| Member::start_with(dir.path(), id, kind, &ports, &extra))
        .collect();
    let leader = wait_for_quorum(&members, Duration::from_secs(90));
    for m in &members {
        assert_eq!(
            reachable(ports.election[&m.id]),
            all_ips,
            "the election port of member {} ({:?}) on 127.0.0.2",
            m.id,
            m.kind
        );
    }
    assert_eq!(
        reachable(ports.quorum[&leader]),
        all_ips,
        "the quorum port of the leader {leader} on 127.0.0.2"
    );
}

#[test]
fn members_listen_on_every_address_with_quorum_listen_on_all_ips() {
    ensemble(true);
}

#[test]
fn members_listen_on_their_server_line_address_by_default() {
    ensemble(false);
}

/// `-Dzookeeper.multiAddress.enabled=true` with two addresses per member (`127.0.0.1:q:e|127.0.0.2:q2:e2`): ferrokeeper and
/// Apache ZooKeeper 3.9.5 members elect over the handshake that lists every address (protocol version -65535),
/// each member listens on both of its election addresses and the leader on both of its quorum addresses, every
/// member prints the same membership, and writes through each kind are read on the other.
#[test]
fn members_with_two_addresses_each_form_one_ensemble() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids).with_second_addresses();
    // ZooKeeper reads several addresses on a server line only with the JVM flag (SERVER_JVMFLAGS for ferrokeeper).
    let (extra, flags) = (
        "admin.enableServer=false\n",
        "-Dzookeeper.multiAddress.enabled=true",
    );
    let kinds = [Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper, Kind::Ferrokeeper];
    let members: Vec<Member> = ids
        .iter()
        .zip(kinds)
        .map(|(&id, kind)| Member::start_with_flags(dir.path(), id, kind, &ports, extra, flags))
        .collect();
    let leader = wait_for_quorum(&members, Duration::from_secs(90));
    let on = |ip: [u8; 4], port: u16| {
        TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(2)).is_ok()
    };
    for m in &members {
        let (q2, e2) = ports.second[&m.id];
        assert!(on([127, 0, 0, 1], ports.election[&m.id]), "member {}", m.id);
        assert!(
            on([127, 0, 0, 2], e2),
            "member {} on its second election address",
            m.id
        );
        if m.id == leader {
            assert!(on([127, 0, 0, 1], ports.quorum[&m.id]), "leader {leader}");
            assert!(
                on([127, 0, 0, 2], q2),
                "leader {leader} on its second quorum address"
            );
        }
    }
    let texts: Vec<String> = members
        .iter()
        .map(|m| {
            let conf = four_letter(m.client_port, "conf").expect("conf");
            conf.split_once("membership: \n")
                .expect("membership")
                .1
                .trim_end()
                .to_owned()
        })
        .collect();
    for (m, t) in members.iter().zip(&texts) {
        assert_eq!(t, &texts[0], "member {} ({:?})", m.id, m.kind);
    }
    let (q2, e2) = ports.second[&1];
    assert!(
        texts[0].contains(&format!(
            "server.1=127.0.0.1:{}:{}|127.0.0.2:{q2}:{e2}:participant",
            ports.quorum[&1], ports.election[&1]
        )),
        "{}",
        texts[0]
    );
    let hosts: Vec<u16> = members.iter().map(|m| m.client_port).collect();
    let out = kazoo(
        &hosts,
        "a = KazooClient(hosts=hosts[0], timeout=10); a.start(timeout=30)\n\
         b = KazooClient(hosts=hosts[2], timeout=10); b.start(timeout=30)\n\
         a.create('/multi', b'from-zk'); b.sync('/multi'); assert b.get('/multi')[0] == b'from-zk'\n\
         b.set('/multi', b'from-fk'); a.sync('/multi'); assert a.get('/multi')[0] == b'from-fk'\n\
         a.stop(); b.stop(); print('ok')\n",
    );
    assert!(out.contains("ok"), "{out}");
}
