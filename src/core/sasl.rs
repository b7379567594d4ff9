//! The server side of client SASL (opcode 102) with the DIGEST-MD5 mechanism (RFC 2831), as Apache ZooKeeper
//! runs it: `ZooKeeperSaslServer` over the JDK's DIGEST-MD5 server, created with protocol `zookeeper` and
//! server name `zk-sasl-md5` (which is also the only realm offered), quality of protection `auth` only, the
//! users and passwords of the JAAS `Server` section (`user_<name>="<password>"`, `SaslServerCallbackHandler`).
//!
//! The exchange takes two client tokens: the first (empty, or anything) gets the challenge, the second is the
//! digest-response; when it proves the password the reply is `rspauth=...` and the connection gains the
//! `sasl` id (`ZooKeeperServer.processSasl`). Anything else is a failure the caller answers as ZooKeeper does.
//! Pure: the challenge's nonce comes in from the caller, who draws it from a seeded generator.

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};

/// The realm, and the server name in the digest-uri `zookeeper/zk-sasl-md5`.
pub const REALM: &str = "zk-sasl-md5";
/// The protocol part of the digest-uri.
const PROTOCOL: &str = "zookeeper";
/// Bytes of random data in a nonce (the JDK's `RAW_NONCE_SIZE`); base64 makes 40 characters of them.
pub const NONCE_RAW_BYTES: usize = 30;
/// The longest token the JDK's DIGEST-MD5 server reads (`MAX_RESPONSE_LENGTH`); a longer one fails.
pub const TOKEN_BYTES_MAX: usize = 4096;

/// A password: never shown by `Debug`, so it cannot reach a log line through a configuration dump.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What the SASL server needs from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslConfig {
    /// The `user_<name>` entries of the JAAS server section: name -> password.
    pub credentials: BTreeMap<String, Secret>,
    /// `zookeeper.SASLAuthenticationProvider.superPassword`: the password of the user `super`, over the JAAS
    /// file's.
    pub super_password: Option<Secret>,
    /// `zookeeper.superUser` and `zookeeper.superUser.*`: authorization ids that also get the `super` id.
    pub super_users: Vec<String>,
    /// `zookeeper.allowSaslFailedClients`: a failed exchange keeps its connection (unless SASL is required).
    pub allow_failed_clients: bool,
    /// `zookeeper.kerberos.removeHostFromPrincipal` and `removeRealmFromPrincipal` (exactly "true").
    pub remove_host: bool,
    pub remove_realm: bool,
}

/// Why an exchange failed (the JDK's message, without any secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// A `SaslException`: ZooKeeper answers it (AUTHFAILED or SESSIONCLOSEDREQUIRESASLAUTH).
    Failed(String),
    /// Another exception escapes `processSasl` (a `maxbuf` that is not a Java int): ZooKeeper closes the
    /// connection without an answer.
    Malformed(String),
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::Failed(reason) => write!(f, "DIGEST-MD5: {reason}"),
            SaslError::Malformed(reason) => write!(f, "DIGEST-MD5: malformed response: {reason}"),
        }
    }
}

fn fail<T>(reason: impl Into<String>) -> Result<T, SaslError> {
    Err(SaslError::Failed(reason.into()))
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this token and wait for the next.
    Continue(Vec<u8>),
    /// Authenticated: send this token; the connection is `authorization_id`.
    Complete {
        token: Vec<u8>,
        authorization_id: String,
    },
}

/// One connection's DIGEST-MD5 exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DigestMd5 {
    /// No token yet.
    #[default]
    Start,
    /// The challenge went out with this nonce.
    Challenged { nonce: String },
    /// Authenticated, or failed: no more tokens are taken.
    Done,
}

