//! Scheduler benchmark: N scripted tasks at the default limits (50 at a time, 10 per agent,
//! spread over the six agents), through the real ledger on disk, submitted by several clients
//! at once.
//!
//! `cargo bench --bench scheduler [-- --tasks N --delay-ms D --submitters S]`
//!
//! Each task's agent takes D ms. With 50 slots the ideal wall time is ceil(N / 50) * D; what
//! the run takes beyond that, divided by N, is the scheduler's overhead per task (validation,
//! three ledger commits, the event fan-out, dispatch). With D = 0 every task is instant and the
//! wall time per task is the whole cost. CPU time per task and peak RSS are printed too.
//! Under `cargo test` (no `--bench` flag) it runs a small smoke version and prints nothing.

use std::sync::Arc;
use std::time::Instant;

use opencode_orchestrator::config::{BackendKind, Config};
use opencode_orchestrator::orchestrator::backend::scripted::ScriptedBackend;
use opencode_orchestrator::orchestrator::{DelegateRequest, OpenParams, Orchestrator};

const AGENTS: [&str; 6] = [
    "architect",
    "builder",
    "inspector",
    "recorder",
    "librarian",
    "researcher",
];

fn proc_field(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of this process, in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/self/stat (11 and 12 after the name).
    (ticks(11) + ticks(12)) * 10.0 // 100 ticks per second on Linux
}

async fn run(tasks: usize, delay_ms: u64, submitters: usize, report: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        backend: BackendKind::Scripted,
        ..Config::default()
    };
    config.scheduler.queue_capacity = tasks.max(1);
    config.events.client_queue = tasks * 8;
    let (backend, handle) = ScriptedBackend::new();
    let orch = Orchestrator::open(OpenParams {
        workspace_root: dir.path().to_path_buf(),
        config,
        backend: Ok(Arc::new(backend)),
    })
    .await
    .expect("open");
    let mut events = orch.bus().subscribe();
    let rss_before = proc_field("/proc/self/status", "VmRSS:").unwrap_or(0);
    let cpu0 = cpu_ms();
    let t0 = Instant::now();
    let prompt = if delay_ms > 0 {
        format!("{{\"script\": {{\"delayMs\": {delay_ms}, \"reply\": \"ok\"}}}}")
    } else {
        "task".to_string()
    };
    let mut submit = Vec::new();
    for s in 0..submitters {
        let orch = orch.clone();
        let prompt = prompt.clone();
        submit.push(tokio::spawn(async move {
            for i in (s..tasks).step_by(submitters) {
                orch.delegate(DelegateRequest {
                    agent: AGENTS[i % AGENTS.len()].into(),
                    description: format!("bench task {i}"),
                    prompt: prompt.clone(),
                    background: true,
                    parent_session_id: Some(format!("ses_bench_{s}")),
                    ..DelegateRequest::default()
                })
                .await
                .expect("delegate");
            }
        }));
    }
    let mut done = 0;
    while done < tasks {
        match events.recv().await {
            Ok(e) if e.kind == "task.completed" => done += 1,
            Ok(e) if e.kind == "task.failed" => panic!("task failed: {:?}", e.data),
            Ok(_) => {}
            Err(e) => panic!("bench lost events: {e}"),
        }
    }
    let wall = t0.elapsed();
    let cpu = cpu_ms() - cpu0;
    for s in submit {
        s.await.expect("submitter");
    }
    let ideal_ms = tasks.div_ceil(50) as f64 * delay_ms as f64;
    let wall_ms = wall.as_secs_f64() * 1000.0;
    let stats = orch.stats().await.expect("stats");
    orch.shutdown().await;
    if report {
        let hwm = proc_field("/proc/self/status", "VmHWM:").unwrap_or(0);
        println!(
            "scheduler bench: {tasks} scripted tasks of {delay_ms} ms, {submitters} submitters, limits 50 global / 10 per agent, 6 agents"
        );
        println!(
            "  wall             {:>10.1} ms (ideal {ideal_ms:.0} ms)",
            wall_ms
        );
        println!(
            "  overhead / task  {:>10.1} us",
            (wall_ms - ideal_ms) * 1000.0 / tasks as f64
        );
        println!(
            "  per task (cpu)   {:>10.1} us",
            cpu * 1000.0 / tasks as f64
        );
        println!(
            "  throughput       {:>10.0} tasks/s",
            tasks as f64 / wall.as_secs_f64()
        );
        println!("  max sessions busy at once {}", handle.max_busy());
        println!("  RSS before       {:>10} kB", rss_before);
        println!("  peak RSS (HWM)   {:>10} kB", hwm);
        println!("  events           {:>10}", stats.ledger.events_total);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let tasks = args
        .iter()
        .position(|a| a == "--tasks")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 10_000 } else { 200 });
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let delay_ms = flag("--delay-ms", if bench { 20 } else { 1 });
    let submitters = flag("--submitters", 8).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(tasks, delay_ms, submitters, bench));
}
