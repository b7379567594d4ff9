//! The scheduling class of the snapshot thread. A walk of a large tree is the heaviest work a server does, and
//! it should only take CPU the request path leaves idle. A lower nice value is not enough for that: the
//! kernel's fair scheduler (EEVDF, run to parity) may let a running thread finish its slice (about 0.75 ms)
//! before a woken one runs, so a niced walker still delays every connection task and the server task that
//! wakes on its core. Threads of the idle class (`SCHED_IDLE`) give way to any other thread at once.
//!
//! An idle-class thread may wait long for a core on a busy machine, so it must not be descheduled while it
//! holds something the server task waits for: around each slice of the walk under the tree's read lock the
//! walker returns to the normal class (at nice 19), and goes back to the idle class once the lock is released.
//! Leaving the idle class takes `CAP_SYS_NICE` or an `RLIMIT_NICE` of 20 or more (nice 0 allowed; `LimitNICE=+0`
//! in a systemd unit); a process without either never enters it, and its background threads run at nice 10.

use std::sync::OnceLock;

use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy, ThreadPriority,
    ThreadSchedulePolicy,
};

/// The nice value used where the idle class is not available.
const FALLBACK_NICE: i32 = 10;

/// The calling thread's scheduling state while it does background work. The default has not entered the idle
/// class: [`Background::holding`] only runs its work.
#[derive(Debug, Default)]
pub(crate) struct Background {
    /// Switching classes works here; when it does not, the thread runs at [`FALLBACK_NICE`] throughout.
    switchable: bool,
}

impl Background {
    /// Moves the calling thread to the idle class where it could leave it again, or else lowers its priority.
    pub(crate) fn enter() -> Background {
        let mut me = Background {
            switchable: classes_switchable(),
        };
        if !me.switchable || !set_idle(true) {
            me.switchable = false;
            let tid = rustix::thread::gettid();
            if let Err(e) = rustix::process::setpriority_process(Some(tid), FALLBACK_NICE) {
                tracing::debug!(error = %e, "cannot lower the background thread's priority");
            }
        }
        me
    }

    /// Runs `f`, which holds something the server task may wait for, in the normal class.
    pub(crate) fn holding<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.switchable {
            set_idle(false);
        }
        let out = f();
        if self.switchable {
            set_idle(true);
        }
        out
    }
}

/// Moves the calling thread into the idle class, or back into the normal one; false if refused.
fn set_idle(idle: bool) -> bool {
    let policy = if idle {
        NormalThreadSchedulePolicy::Idle
    } else {
        NormalThreadSchedulePolicy::Other
    };
    // `Min` is nice 19 in the normal class, and the only value the idle class takes.
    let result = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(policy),
    );
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = ?e, idle, "cannot change the scheduling class");
            false
        }
    }
}

/// Whether a thread of this process may enter the idle class and leave it again: tried once, on a thread of
/// its own that ends either way, so no thread that matters is ever stuck in the idle class.
fn classes_switchable() -> bool {
    static SWITCHABLE: OnceLock<bool> = OnceLock::new();
    *SWITCHABLE.get_or_init(|| {
        let probe = std::thread::Builder::new()
            .name("sched-probe".into())
            .spawn(|| set_idle(true) && set_idle(false));
        let switchable = probe.ok().and_then(|t| t.join().ok()).unwrap_or(false);
        if switchable {
            tracing::info!("snapshot thread scheduling: idle class");
        } else {
            tracing::info!(
                "snapshot thread scheduling: nice {FALLBACK_NICE} (the idle class could not be left)"
            );
        }
        switchable
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy the kernel reports for the calling thread (`sched_getscheduler`, via /proc).
    fn policy_of_this_thread() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        // Field 41 is the policy; fields after the command name (which ends at the last ')') start at 3.
        let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        rest.split(' ')
            .nth(41 - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or(u32::MAX)
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;

    impl Background {
        /// True while the calling thread is in the idle class, as the kernel reports it.
        fn is_idle(&self) -> bool {
            policy_of_this_thread() == SCHED_IDLE
        }
    }

    #[test]
    fn a_background_thread_is_idle_class_except_while_holding() {
        std::thread::spawn(|| {
            let bg = Background::enter();
            if !classes_switchable() {
                // Without the privilege to leave the idle class the thread stays in the normal one.
                assert!(!bg.is_idle());
                assert_eq!(bg.holding(policy_of_this_thread), SCHED_OTHER);
                return;
            }
            assert!(bg.is_idle());
            assert_eq!(policy_of_this_thread(), SCHED_IDLE);
            let inside = bg.holding(policy_of_this_thread);
            assert_eq!(inside, SCHED_OTHER);
            assert!(bg.is_idle());
            assert_eq!(policy_of_this_thread(), SCHED_IDLE);
        })
        .join()
        .expect("the background thread panicked");
    }
}
