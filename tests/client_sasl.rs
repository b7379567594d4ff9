//! Client SASL over real sockets: a server started from a zoo.cfg, JVM flags and a JAAS file as an operator
//! writes them for Apache ZooKeeper (`authProvider.1=...SASLAuthenticationProvider`,
//! `-Djava.security.auth.login.config=jaas.conf` with a `Server` section of DigestLoginModule users), driven
//! through the DIGEST-MD5 exchange byte by byte; and `sessionRequireClientSASLAuth` turning away a session
//! without it. The answers are those Apache ZooKeeper 3.9.5 gives (compat-tests/sasl has the side-by-side run).

mod common;

use bytes::Bytes;
use ferrokeeper::config::{JvmFlags, ServerConfig};
use jute::codes::{perms, ErrorCode, OpCode};
use jute::records::data::{Acl, Id};
use jute::records::proto::*;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const JAAS: &str = "Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    \
                    user_super=\"super_secret\"\n    user_jaasuser=\"jaas_password\";\n};\n";
const SASL_PROVIDER: &str = "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n";

async fn serve(extra: &str) -> (common::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("jaas.conf");
    let text = format!("dataDir={}\nclientPort=2181\n{extra}", dir.path().display());
    let flags = JvmFlags::parse(&format!("-Djava.security.auth.login.config={}", jaas.display()));
    let mut config = ServerConfig::from_properties(&common::properties(&text), &flags).expect("config");
    config.client_address = "127.0.0.1:0".parse().expect("addr");
    config.ops.admin.enabled = false;
    config.ops.prometheus = None;
    (common::start(config).await, dir)
}

/// One request; its reply header and body, or None when the server closed the connection instead.
async fn call<T: Serialize>(
    stream: &mut TcpStream,
    xid: i32,
    op: OpCode,
    body: &T,
) -> Option<(ReplyHeader, Vec<u8>)> {
    let mut payload = jute::to_bytes(&RequestHeader { xid, op: op.code() }).expect("header");
    payload.extend_from_slice(&jute::to_bytes(body).expect("body"));
    stream.write_all(&common::frame(&payload)).await.ok()?;
    match common::read_some(stream, std::time::Duration::from_secs(5)).await {
        common::ReadOutcome::Data(bytes) => {
            let mut d = jute::Decoder::new(&bytes[4..]);
            let header: ReplyHeader = d.read().expect("reply header");
            Some((header, d.remaining().to_vec()))
        }
        common::ReadOutcome::Closed => None,
        common::ReadOutcome::StillOpen => panic!("no reply within 5 s"),
    }
}

/// A SASL token and the server's answer: error code and token.
async fn sasl(stream: &mut TcpStream, xid: i32, token: &[u8]) -> Option<(i32, Option<Bytes>)> {
    let request = GetSaslRequest {
        token: Some(Bytes::copy_from_slice(token)),
    };
    let (header, body) = call(stream, xid, OpCode::Sasl, &request).await?;
    let rsp: SetSaslResponse = jute::from_slice(&body).expect("SetSASLResponse");
    Some((header.err, rsp.token))
}

/// A DIGEST-MD5 client's digest-response to `challenge` (RFC 2831, qop auth, as pure-sasl builds it).
fn digest_response(challenge: &[u8], user: &str, password: &str) -> Vec<u8> {
    ferrokeeper::core::sasl::client_response(challenge, user, password, "fRhY2Vz", None).expect("a nonce")
}

/// Runs the whole exchange; the final answer.
async fn authenticate(stream: &mut TcpStream, user: &str, password: &str) -> Option<(i32, Option<Bytes>)> {
    let (err, challenge) = sasl(stream, 1, b"").await.expect("challenge");
    assert_eq!(err, 0);
    let challenge = challenge.expect("a challenge token");
    sasl(stream, 2, &digest_response(&challenge, user, password)).await
}

fn get(path: &str) -> ExistsRequest {
    ExistsRequest {
        path: path.into(),
        watch: false,
    }
}

#[tokio::test]
async fn digest_md5_from_the_jaas_file_guards_sasl_acls() {
    let (server, _dir) = serve(SASL_PROVIDER).await;
    let mut owner = common::connect_session(server.addr).await.0;
    let (err, token) = authenticate(&mut owner, "jaasuser", "jaas_password")
        .await
        .expect("answer");
    assert_eq!(err, 0);
    assert!(token.expect("rspauth").starts_with(b"rspauth="));
    let create = CreateRequest {
        path: "/1".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: vec![Acl {
            perms: perms::ALL,
            id: Id::new("sasl", "jaasuser"),
        }],
        flags: 0,
    };
    let created = call(&mut owner, 3, OpCode::Create, &create).await.expect("reply");
    assert_eq!(created.0.err, 0);
    assert_eq!(
        call(&mut owner, 4, OpCode::GetData, &get("/1"))
            .await
            .expect("reply")
            .0
            .err,
        0
    );
    let mut stranger = common::connect_session(server.addr).await.0;
    let denied = call(&mut stranger, 1, OpCode::GetData, &get("/1"))
        .await
        .expect("reply");
    assert_eq!(denied.0.err, ErrorCode::NoAuth.code());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_wrong_password_is_authfailed_and_the_connection_closes() {
    let (server, _dir) = serve(SASL_PROVIDER).await;
    let mut s = common::connect_session(server.addr).await.0;
    let answer = authenticate(&mut s, "jaasuser", "badpassword").await;
    assert_eq!(answer, Some((ErrorCode::AuthFailed.code(), None)));
    assert_eq!(common::read_to_close(&mut s).await, Vec::<u8>::new());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn session_require_client_sasl_auth_turns_away_a_session_without_it() {
    let (server, _dir) = serve(&format!("{SASL_PROVIDER}sessionRequireClientSASLAuth=true\n")).await;
    let mut anonymous = common::connect_session(server.addr).await.0;
    let reply = call(&mut anonymous, 1, OpCode::GetData, &get("/"))
        .await
        .expect("a reply");
    assert_eq!(reply.0.err, ErrorCode::SessionClosedRequireSaslAuth.code());
    let mut failing = common::connect_session(server.addr).await.0;
    let answer = authenticate(&mut failing, "nobody", "x").await;
    assert_eq!(
        answer,
        Some((ErrorCode::SessionClosedRequireSaslAuth.code(), None))
    );
    let mut user = common::connect_session(server.addr).await.0;
    assert_eq!(
        authenticate(&mut user, "jaasuser", "jaas_password")
            .await
            .map(|a| a.0),
        Some(0)
    );
    assert_eq!(
        call(&mut user, 3, OpCode::GetData, &get("/"))
            .await
            .expect("reply")
            .0
            .err,
        0
    );
    server.stop().await.expect("stop");
}
