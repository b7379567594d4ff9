//! The AdminServer: the command listing, every command's JSON shape (as a real 3.8 server answers), aliases,
//! unknown commands and methods, and 3.9's authenticated commands (refused).

mod ops_support;

use ops_support::{http, start, Client};
use serde_json::Value;

/// A command's answer, parsed, with its raw text.
struct Answer {
    value: Value,
    body: String,
}

impl std::ops::Index<&str> for Answer {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.value[key]
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body)
    }
}

async fn command(addr: std::net::SocketAddr, name: &str) -> Answer {
    let (status, head, body) = http(addr, "GET", &format!("/commands/{name}")).await;
    assert_eq!(status, 200, "{name}: {head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        body.starts_with("{\n  \"") && body.ends_with("\n}"),
        "Jackson's layout: {body}"
    );
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"));
    Answer { value, body }
}

/// The keys written at `depth` (two spaces each) in `body`, in the order written, up to the first repeat.
fn keys_in(body: &str, depth: usize) -> Vec<String> {
    let indent = " ".repeat(2 * depth);
    let mut out: Vec<String> = Vec::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix(&indent) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        let key = rest.split('"').next().unwrap_or_default().to_owned();
        if out.contains(&key) {
            break;
        }
        out.push(key);
    }
    out
}

fn keys(a: &Answer) -> Vec<String> {
    keys_in(&a.body, 1)
}

const PRIMARY: [&str; 26] = [
    "configuration",
    "connection_stat_reset",
    "connections",
    "dirs",
    "dump",
    "environment",
    "get_trace_mask",
    "hash",
    "initial_configuration",
    "is_read_only",
    "last_snapshot",
    "leader",
    "monitor",
    "observer_connection_stat_reset",
    "observers",
    "ruok",
    "server_stats",
    "set_trace_mask",
    "stat_reset",
    "stats",
    "system_properties",
    "voting_view",
    "watch_summary",
    "watches",
    "watches_by_path",
    "zabstate",
];

/// 3.9's commands that need an authenticated caller: listed, refused (ferrokeeper does not run them).
const AUTHENTICATED: [&str; 2] = ["restore", "snapshot"];

