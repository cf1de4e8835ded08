//! Missions over the protocol, with the scripted runtime playing the agents: plans run in
//! dependency waves, verification with fix rounds, continuation on idle, loop breakers,
//! budgets, pausing, cancelling, restarts and bad input.

mod common;

use std::time::Duration;

use common::*;
use opencode_orchestrator::orchestrator::backend::scripted::ScriptedHandle;
use serde_json::{Value, json};

const MAIN: &str = "ses_main";

async fn tool_in(c: &mut Client, session: &str, name: &str, args: Value) -> Value {
    c.ok(
        "orchestrator/tools/call",
        json!({"name": name, "arguments": args, "context": {"sessionId": session}}),
    )
    .await
}

async fn tool_err_in(c: &mut Client, session: &str, name: &str, args: Value) -> RpcError {
    c.err(
        "orchestrator/tools/call",
        json!({"name": name, "arguments": args, "context": {"sessionId": session}}),
    )
    .await
}

async fn mission(c: &mut Client, id: &str) -> Value {
    c.ok("orchestrator/mission/get", json!({"missionId": id}))
        .await
}

/// Polls `mission/get` until `pred` holds (bounded, so a wrong expectation fails instead of hanging).
async fn mission_until(c: &mut Client, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = mission(c, id).await;
        if pred(&m) {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never matched: {m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a mission event of `kind`; returns its data.
async fn wait_for(c: &mut Client, id: &str, kind: &str) -> Value {
    c.events_until(|e| e["type"] == kind && e["data"]["missionId"] == id)
        .await
        .pop()
        .expect("the event")["data"]
        .clone()
}

/// A mission in `MAIN`, whose Commander turn is "in progress" (the session is held busy).
async fn start_mission(config: Value) -> (Client, ScriptedHandle, Workspace, String) {
    start_mission_with(config, json!({})).await
}

/// `start_mission` with more `mission/start` params (budgets).
async fn start_mission_with(
    config: Value,
    extra: Value,
) -> (Client, ScriptedHandle, Workspace, String) {
    let (mut c, h, ws) = start(config).await;
    h.add_session(MAIN);
    h.hold_busy(MAIN);
    let mut params = json!({"goal": "Add dark mode to the app", "sessionId": MAIN});
    if let (Some(p), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    let r = c.ok("orchestrator/mission/start", params).await;
    let id = r["mission"]["missionId"].as_str().unwrap().to_string();
    assert_eq!(r["mission"]["status"], "active");
    (c, h, ws, id)
}

/// Triages the mission in `session` as L2 and applies the plan `edits` (`{"edits": [...]}`).
async fn plan_l2(c: &mut Client, session: &str, edits: Value) {
    tool_in(
        c,
        session,
        "mission_triage",
        json!({"level": "L2", "reason": "x"}),
    )
    .await;
    tool_in(c, session, "plan_edit", edits).await;
}

fn item(id: &str, agent: &str, deps: &[&str], script: Value) -> Value {
    json!({"op": "add", "id": id, "title": format!("Do {id}"), "agent": agent,
           "dependsOn": deps, "description": json!({"script": script}).to_string()})
}

async fn task(c: &mut Client, id: &str) -> Value {
    c.ok("orchestrator/task/get", json!({"taskId": id})).await["task"].clone()
}

fn fast() -> Value {
    json!({"missions": {"continueDelayMs": 0}})
}

#[tokio::test]
async fn an_l2_plan_runs_in_dependency_waves_and_completes_when_the_inspector_passes() {
    let (mut c, h, ws, id) = start_mission(fast()).await;
    tool_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L2", "reason": "three parts"}),
    )
    .await;
    let plan = tool_in(
        &mut c,
        MAIN,
        "plan_edit",
        json!({"edits": [
            item("css", "builder", &[], json!({"delayMs": 300, "reply": "theme variables added\nFiles changed: theme.css"})),
            item("toggle", "builder", &[], json!({"delayMs": 300, "reply": "toggle added"})),
            item("docs", "recorder", &["css", "toggle"], json!({"delayMs": 20, "reply": "documented"})),
        ]}),
    )
    .await;
    assert!(
        plan["output"].as_str().unwrap().contains("revision 1"),
        "{plan}"
    );
    h.default_script(
        "inspector",
        json!({"reply": "Built and tested.\nVERDICT: PASS"}),
    );
    let d = tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    assert_eq!(d["metadata"]["started"].as_array().unwrap().len(), 2, "{d}");
    h.release(MAIN); // the Commander's turn ends

    let done = wait_for(&mut c, &id, "mission.completed").await;
    assert_eq!(done["round"], 1);
    let m = mission(&mut c, &id).await;
    let mm = &m["mission"];
    assert_eq!(mm["status"], "completed");
    assert_eq!(mm["level"], "L2");
    assert_eq!(mm["progress"]["done"], 3);
    assert_eq!(mm["waves"], json!([["css", "toggle"], ["docs"]]));
    assert_eq!(mm["rounds"][0]["verdict"], "pass");

    // The waves, from the tasks' own times: css and toggle overlapped; docs waited for both.
    let item_task = |name: &str| {
        mm["plan"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == name)
            .unwrap()["taskId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let css = task(&mut c, &item_task("css")).await;
    let toggle = task(&mut c, &item_task("toggle")).await;
    let docs = task(&mut c, &item_task("docs")).await;
    let t = |v: &Value, k: &str| v[k].as_u64().unwrap();
    assert!(t(&css, "startedAt") < t(&toggle, "finishedAt"));
    assert!(t(&toggle, "startedAt") < t(&css, "finishedAt"));
    assert!(t(&docs, "startedAt") >= t(&css, "finishedAt").max(t(&toggle, "finishedAt")));
    assert_eq!(css["missionId"], id.as_str());
    assert_eq!(css["planItem"], "css");

    // Context: what each task reported, files included; the dependent got its inputs.
    let ctx = mm["context"].as_array().unwrap();
    assert_eq!(ctx.len(), 4, "{ctx:?}");
    let css_ctx = ctx.iter().find(|e| e["itemId"] == "css").unwrap();
    assert_eq!(css_ctx["filesChanged"], json!(["theme.css"]));
    let docs_prompt = docs["prompt"].as_str().unwrap();
    assert!(
        docs_prompt.contains("theme variables added"),
        "{docs_prompt}"
    );
    assert!(docs_prompt.contains("files: theme.css"), "{docs_prompt}");

    // The session heard it is done, once; todo.md shows the plan.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !h.prompts_of(MAIN).iter().any(|p| p.contains("is complete")) {
        assert!(tokio::time::Instant::now() < deadline, "never told");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // room for a wrong second one
    let prompts = h.prompts_of(MAIN);
    assert_eq!(
        prompts.iter().filter(|p| p.contains("is complete")).count(),
        1,
        "{prompts:?}"
    );
    assert!(
        !prompts.iter().any(|p| p.contains("is not complete")),
        "{prompts:?}"
    );
    let todo = std::fs::read_to_string(ws.root().join(".opencode/todo.md")).unwrap();
    assert!(todo.contains("Add dark mode"), "{todo}");
    assert!(todo.contains("[x]"), "{todo}");

    // The journal tells the story.
    let kinds: Vec<&str> = m["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "started", "triage", "plan", "dispatch", "item", "verify", "verdict",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn an_inspector_fail_becomes_fix_items_then_a_pass() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    tool_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L2", "reason": "small"}),
    )
    .await;
    tool_in(
        &mut c,
        MAIN,
        "plan_edit",
        json!({"edits": [item("impl", "builder", &[], json!({"reply": "implemented"}))]}),
    )
    .await;
    // Round 1: the Inspector waits at a gate; the test plays its verdict tool call.
    h.script_agent(
        "inspector",
        json!({"gate": "round1", "reply": "see verdict"}),
    );
    h.default_script(
        "inspector",
        json!({"reply": "Tests pass now.\nVERDICT: PASS"}),
    );
    tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    h.release(MAIN);

    let verifying = wait_for(&mut c, &id, "mission.verifying").await;
    let inspector = task(&mut c, verifying["taskId"].as_str().unwrap()).await;
    let inspector_session = loop {
        let t = task(&mut c, inspector["id"].as_str().unwrap()).await;
        if let Some(s) = t["sessionId"].as_str() {
            break s.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Only the Inspector of the round may judge.
    let err = tool_err_in(
        &mut c,
        MAIN,
        "mission_verdict",
        json!({"verdict": "pass", "evidence": "trust me"}),
    )
    .await;
    assert_eq!(err.code, -32018, "{err:?}");
    tool_in(
        &mut c,
        &inspector_session,
        "mission_verdict",
        json!({"verdict": "fail", "evidence": "cargo test: 1 failed (dark_mode_toggle)",
               "fixes": [{"title": "Fix the toggle test", "description": "the test expects a class", "agent": "Builder"}]}),
    )
    .await;
    let verdict = wait_for(&mut c, &id, "mission.verdict").await;
    assert_eq!(verdict["fixItems"], json!(["fix-1.1"]));
    h.open_gate("round1");

    let done = wait_for(&mut c, &id, "mission.completed").await;
    assert_eq!(done["round"], 2);
    let m = mission(&mut c, &id).await;
    let rounds = m["mission"]["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0]["verdict"], "fail");
    assert_eq!(rounds[0]["fixItems"], json!(["fix-1.1"]));
    assert_eq!(rounds[1]["verdict"], "pass");
    let fix = m["mission"]["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "fix-1.1")
        .unwrap()
        .clone();
    assert_eq!(fix["status"], "done");
    assert_eq!(fix["agent"], "builder");
    let fix_task = task(&mut c, fix["taskId"].as_str().unwrap()).await;
    assert!(
        fix_task["prompt"]
            .as_str()
            .unwrap()
            .contains("cargo test: 1 failed")
    );
}

#[tokio::test]
async fn an_l1_mission_is_verified_when_the_commander_says_it_is_done() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    tool_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L1", "reason": "one line"}),
    )
    .await;
    // Saying "MISSION COMPLETE" is not enough: the mission waits for the Inspector.
    h.default_script(
        "inspector",
        json!({"gate": "verified", "reply": "VERDICT: PASS"}),
    );
    let r = tool_in(
        &mut c,
        MAIN,
        "mission_complete",
        json!({"summary": "changed one line"}),
    )
    .await;
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("Inspector is verifying")
    );
    let again = tool_err_in(
        &mut c,
        MAIN,
        "mission_complete",
        json!({"summary": "again"}),
    )
    .await;
    assert!(again.message.contains("already running"), "{again:?}");
    h.open_gate("verified");
    h.release(MAIN);
    wait_for(&mut c, &id, "mission.completed").await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["status"], "completed");
    assert_eq!(m["mission"]["tasks"], 1);

    // The `missions` command reads the same ledger while the server runs.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencode-orchestrator"))
            .arg("missions")
            .arg("--workspace")
            .arg(_ws.root())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, _) = cli(&["--json"]);
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["missions"][0]["missionId"], id.as_str());
    assert_eq!(listed["missions"][0]["status"], "completed");
    let (code, out, _) = cli(&[&id]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("completed") && out.contains("Journal:"),
        "{out}"
    );
    let (code, _, err) = cli(&["msn_nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no mission `msn_nope`"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencode-orchestrator"))
        .args(["missions", "--workspace"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ledger here yet"));
}

#[tokio::test]
async fn a_stalling_commander_is_stopped_by_the_stagnation_breaker() {
    let (mut c, h, _ws, id) =
        start_mission(json!({"missions": {"continueDelayMs": 0, "stagnationLimit": 2}})).await;
    h.release(MAIN); // idle with nothing done: the mission is continued
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    let reason = stopped["reason"].as_str().unwrap();
    assert!(
        reason.contains("no progress in the last 2 continuations"),
        "{reason}"
    );
    let continuations: Vec<String> = h
        .prompts_of(MAIN)
        .into_iter()
        .filter(|p| p.contains("is not complete"))
        .collect();
    assert_eq!(continuations.len(), 2, "{continuations:?}");
    assert!(continuations[0].contains("continuation 1 of 30"));
    assert!(continuations[0].contains("Next: triage the mission"));
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["status"], "stopped");
    assert_eq!(m["mission"]["reason"], reason);

    // Resumed: the breakers start over, and it is continued again.
    let r = c
        .ok("orchestrator/mission/resume", json!({"sessionId": MAIN}))
        .await;
    assert_eq!(r["mission"]["status"], "active");
    wait_for(&mut c, &id, "mission.stopped").await;
    let continuations = h
        .prompts_of(MAIN)
        .iter()
        .filter(|p| p.contains("is not complete"))
        .count();
    assert_eq!(continuations, 4);
}

#[tokio::test]
async fn the_same_reply_again_and_again_stops_the_mission() {
    let (mut c, h, _ws, id) = start_mission(json!({"missions": {
        "continueDelayMs": 0, "stagnationLimit": 50, "repeatLimit": 3}}))
    .await;
    h.default_script("commander", json!({"reply": "Let me think about it."}));
    h.release(MAIN);
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    assert!(
        stopped["reason"]
            .as_str()
            .unwrap()
            .contains("the same reply 3 times"),
        "{stopped}"
    );
}

#[tokio::test]
async fn the_same_tool_call_again_and_again_stops_the_mission() {
    let (mut c, _h, _ws, id) = start_mission(json!({"missions": {"repeatLimit": 3}})).await;
    tool_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L2", "reason": "x"}),
    )
    .await;
    for _ in 0..2 {
        // Reading tools never count.
        tool_in(&mut c, MAIN, "plan_get", json!({})).await;
        tool_in(&mut c, MAIN, "plan_get", json!({})).await;
        tool_in(&mut c, MAIN, "glob_search", json!({"patterns": ["*.rs"]})).await;
    }
    tool_in(&mut c, MAIN, "glob_search", json!({"patterns": ["*.rs"]})).await;
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    assert!(
        stopped["reason"]
            .as_str()
            .unwrap()
            .contains("the same tool call 3 times"),
        "{stopped}"
    );
}

#[tokio::test]
async fn a_task_budget_stops_the_mission_its_started_tasks_finish_and_resume_goes_on() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    c.ok("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    // A mission with its own budget, in a fresh session.
    h.add_session("ses_budget");
    h.hold_busy("ses_budget");
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Three things", "sessionId": "ses_budget", "budgets": {"maxTasks": 2}}),
        )
        .await;
    let id = r["mission"]["missionId"].as_str().unwrap().to_string();
    tool_in(
        &mut c,
        "ses_budget",
        "mission_triage",
        json!({"level": "L2", "reason": "x"}),
    )
    .await;
    tool_in(
        &mut c,
        "ses_budget",
        "plan_edit",
        json!({"edits": [
            item("a", "builder", &[], json!({"gate": "g"})),
            item("b", "builder", &[], json!({"gate": "g"})),
            item("c", "builder", &[], json!({"gate": "g"})),
        ]}),
    )
    .await;
    tool_in(&mut c, "ses_budget", "plan_dispatch", json!({})).await;
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    assert!(
        stopped["reason"]
            .as_str()
            .unwrap()
            .contains("2 tasks (maxTasks)"),
        "{stopped}"
    );
    // The tasks it started are within the budget: they run on, and their results count.
    let m = mission(&mut c, &id).await;
    let task_ids: Vec<String> = m["mission"]["taskIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(task_ids.len(), 2);
    for t in &task_ids {
        assert_eq!(task(&mut c, t).await["status"], "running");
    }
    // Dispatching more is refused while it is stopped.
    let err = tool_err_in(&mut c, "ses_budget", "plan_dispatch", json!({})).await;
    assert_eq!(err.code, -32018);
    assert!(err.message.contains("resume it first"), "{err:?}");

    h.open_gate("g");
    for t in &task_ids {
        c.wait_event("task.completed", t).await;
    }
    // The engine hears of the endings from the bus, after the events: poll for them.
    let m = mission_until(&mut c, &id, |m| m["mission"]["progress"]["done"] == 2).await;
    assert_eq!(m["mission"]["status"], "stopped");
    // Resumed with a larger budget: the rest runs.
    h.default_script("inspector", json!({"reply": "VERDICT: PASS"}));
    c.ok(
        "orchestrator/mission/resume",
        json!({"missionId": id, "budgets": {"maxTasks": 10}}),
    )
    .await;
    h.release("ses_budget");
    wait_for(&mut c, &id, "mission.completed").await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["progress"]["done"], 3);
    assert_eq!(m["mission"]["tasks"], 4, "3 items and 1 verification");
}

#[tokio::test]
async fn token_budgets_count_every_task_and_the_session() {
    let (mut c, h, _ws) = start(fast()).await;
    h.add_session("ses_tokens");
    h.hold_busy("ses_tokens");
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Spend", "sessionId": "ses_tokens", "budgets": {"maxTokens": 1000}}),
        )
        .await;
    let id = r["mission"]["missionId"].as_str().unwrap().to_string();
    tool_in(
        &mut c,
        "ses_tokens",
        "mission_triage",
        json!({"level": "L2", "reason": "x"}),
    )
    .await;
    let usage = json!({"inputTokens": 400, "outputTokens": 200, "reasoningTokens": 0, "cost": 0.5});
    tool_in(
        &mut c,
        "ses_tokens",
        "plan_edit",
        json!({"edits": [
            item("a", "builder", &[], json!({"reply": "a", "usage": usage})),
            item("b", "builder", &["a"], json!({"reply": "b", "usage": usage})),
            item("c", "builder", &["b"], json!({"reply": "c", "usage": usage})),
        ]}),
    )
    .await;
    tool_in(&mut c, "ses_tokens", "plan_dispatch", json!({})).await;
    h.release("ses_tokens");
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    assert!(
        stopped["reason"].as_str().unwrap().contains("1200 tokens"),
        "{stopped}"
    );
    let m = mission(&mut c, &id).await;
    let mm = &m["mission"];
    assert_eq!(mm["spend"]["tokens"], 1200);
    assert_eq!(mm["spend"]["cost"], 1.0);
    assert_eq!(mm["taskSpend"].as_array().unwrap().len(), 2);
    assert_eq!(mm["taskSpend"][0]["inputTokens"], 400);
    assert_eq!(mm["progress"]["done"], 2, "c never started");
}

#[tokio::test]
async fn the_user_writing_or_interrupting_pauses_the_mission() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    h.user_message(MAIN, "[opencode-orchestrator] ours: ignored");
    h.user_message(MAIN, "wait, use blue instead");
    let paused = wait_for(&mut c, &id, "mission.paused").await;
    assert!(
        paused["reason"]
            .as_str()
            .unwrap()
            .contains("the user wrote"),
        "{paused}"
    );
    h.release(MAIN);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !h.prompts_of(MAIN)
            .iter()
            .any(|p| p.contains("is not complete")),
        "a paused mission is never continued"
    );
    // The Commander works on the continuation until it is interrupted.
    h.default_script("commander", json!({"gate": "never"}));
    c.ok("orchestrator/mission/resume", json!({"missionId": id}))
        .await;
    wait_for(&mut c, &id, "mission.continued").await;
    // Interrupted (Esc) while the Commander works.
    h.interrupt(MAIN);
    let paused = wait_for(&mut c, &id, "mission.paused").await;
    assert!(
        paused["reason"].as_str().unwrap().contains("interrupted"),
        "{paused}"
    );
}

