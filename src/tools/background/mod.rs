//! Background jobs: shell commands that run on their own while the agent goes on working.
//!
//! - `run_background` starts one and returns its id at once;
//! - `check_background` shows its status, exit code, duration and the tail of its output;
//! - `list_background` lists this workspace's jobs, newest first;
//! - `kill_background` stops one, with everything it started.
//!
//! [`jobs::JobManager`] does the work; it belongs to the orchestrator core, which stops every
//! running job when it shuts down.

pub(crate) mod check;
pub(crate) mod jobs;
pub(crate) mod kill;
pub(crate) mod list;
pub(crate) mod process;
mod ring;
pub(crate) mod run;

pub(crate) use jobs::JobManager;

use jobs::JobRecord;
pub(crate) use jobs::JobStatus;
use ring::Tail;

/// `850ms`, `1.2s`, `3m05s`, `2h10m`.
pub(crate) fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// One line on how a job stands, for models: `job_… (label): exited with code 0 after 1.2s`.
fn describe(r: &JobRecord) -> String {
    let took = r
        .duration_ms
        .map(|ms| format!(" after {}", human_ms(ms)))
        .unwrap_or_default();
    let state = match r.status {
        JobStatus::Running => {
            let ran = crate::orchestrator::task::now_ms().saturating_sub(r.started_at);
            let left = r.timeout_ms.saturating_sub(ran);
            format!(
                "running for {} (timeout in {})",
                human_ms(ran),
                human_ms(left)
            )
        }
        JobStatus::Exited => format!("exited with code 0{took}"),
        JobStatus::Failed => match (r.exit_code, &r.signal) {
            (Some(code), _) => format!("failed with exit code {code}{took}"),
            (None, Some(sig)) => format!("failed: ended by {sig}{took}"),
            (None, None) => format!("failed{took}"),
        },
        JobStatus::TimedOut => format!("timed out{took}"),
        JobStatus::Killed => format!("killed{took}"),
        JobStatus::Lost => "lost".to_string(),
    };
    format!("{} ({}): {state}", r.job_id, r.label)
}

/// A stream's tail under a heading, for models.
fn render_tail(name: &str, tail: &Tail, asked: usize) -> String {
    if tail.lines.is_empty() {
        return if asked == 0 {
            format!("{name}: (not shown)\n")
        } else {
            format!("{name}: (no output)\n")
        };
    }
    let head = match tail.total {
        Some(total) => format!("{name} (last {} of {total} lines):", tail.lines.len()),
        None => format!("{name} (last {} lines):", tail.lines.len()),
    };
    let mut out = head;
    out.push('\n');
    if let Some(note) = &tail.note {
        out.push_str(&format!("[… {note}]\n"));
    }
    for line in &tail.lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_well() {
        assert_eq!(super::human_ms(850), "850ms");
        assert_eq!(super::human_ms(1_250), "1.2s");
        assert_eq!(super::human_ms(185_000), "3m05s");
        assert_eq!(super::human_ms(7_800_000), "2h10m");
    }
}
