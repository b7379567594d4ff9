//! Debian's Apache ZooKeeper 3.8.0 as the tests that run a real member start it: the JVM and the jars of the
//! `zookeeper` and `libzookeeper-java` packages (compat-tests/install.sh installs them). A missing piece fails
//! the test with what to install; it never passes as skipped.

use std::path::Path;

/// The JVM that runs the real server.
pub const JAVA: &str = "/usr/bin/java";

/// The jars of Debian's server, in `/usr/share/java`.
const JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
];

/// The class path of Debian's server; panics naming what is missing.
pub fn classpath() -> String {
    let paths: Vec<String> = JARS.iter().map(|j| format!("/usr/share/java/{j}")).collect();
    for p in paths.iter().map(String::as_str).chain([JAVA]) {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: this test needs Debian's Apache ZooKeeper 3.8.0 (packages zookeeper, \
             libzookeeper-java) and a JDK: run compat-tests/install.sh"
        );
    }
    paths.join(":")
}
