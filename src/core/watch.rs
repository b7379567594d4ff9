//! Watch tables (`WatchManager`): who is told about which change. Two tables as in ZooKeeper: data watches
//! (getData/exists, addWatch) and child watches (getChildren, addWatch persistent). Each (connection, path)
//! registration carries a set of modes, so a standard and a persistent watch may coexist as in 3.9's
//! `WatchStats`. Standard watches are removed when they fire; persistent ones stay until removed or the
//! connection goes. A persistent-recursive watch (data table only) also fires for every descendant, except for
//! NodeChildrenChanged.

use foldhash::{HashMap, HashSet};

use jute::codes::EventType;

use super::tree::path;
use super::tree::{Trigger, TriggerKind};
use crate::types::ConnId;

/// A registration mode, as a bit in a (connection, path) entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    Standard = 1,
    Persistent = 2,
    PersistentRecursive = 4,
}

/// The two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Data,
    Child,
}

type Entries = HashMap<Box<str>, HashMap<ConnId, u8>>;

/// All watches of the server.
#[derive(Debug, Default)]
pub struct WatchManager {
    data: Entries,
    child: Entries,
    by_conn: HashMap<ConnId, HashSet<(Table, Box<str>)>>,
    recursive: usize,
    /// Watchers fired per trigger and table, for `node_*_watch_count`; drained by the server (the buffer
    /// keeps its capacity, so steady state allocates nothing).
    pub(super) fired_counts: Vec<(EventType, u32)>,
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub conn: ConnId,
    pub event: EventType,
    pub path: String,
}

impl WatchManager {
    fn table(&self, table: Table) -> &Entries {
        match table {
            Table::Data => &self.data,
            Table::Child => &self.child,
        }
    }