impl DigestMd5 {
    /// Takes the client's next token. `nonce` gives the random bytes of the challenge's nonce when one is made.
    pub fn evaluate(
        &mut self,
        token: &[u8],
        config: &SaslConfig,
        nonce: impl FnOnce() -> [u8; NONCE_RAW_BYTES],
    ) -> Result<SaslStep, SaslError> {
        let state = std::mem::replace(self, DigestMd5::Done);
        if token.len() > TOKEN_BYTES_MAX {
            return fail(format!(
                "Invalid digest response length. Got: {} Expected < {TOKEN_BYTES_MAX}",
                token.len()
            ));
        }
        match state {
            DigestMd5::Start => {
                use base64::Engine;
                let nonce = base64::engine::general_purpose::STANDARD.encode(nonce());
                let challenge =
                    format!("realm=\"{REALM}\",nonce=\"{nonce}\",charset=utf-8,algorithm=md5-sess");
                *self = DigestMd5::Challenged { nonce };
                Ok(SaslStep::Continue(challenge.into_bytes()))
            }
            DigestMd5::Challenged { nonce } => verify(token, &nonce, config),
            DigestMd5::Done => fail("authentication already completed or failed"),
        }
    }
}

/// The directives of a digest-response that take part in the check.
#[derive(Default)]
struct Directives {
    username: Option<Vec<u8>>,
    realm: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    cnonce: Option<Vec<u8>>,
    nc: Option<Vec<u8>>,
    qop: Option<Vec<u8>>,
    digest_uri: Option<Vec<u8>>,
    response: Option<Vec<u8>>,
    charset: Option<Vec<u8>>,
    authzid: Option<Vec<u8>>,
    maxbuf: Option<Vec<u8>>,
    cipher: Option<Vec<u8>>,
}

impl Directives {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Vec<u8>>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "username" => &mut self.username,
            "realm" => &mut self.realm,
            "nonce" => &mut self.nonce,
            "cnonce" => &mut self.cnonce,
            "nc" => &mut self.nc,
            "qop" => &mut self.qop,
            "digest-uri" => &mut self.digest_uri,
            "response" => &mut self.response,
            "charset" => &mut self.charset,
            "authzid" => &mut self.authzid,
            "maxbuf" => &mut self.maxbuf,
            "cipher" => &mut self.cipher,
            _ => return None,
        })
    }
}

