//! `orchestrator/agents/list` over the protocol: the seven agents in OpenCode's config shape.

mod common;

use common::*;
use serde_json::{Value, json};

const SUBAGENTS: [&str; 6] = [
    "architect",
    "builder",
    "inspector",
    "recorder",
    "librarian",
    "researcher",
];
const TASK_TOOLS: [&str; 4] = [
    "delegate_task",
    "get_task_result",
    "list_tasks",
    "cancel_task",
];

async fn list(c: &mut Client) -> Vec<Value> {
    let r = c.ok("orchestrator/agents/list", json!({})).await;
    r["agents"].as_array().expect("agents array").clone()
}

fn agent<'a>(agents: &'a [Value], name: &str) -> &'a Value {
    agents
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name}"))
}

/// The action a permission rule gives a use no specific pattern matches.
fn default_action(rule: &Value) -> &str {
    match rule {
        Value::String(s) => s,
        Value::Object(m) => m["*"].as_str().expect("catch-all pattern"),
        other => panic!("not a permission rule: {other}"),
    }
}

#[tokio::test]
async fn lists_the_seven_agents() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let agents = list(&mut c).await;
    let names: Vec<&str> = agents.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "commander",
            "architect",
            "builder",
            "inspector",
            "recorder",
            "librarian",
            "researcher"
        ]
    );
    let commander = agent(&agents, "commander");
    assert_eq!(commander["mode"], "primary");
    assert_eq!(commander["hidden"], false);
    assert_eq!(commander["displayName"], "Commander");
    for name in SUBAGENTS {
        let a = agent(&agents, name);
        assert_eq!(a["mode"], "subagent", "{name}");
        assert_eq!(a["hidden"], true, "{name}");
    }
    for a in &agents {
        let name = a["name"].as_str().unwrap();
        let description = a["description"].as_str().unwrap();
        assert!(
            description.len() > 30 && !description.contains('\n'),
            "{name}"
        );
        assert!(
            a["displayName"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(name)
        );
        assert!(a.get("model").is_none(), "{name}: no model by default");
        // Nothing OpenCode's agent config does not know, besides name and displayName.
        for key in a.as_object().unwrap().keys() {
            assert!(
                [
                    "name",
                    "displayName",
                    "mode",
                    "hidden",
                    "description",
                    "prompt",
                    "permission",
                    "model",
                    "tools"
                ]
                .contains(&key.as_str()),
                "{name}: {key}"
            );
        }
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn permissions_follow_the_roles() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let agents = list(&mut c).await;
    for a in &agents {
        let name = a["name"].as_str().unwrap();
        let p = &a["permission"];
        let edit = default_action(&p["edit"]);
        let bash = default_action(&p["bash"]);
        let read_only = [
            "architect",
            "inspector",
            "recorder",
            "librarian",
            "researcher",
        ]
        .contains(&name);
        assert_eq!(edit == "deny", read_only, "{name}: edit {edit}");
        let runs_commands = ["builder", "inspector"].contains(&name);
        assert_eq!(bash == "allow", runs_commands, "{name}: bash {bash}");
        for key in ["webfetch", "task"] {
            assert!(
                ["allow", "ask", "deny"].contains(&p[key].as_str().unwrap()),
                "{name}: {key}"
            );
        }
        assert_eq!(
            p["task"], "deny",
            "{name}: delegation goes through delegate_task"
        );
        if name != "commander" {
            assert!(
                !p.to_string().contains("\"ask\""),
                "{name}: nobody answers questions in a background session: {p}"
            );
        }
    }
    // The Commander asks before commands, except ones that only read the repository.
    let bash = &agent(&agents, "commander")["permission"]["bash"];
    assert_eq!(bash["*"], "ask");
    assert_eq!(bash["git status*"], "allow");
    assert_eq!(agent(&agents, "commander")["permission"]["edit"], "allow");
    // Builders share one tree: no history rewrites or pushes.
    let bash = &agent(&agents, "builder")["permission"]["bash"];
    assert_eq!(bash["git push*"], "deny");
    assert_eq!(bash["git reset*"], "deny");
    for name in ["librarian", "researcher"] {
        assert_eq!(agent(&agents, name)["permission"]["webfetch"], "allow");
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn prompts_explain_the_task_tools() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let agents = list(&mut c).await;
    let served: Vec<String> = c.ok("orchestrator/tools/list", json!({})).await["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    for a in &agents {
        let name = a["name"].as_str().unwrap();
        let prompt = a["prompt"].as_str().unwrap();
        assert!(prompt.lines().count() >= 25, "{name}: prompt too short");
        // Every agent that takes plan items hands back a structured result.
        if name != "commander" {
            assert!(prompt.contains("task_report"), "{name}: structured result");
        }
        let tools = a["tools"].as_object().unwrap();
        assert_eq!(tools.len(), TASK_TOOLS.len(), "{name}: {tools:?}");
        for (tool, allowed) in tools {
            assert!(served.contains(tool), "{name}: {tool} is not a served tool");
            if allowed == true {
                assert!(prompt.contains(tool.as_str()), "{name}: {tool} unexplained");
            }
        }
    }
    // Each role is told about the mission tools it uses.
    for (name, tools) in [
        (
            "commander",
            &[
                "mission_triage",
                "plan_dispatch",
                "mission_complete",
                "plan_get",
            ][..],
        ),
        ("architect", &["plan_edit"][..]),
        ("inspector", &["mission_verdict", "VERDICT: PASS"][..]),
    ] {
        let prompt = agent(&agents, name)["prompt"].as_str().unwrap().to_string();
        for tool in tools {
            assert!(prompt.contains(tool), "{name}: {tool} unexplained");
        }
    }
    let commander = agent(&agents, "commander");
    for tool in TASK_TOOLS {
        assert_eq!(commander["tools"][tool], true);
        assert!(commander["prompt"].as_str().unwrap().contains(tool));
    }
    let prompt = commander["prompt"].as_str().unwrap();
    for word in ["background", "L1", "L2", "L3", "inspector", "PASS"] {
        assert!(prompt.contains(word), "commander prompt lacks {word}");
    }
    let inspector = agent(&agents, "inspector")["prompt"].as_str().unwrap();
    assert!(inspector.contains("PASS") && inspector.contains("FAIL"));
    assert!(inspector.contains("evidence"));
    assert_eq!(agent(&agents, "librarian")["tools"]["delegate_task"], false);
    assert_eq!(agent(&agents, "recorder")["tools"]["delegate_task"], false);
    assert_eq!(agent(&agents, "builder")["tools"]["delegate_task"], true);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_params_are_refused() {
    let (mut c, _h, _ws) = start(json!({})).await;
    for params in [json!([1]), json!([]), json!({"agents": []})] {
        let e = c.err("orchestrator/agents/list", params.clone()).await;
        assert_eq!(e.code, -32602, "{params}: {e:?}");
    }
    let e = c
        .err("orchestrator/agents/list", json!({"all": true}))
        .await;
    assert_eq!(e.code, -32602);
    assert_eq!(e.data.as_ref().unwrap()["kind"], "invalid_params");
    assert!(e.message.contains("all"), "{}", e.message);
    // Still answering afterwards.
    assert_eq!(list(&mut c).await.len(), 7);
    assert_eq!(c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn delegable_agents_match_the_list() {
    let (mut c, _h, _ws) = start(json!({})).await;
    let agents = list(&mut c).await;
    for a in &agents {
        let name = a["name"].as_str().unwrap();
        let r = c
            .call(
                "orchestrator/task/delegate",
                json!({"agent": name, "description": "d", "prompt": "p"}),
            )
            .await;
        match a["mode"].as_str().unwrap() {
            "subagent" => assert!(r.is_ok(), "{name}: {r:?}"),
            _ => assert_eq!(r.unwrap_err().data.unwrap()["kind"], "not_delegable"),
        }
    }
    assert_eq!(c.shutdown().await.exit_code, 0);
}
