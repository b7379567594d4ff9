//! CPU time and resident memory: the generator's own (getrusage) and the server's (`/proc/<pid>/stat` fields
//! 14 and 15, utime and stime in clock ticks; `VmRSS` in `/proc/<pid>/status`), so that a report can show
//! that the generator was not the bottleneck and what the server spent.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeVal;
use nix::unistd::{sysconf, SysconfVar};

fn timeval(tv: TimeVal) -> Duration {
    Duration::new(tv.tv_sec().max(0) as u64, (tv.tv_usec().max(0) as u32) * 1000)
}

/// User plus system CPU time used so far by this process (all threads).
pub fn own_cpu() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    Ok(timeval(usage.user_time()) + timeval(usage.system_time()))
}

/// User plus system CPU time used so far by process `pid`.
pub fn process_cpu(pid: u32) -> Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let ticks = stat_cpu_ticks(&text)?;
    let per_second = sysconf(SysconfVar::CLK_TCK)?.unwrap_or(100).max(1) as u64;
    Ok(Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second))
}

/// Resident memory of process `pid`, in KiB.
pub fn process_rss_kib(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status_rss_kib(&text)
}

/// utime + stime from the text of `/proc/<pid>/stat`. The command name may hold spaces and parentheses, so
/// fields are counted from the last `)`.
fn stat_cpu_ticks(text: &str) -> Result<u64> {
    let Some(close) = text.rfind(')') else {
        bail!("no command name in /proc stat line");
    };
    // after ")": state is field 3, so utime (14) and stime (15) are the 12th and 13th
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("/proc stat line has only {} fields", fields.len() + 2);
    };
    Ok(utime.parse::<u64>()? + stime.parse::<u64>()?)
}

/// The `VmRSS:` value, in KiB, from the text of `/proc/<pid>/status`.
fn status_rss_kib(text: &str) -> Result<u64> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let Some(kib) = rest.split_whitespace().next() else {
                bail!("empty VmRSS line");
            };
            return Ok(kib.parse()?);
        }
    }
    bail!("no VmRSS line (is the process a zombie?)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 3060 0 0 0 250 75 0 0 20 0 30 0 \
                    1000 5000000 1234 18446744073709551615 1 1 0 0 0 0 0 0 2 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(stat_cpu_ticks(line).expect("parse"), 325);
        assert!(stat_cpu_ticks("4242 java S 1").is_err());
        assert!(stat_cpu_ticks("4242 (java) S 1 2").is_err());
    }

    #[test]
    fn rss_is_read_from_the_status_text() {
        let text = "Name:\tjava\nVmPeak:\t 9000 kB\nVmRSS:\t  123456 kB\nThreads:\t40\n";
        assert_eq!(status_rss_kib(text).expect("parse"), 123_456);
        assert!(status_rss_kib("Name:\tzombie\n").is_err());
    }

    #[test]
    fn own_and_process_cpu_agree_for_this_process() {
        let start = own_cpu().expect("rusage");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let own = own_cpu().expect("rusage");
        assert!(own > start);
        let proc_cpu = process_cpu(std::process::id()).expect("proc");
        // /proc counts in clock ticks: allow one tick per thread of difference
        assert!(
            proc_cpu <= own + Duration::from_millis(100),
            "{proc_cpu:?} vs {own:?}"
        );
        assert!(process_rss_kib(std::process::id()).expect("rss") > 0);
    }
}