/// Parses `name=value` pairs separated by commas, values plain or in double quotes with `\` escapes. One of
/// the directives of a digest-response given twice fails, as in the JDK; others are skipped, and so is a last
/// name without a value.
fn parse(token: &[u8]) -> Result<Directives, SaslError> {
    let mut d = Directives::default();
    let mut i = 0;
    let skip = |i: &mut usize, also_commas: bool| {
        while *i < token.len()
            && (matches!(token[*i], b' ' | b'\t' | b'\r' | b'\n') || also_commas && token[*i] == b',')
        {
            *i += 1;
        }
    };
    loop {
        skip(&mut i, true);
        if i >= token.len() {
            return Ok(d);
        }
        let start = i;
        while i < token.len() && token[i] != b'=' && token[i] != b',' {
            i += 1;
        }
        if i >= token.len() {
            return Ok(d);
        }
        if token[i] != b'=' {
            return fail("digest response format violation: a directive without a value");
        }
        let name = String::from_utf8_lossy(&token[start..i]).trim().to_owned();
        i += 1;
        skip(&mut i, false);
        let mut value = Vec::new();
        if token.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match token.get(i) {
                    None => return fail("digest response format violation: unterminated quoted value"),
                    Some(b'"') => break,
                    Some(b'\\') if i + 1 < token.len() => {
                        value.push(token[i + 1]);
                        i += 2;
                    }
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            i += 1;
            skip(&mut i, false);
            if i < token.len() && token[i] != b',' {
                return fail("digest response format violation: text after a quoted value");
            }
        } else {
            while i < token.len() && token[i] != b',' {
                value.push(token[i]);
                i += 1;
            }
            while value.last().is_some_and(|b| b.is_ascii_whitespace()) {
                value.pop();
            }
        }
        if let Some(slot) = d.slot(&name) {
            if slot.is_some() {
                return fail(format!("peer sent more than one {name} directive"));
            }
            *slot = Some(value);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The text of a directive in the negotiated encoding: UTF-8 when the client said `charset=utf-8`, else
/// ISO-8859-1.
fn text(bytes: &[u8], utf8: bool) -> Result<String, SaslError> {
    if utf8 {
        String::from_utf8(bytes.to_vec()).or_else(|_| fail("a directive is not valid UTF-8"))
    } else {
        Ok(bytes.iter().map(|&b| char::from(b)).collect())
    }
}

/// A string in the negotiated encoding, as the digest takes it; ISO-8859-1 cannot hold every character.
fn encode(s: &str, utf8: bool) -> Result<Vec<u8>, SaslError> {
    if utf8 {
        return Ok(s.as_bytes().to_vec());
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).or_else(|_| fail("a character is outside ISO-8859-1")))
        .collect()
}

/// Checks the digest-response against the challenge (the JDK's `validateClientResponse`) and builds the
/// `rspauth` token.
fn verify(token: &[u8], nonce: &str, config: &SaslConfig) -> Result<SaslStep, SaslError> {
    let d = parse(token)?;
    let utf8 = match &d.charset {
        None => false,
        Some(c) if c == b"utf-8" => true,
        Some(_) => return fail("digest response format violation: incompatible charset value"),
    };
    let Some(username) = &d.username else {
        return fail("digest response format violation: missing username");
    };
    let username = text(username, utf8)?;
    let realm = text(d.realm.as_deref().unwrap_or_default(), utf8)?;
    if realm != REALM {
        return fail("digest response format violation: nonexistent realm");
    }
    if d.nonce.as_deref() != Some(nonce.as_bytes()) {
        return fail("digest response format violation: mismatched nonce");
    }
    let Some(cnonce) = &d.cnonce else {
        return fail("digest response format violation: missing cnonce");
    };
    // The JDK takes the nonce count as 1 whatever the client's nc says (checked on 3.9.5: `nc=zz` and no nc at
    // all log in), so a response computed with another count does not match.
    let nc = b"00000001";
    if let Some(maxbuf) = &d.maxbuf {
        // `Integer.parseInt`; its NumberFormatException is not a SaslException.
        if std::str::from_utf8(maxbuf)
            .ok()
            .and_then(|m| m.parse::<i32>().ok())
            .is_none()
        {
            return Err(SaslError::Malformed("maxbuf is not an int".to_owned()));
        }
    }
    let qop = d.qop.as_deref().unwrap_or(b"auth");
    if qop != b"auth" {
        return fail("client selected a quality of protection that was not offered");
    }
    let Some(uri) = &d.digest_uri else {
        return fail("digest response format violation: missing digest-uri");
    };
    let expected_uri = format!("{PROTOCOL}/{REALM}");
    if !uri.eq_ignore_ascii_case(expected_uri.as_bytes()) {
        return fail("digest response format violation: mismatched digest-uri");
    }
    let Some(response) = &d.response else {
        return fail("digest response format violation: missing response");
    };
    let password = match (username.as_str(), &config.super_password) {
        ("super", Some(p)) => p,
        _ => match config.credentials.get(&username) {
            Some(p) => p,
            None => return fail(format!("cannot acquire password for {username} in realm {realm}")),
        },
    };
    let digest = DigestInput {
        username: &encode(&username, utf8)?,
        realm: &encode(&realm, utf8)?,
        password: &encode(password.expose(), utf8)?,
        nonce: nonce.as_bytes(),
        cnonce,
        nc,
        qop,
        authzid: d.authzid.as_deref(),
    };
    if digest
        .value(&[b"AUTHENTICATE:", uri.as_slice()].concat())
        .as_bytes()
        != response.as_slice()
    {
        return fail("digest response format violation: mismatched response");
    }
    let rspauth = digest.value(&[b":", uri.as_slice()].concat());
    let requested = match &d.authzid {
        Some(a) => text(a, utf8)?,
        None => username.clone(),
    };
    let authorization_id = authorized_id(&username, &requested, config)?;
    Ok(SaslStep::Complete {
        token: format!("rspauth={rspauth}").into_bytes(),
        authorization_id,
    })
}

/// What the response digest of RFC 2831 (section 2.1.2.1) is computed from.
struct DigestInput<'a> {
    username: &'a [u8],
    realm: &'a [u8],
    password: &'a [u8],
    nonce: &'a [u8],
    cnonce: &'a [u8],
    nc: &'a [u8],
    qop: &'a [u8],
    authzid: Option<&'a [u8]>,
}

impl DigestInput<'_> {
    /// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))) with A1 = H(user:realm:password):nonce:cnonce[:authzid];
    /// A2 is `AUTHENTICATE:<digest-uri>` for the client's response and `:<digest-uri>` for rspauth.
    fn value(&self, a2: &[u8]) -> String {
        let secret = Md5::digest([self.username, b":", self.realm, b":", self.password].concat());
        let mut a1 = [&secret[..], b":", self.nonce, b":", self.cnonce].concat();
        if let Some(authzid) = self.authzid {
            a1.extend_from_slice(b":");
            a1.extend_from_slice(authzid);
        }
        let ha1 = hex(&Md5::digest(a1));
        let ha2 = hex(&Md5::digest(a2));
        let kd = [
            ha1.as_bytes(),
            b":",
            self.nonce,
            b":",
            self.nc,
            b":",
            self.cnonce,
            b":",
            self.qop,
            b":",
            ha2.as_bytes(),
        ];
        hex(&Md5::digest(kd.concat()))
    }
}

