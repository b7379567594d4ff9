//! /metrics in the Prometheus text format with ZooKeeper's names and types, agreeing with `mntr`.

mod ops_support;

use std::collections::HashMap;

use ops_support::{four_letter, http, start, Client};

/// Metric name -> type, from the `# TYPE` lines; and sample name (with labels) -> value.
fn parse(text: &str) -> (HashMap<String, String>, HashMap<String, f64>) {
    let mut types = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and type");
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            let (name, value) = line.rsplit_once(' ').expect("sample and value");
            samples.insert(name.to_owned(), value.parse().expect("a number"));
        }
    }
    (types, samples)
}

#[tokio::test]
async fn metrics_carry_zookeepers_names_and_types() {
    let server = start("").await;
    let mut a = Client::connect(server.client).await;
    assert_eq!(a.create("/m", 0).await, 0);
    assert_eq!(a.get_data_watch("/m").await, 0);
    let (status, head, body) = http(server.metrics, "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let (types, samples) = parse(&body);
    for gauge in [
        "avg_latency",
        "max_latency",
        "min_latency",
        "packets_received",
        "packets_sent",
        "num_alive_connections",
        "outstanding_requests",
        "uptime",
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "approximate_data_size",
        "global_sessions",
        "local_sessions",
        "open_file_descriptor_count",
        "max_file_descriptor_count",
        "connection_drop_probability",
        "last_client_response_size",
        "max_client_response_size",
        "min_client_response_size",
        "outstanding_tls_handshake",
    ] {
        assert_eq!(
            types.get(gauge).map(String::as_str),
            Some("gauge"),
            "{gauge}\n{body}"
        );
    }
    for counter in [
        "connection_request_count",
        "bytes_received_count",
        "response_bytes",
    ] {
        assert_eq!(
            types.get(counter).map(String::as_str),
            Some("counter"),
            "{counter}\n{body}"
        );
        assert!(
            !body.contains(&format!("{counter}_total")),
            "no _total suffix, as simpleclient 0.9"
        );
    }
    for summary in ["readlatency", "updatelatency", "fsynctime", "dbinittime"] {
        assert_eq!(
            types.get(summary).map(String::as_str),
            Some("summary"),
            "{summary}\n{body}"
        );
        assert!(
            samples.contains_key(&format!("{summary}{{quantile=\"0.5\",}}")),
            "{summary}\n{body}"
        );
        assert!(samples[&format!("{summary}_count")] >= 1.0, "{summary}\n{body}");
    }
    // simpleclient's label form (a trailing comma); BASIC summaries have only the median
    assert!(samples.contains_key("updatelatency{quantile=\"0.99\",}"));
    assert!(!samples.contains_key("fsynctime{quantile=\"0.99\",}"));
    assert_eq!(samples["connection_request_count"], 1.0);
    assert_eq!(samples["num_alive_connections"], 1.0);
    assert_eq!(samples["dbinittime_count"], 1.0);
    assert_eq!(samples["ephemerals_count"], 0.0);
    assert!(samples["bytes_received_count"] > 0.0);
    // The leader's gauges and the JVM's collectors have no standalone counterpart.
    for absent in ["quorum_size", "learners", "jvm_threads_current"] {
        assert!(
            !types.contains_key(absent),
            "{absent} is not measured by ferrokeeper"
        );
    }
    // Metrics of parts a standalone server does not run read 0, as on a standalone ZooKeeper.
    assert_eq!(types.get("election_time").map(String::as_str), Some("summary"));
    assert_eq!(samples["election_time_count"], 0.0);
    assert_eq!(types.get("throttled_ops").map(String::as_str), Some("counter"));
    assert_eq!(samples["throttled_ops"], 0.0);

    // mntr reports the same figures.
    let mntr = four_letter(server.client, b"mntr").await;
    let value = |key: &str| -> f64 {
        mntr.lines()
            .find_map(|l| l.strip_prefix(&format!("zk_{key}\t")))
            .unwrap_or_else(|| panic!("{key} in mntr"))
            .parse()
            .expect("number")
    };
    assert_eq!(value("znode_count"), samples["znode_count"]);
    assert_eq!(value("updatelatency_count"), samples["updatelatency_count"]);
    assert_eq!(value("readlatency_count"), samples["readlatency_count"]);
    assert_eq!(
        value("connection_request_count"),
        samples["connection_request_count"]
    );
    server.stop().await;
}
