//! `quorumListenOnAllIPs=true`: a member listens for elections and learners on every address, not only the one
//! its server line names (members behind NAT or with several interfaces rely on it). Shown on loopback: the
//! server lines say 127.0.0.1, and another loopback address (127.0.0.2) reaches the election port of every
//! member and the quorum port of the leader, on ferrokeeper and Apache ZooKeeper 3.9.5 members of one ensemble
//! alike; without the setting, 127.0.0.2 is refused.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ensemble::{wait_for_quorum, Kind, Member, Ports};

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