/// The client's side of the exchange: the digest-response a ZooKeeper client sends for `challenge` (UTF-8,
/// qop auth, nonce count 1, digest-uri `zookeeper/zk-sasl-md5`); None when the challenge has no nonce. It is
/// what the tests drive the server with, and what an outgoing DIGEST-MD5 login sends.
pub fn client_response(
    challenge: &[u8],
    username: &str,
    password: &str,
    cnonce: &str,
    authzid: Option<&str>,
) -> Option<Vec<u8>> {
    let nonce = parse(challenge).ok()?.nonce?;
    let uri = format!("{PROTOCOL}/{REALM}");
    let digest = DigestInput {
        username: username.as_bytes(),
        realm: REALM.as_bytes(),
        password: password.as_bytes(),
        nonce: &nonce,
        cnonce: cnonce.as_bytes(),
        nc: b"00000001",
        qop: b"auth",
        authzid: authzid.map(str::as_bytes),
    };
    let response = digest.value(format!("AUTHENTICATE:{uri}").as_bytes());
    let nonce = String::from_utf8_lossy(&nonce);
    let mut token = format!(
        "charset=utf-8,username=\"{username}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,\
         cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={response},qop=auth"
    );
    if let Some(authzid) = authzid {
        token.push_str(&format!(",authzid=\"{authzid}\""));
    }
    Some(token.into_bytes())
}

