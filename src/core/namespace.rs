//! Bytes read and written per top-level namespace (`DataTree.updateReadStat` / `updateWriteStat`, the
//! `read_per_namespace` and `write_per_namespace` summary sets). The core records each read or write of a
//! node as (namespace, bytes); the server drains the records into its metrics. A namespace's name is stored
//! once, the first time it is seen, so recording allocates nothing in the steady state.

use foldhash::HashMap;

/// `DataTree.STAT_OVERHEAD_BYTES`: what ZooKeeper adds to every read for the Stat it returns.
pub const STAT_OVERHEAD_BYTES: u64 = 6 * 8 + 5 * 4;

/// One read or write of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceEvent {
    /// Index into [`NamespaceStats::name`].
    pub namespace: u32,
    pub write: bool,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct NamespaceStats {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    pub(super) events: Vec<NamespaceEvent>,
}

/// The first component of `path` (`PathUtils.getTopNamespace`); none for the root.
fn top(path: &str) -> Option<&str> {
    let first = path.strip_prefix('/')?.split('/').next()?;
    (!first.is_empty()).then_some(first)
}

impl NamespaceStats {
    /// A read of `path` returning `bytes` (data, or the children's names): ZooKeeper counts the path's
    /// length, those bytes and the Stat.
    pub fn read(&mut self, path: &str, bytes: u64) {
        self.record(path, false, path.len() as u64 + bytes + STAT_OVERHEAD_BYTES);
    }

    /// A write of `path` storing `bytes` of data (0 for a delete): ZooKeeper counts the path's length and
    /// the data.
    pub fn write(&mut self, path: &str, bytes: u64) {
        self.record(path, true, path.len() as u64 + bytes);
    }

    fn record(&mut self, path: &str, write: bool, bytes: u64) {
        let Some(ns) = top(path) else { return };
        let namespace = match self.ids.get(ns) {
            Some(id) => *id,
            None => {
                let id = self.names.len() as u32;
                self.names.push(ns.into());
                self.ids.insert(ns.into(), id);
                id
            }
        };
        self.events.push(NamespaceEvent {
            namespace,
            write,
            bytes,
        });
    }

    /// The name of a namespace an event refers to.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_keyed_by_the_top_level_name_as_zookeeper_keys_them() {
        let mut s = NamespaceStats::default();
        s.write("/app/a/b", 3);
        s.read("/app", 10);
        s.read("/", 0);
        s.write("/other", 0);
        let got: Vec<(&str, bool, u64)> = s
            .events
            .iter()
            .map(|e| (s.name(e.namespace), e.write, e.bytes))
            .collect();
        assert_eq!(
            got,
            vec![
                ("app", true, 8 + 3),
                ("app", false, 4 + 10 + STAT_OVERHEAD_BYTES),
                ("other", true, 6)
            ]
        );
    }
}
