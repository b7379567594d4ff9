//! Quotas (`Quotas`, `StatsTrack`, `DataTree.updateQuotaStat`): a node `/zookeeper/quota<path>/zookeeper_limits`
//! puts `<path>` under quota and `/zookeeper/quota<path>/zookeeper_stats` holds its usage, which the tree keeps
//! current as nodes under `<path>` are created, deleted and changed. Usage updates rewrite the stats node's data
//! in place, without a version change or a watch, as ZooKeeper does.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{path, DataTree};

pub const QUOTA_ROOT: &str = "/zookeeper/quota";
pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

/// A parsed `key=value` list (`StatsTrack`): `count` and `bytes` first, other keys after an extra `=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses `count=1,bytes=2` (`,` or `;` separated); an empty value reads as -1.
    pub fn parse(data: &[u8]) -> StatsTrack {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let key = kv.next().unwrap_or("");
            let value = kv
                .next()
                .filter(|v| !v.is_empty())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            values.insert(key.to_string(), value);
        }
        StatsTrack { values }
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_string(), value);
    }

    /// The text ZooKeeper writes (`StatsTrack.toString`).
    pub fn render(&self) -> String {
        let mut out = format!("count={},bytes={}", self.get("count"), self.get("bytes"));
        let extra: Vec<_> = self
            .values
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !extra.is_empty() {
            out.push('=');
            for (k, v) in extra {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

fn data_len(data: &Option<Bytes>) -> i64 {
    data.as_ref().map_or(0, |d| d.len() as i64)
}

impl DataTree {
    /// The deepest path at or above `p` that has a quota (`getMaxPrefixWithQuota`); never `/` or `/zookeeper`.
    pub fn quota_prefix(&self, p: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut candidate = p;
        loop {
            if candidate == "/" || candidate.is_empty() {
                return None;
            }
            if self.quota_paths.contains(candidate) {
                return (candidate != "/zookeeper").then(|| candidate.to_string());
            }
            candidate = path::parent(candidate);
        }
    }

    /// The limits and usage of a quota root.
    pub fn quota_of(&self, prefix: &str) -> Option<(StatsTrack, StatsTrack)> {
        let limits = self.get(&format!("{QUOTA_ROOT}{prefix}/{LIMIT_NODE}"))?;
        let stats = self.get(&format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}"))?;
        let parse = |n: &super::Node| StatsTrack::parse(n.data().unwrap_or_default());
        Some((parse(limits), parse(stats)))
    }

    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        let Some(node) = self.nodes.get_mut(stat_path.as_str()) else {
            tracing::error!(path = %stat_path, "missing quota stats node");
            return;
        };
        let mut track = StatsTrack::parse(node.data().unwrap_or_default());
        track.set("count", track.get("count") + count_diff);
        track.set("bytes", track.get("bytes") + bytes_diff);
        node.set_data(Some(track.render().as_bytes()));
    }

    /// Recomputes the usage of a quota root from the nodes under it (`updateQuotaForPath`).
    fn recount_quota(&mut self, prefix: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack: Vec<&super::Node> = self.get(prefix).into_iter().collect();
        while let Some(n) = stack.pop() {
            count += 1;
            bytes += n.data_len() as i64;
            stack.extend(self.children(n));
        }
        let mut track = StatsTrack::default();
        track.set("count", count);
        track.set("bytes", bytes);
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        if let Some(node) = self.nodes.get_mut(stat_path.as_str()) {
            node.set_data(Some(track.render().as_bytes()));
        }
    }

    /// Quota bookkeeping after a node was created.
    pub(super) fn quota_created(&mut self, p: &str, data: &Option<Bytes>) {
        let (parent, name) = path::split(p);
        if let Some(root) = parent.strip_prefix(QUOTA_ROOT) {
            if name == LIMIT_NODE {
                self.quota_paths.insert(root.to_string());
            }
            if name == STAT_NODE {
                self.recount_quota(root);
            }
        }
        if let Some(prefix) = self.quota_prefix(p) {
            self.update_quota_stat(&prefix, data_len(data), 1);
        }
    }

    /// Quota bookkeeping after a node was deleted.
    pub(super) fn quota_deleted(&mut self, p: &str, data_len: usize) {
        let (parent, name) = path::split(p);
        if name == LIMIT_NODE {
            if let Some(root) = parent.strip_prefix(QUOTA_ROOT) {
                self.quota_paths.remove(root);
            }
        }
        if let Some(prefix) = self.quota_prefix(p) {
            self.update_quota_stat(&prefix, -(data_len as i64), -1);
        }
    }

    /// Quota bookkeeping after a node's data changed.
    pub(super) fn quota_changed(&mut self, p: &str, old_len: usize, new: &Option<Bytes>) {
        if let Some(prefix) = self.quota_prefix(p) {
            self.update_quota_stat(&prefix, data_len(new) - old_len as i64, 0);
        }
    }
}

/// The hard-limit check of create and setData (`ZooKeeperServer.checkQuota`); only hard limits refuse.
pub fn exceeds_hard_limit(tree: &DataTree, p: &str, bytes_diff: i64, count_diff: i64) -> bool {
    let Some(prefix) = tree.quota_prefix(p) else {
        return false;
    };
    let Some((limits, usage)) = tree.quota_of(&prefix) else {
        return false;
    };
    let count_hard = limits.get("countHardLimit");
    let byte_hard = limits.get("byteHardLimit");
    (count_diff != 0 && count_hard > -1 && usage.get("count") + count_diff > count_hard)
        || (bytes_diff != 0 && byte_hard > -1 && usage.get("bytes") + bytes_diff > byte_hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_reads_and_writes_zookeepers_text() {
        let t = StatsTrack::parse(b"count=5,bytes=-1=;byteHardLimit=100;countHardLimit=3");
        assert_eq!(
            (t.get("count"), t.get("bytes"), t.get("countHardLimit")),
            (5, -1, 3)
        );
        assert_eq!(t.render(), "count=5,bytes=-1=;byteHardLimit=100;countHardLimit=3");
        assert_eq!(
            StatsTrack::parse(b"count=2,bytes=10").render(),
            "count=2,bytes=10"
        );
        assert_eq!(StatsTrack::parse(b"count=,bytes=1").get("count"), -1);
    }
}
