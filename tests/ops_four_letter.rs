//! Every four-letter word against a running server, checked for Apache ZooKeeper's formats (figures that
//! depend on timing are matched by shape, not value).

mod ops_support;

use std::sync::{Arc, Mutex, OnceLock};

use ops_support::{four_letter, hex, start, Client};

/// Two sessions: A owns /app/e1 and watches /app/x, B owns /app/e2, watches /nope and child-watches /app.
async fn workload(addr: std::net::SocketAddr) -> (Client, Client) {
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    assert_eq!(a.create("/app", 0).await, 0);
    assert_eq!(a.create("/app/x", 0).await, 0);
    assert_eq!(a.create("/app/e1", 1).await, 0);
    assert_eq!(b.create("/app/e2", 1).await, 0);
    assert_eq!(a.get_data_watch("/app/x").await, 0);
    assert_eq!(b.exists_watch("/nope").await, -101);
    assert_eq!(b.get_children_watch("/app").await, 0);
    (a, b)
}

#[tokio::test]
async fn cons_lists_sessions_with_their_figures_and_crst_resets_them() {
    let server = start("").await;
    let (a, b) = workload(server.client).await;
    let cons = four_letter(server.client, b"cons").await;
    assert!(cons.ends_with(")\n\n"), "{cons}");
    let lines: Vec<&str> = cons.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{cons}");
    let a_line = lines
        .iter()
        .find(|l| l.contains(&format!("sid={},", hex(a.session))))
        .expect("session A listed");
    for field in [
        "[1](queued=0,recved=",
        ",lop=GETD,est=",
        ",to=30000,",
        ",lcxid=0x4,lzxid=0x",
        ",lresp=",
        ",llat=",
        ",minlat=",
        ",avglat=",
        ",maxlat=",
    ] {
        assert!(a_line.contains(field), "{field} missing in {a_line}");
    }
    assert!(a_line.starts_with(" /127.0.0.1:"), "{a_line}");
    // B's last request was the child watch (getChildren is GETC).
    assert!(
        cons.contains(&format!("sid={},lop=GETC,", hex(b.session))),
        "{cons}"
    );
    // The asking connection has no session: only the brief part.
    assert!(
        lines.iter().any(|l| l.ends_with("[0](queued=0,recved=1,sent=0)")),
        "{cons}"
    );

    assert_eq!(
        four_letter(server.client, b"crst").await,
        "Connection stats reset.\n"
    );
    let cons = four_letter(server.client, b"cons").await;
    let reset = format!("(queued=0,recved=0,sent=0,sid={},lop=NA,est=", hex(a.session));
    assert!(cons.contains(&reset), "{cons}");
    assert!(
        cons.contains(",lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)"),
        "{cons}"
    );
    server.stop().await;
}

#[tokio::test]
async fn dump_lists_sessions_ephemerals_and_connections() {
    let server = start("").await;
    let (a, b) = workload(server.client).await;
    let dump = four_letter(server.client, b"dump").await;
    let mut lines = dump.lines();
    assert_eq!(lines.next(), Some("SessionTracker dump:"));
    let sets = lines.next().expect("session sets");
    assert!(
        sets.starts_with("Session Sets (") && sets.ends_with(")/(2):"),
        "{sets}"
    );
    let expiry = lines.next().expect("a bucket");
    let count = expiry.split(" expire at ").next().expect("count");
    count.parse::<usize>().expect("the bucket's size first");
    assert!(
        dump.contains("ephemeral nodes dump:\nSessions with Ephemerals (2):\n"),
        "{dump}"
    );
    assert!(
        dump.contains(&format!("{}:\n\t/app/e1\n", hex(a.session))),
        "{dump}"
    );
    assert!(
        dump.contains(&format!("{}:\n\t/app/e2\n", hex(b.session))),
        "{dump}"
    );
    assert!(dump.contains("Connections dump:\nConnections Sets ("), "{dump}");
    assert!(
        dump.contains(&format!("sessionId: {}\n", hex(a.session))),
        "{dump}"
    );
    assert!(
        dump.contains("sessionId: 0x0\n"),
        "the asking connection has no session: {dump}"
    );
    let date = dump
        .lines()
        .find(|l| l.contains(" expire at "))
        .and_then(|l| l.split(" expire at ").nth(1))
        .expect("date");
    // Thu Nov 26 08:36:46 UTC 2026:
    let words: Vec<&str> = date.trim_end_matches(':').split(' ').collect();
    assert_eq!(words.len(), 6, "{date}");
    assert_eq!(words[4], "UTC");
    server.stop().await;
}