#[tokio::test]
async fn cancelling_a_mission_cancels_its_running_tasks() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    plan_l2(
        &mut c,
        MAIN,
        json!({"edits": [
            item("a", "builder", &[], json!({"hang": true})),
            item("b", "builder", &["a"], json!({})),
        ]}),
    )
    .await;
    let d = tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    let running = d["metadata"]["started"][0]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .ok("orchestrator/mission/cancel", json!({"sessionId": MAIN}))
        .await;
    assert_eq!(r["cancelled"], true);
    assert_eq!(r["cancelledTasks"], json!([running]));
    c.wait_event("task.cancelled", &running).await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["status"], "cancelled");
    assert_eq!(m["mission"]["reason"], "cancelled by the user");
    let err = tool_err_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    assert_eq!(err.code, -32018);
    assert!(err.message.contains("cancelled"));
    // Cancelling again changes nothing; a new mission may start in the session.
    let again = c
        .ok("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    assert_eq!(again["cancelled"], false);
    h.release(MAIN);
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Another", "sessionId": MAIN}),
        )
        .await;
    assert_ne!(r["mission"]["missionId"], id.as_str());
    let list = c.ok("orchestrator/mission/list", json!({})).await;
    assert_eq!(list["missions"].as_array().unwrap().len(), 2);
    let list = c
        .ok(
            "orchestrator/mission/list",
            json!({"status": ["cancelled"]}),
        )
        .await;
    assert_eq!(list["missions"][0]["missionId"], id.as_str());
}

