//! The container image's start-up, in place of the official `zookeeper` image's `docker-entrypoint.sh` (the
//! image has no shell; its health check is [`crate::operator::status`]).
//!
//! The rules are that image's: its environment variables with its defaults (the Dockerfile sets the same ones),
//! `<ZOO_CONF_DIR>/zoo.cfg` generated only when that file does not exist, and `<ZOO_DATA_DIR>/myid` written
//! only when that file does not exist. The generated file has that image's lines in its order: `ZOO_SERVERS`
//! and `ZOO_CFG_EXTRA` are split on blanks as the shell splits them, one line per word, and an empty
//! `ZOO_SERVERS` becomes `server.1=localhost:2888:3888;2181` (the client port then comes from that line and
//! myid, as in ZooKeeper). `JVMFLAGS` needs nothing here: the config reader takes its `-D` flags.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The official image's variables and their defaults (its Dockerfile's `ENV`).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("ZOO_CONF_DIR", "/conf"),
    ("ZOO_DATA_DIR", "/data"),
    ("ZOO_DATA_LOG_DIR", "/datalog"),
    ("ZOO_LOG_DIR", "/logs"),
    ("ZOO_TICK_TIME", "2000"),
    ("ZOO_INIT_LIMIT", "5"),
    ("ZOO_SYNC_LIMIT", "2"),
    ("ZOO_AUTOPURGE_PURGEINTERVAL", "0"),
    ("ZOO_AUTOPURGE_SNAPRETAINCOUNT", "3"),
    ("ZOO_MAX_CLIENT_CNXNS", "60"),
    ("ZOO_STANDALONE_ENABLED", "true"),
    ("ZOO_ADMINSERVER_ENABLED", "true"),
];

/// The server line the image writes when `ZOO_SERVERS` is empty.
const DEFAULT_SERVERS: &str = "server.1=localhost:2888:3888;2181";

/// The environment as the entrypoint reads it: a variable that is not set takes the image's default.
pub struct ImageEnv<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> ImageEnv<F> {
    pub fn new(lookup: F) -> Self {
        ImageEnv { lookup }
    }

    /// The variable's value, else the image's default for it, else empty (as the shell expands an unset one).
    fn get(&self, name: &str) -> String {
        (self.lookup)(name)
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap_or_default()
    }

    pub fn conf_file(&self) -> PathBuf {
        Path::new(&self.get("ZOO_CONF_DIR")).join("zoo.cfg")
    }

    /// The zoo.cfg the image would generate, byte for byte.
    pub fn zoo_cfg(&self) -> String {
        let mut out = String::new();
        for (key, var) in [
            ("dataDir", "ZOO_DATA_DIR"),
            ("dataLogDir", "ZOO_DATA_LOG_DIR"),
            ("tickTime", "ZOO_TICK_TIME"),
            ("initLimit", "ZOO_INIT_LIMIT"),
            ("syncLimit", "ZOO_SYNC_LIMIT"),
            ("autopurge.snapRetainCount", "ZOO_AUTOPURGE_SNAPRETAINCOUNT"),
            ("autopurge.purgeInterval", "ZOO_AUTOPURGE_PURGEINTERVAL"),
            ("maxClientCnxns", "ZOO_MAX_CLIENT_CNXNS"),
            ("standaloneEnabled", "ZOO_STANDALONE_ENABLED"),
            ("admin.enableServer", "ZOO_ADMINSERVER_ENABLED"),
        ] {
            out.push_str(&format!("{key}={}\n", self.get(var)));
        }
        let servers = self.get("ZOO_SERVERS");
        let servers = if servers.is_empty() {
            DEFAULT_SERVERS.to_owned()
        } else {
            servers
        };
        for word in shell_words(&servers) {
            out.push_str(word);
            out.push('\n');
        }
        let whitelist = self.get("ZOO_4LW_COMMANDS_WHITELIST");
        if !whitelist.is_empty() {
            out.push_str(&format!("4lw.commands.whitelist={whitelist}\n"));
        }
        for word in shell_words(&self.get("ZOO_CFG_EXTRA")) {
            out.push_str(word);
            out.push('\n');
        }
        out
    }