#[tokio::test]
async fn snapshot_and_restore_are_refused_as_3_9_refuses_a_caller_without_auth_info() {
    let server = start("").await;
    for name in ["snapshot", "snap", "restore", "rest"] {
        let path = format!("/commands/{name}");
        let (status, head, body) = http(server.admin, "GET", &path).await;
        assert_eq!(status, 401, "{name}: {head}");
        let expected = format!(
            "{{\n  \"command\" : \"{name}\",\n  \"error\" : \"Auth info is missing for the command\"\n}}"
        );
        assert_eq!(body, expected);
        let auth = "Authorization: digest root:secret\r\n";
        let (status, _, body) = ops_support::http_with(server.admin, "GET", &path, auth).await;
        assert_eq!(status, 501, "{name}: {body}");
        assert!(body.contains(&format!("{name} is not implemented")), "{body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn listing_links_every_command_in_order() {
    let server = start("").await;
    let (status, _, body) = http(server.admin, "GET", "/commands").await;
    assert_eq!(status, 200);
    let mut names: Vec<&str> = PRIMARY.iter().chain(&AUTHENTICATED).copied().collect();
    names.sort_unstable();
    let expected: String = names
        .iter()
        .map(|n| format!("<a href=\"/commands/{n}\">{n}</a>\n<br/>\n"))
        .collect();
    assert_eq!(body, expected);
    server.stop().await;
}

#[tokio::test]
async fn every_command_answers_with_its_primary_name() {
    let server = start("").await;
    for name in PRIMARY {
        let v = command(server.admin, name).await;
        assert_eq!(v["command"], name, "{v}");
        let expected_error = if name == "leader" {
            Value::from("server is not initialized")
        } else if name == "set_trace_mask" {
            Value::from("setTraceMask requires long traceMask argument")
        } else {
            Value::Null
        };
        assert_eq!(v["error"], expected_error, "{name}: {v}");
    }
    let v = command(server.admin, "wchc").await;
    assert_eq!(v["command"], "watches");
    let v = command(server.admin, "bogus").await;
    assert_eq!(keys(&v), ["command", "error"]);
    assert_eq!(v["error"], "Unknown command: bogus");
    let (status, _, _) = http(server.admin, "POST", "/commands/ruok").await;
    assert_eq!(status, 405);
    let (status, _, _) = http(server.admin, "GET", "/elsewhere").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn commands_have_zookeepers_fields() {
    let server = start("").await;
    let mut a = Client::connect(server.client).await;
    assert_eq!(a.create("/e", 1).await, 0);
    assert_eq!(a.get_data_watch("/e").await, 0);

    let v = command(server.admin, "server_stats").await;
    assert_eq!(
        keys(&v),
        [
            "version",
            "read_only",
            "server_stats",
            "client_response",
            "node_count",
            "command",
            "error"
        ]
    );
    let nested: Vec<String> = keys_in(&v.body, 2)
        .into_iter()
        .filter(|k| !k.ends_with("_buffer_size"))
        .collect();
    assert_eq!(
        nested,
        [
            "packets_sent",
            "packets_received",
            "fsync_threshold_exceed_count",
            "client_response_stats",
            "data_dir_size",
            "log_dir_size",
            "provider_null",
            "server_state",
            "last_processed_zxid",
            "outstanding_requests",
            "avg_latency",
            "max_latency",
            "min_latency",
            "num_alive_client_connections",
            "non_mtlsremote_conn_count",
            "non_mtlslocal_conn_count",
            "auth_failed_count",
            "uptime"
        ]
    );
    assert_eq!(v["server_stats"]["server_state"], "standalone");
    assert!(v["server_stats"]["avg_latency"].is_f64());

    let v = command(server.admin, "stats").await;
    let after = v.body.split("\"connections\"").nth(1).expect("connections");
    assert_eq!(
        keys_in(after, 2),
        [
            "remote_socket_address",
            "interest_ops",
            "outstanding_requests",
            "packets_received",
            "packets_sent"
        ]
    );
    assert_eq!(v["secure_connections"], Value::Array(vec![]));

    let v = command(server.admin, "connections").await;
    let conn = &v["connections"][0];
    assert_eq!(conn["session_id"], a.session);
    assert_eq!(conn["last_operation"], "GETD");
    assert_eq!(conn["session_timeout"], 30000);
    assert!(conn["remote_socket_address"]
        .as_str()
        .expect("addr")
        .starts_with("127.0.0.1:"));

    let v = command(server.admin, "dump").await;
    assert_eq!(
        keys(&v),
        [
            "expiry_time_to_session_ids",
            "session_id_to_ephemeral_paths",
            "command",
            "error"
        ]
    );
    assert_eq!(
        v["session_id_to_ephemeral_paths"][a.session.to_string()],
        serde_json::json!(["/e"])
    );

    let v = command(server.admin, "watches").await;
    assert_eq!(
        v["session_id_to_watched_paths"][a.session.to_string()],
        serde_json::json!(["/e"])
    );
    let v = command(server.admin, "watches_by_path").await;
    assert_eq!(v["path_to_session_ids"]["/e"], serde_json::json!([a.session]));
    let v = command(server.admin, "watch_summary").await;
    assert_eq!(
        (
            v["num_connections"].clone(),
            v["num_paths"].clone(),
            v["num_total_watches"].clone()
        ),
        (1.into(), 1.into(), 1.into())
    );

    let v = command(server.admin, "configuration").await;
    assert_eq!(
        keys(&v),
        [
            "client_port",
            "data_dir",
            "data_log_dir",
            "tick_time",
            "max_client_cnxns",
            "min_session_timeout",
            "max_session_timeout",
            "server_id",
            "client_port_listen_backlog",
            "command",
            "error"
        ]
    );
    assert_eq!(v["client_port"], server.client.port());
    assert!(v["data_dir"].as_str().expect("dir").ends_with("/version-2"));

    let v = command(server.admin, "initial_configuration").await;
    let text = std::fs::read_to_string(&server.config_path).expect("zoo.cfg");
    assert_eq!(v["initial_configuration"], text);

    let v = command(server.admin, "monitor").await;
    assert_eq!(v["server_state"], "standalone");
    // the Prometheus provider's samples, as doubles
    assert_eq!(v["ephemerals_count"], 1.0);
    assert!(v["readlatency_count"].is_f64());
    assert!(v["readlatency{quantile=\"0.5\"}"].is_f64());

    let v = command(server.admin, "last_snapshot").await;
    assert_eq!(v["zxid"], "0", "the start-up snapshot");
    assert!(v["timestamp"].as_i64().expect("secs") > 1_600_000_000);

    let v = command(server.admin, "dirs").await;
    assert!(v["datadir_size"].as_u64().expect("size") > 0);

    let v = command(server.admin, "set_trace_mask?traceMask=48").await;
    assert_eq!(v["tracemask"], 48);
    assert_eq!(command(server.admin, "gtmk").await["tracemask"], 48);
    let v = command(server.admin, "stmk?traceMask=x").await;
    assert_eq!(v["error"], "setTraceMask requires long traceMask argument, got x");

    let v = command(server.admin, "environment").await;
    assert!(v["zookeeper.version"]
        .as_str()
        .expect("version")
        .starts_with("3.9.3-ferrokeeper-"));
    let v = command(server.admin, "zabstate").await;
    assert_eq!(keys(&v), ["voting", "zabstate", "command", "error"]);
    assert_eq!(
        command(server.admin, "voting_view").await["current_config"],
        serde_json::json!({})
    );
    assert_eq!(command(server.admin, "is_read_only").await["read_only"], false);
    assert_eq!(
        command(server.admin, "hash").await["digests"],
        serde_json::json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn the_admin_server_can_be_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            dir.path().display()
        ),
    )
    .expect("write");
    let config = ferrokeeper::config::ServerConfig::from_file(&path).expect("config");
    let server = ferrokeeper::server::Server::bind(config).await.expect("bind");
    assert_eq!(server.admin_addr(), None);
    assert_eq!(server.metrics_addr(), None);
}