#[tokio::test]
async fn a_restarted_server_resumes_the_mission() {
    let ws = Workspace::new();
    let config = fast();
    let id =
        {
            let (source, h) = scripted();
            let mut c = connect(source);
            c.initialize(&ws.root(), config.clone()).await;
            h.add_session(MAIN);
            h.hold_busy(MAIN);
            let r = c
                .ok(
                    "orchestrator/mission/start",
                    json!({"goal": "Survive a restart", "sessionId": MAIN}),
                )
                .await;
            let id = r["mission"]["missionId"].as_str().unwrap().to_string();
            plan_l2(&mut c, MAIN, json!({"edits": [
                item("first", "builder", &[], json!({"reply": "first done"})),
                item("slow", "builder", &["first"], json!({"gate": "slow", "reply": "slow done"})),
                item("last", "builder", &["slow"], json!({"reply": "last done"})),
            ]})).await;
            tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
            c.events_until(|e| e["type"] == "task.started" && e["data"]["planItem"] == "slow")
                .await;
            c.shutdown().await;
            id
        };
    // A new process: the sessions of the old runtime are gone, so the running item is
    // interrupted, and retried on its own.
    let (source, h) = scripted();
    let mut c = connect(source);
    h.add_session(MAIN);
    h.default_script("inspector", json!({"reply": "VERDICT: PASS"}));
    h.open_gate("slow");
    c.initialize(&ws.root(), config).await;
    wait_for(&mut c, &id, "mission.completed").await;
    let m = mission(&mut c, &id).await;
    let slow = m["mission"]["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "slow")
        .unwrap()
        .clone();
    assert_eq!(slow["status"], "done");
    assert_eq!(slow["attempts"], 2);
    let kinds: Vec<&str> = m["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"retry"), "{kinds:?}");
}

#[tokio::test]
async fn bad_mission_input_gets_clear_errors() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    for (method, params, code, needle) in [
        (
            "orchestrator/mission/start",
            json!({"goal": "  "}),
            -32602,
            "goal",
        ),
        ("orchestrator/mission/start", json!({}), -32602, "goal"),
        (
            "orchestrator/mission/start",
            json!({"goal": "x", "sessionId": MAIN}),
            -32018,
            "already runs mission",
        ),
        (
            "orchestrator/mission/start",
            json!({"goal": "x", "budgets": {"maxTasks": 0}}),
            -32602,
            "maxTasks",
        ),
        (
            "orchestrator/mission/start",
            json!({"goal": "x", "bogus": 1}),
            -32602,
            "bogus",
        ),
        (
            "orchestrator/mission/get",
            json!({"missionId": "msn_nope"}),
            -32017,
            "no mission",
        ),
        (
            "orchestrator/mission/get",
            json!({"missionId": id, "sessionId": MAIN}),
            -32602,
            "exactly one",
        ),
        ("orchestrator/mission/get", json!({}), -32602, "exactly one"),
        (
            "orchestrator/mission/cancel",
            json!({"sessionId": "ses_none"}),
            -32017,
            "runs no mission",
        ),
        (
            "orchestrator/mission/resume",
            json!({"missionId": id}),
            -32018,
            "already active",
        ),
        (
            "orchestrator/mission/list",
            json!({"status": ["done"]}),
            -32602,
            "unknown status",
        ),
    ] {
        let err = c.err(method, params.clone()).await;
        assert_eq!(err.code, code, "{method} {params}: {err:?}");
        assert!(
            err.message.contains(needle),
            "{method} {params}: {}",
            err.message
        );
    }
    // Plan errors are the plan's own, and leave the plan as it was.
    tool_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L3", "reason": "big"}),
    )
    .await;
    let err = tool_err_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    assert!(err.message.contains("no plan yet"), "{err:?}");
    for (edits, needle) in [
        (
            json!([
                item("a", "builder", &["b"], json!({})),
                item("b", "builder", &["a"], json!({}))
            ]),
            "cycle",
        ),
        (
            json!([item("a", "builder", &["ghost"], json!({}))]),
            "ghost",
        ),
        (
            json!([
            {"op": "add", "id": "t", "title": "T"},
            {"op": "add", "id": "s", "title": "S", "parent": "t"},
            {"op": "add", "id": "x", "title": "X", "parent": "s", "agent": "builder"}]),
            "4th level",
        ),
        (json!([item("a", "wizard", &[], json!({}))]), "wizard"),
        (json!([{"op": "add", "id": "a"}]), "title"),
    ] {
        let err = tool_err_in(&mut c, MAIN, "plan_edit", json!({"edits": edits})).await;
        assert_eq!(err.code, -32602, "{edits}: {err:?}");
        assert!(err.message.contains(needle), "{needle}: {}", err.message);
    }
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["plan"]["items"], json!([]));
    // Tools from a session that is in no mission.
    h.add_session("ses_stranger");
    let err = tool_err_in(&mut c, "ses_stranger", "plan_get", json!({})).await;
    assert_eq!(err.code, -32017);
    assert!(err.message.contains("not part of a mission"), "{err:?}");
    let err = tool_err_in(&mut c, MAIN, "task_report", json!({"summary": "x"})).await;
    assert!(err.message.contains("mission's task"), "{err:?}");
    let err = tool_err_in(
        &mut c,
        MAIN,
        "mission_triage",
        json!({"level": "L4", "reason": "x"}),
    )
    .await;
    assert_eq!(err.code, -32602);
}

