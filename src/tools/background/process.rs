//! Process groups: signalling a whole job, telling whether anything of it still runs, and
//! recognising a leader again after a restart.
//!
//! Every job's shell is the leader of its own process group (its pgid is its pid), so one
//! `kill(-pgid)` reaches everything the job started that did not leave the group itself.

use std::time::Duration;

use rustix::process::{Pid, Signal};
use tokio::time::Instant;

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy)]
pub enum Sig {
    Term,
    Kill,
}

/// Sends `sig` to every process in group `pgid`. Refuses groups that cannot be a job's: init's,
/// and the orchestrator's own. Whether anything received it does not matter to callers.
pub fn signal_group(pgid: i32, sig: Sig) {
    let Some(pid) = Pid::from_raw(pgid) else {
        return;
    };
    if pgid <= 1 || pid == rustix::process::getpgrp() {
        tracing::error!(
            pgid,
            "refusing to signal a process group that is not a job's"
        );
        return;
    }
    let signal = match sig {
        Sig::Term => Signal::TERM,
        Sig::Kill => Signal::KILL,
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) => tracing::debug!(pgid, ?sig, "signalled a job's process group"),
        Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::warn!(pgid, ?sig, error = %e, "cannot signal a job's process group"),
    }
}

/// Whether any process of group `pgid` is still running. Zombies do not count: once a job's
/// shell is gone its children are reparented, and an init that does not reap (as in some
/// containers) would otherwise keep a dead group "alive" for ever.
pub fn group_alive(pgid: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        if let Some(alive) = linux::group_has_live_member(pgid) {
            return alive;
        }
    }
    match Pid::from_raw(pgid) {
        Some(pid) => rustix::process::test_kill_process_group(pid).is_ok(),
        None => false,
    }
}

/// Waits until nothing of group `pgid` runs or `deadline` passes; true if it is gone.
pub async fn wait_group_gone(pgid: i32, deadline: Instant) -> bool {
    loop {
        let alive = tokio::task::spawn_blocking(move || group_alive(pgid))
            .await
            .unwrap_or(true);
        if !alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// A process's start time (clock ticks since boot, from `/proc/<pid>/stat`): with the pid it
/// identifies a process across pid reuse. `None` where there is no `/proc`.
pub fn start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        linux::stat(pid).map(|s| s.start_time)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Whether `pid` is still the live process that started at `start` (and so still one of ours).
pub fn same_live_process(pid: u32, start: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        linux::stat(pid).is_some_and(|s| s.start_time == start && s.state != 'Z' && s.state != 'X')
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, start);
        false
    }
}

/// Whether process `pid` is alive, and (where start times can be read) still the one that
/// started at `start`.
pub fn alive(pid: u32, start: Option<u64>) -> bool {
    #[cfg(target_os = "linux")]
    {
        if let Some(start) = start {
            return same_live_process(pid, start);
        }
    }
    let _ = start;
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

#[cfg(target_os = "linux")]
mod linux {
    pub struct Stat {
        pub state: char,
        pub pgrp: i32,
        pub start_time: u64,
    }

    /// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
    /// so the fields are counted from its closing parenthesis.
    pub fn stat(pid: u32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse(&text)
    }

    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state(3) ppid(4) pgrp(5) ... starttime(22).
        Some(Stat {
            state: fields.first()?.chars().next()?,
            pgrp: fields.get(2)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }

    /// `None` when `/proc` cannot be read.
    pub fn group_has_live_member(pgid: i32) -> Option<bool> {
        let dir = std::fs::read_dir("/proc").ok()?;
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(s) = stat(pid)
                && s.pgrp == pgid
                && s.state != 'Z'
                && s.state != 'X'
            {
                return Some(true);
            }
        }
        Some(false)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn stat_lines_with_odd_names_parse() {
            let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 50";
            let s = super::parse(line).unwrap();
            assert_eq!(s.state, 'S');
            assert_eq!(s.pgrp, 4242);
            assert_eq!(s.start_time, 987654);
            assert!(super::parse("garbage").is_none());
        }

        #[test]
        fn our_own_process_is_found() {
            let me = std::process::id();
            let s = super::stat(me).unwrap();
            assert!(super::super::same_live_process(me, s.start_time));
            assert!(!super::super::same_live_process(me, s.start_time + 1));
        }
    }
}

/// SIGTERM to the group, SIGKILL to what is left after `grace`.
pub async fn stop_group(pgid: i32, grace: Duration, after_kill: Duration) {
    signal_group(pgid, Sig::Term);
    if !wait_group_gone(pgid, Instant::now() + grace).await {
        signal_group(pgid, Sig::Kill);
        wait_group_gone(pgid, Instant::now() + after_kill).await;
    }
}