#[tokio::test]
async fn watch_words_count_data_watches_only() {
    let server = start("").await;
    let (a, b) = workload(server.client).await;
    assert_eq!(
        four_letter(server.client, b"wchs").await,
        "2 connections watching 2 paths\nTotal watches:2\n"
    );
    let wchc = four_letter(server.client, b"wchc").await;
    assert!(
        wchc.contains(&format!("{}\n\t/app/x\n", hex(a.session))),
        "{wchc}"
    );
    assert!(wchc.contains(&format!("{}\n\t/nope\n", hex(b.session))), "{wchc}");
    assert!(!wchc.contains("\t/app\n"), "child watches are not listed: {wchc}");
    // Paths in java.util.HashMap order: /app/x before /nope, as a real server prints them.
    assert_eq!(
        four_letter(server.client, b"wchp").await,
        format!("/app/x\n\t{}\n/nope\n\t{}\n\n", hex(a.session), hex(b.session))
    );
    server.stop().await;
}

#[tokio::test]
async fn hash_logs_a_digest_every_128_zxids() {
    let server = start("").await;
    let mut a = Client::connect(server.client).await;
    assert_eq!(four_letter(server.client, b"hash").await, "");
    // createSession took zxid 1; 130 creates reach past 0x80.
    for i in 0..130 {
        assert_eq!(a.create(&format!("/n{i}"), 0).await, 0);
    }
    let hash = four_letter(server.client, b"hash").await;
    let mut lines = hash.lines();
    let line = lines.next().expect("one digest");
    assert!(lines.next().is_none(), "{hash}");
    let (zxid, digest) = line.split_once(": ").expect("zxid: digest");
    assert_eq!(zxid, "80");
    digest.parse::<i64>().expect("a Java long");
    server.stop().await;
}

#[tokio::test]
async fn trace_mask_is_read_and_set() {
    let server = start("").await;
    assert_eq!(four_letter(server.client, b"gtmk").await, "306");
    let mut stmk = b"stmk".to_vec();
    stmk.extend_from_slice(&16i64.to_be_bytes());
    assert_eq!(four_letter(server.client, &stmk).await, "16");
    assert_eq!(four_letter(server.client, b"gtmk").await, "16");
    server.stop().await;
}

/// Every line written at TRACE under `ferrokeeper::trace` from now on, in this test process.
fn trace_lines() -> Arc<Mutex<Vec<u8>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("off,ferrokeeper::trace=trace"))
            .with_writer(move || Sink(Arc::clone(&sink)))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        lines
    }))
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_trace_mask_selects_which_requests_are_traced() {
    let lines = trace_lines();
    let server = start("").await;
    let mut client = Client::connect(server.client).await;
    let stmk = |mask: i64| {
        let mut word = b"stmk".to_vec();
        word.extend_from_slice(&mask.to_be_bytes());
        word
    };
    assert_eq!(client.create("/traced-by-default", 0).await, 0);
    assert_eq!(four_letter(server.client, &stmk(0)).await, "0");
    assert_eq!(client.create("/traced-by-none", 0).await, 0);
    // CLIENT_REQUEST_TRACE_MASK.
    assert_eq!(four_letter(server.client, &stmk(2)).await, "2");
    assert_eq!(client.create("/traced-by-2", 0).await, 0);
    server.stop().await;
    let text = String::from_utf8(lines.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        text.contains(":P") && text.contains("type:create") && text.contains("reqpath:/traced-by-default"),
        "{text}"
    );
    assert!(!text.contains("reqpath:/traced-by-none"), "{text}");
    assert!(text.contains("reqpath:/traced-by-2"), "{text}");
}

