//! ferrokeeper-bench: a pipelined load generator for ZooKeeper-protocol servers.
//!
//! It speaks the client protocol directly over `jute` (no client library), keeps `--sessions` x
//! `--outstanding` requests in flight, and reports throughput, HDR-histogram latency percentiles, errors, and
//! the CPU time of both itself and the server, so a reader can check that the generator was not the limit.

mod conn;
mod engine;
mod fanout;
mod opts;
mod ready;
mod report;
mod run;
mod snapshot;
mod stats;
mod storm;
mod sysinfo;
mod wire;
mod workload;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::opts::Opts;

fn main() -> ExitCode {
    let opts = Opts::parse();
    if let Some(limit) = opts.wait_ready {
        return wait_ready(&opts, limit);
    }
    match bench(&opts) {
        Ok(report) => {
            if opts.json {
                eprint!("{}", report.human());
                println!("{}", report.json());
            } else {
                print!("{}", report.human());
                println!("{}", report.json());
            }
            if report.failures > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("ferrokeeper-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn wait_ready(opts: &Opts, limit: f64) -> ExitCode {
    let outcome = opts.validate().and_then(|addrs| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(ready::wait(
            addrs[0],
            std::time::Duration::from_secs_f64(limit.max(0.0)),
        ))
    });
    match outcome {
        Ok(r) => {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrokeeper-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    Ok(if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    })
}

fn bench(opts: &Opts) -> Result<report::Report> {
    let addrs = opts.validate()?;
    runtime(opts.threads)?.block_on(run::run(opts, &addrs))
}