/// The id `SaslServerCallbackHandler.handleAuthorizeCallback` grants an authenticated user: the name read
/// as a Kerberos principal (`service[/host]@REALM`), its short name with the host and realm put back unless
/// `kerberos.removeHostFromPrincipal` / `removeRealmFromPrincipal`. A name with no `@` is itself. The short
/// name comes from the DEFAULT rule, which knows no default realm here (ZooKeeper reads it from a krb5
/// configuration, which DIGEST-MD5 does not need): when it finds none, as in ZooKeeper the id stays the one
/// the client asked for (its authzid, else its user name).
fn authorized_id(username: &str, requested: &str, config: &SaslConfig) -> Result<String, SaslError> {
    let Some((principal, realm)) = username.split_once('@') else {
        return Ok(username.to_owned());
    };
    let (service, host) = match principal.split_once('/') {
        Some((s, h)) => (s, Some(h)),
        None => (principal, None),
    };
    if realm.contains(['@', '/']) || host.is_some_and(|h| h.contains('/')) {
        return fail(format!("{username} is not a valid principal name"));
    }
    if !realm.is_empty() {
        return Ok(requested.to_owned());
    }
    let mut id = service.to_owned();
    if let (Some(host), false) = (host, config.remove_host) {
        id.push('/');
        id.push_str(host);
    }
    if !config.remove_realm {
        id.push('@');
        id.push_str(realm);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SaslConfig {
        SaslConfig {
            credentials: [("jaasuser".to_owned(), Secret::new("jaas_password"))]
                .into_iter()
                .collect(),
            ..SaslConfig::default()
        }
    }

    /// A client's digest-response to `challenge`, with `extra` directives appended.
    fn respond(challenge: &str, user: &str, password: &str, extra: &str) -> String {
        let token = client_response(challenge.as_bytes(), user, password, "OA6MHXh6VqTrRk", None);
        String::from_utf8(token.expect("a nonce")).expect("text") + extra
    }

    fn challenge(server: &mut DigestMd5) -> String {
        match server.evaluate(b"", &config(), || [7; NONCE_RAW_BYTES]) {
            Ok(SaslStep::Continue(c)) => String::from_utf8(c).expect("text"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_challenge_is_the_one_zookeeper_sends() {
        let mut server = DigestMd5::default();
        assert_eq!(
            challenge(&mut server),
            "realm=\"zk-sasl-md5\",nonce=\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\",charset=utf-8,algorithm=md5-sess"
        );
    }

    #[test]
    fn the_right_password_completes_with_rspauth_and_the_user_name() {
        let mut server = DigestMd5::default();
        let c = challenge(&mut server);
        let step = server.evaluate(
            respond(&c, "jaasuser", "jaas_password", "").as_bytes(),
            &config(),
            || unreachable!(),
        );
        let Ok(SaslStep::Complete {
            token,
            authorization_id,
        }) = step
        else {
            panic!("{step:?}");
        };
        assert!(
            token.starts_with(b"rspauth=") && token.len() == 8 + 32,
            "{token:?}"
        );
        assert_eq!(authorization_id, "jaasuser");
        // A token after completion fails (AUTHFAILED on Apache ZooKeeper 3.9.5).
        assert!(server.evaluate(b"", &config(), || unreachable!()).is_err());
    }

    #[test]
    fn an_authzid_does_not_change_the_granted_id() {
        // Observed on 3.9.5: authzid="other" still gives sasl:jaasuser.
        let mut server = DigestMd5::default();
        let c = challenge(&mut server);
        let token = client_response(c.as_bytes(), "jaasuser", "jaas_password", "abc", Some("other"))
            .expect("a nonce");
        let token = String::from_utf8(token).expect("text");
        let step = server.evaluate(token.as_bytes(), &config(), || unreachable!());
        assert!(
            matches!(&step, Ok(SaslStep::Complete { authorization_id, .. }) if authorization_id == "jaasuser"),
            "{step:?}"
        );
    }

    #[test]
    fn wrong_passwords_users_and_directives_fail() {
        let cases: [fn(&str) -> String; 10] = [
            |c| respond(c, "jaasuser", "wrong", ""),
            |c| respond(c, "nobody", "jaas_password", ""),
            |c| respond(c, "jaasuser", "jaas_password", "").replace("charset=utf-8", "charset=UTF-8"),
            |c| respond(c, "jaasuser", "jaas_password", "").replace("zookeeper/zk-sasl-md5", "zookeeper/h"),
            |c| respond(c, "jaasuser", "jaas_password", "").replace("realm=\"zk-sasl-md5\"", "realm=\"\""),
            |c| respond(c, "jaasuser", "jaas_password", "").replace("qop=auth", "qop=auth-int"),
            |c| respond(c, "jaasuser", "jaas_password", ",username=\"x\""),
            |_| "hello".to_owned(),
            |_| String::new(),
            |c| respond(c, "jaasuser", "jaas_password", "").replace("nonce=\"", "nonce=\"x"),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut server = DigestMd5::default();
            let c = challenge(&mut server);
            let step = server.evaluate(case(&c).as_bytes(), &config(), || unreachable!());
            assert!(step.is_err(), "case {i}: {step:?}");
            assert_eq!(server, DigestMd5::Done, "case {i}");
        }
    }

    #[test]
    fn the_nonce_count_and_a_trailing_name_are_ignored_and_a_bad_maxbuf_is_malformed() {
        // As on 3.9.5: the JDK computes with nonce count 1 whatever nc says, skips a last name without a value,
        // refuses a second cipher, and lets a maxbuf that is not an int escape as another exception.
        for (from, to, outcome) in [
            ("nc=00000001", "nc=zz", "complete"),
            ("nc=00000001,", "", "complete"),
            ("qop=auth", "qop=auth,foo", "complete"),
            ("qop=auth", "qop=auth,cipher=rc4,cipher=rc4", "failed"),
            ("maxbuf=65536", "maxbuf=99999999999", "malformed"),
            ("maxbuf=65536", "maxbuf=", "malformed"),
        ] {
            let mut server = DigestMd5::default();
            let c = challenge(&mut server);
            let token = respond(&c, "jaasuser", "jaas_password", "").replace(from, to);
            let got = match server.evaluate(token.as_bytes(), &config(), || unreachable!()) {
                Ok(SaslStep::Complete { .. }) => "complete",
                Ok(SaslStep::Continue(_)) => "continue",
                Err(SaslError::Failed(_)) => "failed",
                Err(SaslError::Malformed(_)) => "malformed",
            };
            assert_eq!(got, outcome, "{to}");
        }
    }

    #[test]
    fn the_super_password_property_wins_and_long_tokens_fail() {
        let mut config = config();
        config
            .credentials
            .insert("super".to_owned(), Secret::new("from_jaas"));
        config.super_password = Some(Secret::new("from_property"));
        let mut server = DigestMd5::default();
        let c = challenge(&mut server);
        let step = server.evaluate(
            respond(&c, "super", "from_property", "").as_bytes(),
            &config,
            || unreachable!(),
        );
        assert!(matches!(step, Ok(SaslStep::Complete { .. })), "{step:?}");
        let mut server = DigestMd5::default();
        let step = server.evaluate(&[b'a'; TOKEN_BYTES_MAX + 1], &config, || [0; NONCE_RAW_BYTES]);
        assert!(step.is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let text = format!("{:?}", config());
        assert!(!text.contains("jaas_password"), "{text}");
        assert!(text.contains("jaasuser"), "{text}");
    }

    #[test]
    fn principal_names_are_canonicalised_as_the_callback_handler_does() {
        let c = SaslConfig::default();
        assert_eq!(authorized_id("bob", "bob", &c), Ok("bob".to_owned()));
        assert_eq!(authorized_id("a/b", "a/b", &c), Ok("a/b".to_owned()));
        assert_eq!(authorized_id("svc/host@", "x", &c), Ok("svc/host@".to_owned()));
        let strip = SaslConfig {
            remove_host: true,
            remove_realm: true,
            ..SaslConfig::default()
        };
        assert_eq!(authorized_id("svc/host@", "x", &strip), Ok("svc".to_owned()));
        assert_eq!(
            authorized_id("svc@EXAMPLE.COM", "asked", &c),
            Ok("asked".to_owned())
        );
        assert!(authorized_id("a@b@c", "a", &c).is_err());
    }

    proptest::proptest! {
        /// No token panics the server, at either step; a digest-response with any byte of its response value
        /// changed, or cut short before the end of that value, fails.
        #[test]
        fn no_token_panics_and_only_the_right_response_completes(
            first in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            second in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            flip in 0usize..32,
            bit in 0u8..7,
            cut in 0usize..400,
        ) {
            let mut server = DigestMd5::default();
            let challenge = server.evaluate(&first, &config(), || [3; NONCE_RAW_BYTES]);
            let Ok(SaslStep::Continue(challenge)) = challenge else {
                return Err(proptest::test_runner::TestCaseError::fail("no challenge"));
            };
            proptest::prop_assert!(server.clone().evaluate(&second, &config(), || unreachable!()).is_err());
            let good = respond(&String::from_utf8_lossy(&challenge), "jaasuser", "jaas_password", "").into_bytes();
            let value_at = good.windows(9).position(|w| w == b"response=").expect("response") + 9;
            let mut changed = good.clone();
            changed[value_at + flip] ^= 1 << bit;
            let step = server.clone().evaluate(&changed, &config(), || unreachable!());
            proptest::prop_assert!(step.is_err(), "changed byte {} completed", value_at + flip);
            let len = cut % (value_at + 32);
            let step = server.clone().evaluate(&good[..len], &config(), || unreachable!());
            proptest::prop_assert!(step.is_err(), "cut at {} completed", len);
        }
    }
}