#[tokio::test]
async fn server_words_have_zookeepers_lines() {
    let server = start("").await;
    let _clients = workload(server.client).await;
    assert_eq!(four_letter(server.client, b"ruok").await, "imok");
    assert_eq!(four_letter(server.client, b"isro").await, "rw");
    let srvr = four_letter(server.client, b"srvr").await;
    let keys: Vec<&str> = srvr.lines().map(|l| l.split(": ").next().unwrap_or(l)).collect();
    assert_eq!(
        keys,
        [
            "Zookeeper version",
            "Latency min/avg/max",
            "Received",
            "Sent",
            "Connections",
            "Outstanding",
            "Zxid",
            "Mode",
            "Node count"
        ]
    );
    assert!(
        srvr.starts_with("Zookeeper version: 3.9.3-ferrokeeper-"),
        "{srvr}"
    );
    let stat = four_letter(server.client, b"stat").await;
    assert!(stat.contains("\nClients:\n /127.0.0.1:"), "{stat}");
    assert!(stat.contains(")\n\nLatency min/avg/max: "), "{stat}");
    let envi = four_letter(server.client, b"envi").await;
    assert!(
        envi.starts_with("Environment:\nzookeeper.version=3.9.3-ferrokeeper-"),
        "{envi}"
    );
    assert!(
        envi.contains("\nos.name=") && envi.contains("\nuser.dir="),
        "{envi}"
    );
    let dirs = four_letter(server.client, b"dirs").await;
    let sizes: Vec<u64> = dirs
        .lines()
        .map(|l| l.split(": ").nth(1).expect("value").parse().expect("size"))
        .collect();
    assert!(
        dirs.starts_with("datadir_size: ") && dirs.contains("\nlogdir_size: "),
        "{dirs}"
    );
    assert!(sizes.iter().all(|s| *s > 0), "a durable server has files: {dirs}");
    let conf = four_letter(server.client, b"conf").await;
    assert!(
        conf.starts_with("clientPort=") && conf.ends_with("serverId=0\n"),
        "{conf}"
    );
    let mntr = four_letter(server.client, b"mntr").await;
    assert!(mntr.starts_with("zk_version\t3.9.3-ferrokeeper-"), "{mntr}");
    for line in mntr.lines() {
        let (key, value) = line.split_once('\t').expect("tab");
        assert!(key.starts_with("zk_"), "{line}");
        assert!(!value.is_empty(), "{line}");
    }
    // This server runs ZooKeeper's Prometheus provider: mntr lists its samples, values as doubles.
    for key in [
        "zk_server_state\tstandalone",
        "zk_znode_count\t",
        "zk_ephemerals_count\t2.0\n",
        "zk_watch_count\t3.0\n",
        "zk_global_sessions\t2.0\n",
        "zk_readlatency_count\t",
        "zk_updatelatency{quantile=\"0.99\"}\t",
        "zk_fsynctime{quantile=\"0.5\"}\t",
        "zk_fsynctime_sum\t",
        "zk_bytes_received_count\t",
        "zk_connection_request_count\t2.0\n",
    ] {
        assert!(mntr.contains(key), "{key} missing:\n{mntr}");
    }
    assert!(!mntr.contains("zk_cnt_readlatency"), "{mntr}");
    assert_eq!(four_letter(server.client, b"srst").await, "Server stats reset.\n");
    server.stop().await;
}

#[tokio::test]
async fn words_outside_the_whitelist_are_refused() {
    let server = start("4lw.commands.whitelist=ruok\n").await;
    assert_eq!(four_letter(server.client, b"ruok").await, "imok");
    assert_eq!(
        four_letter(server.client, b"dump").await,
        "dump is not executed because it is not in the whitelist.\n"
    );
    server.stop().await;
}

/// With the default metrics provider, `mntr` has the figures of ZooKeeper's `DefaultMetricsProvider`: summaries
/// as avg/min/max/cnt/sum (and percentiles for the ADVANCED ones), integers as integers.
#[tokio::test]
async fn mntr_with_the_default_provider() {
    let server =
        start("metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n").await;
    let mut a = Client::connect(server.client).await;
    assert_eq!(a.create("/e", 1).await, 0);
    let mntr = four_letter(server.client, b"mntr").await;
    for key in [
        "zk_server_state\tstandalone\n",
        "zk_ephemerals_count\t1\n",
        "zk_cnt_updatelatency\t",
        "zk_p99_updatelatency\t",
        "zk_avg_fsynctime\t",
        "zk_connection_request_count\t1\n",
        "zk_throttled_ops\t0\n",
    ] {
        assert!(mntr.contains(key), "{key} missing:\n{mntr}");
    }
    assert!(!mntr.contains('{'), "no Prometheus sample keys: {mntr}");
    server.stop().await;
}
