//! The znodes a run uses and the request each session sends next.
//!
//! Everything lives under `--root`: `k/` holds the keys of get, exists, set, mixed and multi; `wide/` the
//! children listed by the children workload; `c/<run>-<session>` one parent per session for unique creates;
//! `seq/` the shared parent of sequential creates; `watch` the znode of watch-fanout. Request bodies that do
//! not change between operations are encoded once and shared by every session.

use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use jute::codes::OpCode;

use crate::opts::{Opts, Workload};
use crate::wire::{
    create_body, multi_set_body, path_watch_body, put_request, set_body, FLAG_SEQUENTIAL, XID_PING,
};

/// The paths of one run.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: String,
    /// Distinguishes the unique-create parents of runs against the same tree.
    pub run_id: String,
}

impl Layout {
    pub fn new(root: &str, run_id: String) -> Layout {
        Layout {
            root: root.to_owned(),
            run_id,
        }
    }

    pub fn key(&self, i: usize) -> String {
        format!("{}/k/{i:08}", self.root)
    }

    pub fn wide(&self) -> String {
        format!("{}/wide", self.root)
    }

    pub fn create_parent(&self, session: usize) -> String {
        format!("{}/c/{}-{session}", self.root, self.run_id)
    }

    pub fn seq_prefix(&self) -> String {
        format!("{}/seq/n-", self.root)
    }

    pub fn watched(&self) -> String {
        format!("{}/watch", self.root)
    }

    /// The znodes to create before the run, level by level (each level's parents are in an earlier one).
    pub fn prepare_levels(&self, opts: &Opts) -> Vec<Vec<String>> {
        let mut parents = Vec::new();
        let mut leaves = Vec::new();
        match opts.workload {
            w if w.uses_keys() => {
                parents.push(format!("{}/k", self.root));
                leaves.extend((0..opts.keys).map(|i| self.key(i)));
            }
            Workload::Children => {
                parents.push(self.wide());
                leaves.extend((0..opts.children).map(|i| format!("{}/c{i:08}", self.wide())));
            }
            Workload::Create => {
                parents.push(format!("{}/c", self.root));
                leaves.extend((0..opts.sessions).map(|s| self.create_parent(s)));
            }
            Workload::CreateSeq => parents.push(format!("{}/seq", self.root)),
            Workload::WatchFanout => parents.push(self.watched()),
            _ => {}
        }
        vec![vec![self.root.clone()], parents, leaves]
            .into_iter()
            .filter(|level| !level.is_empty())
            .collect()
    }
}