#[tokio::test]
async fn a_client_with_work_done_progress_sees_a_progress_bar_per_mission() {
    let ws = Workspace::new();
    let (source, h) = scripted();
    let mut c = connect(source);
    c.ok(
        "initialize",
        json!({"capabilities": {"window": {"workDoneProgress": true}},
               "initializationOptions": {"workspaceRoot": ws.root(), "config": fast()}}),
    )
    .await;
    c.notify("initialized", json!({})).await;
    h.add_session(MAIN);
    h.hold_busy(MAIN);
    h.default_script("inspector", json!({"reply": "VERDICT: PASS"}));
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Show progress", "sessionId": MAIN}),
        )
        .await;
    let id = r["mission"]["missionId"].as_str().unwrap().to_string();
    let token = format!("mission/{id}");
    plan_l2(
        &mut c,
        MAIN,
        json!({"edits": [
            item("a", "builder", &[], json!({"reply": "a"})),
            item("b", "builder", &["a"], json!({"reply": "b"})),
        ]}),
    )
    .await;
    tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    h.release(MAIN);

    let mut created = false;
    let mut values: Vec<Value> = Vec::new();
    loop {
        let msg = c.next_message().await;
        if msg["method"] == "window/workDoneProgress/create" {
            assert_eq!(msg["params"]["token"], token.as_str());
            created = true;
            let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": null});
            c.send_raw(&frame(&reply.to_string())).await;
        } else if msg["method"] == "$/progress" {
            assert_eq!(msg["params"]["token"], token.as_str());
            let value = msg["params"]["value"].clone();
            let end = value["kind"] == "end";
            values.push(value);
            if end {
                break;
            }
        }
    }
    assert!(created, "the token was created before use");
    assert_eq!(values[0]["kind"], "begin");
    assert_eq!(values[0]["title"], "Mission: Show progress");
    assert!(
        values
            .iter()
            .skip(1)
            .rev()
            .skip(1)
            .all(|v| v["kind"] == "report")
    );
    let percentages: Vec<u64> = values
        .iter()
        .filter_map(|v| v["percentage"].as_u64())
        .collect();
    assert!(
        percentages.windows(2).all(|w| w[0] <= w[1]),
        "{percentages:?}"
    );
    assert!(percentages.contains(&50), "{percentages:?}");
    assert!(
        values
            .iter()
            .any(|v| v["message"].as_str().unwrap_or("").contains("verifying")),
        "{values:?}"
    );
    let end = values.last().unwrap();
    assert_eq!(end["message"], "complete: verified by the Inspector");
}