    fn table_mut(&mut self, table: Table) -> &mut Entries {
        match table {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    /// Registers `conn` on `path` in `table` with `mode`.
    pub fn add(&mut self, table: Table, path: &str, conn: ConnId, mode: WatchMode) {
        let bits = self
            .table_mut(table)
            .entry(path.into())
            .or_default()
            .entry(conn)
            .or_insert(0);
        let had_recursive = *bits & WatchMode::PersistentRecursive as u8 != 0;
        *bits |= mode as u8;
        if mode == WatchMode::PersistentRecursive && !had_recursive {
            self.recursive += 1;
        }
        self.by_conn.entry(conn).or_default().insert((table, path.into()));
    }

    /// The modes `conn` holds on `path` in `table` (0 if none).
    pub fn modes(&self, table: Table, path: &str, conn: ConnId) -> u8 {
        self.table(table)
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or(0)
    }

    /// Clears the `mask` modes of `conn` on `path` in `table`; true if any was set.
    pub fn remove(&mut self, table: Table, path: &str, conn: ConnId, mask: u8) -> bool {
        let mut removed_recursive = false;
        let mut now_empty = false;
        let mut removed = false;
        if let Some(conns) = self.table_mut(table).get_mut(path) {
            if let Some(bits) = conns.get_mut(&conn) {
                removed = *bits & mask != 0;
                removed_recursive = *bits & mask & WatchMode::PersistentRecursive as u8 != 0;
                *bits &= !mask;
                if *bits == 0 {
                    conns.remove(&conn);
                    now_empty = true;
                }
            }
            if conns.is_empty() {
                self.table_mut(table).remove(path);
            }
        }
        if removed_recursive {
            self.recursive -= 1;
        }
        if now_empty {
            if let Some(set) = self.by_conn.get_mut(&conn) {
                set.remove(&(table, path.into()));
                if set.is_empty() {
                    self.by_conn.remove(&conn);
                }
            }
        }
        removed
    }

    /// Drops every watch of a connection that went away.
    pub fn remove_conn(&mut self, conn: ConnId) {
        let Some(entries) = self.by_conn.remove(&conn) else {
            return;
        };
        for (table, path) in entries {
            let tbl = self.table_mut(table);
            let mut recursive = false;
            if let Some(conns) = tbl.get_mut(&path) {
                if let Some(bits) = conns.remove(&conn) {
                    recursive = bits & WatchMode::PersistentRecursive as u8 != 0;
                }
                if conns.is_empty() {
                    tbl.remove(&path);
                }
            }
            if recursive {
                self.recursive -= 1;
            }
        }
    }

    /// Fires the watches a tree change triggers (`WatchManager.triggerWatch`), in ZooKeeper's order; a
    /// connection is told at most once per change and table, and NodeDeleted once across both tables.
    pub fn trigger(&mut self, trigger: &Trigger) -> Vec<Fired> {
        let mut fired = Vec::new();
        match trigger.kind {
            TriggerKind::Created => self.fire(
                Table::Data,
                &trigger.path,
                EventType::NodeCreated,
                &[],
                &mut fired,
            ),
            TriggerKind::DataChanged => self.fire(
                Table::Data,
                &trigger.path,
                EventType::NodeDataChanged,
                &[],
                &mut fired,
            ),
            TriggerKind::ChildrenChanged => self.fire(
                Table::Child,
                &trigger.path,
                EventType::NodeChildrenChanged,
                &[],
                &mut fired,
            ),
            TriggerKind::Deleted => {
                self.fire(
                    Table::Data,
                    &trigger.path,
                    EventType::NodeDeleted,
                    &[],
                    &mut fired,
                );
                let told: Vec<ConnId> = fired.iter().map(|f| f.conn).collect();
                self.fire(
                    Table::Child,
                    &trigger.path,
                    EventType::NodeDeleted,
                    &told,
                    &mut fired,
                );
            }
        }
        fired
    }

    fn fire(&mut self, table: Table, p: &str, event: EventType, suppress: &[ConnId], out: &mut Vec<Fired>) {
        let start = out.len();
        let mut spent = Vec::new();
        // Watchers of this table the change reaches, suppressed ones included (ZooKeeper counts its set of
        // watchers before it skips the suppressed ones).
        let mut reached = 0u32;
        if let Some(conns) = self.table(table).get(p) {
            reached += conns.len() as u32;
            for (&conn, &bits) in conns {
                if !suppress.contains(&conn) {
                    out.push(Fired {
                        conn,
                        event,
                        path: p.to_string(),
                    });
                }
                if bits & WatchMode::Standard as u8 != 0 {
                    spent.push(conn);
                }
            }
        }
        for conn in spent {
            self.remove(table, p, conn, WatchMode::Standard as u8);
        }
        // Ancestors' recursive watches (data table only, never for child-list changes).
        if self.recursive > 0 && table == Table::Data && p != "/" {
            let mut ancestor = path::parent(p);
            loop {
                if let Some(conns) = self.data.get(ancestor) {
                    for (&conn, &bits) in conns {
                        let already = out[start..].iter().any(|f| f.conn == conn);
                        if bits & WatchMode::PersistentRecursive as u8 != 0
                            && !already
                            && !suppress.contains(&conn)
                        {
                            reached += 1;
                            out.push(Fired {
                                conn,
                                event,
                                path: p.to_string(),
                            });
                        }
                    }
                }
                if ancestor == "/" {
                    break;
                }
                ancestor = path::parent(ancestor);
            }
        }
        if reached > 0 {
            self.fired_counts.push((event, reached));
        }
    }

    /// Paths watched by `conn` in each table (for wchc and the like).
    pub fn paths_of(&self, conn: ConnId) -> impl Iterator<Item = &(Table, Box<str>)> {
        self.by_conn.get(&conn).into_iter().flatten()
    }

    /// Every watched path of a table with its watchers.
    pub fn watchers(&self, table: Table) -> impl Iterator<Item = (&str, impl Iterator<Item = &ConnId>)> {
        self.table(table).iter().map(|(p, conns)| (&**p, conns.keys()))
    }

    /// The number of (connection, path) registrations in the data table, as `wchs` counts them.
    pub fn data_watch_count(&self) -> usize {
        self.data.values().map(HashMap::len).sum()
    }

    /// All registrations in both tables (`zk_watch_count`).
    pub fn watch_count(&self) -> usize {
        self.data_watch_count() + self.child.values().map(HashMap::len).sum::<usize>()
    }

    /// The number of connections holding at least one watch.
    pub fn watching_conns(&self) -> usize {
        self.by_conn.len()
    }

    /// The number of distinct paths watched in the data table.
    pub fn data_paths(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str, kind: TriggerKind) -> Trigger<'_> {
        Trigger {
            path: path.into(),
            kind,
            deleted_acl: None,
        }
    }

    #[test]
    fn standard_watches_fire_once_and_persistent_ones_stay() {
        let mut w = WatchManager::default();
        let (a, b) = (ConnId(1), ConnId(2));
        w.add(Table::Data, "/x", a, WatchMode::Standard);
        w.add(Table::Data, "/x", b, WatchMode::Persistent);
        let fired = w.trigger(&t("/x", TriggerKind::DataChanged));
        assert_eq!(fired.len(), 2);
        let fired = w.trigger(&t("/x", TriggerKind::DataChanged));
        assert_eq!(
            fired,
            vec![Fired {
                conn: b,
                event: EventType::NodeDataChanged,
                path: "/x".into()
            }]
        );
    }

    #[test]
    fn triggers_record_how_many_watchers_they_reached() {
        let mut w = WatchManager::default();
        w.add(Table::Data, "/x", ConnId(1), WatchMode::Standard);
        w.add(Table::Data, "/x", ConnId(2), WatchMode::Standard);
        w.add(Table::Child, "/x", ConnId(1), WatchMode::Standard);
        w.trigger(&t("/x", TriggerKind::Deleted));
        w.trigger(&t("/y", TriggerKind::Created));
        assert_eq!(
            w.fired_counts,
            vec![(EventType::NodeDeleted, 2), (EventType::NodeDeleted, 1)]
        );
    }

    #[test]
    fn delete_notifies_once_across_tables() {
        let mut w = WatchManager::default();
        let a = ConnId(1);
        w.add(Table::Data, "/x", a, WatchMode::Standard);
        w.add(Table::Child, "/x", a, WatchMode::Standard);
        let fired = w.trigger(&t("/x", TriggerKind::Deleted));
        assert_eq!(fired.len(), 1);
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn recursive_watches_see_descendants_but_not_child_list_changes() {
        let mut w = WatchManager::default();
        let a = ConnId(7);
        w.add(Table::Data, "/r", a, WatchMode::PersistentRecursive);
        assert_eq!(w.trigger(&t("/r/a/b", TriggerKind::Created))[0].path, "/r/a/b");
        assert!(w.trigger(&t("/r", TriggerKind::ChildrenChanged)).is_empty());
        assert!(w.trigger(&t("/other", TriggerKind::Created)).is_empty());
        w.remove_conn(a);
        assert_eq!(w.watch_count(), 0);
        assert!(w.trigger(&t("/r/a", TriggerKind::Created)).is_empty());
    }
}
