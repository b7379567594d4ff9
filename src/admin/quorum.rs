//! The AdminServer commands that describe an ensemble member (`Commands.java`: `leader`, `voting_view`,
//! `zabstate`, `observers`, `is_read_only`), answered from the member's [`QuorumView`] with the fields and
//! types a 3.9 member writes. A standalone server answers them in `commands::standalone`.

use super::commands::{Command, Response};
use super::json::{Json, Object};
use crate::net::quorum_view::{address, QuorumView, RoleView};
use crate::types::Zxid;

/// Answers `command` for a member; `last_zxid` is the last txn applied to its tree
/// (`getDataTreeLastProcessedZxid`).
pub fn command(r: &mut Response, command: Command, q: &QuorumView, last_zxid: Zxid) {
    match command {
        Command::Leader => {
            r.put("is_leader", q.is_leader())
                .put("leader_id", q.leader_id)
                .put("leader_ip", q.leader_host.as_str());
        }
        Command::VotingView => {
            let mut config = Object::new();
            for v in &q.voters {
                let mut server = Object::new();
                server
                    .put("server_addresses", Json::Array(vec![v.quorum.as_str().into()]))
                    .put(
                        "election_addresses",
                        Json::Array(vec![v.election.as_str().into()]),
                    )
                    .put("client_address", v.client.as_str())
                    .put("learner_type", "participant");
                config.put(&v.id.to_string(), server);
            }
            r.put("current_config", config);
        }
        Command::ZabState => {
            r.put("myid", q.my_id)
                .put("is_leader", q.is_leader())
                .put("quorum_address", multiple_addresses(&q.quorum_address))
                .put("election_address", multiple_addresses(&q.election_address))
                .put("client_address", address(&q.client_address))
                // A member's own quorum and election addresses are those of its server line.
                .put("voting", q.role != RoleView::Observing)
                .put("last_zxid", format!("0x{:x}", last_zxid.0))
                .put("zab_epoch", i64::from(last_zxid.epoch()))
                .put("zab_counter", i64::from(last_zxid.counter()))
                .put("zabstate", q.zab_state.name());
        }
        Command::Observers => {
            // A follower lists observers only as an observer master, which is not served.
            let observers = q.leader_facts().map_or(&[][..], |l| &l.observers[..]);
            let list = observers
                .iter()
                .map(|o| {
                    let mut info = Object::new();
                    info.put("remote_socket_address", o.remote.as_str())
                        .put("sid", o.sid)
                        .put("established", o.established_ms)
                        .put("queued_packets", o.queued_packets)
                        .put("queued_packets_size", o.queued_bytes)
                        .put("packets_received", o.packets_received)
                        .put("packets_sent", o.packets_sent)
                        .put("requests", o.requests)
                        .put("last_zxid", o.last_zxid);
                    info.into()
                })
                .collect();
            r.put("synced_observers", observers.len() as u64)
                .put("observers", Json::Array(list));
        }
        Command::IsReadOnly => {
            // A member that lost its quorum stops serving; it never answers read-only.
            r.put("read_only", false);
        }
        _ => {}
    }
}

/// `MultipleAddresses` as Jackson writes the bean, for a member with one address.
fn multiple_addresses(addr: &std::net::SocketAddr) -> Json {
    let one = || Json::from(address(addr));
    let list = || Json::Array(vec![one()]);
    let mut o = Object::new();
    o.put("empty", false)
        .put("all_addresses", list())
        .put(
            "wildcard_addresses",
            Json::Array(vec![format!("0.0.0.0:{}", addr.port()).into()]),
        )
        .put("all_ports", Json::Array(vec![u32::from(addr.port()).into()]))
        .put(
            "all_host_strings",
            Json::Array(vec![addr.ip().to_string().into()]),
        )
        .put("reachable_address", one())
        .put("all_reachable_addresses", list())
        .put("all_reachable_addresses_or_all", list())
        .put("reachable_or_one", one())
        .put("one", one());
    o.into()
}
