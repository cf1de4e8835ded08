//! Delegation, limits, cancel, TTL, archiving and restart, over the protocol.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn hold(gate: &str, reply: &str) -> String {
    script(json!({"gate": gate, "reply": reply}))
}

#[tokio::test]
async fn delegate_runs_and_completes_with_events_in_order() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let r = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "Builder", "description": "add a button", "prompt": script(json!({"reply": "button added", "reasoning": "easy", "progress": ["editing src/app.rs"]})), "parentSessionId": "ses_root"}),
        )
        .await;
    let id = r["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        r["task"]["agent"], "builder",
        "agent names are matched without case"
    );
    assert_eq!(r["task"]["depth"], 1);
    let events = c
        .events_until(|e| e["type"] == "task.completed" && e["data"]["taskId"] == id)
        .await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["data"]["taskId"] == id)
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "task.queued",
            "task.started",
            "task.progress",
            "session.idle",
            "task.completed"
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(
        events
            .iter()
            .all(|e| e["time"].as_u64().unwrap() > 1_600_000_000_000)
    );

    let t = c.get(&id, 0).await;
    assert_eq!(t["status"], "completed");
    assert_eq!(t["result"], "button added");
    assert_eq!(t["reasoning"], "easy");
    assert!(t["sessionId"].as_str().unwrap().starts_with("ses_"));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn get_waits_a_bounded_time() {
    let (mut c, h, _ws) = start(json!({"scheduler": {"maxWaitMs": 200}})).await;
    let id = c.delegate("builder", &hold("g", "ok")).await;
    // Asking for a minute is capped at maxWaitMs: the reply comes back while the task runs.
    let t = c.get(&id, 60_000).await;
    assert!(t["status"] == "running" || t["status"] == "queued", "{t}");
    h.open_gate("g");
    let t = c.get(&id, 10_000).await;
    assert_eq!(t["status"], "queued".replace("queued", "completed"));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn the_51st_task_queues_and_the_11th_for_one_agent_queues() {
    let (mut c, h, _ws) =
        start(json!({"scheduler": {"maxPerAgent": 10, "maxConcurrent": 50}})).await;
    let agents = [
        "builder",
        "architect",
        "inspector",
        "recorder",
        "librarian",
        "researcher",
    ];
    let mut ids = Vec::new();
    // 6 agents x 9 = 54 tasks: global cap 50 binds before the per-agent cap of 10.
    for i in 0..54 {
        ids.push(c.delegate(agents[i % 6], &hold("global", "ok")).await);
    }
    let stats = wait_for_stats(&mut c, |s| s["running"] == 50).await;
    assert_eq!(stats["queued"], 4);
    assert_eq!(h.max_busy(), 50);
    h.open_gate("global");
    for id in &ids {
        assert_eq!(c.get(id, 10_000).await["status"], "completed");
    }

    // One agent: the 11th waits while the first 10 run.
    let mut ids = Vec::new();
    for _ in 0..11 {
        ids.push(c.delegate("builder", &hold("agent", "ok")).await);
    }
    let stats = wait_for_stats(&mut c, |s| s["running"] == 10).await;
    assert_eq!(stats["queued"], 1);
    assert_eq!(stats["runningByAgent"]["builder"], 10);
    // Another agent is not held up by the full one.
    let other = c
        .delegate("librarian", &script(json!({"reply": "docs"})))
        .await;
    assert_eq!(c.get(&other, 10_000).await["status"], "completed");
    assert_eq!(c.get(&ids[10], 0).await["status"], "queued");
    h.open_gate("agent");
    for id in &ids {
        assert_eq!(c.get(id, 10_000).await["status"], "completed");
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
}

async fn wait_for_stats(c: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..500 {
        let s = c.ok("orchestrator/stats", json!({})).await;
        if pred(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("stats never matched");
}

#[tokio::test]
async fn per_agent_limit_holds_throughout_by_events() {
    let (mut c, _h, _ws) = start(json!({"scheduler": {"maxPerAgent": 3}})).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            c.delegate(
                "builder",
                &script(json!({"delayMs": 5 + (i % 4) * 3, "reply": "ok"})),
            )
            .await,
        );
    }
    let last = ids.last().unwrap().clone();
    let mut running = 0i32;
    let mut max_running = 0;
    let mut done = 0;
    while done < ids.len() {
        let e = c
            .events_until(|e| e["type"] == "task.started" || e["type"] == "task.completed")
            .await
            .pop()
            .unwrap();
        if e["type"] == "task.started" {
            running += 1;
        } else {
            running -= 1;
            done += 1;
        }
        max_running = max_running.max(running);
    }
    assert_eq!(max_running, 3);
    assert_eq!(c.get(&last, 0).await["status"], "completed");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn priority_runs_first_when_slots_are_scarce() {
    let (mut c, h, _ws) = start(json!({"scheduler": {"maxPerAgent": 1}})).await;
    let blocker = c.delegate("builder", &hold("b", "ok")).await;
    let low = c.delegate("builder", "low").await;
    let high = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "urgent", "prompt": "high", "priority": 10}),
        )
        .await["task"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.open_gate("b");
    assert_eq!(c.get(&blocker, 10_000).await["status"], "completed");
    let l = c.get(&low, 10_000).await;
    let hi = c.get(&high, 10_000).await;
    assert!(
        hi["startedAt"].as_u64() <= l["startedAt"].as_u64(),
        "high {hi} low {l}"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn depth_limit_from_the_parent_chain() {
    let (mut c, _h, _ws) = start(json!({"scheduler": {"maxDepth": 2}})).await;
    let d1 = c.delegate("architect", "plan").await;
    let t1 = c.get(&d1, 10_000).await;
    let s1 = t1["sessionId"].as_str().unwrap();
    let r = c
        .ok("orchestrator/task/delegate", json!({"agent": "builder", "description": "child", "prompt": "build", "parentSessionId": s1}))
        .await;
    assert_eq!(r["task"]["depth"], 2);
    assert_eq!(r["task"]["parentTaskId"], d1);
    let d2 = r["task"]["id"].as_str().unwrap().to_string();
    let s2 = c.get(&d2, 10_000).await["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let e = c
        .err("orchestrator/task/delegate", json!({"agent": "builder", "description": "grandchild", "prompt": "x", "parentSessionId": s2}))
        .await;
    assert_eq!(e.code, -32011);
    assert!(e.message.contains("depth"), "{}", e.message);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_full_queue_refuses_with_a_clear_error() {
    let (mut c, h, _ws) =
        start(json!({"scheduler": {"maxPerAgent": 1, "maxConcurrent": 1, "queueCapacity": 3}}))
            .await;
    let running = c.delegate("builder", &hold("q", "ok")).await;
    wait_for_stats(&mut c, |s| s["running"] == 1).await;
    for _ in 0..3 {
        c.delegate("builder", "queued").await;
    }
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "one too many", "prompt": "x"}),
        )
        .await;
    assert_eq!(e.code, -32010);
    assert!(e.message.contains("queue is full"), "{}", e.message);
    assert_eq!(e.data.unwrap()["kind"], "queue_full");
    h.open_gate("q");
    assert_eq!(c.get(&running, 10_000).await["status"], "completed");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn cancel_queued_and_running_tasks() {
    let (mut c, h, _ws) = start(json!({"scheduler": {"maxPerAgent": 1}})).await;
    let running = c.delegate("builder", &script(json!({"hang": true}))).await;
    let queued = c.delegate("builder", "waits").await;
    wait_for_stats(&mut c, |s| s["running"] == 1).await;
    c.wait_event("task.started", &running).await;

    let r = c
        .ok("orchestrator/task/cancel", json!({"taskId": queued}))
        .await;
    assert_eq!(r["cancelled"], true);
    assert_eq!(r["task"]["status"], "cancelled");

    let r = c
        .ok("orchestrator/task/cancel", json!({"taskId": running}))
        .await;
    assert_eq!(r["cancelled"], true);
    assert_eq!(r["task"]["status"], "cancelled");
    let session = r["task"]["sessionId"].as_str().unwrap();
    assert_eq!(
        h.aborted(),
        [session],
        "the session is aborted, not deleted"
    );

    // Cancelling a finished task says so and changes nothing.
    let r = c
        .ok("orchestrator/task/cancel", json!({"taskId": running}))
        .await;
    assert_eq!(r["cancelled"], false);
    let e = c
        .err("orchestrator/task/cancel", json!({"taskId": "tsk_nope"}))
        .await;
    assert_eq!(e.code, -32012);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_task_past_its_ttl_is_timed_out_and_its_session_aborted() {
    let (mut c, h, _ws) = start(json!({"scheduler": {"taskTtlMinutes": 60}})).await;
    let id = c.delegate("builder", &script(json!({"hang": true}))).await;
    c.wait_event("task.started", &id).await;
    // Jump the clock past the TTL instead of waiting an hour.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(61 * 60)).await;
    tokio::time::resume();
    let e = c.wait_event("task.timed_out", &id).await;
    assert!(e["data"]["error"].as_str().unwrap().contains("TTL"));
    let t = c.get(&id, 0).await;
    assert_eq!(t["status"], "timed_out");
    assert_eq!(h.aborted(), [t["sessionId"].as_str().unwrap()]);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn archived_tasks_stay_answerable() {
    let (mut c, _h, _ws) = start(json!({"ledger": {"hotTasks": 10}})).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(c.delegate("researcher", &format!("task {i}")).await);
    }
    for id in &ids {
        assert_eq!(c.get(id, 10_000).await["status"], "completed");
    }
    let stats = c.ok("orchestrator/stats", json!({})).await;
    assert!(stats["hotTasks"].as_u64().unwrap() <= 10, "{stats}");
    assert!(stats["archivedTasks"].as_u64().unwrap() >= 20, "{stats}");
    // The oldest is no longer in memory but still answers, with its result.
    let t = c.get(&ids[0], 0).await;
    assert_eq!(t["result"], "done: task 0");
    // And via the tool.
    let r = c
        .ok(
            "orchestrator/tools/call",
            json!({"name": "get_task_result", "arguments": {"taskId": ids[0]}}),
        )
        .await;
    assert!(r["output"].as_str().unwrap().contains("done: task 0"));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn restart_marks_running_tasks_interrupted_and_requeues_waiting_ones() {
    let ws = Workspace::new();
    let config = json!({"scheduler": {"maxPerAgent": 1}});
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config.clone()).await;
    let running = c.delegate("builder", &script(json!({"hang": true}))).await;
    c.wait_event("task.started", &running).await;
    let waiting = c.delegate("builder", "runs after restart").await;
    let done = c.delegate("librarian", "finished before").await;
    assert_eq!(c.get(&done, 10_000).await["status"], "completed");
    assert_eq!(c.shutdown().await.exit_code, 0);

    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), config).await;
    // Its session is gone (a new runtime): the re-attach gives up and says why.
    let t = c.get(&running, 10_000).await;
    assert_eq!(t["status"], "interrupted", "{t}");
    assert!(
        t["error"].as_str().unwrap().contains("stopped")
            && t["error"].as_str().unwrap().contains("no longer exists"),
        "{t}"
    );
    assert_eq!(c.get(&waiting, 10_000).await["status"], "completed");
    assert_eq!(c.get(&done, 0).await["result"], "done: finished before");
    // The interruption was announced and recorded like any other change.
    let replay = c
        .ok(
            "orchestrator/events/replay",
            json!({"afterSeq": 0, "limit": 10000}),
        )
        .await;
    let events = replay["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "task.interrupted" && e["data"]["taskId"] == running)
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_failing_session_fails_the_task_with_its_error() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let id = c
        .delegate(
            "builder",
            &script(json!({"fail": "invalid api key", "failKind": "auth"})),
        )
        .await;
    let t = c.get(&id, 10_000).await;
    assert_eq!(t["status"], "failed");
    assert!(
        t["error"]
            .as_str()
            .unwrap()
            .contains("authentication failed: invalid api key"),
        "{t}"
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn passing_errors_are_retried_with_backoff_and_each_retry_is_an_event() {
    let (mut c, h, _ws) = start(json!({"recovery": {"baseDelayMs": 5, "maxDelayMs": 20}})).await;
    let id = c
        .delegate("builder", &script(json!({"fail": "Too Many Requests", "failKind": "rate_limit", "failTimes": 2, "reply": "made it"})))
        .await;
    let events = c
        .events_until(|e| e["type"] == "task.completed" && e["data"]["taskId"] == id)
        .await;
    let retries: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "task.retry")
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0]["data"]["attempt"], 1);
    assert_eq!(retries[1]["data"]["attempt"], 2);
    assert!(
        retries[0]["data"]["error"]
            .as_str()
            .unwrap()
            .contains("Too Many Requests")
    );
    assert_eq!(c.get(&id, 0).await["result"], "made it");
    assert_eq!(h.prompts(), 3, "one prompt and two retries");

    // A 5xx is retryable through recovery.retryOn; it gives up after maxRetries.
    let id = c
        .delegate(
            "builder",
            &script(json!({"fail": "APIError (503): upstream unavailable"})),
        )
        .await;
    let t = c.get(&id, 10_000).await;
    assert_eq!(t["status"], "failed");
    assert!(
        t["error"].as_str().unwrap().contains("after 3 retries"),
        "{t}"
    );
    // Errors that cannot pass are not retried.
    let id = c
        .delegate(
            "builder",
            &script(json!({"fail": "prompt is too long", "failKind": "context_too_long"})),
        )
        .await;
    let t = c.get(&id, 10_000).await;
    assert!(!t["error"].as_str().unwrap().contains("retries"), "{t}");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn resume_continues_the_earlier_session() {
    let (mut c, h, _ws) = start(json!({})).await;
    let first = c.delegate("builder", "first").await;
    let t1 = c.get(&first, 10_000).await;
    let r = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "more", "prompt": "second", "resume": first}),
        )
        .await;
    let second = r["task"]["id"].as_str().unwrap().to_string();
    let t2 = c.get(&second, 10_000).await;
    assert_eq!(t2["status"], "completed");
    assert_eq!(t2["sessionId"], t1["sessionId"]);
    assert_eq!(t2["resumedFrom"], first);
    assert_eq!(h.sessions(), 1);
    // A running task cannot be resumed.
    let busy = c.delegate("builder", &hold("r", "x")).await;
    wait_for_stats(&mut c, |s| s["running"] == 1).await;
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "more", "prompt": "x", "resume": busy}),
        )
        .await;
    assert_eq!(e.code, -32013);
    h.open_gate("r");

    // One resume of a session at a time: a second one while the first works is refused,
    // naming the task that holds the session; once it is done, the session is free again.
    let r = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "more", "prompt": hold("again", "third"), "resume": first}),
        )
        .await;
    let third = r["task"]["id"].as_str().unwrap().to_string();
    let e = c
        .err(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "more", "prompt": "fourth", "resume": first}),
        )
        .await;
    assert_eq!(e.code, -32013);
    assert!(e.message.contains(&third), "{}", e.message);
    h.open_gate("again");
    assert_eq!(c.get(&third, 10_000).await["status"], "completed");
    let r = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "builder", "description": "more", "prompt": "fifth", "resume": first}),
        )
        .await;
    let fifth = r["task"]["id"].as_str().unwrap().to_string();
    let t5 = c.get(&fifth, 10_000).await;
    assert_eq!(t5["status"], "completed");
    assert_eq!(t5["sessionId"], t1["sessionId"]);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_delegate_params_name_the_problem() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let cases = [
        (json!({"description": "d", "prompt": "p"}), "agent"),
        (json!({"agent": "builder", "prompt": "p"}), "description"),
        (
            json!({"agent": 5, "description": "d", "prompt": "p"}),
            "agent",
        ),
        (
            json!({"agent": "builder", "description": "d", "prompt": "p", "bogus": 1}),
            "bogus",
        ),
        (
            json!({"agent": "wizard", "description": "d", "prompt": "p"}),
            "wizard",
        ),
        (
            json!({"agent": "commander", "description": "d", "prompt": "p"}),
            "commander",
        ),
        (
            json!({"agent": "builder", "description": "  ", "prompt": "p"}),
            "description",
        ),
        (
            json!({"agent": "builder", "description": "d", "prompt": ""}),
            "prompt",
        ),
        (
            json!({"agent": "builder", "description": "d", "prompt": "p", "model": "nomodel"}),
            "model",
        ),
        (
            json!({"agent": "builder", "description": "d", "prompt": "p", "resume": "tsk_missing"}),
            "tsk_missing",
        ),
    ];
    for (params, needle) in cases {
        let e = c.err("orchestrator/task/delegate", params.clone()).await;
        assert!(e.message.contains(needle), "{params}: {}", e.message);
        assert!(e.code == -32602 || e.code == -32012, "{params}: {e:?}");
    }
    let e = c
        .err("orchestrator/task/list", json!({"status": ["sleeping"]}))
        .await;
    assert!(e.message.contains("status"), "{}", e.message);
    let e = c.err("orchestrator/task/list", json!({"limit": 0})).await;
    assert!(e.message.contains("limit"), "{}", e.message);
    let e = c
        .err("orchestrator/events/replay", json!({"afterSeq": -1}))
        .await;
    assert!(e.message.contains("afterSeq"), "{}", e.message);
    let e = c
        .err("orchestrator/task/get", json!({"taskId": "tsk_none"}))
        .await;
    assert_eq!(e.code, -32012);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn list_filters_and_pages() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = c
            .ok("orchestrator/task/delegate", json!({"agent": if i % 2 == 0 { "builder" } else { "inspector" }, "description": format!("t{i}"), "prompt": "p", "parentSessionId": if i < 3 { "ses_a" } else { "ses_b" }}))
            .await;
        ids.push(r["task"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        c.get(id, 10_000).await;
    }
    let r = c
        .ok(
            "orchestrator/task/list",
            json!({"parentSessionId": "ses_a"}),
        )
        .await;
    assert_eq!(r["total"], 3);
    let r = c
        .ok("orchestrator/task/list", json!({"agent": "inspector"}))
        .await;
    assert_eq!(r["total"], 2);
    let r = c
        .ok(
            "orchestrator/task/list",
            json!({"status": ["completed"], "limit": 2}),
        )
        .await;
    assert_eq!(r["total"], 5);
    assert_eq!(r["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(r["tasks"][0]["taskId"], ids[4], "newest first");
    let next = r["nextCursor"].as_str().unwrap().to_string();
    let r2 = c
        .ok(
            "orchestrator/task/list",
            json!({"status": ["completed"], "limit": 2, "cursor": next}),
        )
        .await;
    assert_eq!(r2["tasks"][0]["taskId"], ids[2]);
    let r = c
        .ok(
            "orchestrator/task/list",
            json!({"status": ["running", "queued"]}),
        )
        .await;
    assert_eq!(r["total"], 0);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn replay_pages_through_memory_and_the_ledger() {
    // Only 5 events in memory: older ones come from SQLite.
    let (mut c, _h, _ws) = start(json!({"events": {"memory": 5}})).await;
    for i in 0..10 {
        let id = c.delegate("builder", &format!("t{i}")).await;
        c.get(&id, 10_000).await;
    }
    let mut after = 0;
    let mut all = Vec::new();
    loop {
        let r = c
            .ok(
                "orchestrator/events/replay",
                json!({"afterSeq": after, "limit": 7}),
            )
            .await;
        let page = r["events"].as_array().unwrap().clone();
        assert!(page.len() <= 7);
        after = r["nextSeq"].as_u64().unwrap();
        all.extend(page);
        if r["more"] == false {
            break;
        }
    }
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );
    assert_eq!(
        all.iter().filter(|e| e["type"] == "task.completed").count(),
        10
    );
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn parents_are_woken_once_with_results_that_finish_together() {
    let (mut c, h, _ws) = start(json!({})).await;
    h.add_session("ses_user");
    let mut ids = Vec::new();
    for i in 0..2 {
        let r = c
            .ok(
                "orchestrator/task/delegate",
                json!({"agent": "builder", "description": format!("part {i}"), "prompt": hold("together", &format!("result {i}")),
                       "parentSessionId": "ses_user", "parentAgent": "commander"}),
            )
            .await;
        ids.push(r["task"]["id"].as_str().unwrap().to_string());
    }
    // A sync task never leaves a notice: its caller got the result.
    c.ok(
        "orchestrator/task/delegate",
        json!({"agent": "builder", "description": "sync", "prompt": "x", "background": false, "parentSessionId": "ses_user"}),
    )
    .await;
    h.open_gate("together");
    let delivered = c
        .events_until(|e| e["type"] == "notice.delivered")
        .await
        .pop()
        .unwrap();
    assert_eq!(delivered["data"]["parentSessionId"], "ses_user");
    assert_eq!(
        delivered["data"]["taskIds"].as_array().unwrap().len(),
        2,
        "{delivered}"
    );
    let notices = h.prompts_of("ses_user");
    assert_eq!(notices.len(), 1, "one message for both: {notices:?}");
    assert!(notices[0].contains("2 background tasks finished"));
    assert!(notices[0].contains("result 0") && notices[0].contains("result 1"));
    assert!(notices[0].contains(&ids[0]) && notices[0].contains(&ids[1]));
    let stats = c.ok("orchestrator/stats", json!({})).await;
    assert_eq!(stats["ledger"]["pendingNotices"], 0);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_busy_parent_gets_its_notice_when_it_goes_idle() {
    let (mut c, h, _ws) = start(json!({})).await;
    h.hold_busy("ses_user");
    let r = c
        .ok(
            "orchestrator/task/delegate",
            json!({"agent": "researcher", "description": "look", "prompt": "find it", "parentSessionId": "ses_user"}),
        )
        .await;
    let id = r["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(c.get(&id, 10_000).await["status"], "completed");
    // Still busy: the notice waits in the outbox.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(h.prompts_of("ses_user").is_empty());
    let stats = c.ok("orchestrator/stats", json!({})).await;
    assert_eq!(stats["ledger"]["pendingNotices"], 1);
    h.release("ses_user");
    c.events_until(|e| e["type"] == "notice.delivered").await;
    let notices = h.prompts_of("ses_user");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].contains("done: find it"), "{notices:?}");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn finished_child_sessions_are_deleted_after_the_retention_delay() {
    let (mut c, h, _ws) = start(json!({"opencode": {"retentionMinutes": 1}})).await;
    let id = c.delegate("builder", "quick").await;
    assert_eq!(c.get(&id, 10_000).await["status"], "completed");
    assert_eq!(h.sessions(), 1, "kept until the delay has passed");
    // The clean-up timer starts just after the task's end is committed: jump the clock past
    // the delay until it has fired (each jump also covers a timer set up after the last one).
    for _ in 0..200 {
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(61)).await;
        tokio::time::resume();
        tokio::time::sleep(Duration::from_millis(10)).await;
        if h.sessions() == 0 {
            break;
        }
    }
    assert_eq!(h.sessions(), 0);
    // The task and its result are still there.
    assert_eq!(c.get(&id, 0).await["result"], "done: quick");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_delegation_cancelled_mid_request_is_either_not_recorded_or_runs() {
    let (mut c, _h, _ws) = start(json!({})).await;
    // Cancels sent at once after each request land at every point of its handling.
    for i in 0..40 {
        let (id, _reply) = c
            .send_request(
                "orchestrator/task/delegate",
                json!({"agent": "builder", "description": format!("d{i}"), "prompt": format!("p{i}")}),
            )
            .await;
        c.notify("$/cancelRequest", json!({"id": id})).await;
    }
    // Whatever was recorded is queued for real: it finishes; nothing stays `queued`. The
    // admissions of cancelled requests finish on their own after the replies, so the state
    // must hold for a few polls in a row.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut settled = 0;
    while settled < 5 {
        let stats = c.ok("orchestrator/stats", json!({})).await;
        let list = c.ok("orchestrator/task/list", json!({"limit": 100})).await;
        let not_done: Vec<Value> = list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] != "completed")
            .cloned()
            .collect();
        if stats["queued"] == 0 && stats["running"] == 0 && not_done.is_empty() {
            settled += 1;
        } else {
            settled = 0;
            assert!(
                tokio::time::Instant::now() < deadline,
                "tasks left unfinished: {not_done:?} {stats}"
            );
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn with_every_slot_taken_the_server_still_reads_what_frees_one() {
    let (mut c, h, _ws) = start(json!({"transport": {"concurrency": 1}})).await;
    let id = c.delegate("builder", &hold("g", "late")).await;
    // The one slot: a long wait for the task.
    let (long, long_reply) = c
        .send_request(
            "orchestrator/task/get",
            json!({"taskId": id, "waitMs": 60_000}),
        )
        .await;
    // A second request finds no slot; the cancel behind it must still be read.
    let (_, stats_reply) = c.send_request("orchestrator/stats", json!({})).await;
    c.notify("$/cancelRequest", json!({"id": long})).await;
    let reply = tokio::time::timeout(TIMEOUT, long_reply)
        .await
        .expect("the long request was not cancelled")
        .unwrap();
    assert_eq!(reply["error"]["code"], -32800, "{reply}");
    let stats = tokio::time::timeout(TIMEOUT, stats_reply)
        .await
        .expect("the waiting request never got its slot")
        .unwrap();
    assert!(stats.get("result").is_some(), "{stats}");
    h.open_gate("g");
    assert_eq!(c.get(&id, 10_000).await["status"], "completed");
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn a_task_whose_end_cannot_be_recorded_yet_is_recorded_once_the_ledger_takes_it() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let fault = LedgerFault::install(&mut c, "tasks", "NEW.status = 'completed'").await;
    let id = c
        .delegate("builder", &script(json!({"reply": "done"})))
        .await;
    c.wait_event("task.started", &id).await;
    // Past the ~3 s a fixed number of tries would have lasted: still running, still trying.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(c.get(&id, 0).await["status"], "running");
    fault.heal();
    let t = c.get(&id, 15_000).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["result"], "done");
    c.wait_event("task.completed", &id).await;
    assert_eq!(c.shutdown().await.exit_code, 0);
}