    /// The myid the image would write: `ZOO_MY_ID`, or 1 when it is unset or empty.
    pub fn myid(&self) -> String {
        let id = self.get("ZOO_MY_ID");
        format!("{}\n", if id.is_empty() { "1" } else { &id })
    }

    /// Writes zoo.cfg when the config directory has none and myid when the data directory has none; returns
    /// the zoo.cfg path.
    pub fn prepare(&self) -> anyhow::Result<PathBuf> {
        let conf = self.conf_file();
        if !conf.is_file() {
            write_new(&conf, &self.zoo_cfg())?;
        }
        let myid = Path::new(&self.get("ZOO_DATA_DIR")).join("myid");
        if !myid.is_file() {
            write_new(&myid, &self.myid())?;
        }
        Ok(conf)
    }
}

/// The words `for w in $VAR` iterates over: split on the shell's default IFS (space, tab, newline).
fn shell_words(text: &str) -> impl Iterator<Item = &str> {
    text.split([' ', '\t', '\n']).filter(|w| !w.is_empty())
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> ImageEnv<impl Fn(&str) -> Option<String> + 'a> {
        ImageEnv::new(move |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_as_the_image_writes_them() {
        let e = env(&[]);
        assert_eq!(
            e.zoo_cfg(),
            "dataDir=/data\ndataLogDir=/datalog\ntickTime=2000\ninitLimit=5\nsyncLimit=2\n\
             autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=60\n\
             standaloneEnabled=true\nadmin.enableServer=true\nserver.1=localhost:2888:3888;2181\n"
        );
        assert_eq!(e.myid(), "1\n");
        assert_eq!(e.conf_file(), PathBuf::from("/conf/zoo.cfg"));
    }

    #[test]
    fn variables_split_as_the_shell_splits_them() {
        let e = env(&[
            ("ZOO_SERVERS", " server.1=a:1:2;2181\n\tserver.2=b:1:2;2181 "),
            ("ZOO_CFG_EXTRA", "metricsProvider.httpPort=7000  jute.maxbuffer=5"),
            ("ZOO_4LW_COMMANDS_WHITELIST", "srvr, ruok"),
            ("ZOO_MY_ID", ""),
            ("ZOO_TICK_TIME", ""),
        ]);
        let cfg = e.zoo_cfg();
        assert!(cfg.contains("\ntickTime=\n"), "{cfg}");
        assert!(
            cfg.ends_with(
                "server.1=a:1:2;2181\nserver.2=b:1:2;2181\n4lw.commands.whitelist=srvr, ruok\n\
                 metricsProvider.httpPort=7000\njute.maxbuffer=5\n"
            ),
            "{cfg}"
        );
        assert_eq!(e.myid(), "1\n");
    }

    #[test]
    fn existing_files_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("conf");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&conf).expect("conf");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::write(conf.join("zoo.cfg"), "clientPort=1\n").expect("zoo.cfg");
        let (c, d) = (conf.to_string_lossy(), data.to_string_lossy());
        let vars = [("ZOO_CONF_DIR", &*c), ("ZOO_DATA_DIR", &*d), ("ZOO_MY_ID", "7")];
        let e = env(&vars);
        assert_eq!(e.prepare().expect("prepare"), conf.join("zoo.cfg"));
        let read = |p: &Path| std::fs::read_to_string(p).expect("read");
        assert_eq!(read(&conf.join("zoo.cfg")), "clientPort=1\n");
        assert_eq!(read(&data.join("myid")), "7\n");
        std::fs::remove_file(conf.join("zoo.cfg")).expect("rm");
        std::fs::write(data.join("myid"), "3\n").expect("myid");
        e.prepare().expect("prepare again");
        assert!(read(&conf.join("zoo.cfg")).starts_with(&format!("dataDir={d}\n")));
        assert_eq!(read(&data.join("myid")), "3\n");
    }
}
