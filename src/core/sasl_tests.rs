//! Scenario tests of client SASL through the core: the exchange as a client drives it, the `sasl` id it leaves
//! on the connection, and the answers to failures (checked against Apache ZooKeeper 3.9.5).

use bytes::Bytes;
use jute::codes::{perms, ErrorCode, OpCode};
use jute::records::data::{Acl, ClientInfo, Id};
use jute::records::proto::*;
use jute::request::Request;

use super::sasl::{SaslConfig, Secret};
use super::tests::Harness;
use crate::types::ConnId;

fn sasl_config() -> SaslConfig {
    SaslConfig {
        credentials: [("jaasuser".to_owned(), Secret::new("jaas_password"))]
            .into_iter()
            .collect(),
        super_users: vec!["jaasuser".to_owned()],
        ..SaslConfig::default()
    }
}

/// Sends a SASL token; the reply's header and token.
fn sasl(h: &mut Harness, conn: u64, token: &[u8]) -> (ReplyHeader, Option<Bytes>) {
    let (rh, body) = h.send(
        conn,
        Request::Sasl(GetSaslRequest {
            token: Some(Bytes::copy_from_slice(token)),
        }),
    );
    let rsp: SetSaslResponse = jute::from_slice(&body).expect("SetSASLResponse");
    (rh, rsp.token)
}

/// A DIGEST-MD5 client's answer to `challenge`.
fn digest_response(challenge: &[u8], user: &str, password: &str) -> Vec<u8> {
    super::sasl::client_response(challenge, user, password, "c1", None).expect("a nonce")
}

fn who_am_i(h: &mut Harness, conn: u64) -> Vec<(String, String)> {
    let (_, body) = h.send(conn, Request::WhoAmI);
    let rsp: WhoAmIResponse = jute::from_slice(&body).expect("whoAmI");
    rsp.client_info
        .into_iter()
        .map(|ClientInfo { auth_scheme, user }| (auth_scheme, user))
        .collect()
}

#[test]
fn digest_md5_adds_the_sasl_id_that_sasl_acls_and_who_am_i_see() {
    let mut h = Harness::with(|c| {
        c.sasl = Some(sasl_config());
        c.sasl_provider = true;
    });
    h.connect(1);
    h.connect(2);
    let (rh, challenge) = sasl(&mut h, 1, b"");
    assert_eq!((rh.zxid, rh.err), (0, 0));
    let challenge = challenge.expect("challenge");
    assert!(
        challenge.starts_with(b"realm=\"zk-sasl-md5\",nonce=\""),
        "{challenge:?}"
    );
    let (rh, token) = sasl(
        &mut h,
        1,
        &digest_response(&challenge, "jaasuser", "jaas_password"),
    );
    assert_eq!((rh.zxid, rh.err), (0, 0));
    assert!(token.expect("rspauth").starts_with(b"rspauth="));
    // Listed in Java set order, as 3.9.5 lists ip, sasl and super for a superUser.
    let ids = who_am_i(&mut h, 1);
    assert!(
        ids.contains(&("sasl".to_owned(), "jaasuser".to_owned())),
        "{ids:?}"
    );
    assert!(ids.contains(&("super".to_owned(), String::new())), "{ids:?}");
    let acl = vec![Acl {
        perms: perms::ALL,
        id: Id::new("sasl", "jaasuser"),
    }];
    let create = CreateRequest {
        path: "/s".into(),
        data: None,
        acl,
        flags: 0,
    };
    assert_eq!(h.send(1, Request::Create(OpCode::Create, create)).0.err, 0);
    let read = |h: &mut Harness, conn| {
        h.send(
            conn,
            Request::GetData(ExistsRequest {
                path: "/s".into(),
                watch: false,
            }),
        )
        .0
        .err
    };
    assert_eq!(read(&mut h, 1), 0);
    assert_eq!(read(&mut h, 2), ErrorCode::NoAuth.code());
}

#[test]
fn a_failed_exchange_is_authfailed_with_a_null_token_then_closed() {
    let mut h = Harness::with(|c| c.sasl = Some(sasl_config()));
    h.connect(1);
    let (_, challenge) = sasl(&mut h, 1, b"");
    let bad = digest_response(&challenge.expect("challenge"), "jaasuser", "wrong");
    let (rh, token) = sasl(&mut h, 1, &bad);
    assert_eq!((rh.zxid, rh.err, token), (0, ErrorCode::AuthFailed.code(), None));
    assert_eq!(h.closed, vec![ConnId(1)]);
}

#[test]
fn a_failure_when_sasl_is_required_is_sessionclosedrequiresaslauth() {
    let mut h = Harness::with(|c| {
        c.sasl = Some(SaslConfig {
            allow_failed_clients: true,
            ..sasl_config()
        });
        c.sasl_provider = true;
        c.enforce_auth_schemes = Some(vec!["sasl".to_owned()]);
    });
    h.connect(1);
    sasl(&mut h, 1, b"");
    let (rh, token) = sasl(&mut h, 1, b"nonsense");
    assert_eq!(
        (rh.err, token),
        (ErrorCode::SessionClosedRequireSaslAuth.code(), None)
    );
    assert_eq!(h.closed, vec![ConnId(1)]);
}

#[test]
fn allow_sasl_failed_clients_keeps_the_connection_with_an_ok_answer() {
    let mut h = Harness::with(|c| {
        c.sasl = Some(SaslConfig {
            allow_failed_clients: true,
            ..sasl_config()
        });
    });
    h.connect(1);
    sasl(&mut h, 1, b"");
    let (rh, token) = sasl(&mut h, 1, b"nonsense");
    assert_eq!((rh.err, token), (0, None));
    assert!(h.closed.is_empty());
    assert_eq!(h.create(1, "/still", 0).0, 0);
}

#[test]
fn every_challenge_has_a_fresh_nonce() {
    let mut h = Harness::with(|c| c.sasl = Some(sasl_config()));
    let mut seen = std::collections::HashSet::new();
    for conn in 1..=20 {
        h.connect(conn);
        let challenge = sasl(&mut h, conn, b"").1.expect("challenge");
        assert!(seen.insert(challenge), "a nonce came twice");
    }
}