#[tokio::test]
async fn work_the_commander_delegated_itself_defers_the_continuation() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    let task_id = delegate_in(
        &mut c,
        MAIN,
        json!({"gate": "research", "reply": "found it"}),
    )
    .await;
    h.release(MAIN);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.prompts_of(MAIN).is_empty(),
        "not continued while its own task runs: {:?}",
        h.prompts_of(MAIN)
    );
    h.open_gate("research");
    c.wait_event("task.completed", &task_id).await;
    // The result wakes the session first; the continuation comes after that turn.
    wait_for(&mut c, &id, "mission.continued").await;
    let prompts = h.prompts_of(MAIN);
    assert!(prompts[0].contains("background task"), "{prompts:?}");
    assert!(prompts[0].contains("found it"), "{prompts:?}");
    assert!(prompts[1].contains("is not complete"), "{prompts:?}");
}

/// The Commander's own `delegate_task` call, as a background task; returns the task id.
async fn delegate_in(c: &mut Client, session: &str, script: Value) -> String {
    let prompt = json!({ "script": script }).to_string();
    let r = tool_in(
        c,
        session,
        "delegate_task",
        json!({"agent": "researcher", "description": "look around", "prompt": prompt}),
    )
    .await;
    r["metadata"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn work_the_commander_delegates_itself_belongs_to_the_mission_and_stops_with_it() {
    let (mut c, _h, ws, id) = start_mission(fast()).await;
    let helper = delegate_in(&mut c, MAIN, json!({"hang": true})).await;
    c.wait_event("task.started", &helper).await;
    let m = mission_until(&mut c, &id, |m| m["mission"]["delegatedTasks"] == 1).await;
    let d = &m["mission"]["delegated"][0];
    assert_eq!(d["taskId"], helper.as_str());
    assert_eq!(d["agent"], "researcher");
    assert_eq!(d["running"], true);
    assert!(
        m["journal"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "delegated" && e["text"] == "researcher: look around"),
        "{m}"
    );

    // Cancelling the mission cancels it too, and says so.
    let r = c
        .ok("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    assert_eq!(r["cancelledTasks"], json!([helper]));
    c.wait_event("task.cancelled", &helper).await;
    mission_until(&mut c, &id, |m| {
        m["mission"]["delegated"][0]["running"] == false
    })
    .await;
    assert_eq!(c.shutdown().await.exit_code, 0);

    // The mission remembers it across a restart.
    let (source, _h) = scripted();
    let mut c = connect(source);
    c.initialize(&ws.root(), fast()).await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["delegated"][0]["taskId"], helper.as_str());
    assert_eq!(m["mission"]["delegated"][0]["running"], false);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn delegations_count_towards_the_task_budget_and_the_spend() {
    let (mut c, h, _ws, id) = start_mission_with(fast(), json!({"budgets": {"maxTasks": 1}})).await;
    let usage = json!({"inputTokens": 30, "outputTokens": 12, "reasoningTokens": 0, "cost": 0.25});
    let first = delegate_in(
        &mut c,
        MAIN,
        json!({"gate": "first", "reply": "found", "usage": usage}),
    )
    .await;
    c.wait_event("task.started", &first).await;
    // One more than the budget: the mission stops and that task is cancelled; the first,
    // within the budget, runs on and its spend counts.
    let second = delegate_in(&mut c, MAIN, json!({"hang": true})).await;
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    assert!(
        stopped["reason"].as_str().unwrap().contains("maxTasks"),
        "{stopped}"
    );
    c.wait_event("task.cancelled", &second).await;
    assert_eq!(task(&mut c, &first).await["status"], "running");
    h.open_gate("first");
    c.wait_event("task.completed", &first).await;
    let m = mission_until(&mut c, &id, |m| m["mission"]["spend"]["tokens"] == 42).await;
    assert_eq!(m["mission"]["spend"]["cost"], 0.25);
    assert_eq!(m["mission"]["delegatedTasks"], 2);
    assert_eq!(m["mission"]["status"], "stopped");

    // Once the mission is not active, the session's delegations are the user's own.
    let later = delegate_in(&mut c, MAIN, json!({"reply": "mine"})).await;
    c.wait_event("task.completed", &later).await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["delegatedTasks"], 2);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

/// Triage L2 and a one-item plan in `MAIN`, dispatched; the Commander's turn ends.
async fn one_item_dispatched(c: &mut Client, h: &ScriptedHandle) {
    plan_l2(
        c,
        MAIN,
        json!({"edits": [item("impl", "builder", &[], json!({"reply": "implemented"}))]}),
    )
    .await;
    tool_in(c, MAIN, "plan_dispatch", json!({})).await;
    h.release(MAIN);
}

#[tokio::test]
async fn cancelling_during_verification_is_no_verdict() {
    let (mut c, h, _ws, id) = start_mission(fast()).await;
    h.script_agent("inspector", json!({"hang": true}));
    one_item_dispatched(&mut c, &h).await;
    let verifying = wait_for(&mut c, &id, "mission.verifying").await;
    let inspector = verifying["taskId"].as_str().unwrap().to_string();
    // (Its `task.started` may have come before `mission.verifying`: ask for its status.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while task(&mut c, &inspector).await["status"] != "running" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Inspector never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = c
        .ok("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    assert_eq!(r["cancelledTasks"], json!([inspector]));
    // Once the engine has the Inspector's ending, the round is still without a verdict and
    // the plan without fix items.
    let m = mission_until(&mut c, &id, |m| {
        m["mission"]["context"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["taskId"] == inspector.as_str())
    })
    .await;
    let mm = &m["mission"];
    assert_eq!(mm["status"], "cancelled");
    assert_eq!(mm["rounds"][0].get("verdict"), None, "{mm}");
    assert!(
        mm["rounds"][0]["abandoned"]
            .as_str()
            .unwrap()
            .contains("cancelled by the user"),
        "{mm}"
    );
    assert_eq!(
        mm["plan"]["items"].as_array().unwrap().len(),
        1,
        "no fix items"
    );
    let kinds: Vec<&str> = m["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"verdict"), "{kinds:?}");
}

#[tokio::test]
async fn resuming_after_the_verification_rounds_ran_out_verifies_again() {
    let config = json!({"missions": {"continueDelayMs": 0, "maxVerifyRounds": 1}});
    let (mut c, h, _ws, id) = start_mission(config).await;
    h.script_agent(
        "inspector",
        json!({"reply": "The toggle test fails.\nVERDICT: FAIL"}),
    );
    h.default_script("inspector", json!({"reply": "VERDICT: PASS"}));
    one_item_dispatched(&mut c, &h).await;
    // Round 1 fails, its fix is done, and a second round is one more than allowed.
    let stopped = wait_for(&mut c, &id, "mission.stopped").await;
    let reason = stopped["reason"].as_str().unwrap();
    assert!(reason.contains("maxVerifyRounds"), "{reason}");
    assert!(reason.contains("toggle test fails"), "{reason}");
    c.ok("orchestrator/mission/resume", json!({"missionId": id}))
        .await;
    let done = wait_for(&mut c, &id, "mission.completed").await;
    assert_eq!(done["round"], 2);
}

#[tokio::test]
async fn a_task_delegated_before_the_mission_stays_the_users() {
    let (mut c, h, _ws) = start(fast()).await;
    h.add_session(MAIN);
    h.hold_busy(MAIN);
    let usage = json!({"inputTokens": 500, "outputTokens": 0, "reasoningTokens": 0, "cost": 1.0});
    let early = delegate_in(&mut c, MAIN, json!({"gate": "early", "usage": usage})).await;
    c.wait_event("task.started", &early).await;
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Later", "sessionId": MAIN}),
        )
        .await;
    let id = r["mission"]["missionId"].as_str().unwrap().to_string();
    h.open_gate("early");
    c.wait_event("task.completed", &early).await;
    // One delegated now is the mission's; the engine has seen the early one's ending by then.
    let now = delegate_in(&mut c, MAIN, json!({"reply": "mine"})).await;
    let m = mission_until(&mut c, &id, |m| m["mission"]["delegatedTasks"] == 1).await;
    assert_eq!(m["mission"]["delegated"][0]["taskId"], now.as_str());
    assert_eq!(m["mission"]["spend"]["tokens"], 0);
}

#[tokio::test]
async fn todo_md_shows_every_open_missions_plan() {
    let (mut c, h, ws, first) = start_mission(fast()).await;
    plan_l2(
        &mut c,
        MAIN,
        json!({"edits": [item("first-item", "builder", &[], json!({"hang": true}))]}),
    )
    .await;
    h.add_session("ses_second");
    h.hold_busy("ses_second");
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Second goal", "sessionId": "ses_second"}),
        )
        .await;
    let second = r["mission"]["missionId"].as_str().unwrap().to_string();
    tool_in(
        &mut c,
        "ses_second",
        "mission_triage",
        json!({"level": "L2", "reason": "x"}),
    )
    .await;
    tool_in(
        &mut c,
        "ses_second",
        "plan_edit",
        json!({"edits": [item("second-item", "builder", &[], json!({"hang": true}))]}),
    )
    .await;
    let todo = || std::fs::read_to_string(ws.root().join(".opencode/todo.md")).unwrap();
    let both = todo();
    assert!(
        both.contains("first-item") && both.contains("second-item"),
        "{both}"
    );
    // The newest first.
    assert!(
        both.find("Second goal") < both.find("Add dark mode"),
        "{both}"
    );

    c.ok("orchestrator/mission/cancel", json!({"missionId": second}))
        .await;
    let one = todo();
    assert!(
        one.contains("first-item") && !one.contains("second-item"),
        "{one}"
    );
    c.ok("orchestrator/mission/cancel", json!({"missionId": first}))
        .await;
    // None open: the newest finished one's last state.
    let last = todo();
    assert!(
        last.contains("second-item") && !last.contains("first-item"),
        "{last}"
    );
}

#[tokio::test]
async fn resuming_a_mission_is_refused_while_another_runs_in_its_session() {
    let (mut c, h, _ws, first) =
        start_mission_with(fast(), json!({"budgets": {"maxTasks": 1}})).await;
    plan_l2(
        &mut c,
        MAIN,
        json!({"edits": [
            item("a", "builder", &[], json!({})),
            item("b", "builder", &["a"], json!({})),
        ]}),
    )
    .await;
    tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    wait_for(&mut c, &first, "mission.stopped").await;
    let r = c
        .ok(
            "orchestrator/mission/start",
            json!({"goal": "Something else", "sessionId": MAIN}),
        )
        .await;
    let second = r["mission"]["missionId"].as_str().unwrap().to_string();
    let e = c
        .err("orchestrator/mission/resume", json!({"missionId": first}))
        .await;
    assert_eq!(e.code, -32018);
    assert!(e.message.contains(&second), "{}", e.message);
    // Once that one is over, the first resumes, and the session is its own again.
    c.ok("orchestrator/mission/cancel", json!({"missionId": second}))
        .await;
    c.ok(
        "orchestrator/mission/resume",
        json!({"missionId": first, "budgets": {"maxTasks": 10}}),
    )
    .await;
    let m = c
        .ok("orchestrator/mission/get", json!({"sessionId": MAIN}))
        .await;
    assert_eq!(m["mission"]["missionId"], first.as_str());
    h.release(MAIN);
}

#[tokio::test]
async fn a_cancel_that_cannot_be_recorded_changes_nothing_and_can_be_tried_again() {
    let (mut c, _h, _ws, id) = start_mission(fast()).await;
    plan_l2(
        &mut c,
        MAIN,
        json!({"edits": [item("a", "builder", &[], json!({"hang": true}))]}),
    )
    .await;
    let d = tool_in(&mut c, MAIN, "plan_dispatch", json!({})).await;
    let running = d["metadata"]["started"][0]["taskId"]
        .as_str()
        .unwrap()
        .to_string();

    let fault = LedgerFault::install(&mut c, "missions", "NEW.status <> 'active'").await;
    let err = c
        .err("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    assert!(
        err.message.contains("could not be cancelled") && err.message.contains("try again"),
        "{err:?}"
    );
    // Memory did not run ahead of the ledger: still active, its task still running.
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["status"], "active", "{m}");
    assert_eq!(task(&mut c, &running).await["status"], "running");
    // A plan change that cannot be saved is refused and leaves the plan as it was.
    fault.heal();
    let fault = LedgerFault::install(&mut c, "missions", "1").await;
    let err = tool_err_in(
        &mut c,
        MAIN,
        "plan_edit",
        json!({"edits": [item("b", "builder", &["a"], json!({}))]}),
    )
    .await;
    assert_eq!(
        err.message,
        "plan_edit failed: task ledger: saving a mission: injected write failure"
    );
    let m = mission(&mut c, &id).await;
    let plan = m["mission"]["plan"].to_string();
    assert!(
        plan.contains("\"id\":\"a\"") && !plan.contains("\"id\":\"b\""),
        "{plan}"
    );

    fault.heal();
    let r = c
        .ok("orchestrator/mission/cancel", json!({"missionId": id}))
        .await;
    assert_eq!(r["cancelled"], true);
    assert_eq!(r["cancelledTasks"], json!([running]));
    c.wait_event("task.cancelled", &running).await;
    let m = mission(&mut c, &id).await;
    assert_eq!(m["mission"]["status"], "cancelled");
}