/// The request stream of one session.
pub trait OpGen: Send {
    /// Appends the next request, framed with `xid`, and returns the xid its reply will carry; `None` when this
    /// session has nothing more to send.
    fn next(&mut self, xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>>;
}

/// Cycles through shared pre-encoded bodies of one opcode, from a per-session starting point.
pub struct Cycle {
    op: OpCode,
    bodies: Arc<Vec<Vec<u8>>>,
    at: usize,
}

impl OpGen for Cycle {
    fn next(&mut self, xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>> {
        let body = &self.bodies[self.at % self.bodies.len()];
        self.at = self.at.wrapping_add(1);
        put_request(out, xid, self.op, body)?;
        Ok(Some(xid))
    }
}

/// Reads (getData) with probability `read_ratio`, else writes (setData), on random keys.
pub struct Mixed {
    reads: Arc<Vec<Vec<u8>>>,
    writes: Arc<Vec<Vec<u8>>>,
    read_below: u64,
    rng: u64,
}

impl OpGen for Mixed {
    fn next(&mut self, xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>> {
        let roll = xorshift(&mut self.rng);
        let key = (xorshift(&mut self.rng) % self.reads.len() as u64) as usize;
        if roll < self.read_below {
            put_request(out, xid, OpCode::GetData, &self.reads[key])?;
        } else {
            put_request(out, xid, OpCode::SetData, &self.writes[key])?;
        }
        Ok(Some(xid))
    }
}

/// Creates `prefix0`, `prefix1`, ... (or sequential nodes named by the server).
pub struct Creates {
    prefix: String,
    counter: u64,
    data: Bytes,
    flags: i32,
}

impl OpGen for Creates {
    fn next(&mut self, xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>> {
        let path = if self.flags == FLAG_SEQUENTIAL {
            self.prefix.clone()
        } else {
            format!("{}{}", self.prefix, self.counter)
        };
        self.counter += 1;
        put_request(
            out,
            xid,
            OpCode::Create,
            &create_body(&path, &self.data, self.flags)?,
        )?;
        Ok(Some(xid))
    }
}

/// Bare pings, which always carry xid -2.
pub struct Pings;

impl OpGen for Pings {
    fn next(&mut self, _xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>> {
        put_request(out, XID_PING, OpCode::Ping, &[])?;
        Ok(Some(XID_PING))
    }
}

/// A finite list of creates (the preparation of a run).
pub struct CreateList {
    bodies: Vec<Vec<u8>>,
    at: usize,
}

impl CreateList {
    pub fn new(paths: &[String], data: &Bytes) -> Result<CreateList> {
        let bodies = paths
            .iter()
            .map(|p| create_body(p, data, 0))
            .collect::<Result<_>>()?;
        Ok(CreateList { bodies, at: 0 })
    }
}

impl OpGen for CreateList {
    fn next(&mut self, xid: i32, out: &mut Vec<u8>) -> Result<Option<i32>> {
        let Some(body) = self.bodies.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        put_request(out, xid, OpCode::Create, body)?;
        Ok(Some(xid))
    }
}

/// Xorshift64: a fast generator whose quality is ample for picking keys.
pub fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Builds the request stream of every session of a pipelined workload.
pub fn generators(opts: &Opts, layout: &Layout, data: &Bytes) -> Result<Vec<Box<dyn OpGen>>> {
    let keys: Vec<String> = (0..opts.keys).map(|i| layout.key(i)).collect();
    let encode = |f: &dyn Fn(&str) -> Result<Vec<u8>>| -> Result<Arc<Vec<Vec<u8>>>> {
        Ok(Arc::new(keys.iter().map(|k| f(k)).collect::<Result<_>>()?))
    };
    let stride = (opts.keys / opts.sessions).max(1);
    let cycle = |op, bodies: &Arc<Vec<Vec<u8>>>, s: usize| -> Box<dyn OpGen> {
        Box::new(Cycle {
            op,
            bodies: bodies.clone(),
            at: s * stride,
        })
    };
    let shared = match opts.workload {
        Workload::Get | Workload::Mixed => encode(&|k| path_watch_body(k, false))?,
        Workload::Exists => encode(&|k| path_watch_body(k, false))?,
        Workload::Set => encode(&|k| set_body(k, data))?,
        Workload::Multi => {
            let groups = (0..keys.len())
                .map(|i| {
                    let group: Vec<String> = (0..opts.multi_size)
                        .map(|j| keys[(i + j) % keys.len()].clone())
                        .collect();
                    multi_set_body(&group, data)
                })
                .collect::<Result<_>>()?;
            Arc::new(groups)
        }
        Workload::Children => Arc::new(vec![path_watch_body(&layout.wide(), false)?]),
        _ => Arc::new(Vec::new()),
    };
    let writes = match opts.workload {
        Workload::Mixed => encode(&|k| set_body(k, data))?,
        _ => Arc::new(Vec::new()),
    };
    (0..opts.sessions)
        .map(|s| -> Result<Box<dyn OpGen>> {
            Ok(match opts.workload {
                Workload::Get => cycle(OpCode::GetData, &shared, s),
                Workload::Exists => cycle(OpCode::Exists, &shared, s),
                Workload::Set => cycle(OpCode::SetData, &shared, s),
                Workload::Multi => cycle(OpCode::Multi, &shared, s),
                Workload::Children => cycle(OpCode::GetChildren, &shared, s),
                Workload::Mixed => Box::new(Mixed {
                    reads: shared.clone(),
                    writes: writes.clone(),
                    read_below: (opts.read_ratio * u64::MAX as f64) as u64,
                    rng: 0x9E37_79B9_7F4A_7C15 ^ (s as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
                }),
                Workload::Create => Box::new(Creates {
                    prefix: format!("{}/n", layout.create_parent(s)),
                    counter: 0,
                    data: data.clone(),
                    flags: 0,
                }),
                Workload::CreateSeq => Box::new(Creates {
                    prefix: layout.seq_prefix(),
                    counter: 0,
                    data: data.clone(),
                    flags: FLAG_SEQUENTIAL,
                }),
                Workload::Ping => Box::new(Pings),
                Workload::WatchFanout | Workload::ConnectStorm => {
                    anyhow::bail!("{} is not a pipelined workload", opts.workload.name())
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use jute::request::Request;

    fn opts(args: &[&str]) -> Opts {
        let base = ["ferrokeeper-bench", "--targets", "127.0.0.1:1"];
        Opts::try_parse_from(base.iter().chain(args)).expect("parse")
    }

    fn decode_all(gen: &mut dyn OpGen, n: usize) -> Vec<Request> {
        let mut out = Vec::new();
        let mut requests = Vec::new();
        for xid in 1..=n as i32 {
            out.clear();
            assert_eq!(gen.next(xid, &mut out).expect("next"), Some(xid));
            let op = i32::from_be_bytes([out[8], out[9], out[10], out[11]]);
            requests.push(Request::decode(op, &out[12..], 1 << 20).expect("decode"));
        }
        requests
    }

    #[test]
    fn prepare_levels_put_parents_before_children() {
        let layout = Layout::new("/b", "r1".into());
        let levels = layout.prepare_levels(&opts(&["--workload", "get", "--keys", "3"]));
        assert_eq!(levels[0], vec!["/b"]);
        assert_eq!(levels[1], vec!["/b/k"]);
        assert_eq!(levels[2], vec!["/b/k/00000000", "/b/k/00000001", "/b/k/00000002"]);
        let levels = layout.prepare_levels(&opts(&["--workload", "create", "--sessions", "2"]));
        assert_eq!(levels[2], vec!["/b/c/r1-0", "/b/c/r1-1"]);
        assert_eq!(
            layout.prepare_levels(&opts(&["--workload", "ping"])),
            vec![vec!["/b"]]
        );
    }

    #[test]
    fn get_sessions_start_at_different_keys_and_cycle() {
        let o = opts(&[
            "--workload",
            "get",
            "--keys",
            "4",
            "--sessions",
            "2",
            "--root",
            "/b",
        ]);
        let layout = Layout::new("/b", "r".into());
        let mut gens = generators(&o, &layout, &Bytes::new()).expect("gens");
        let paths = |gen: &mut Box<dyn OpGen>| -> Vec<String> {
            decode_all(gen.as_mut(), 5)
                .into_iter()
                .map(|r| match r {
                    Request::GetData(g) => g.path,
                    other => panic!("not a getData: {other:?}"),
                })
                .collect()
        };
        assert_eq!(
            paths(&mut gens[0])[..],
            [
                "/b/k/00000000",
                "/b/k/00000001",
                "/b/k/00000002",
                "/b/k/00000003",
                "/b/k/00000000"
            ]
        );
        assert_eq!(paths(&mut gens[1])[0], "/b/k/00000002");
    }

    #[test]
    fn mixed_honours_the_read_ratio() {
        let o = opts(&["--workload", "mixed", "--read-ratio", "0.8", "--sessions", "1"]);
        let mut gens =
            generators(&o, &Layout::new("/b", "r".into()), &Bytes::from_static(b"x")).expect("gens");
        let requests = decode_all(gens[0].as_mut(), 10_000);
        let reads = requests
            .iter()
            .filter(|r| matches!(r, Request::GetData(_)))
            .count();
        let writes = requests
            .iter()
            .filter(|r| matches!(r, Request::SetData(_)))
            .count();
        assert_eq!(reads + writes, 10_000);
        assert!((7_700..8_300).contains(&reads), "{reads} reads");
    }

    #[test]
    fn creates_are_unique_and_sequential_creates_share_a_prefix() {
        let o = opts(&["--workload", "create", "--sessions", "1"]);
        let layout = Layout::new("/b", "r".into());
        let mut gens = generators(&o, &layout, &Bytes::from_static(b"x")).expect("gens");
        let paths: Vec<(String, i32)> = decode_all(gens[0].as_mut(), 3)
            .into_iter()
            .map(|r| match r {
                Request::Create(_, c) => (c.path, c.flags),
                other => panic!("not a create: {other:?}"),
            })
            .collect();
        assert_eq!(
            paths,
            [
                ("/b/c/r-0/n0".into(), 0),
                ("/b/c/r-0/n1".into(), 0),
                ("/b/c/r-0/n2".into(), 0)
            ]
        );
        let o = opts(&["--workload", "create-seq", "--sessions", "1"]);
        let mut gens = generators(&o, &layout, &Bytes::from_static(b"x")).expect("gens");
        match &decode_all(gens[0].as_mut(), 1)[0] {
            Request::Create(_, c) => assert_eq!((c.path.as_str(), c.flags), ("/b/seq/n-", FLAG_SEQUENTIAL)),
            other => panic!("not a create: {other:?}"),
        }
    }

    #[test]
    fn multi_groups_distinct_keys_and_pings_use_their_xid() {
        let o = opts(&[
            "--workload",
            "multi",
            "--keys",
            "10",
            "--multi-size",
            "3",
            "--sessions",
            "1",
        ]);
        let mut gens =
            generators(&o, &Layout::new("/b", "r".into()), &Bytes::from_static(b"x")).expect("gens");
        let Request::Multi(m) = &decode_all(gens[0].as_mut(), 1)[0] else {
            panic!("not a multi")
        };
        assert_eq!(m.ops.len(), 3);
        let mut out = Vec::new();
        assert_eq!(Pings.next(9, &mut out).expect("ping"), Some(XID_PING));
        let mut list = CreateList::new(&["/a".into()], &Bytes::new()).expect("list");
        assert_eq!(list.next(1, &mut out).expect("first"), Some(1));
        assert_eq!(list.next(2, &mut out).expect("end"), None);
    }
}
