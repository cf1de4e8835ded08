//! grep_search, glob_search and mgrep over the protocol (`orchestrator/tools/call`), on a small
//! tree with ignored, hidden, binary, oversized and symlinked files.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// Files over this size are skipped in these tests (`tools.maxFileBytes`).
const CAP: u64 = 4096;

fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The tree every test searches. `outside` is a directory outside the workspace that symlinks
/// in the workspace point to.
fn build_tree(root: &Path, outside: &Path) {
    write(root, ".gitignore", "ignored.txt\nbuild/\n");
    write(
        root,
        "src/main.rs",
        "fn main() {\n    // needle one\n    let x = 1;\n    let Needle = 2;\n}\n",
    );
    write(
        root,
        "src/lib/deep/mod.rs",
        "pub mod deep;\n// NEEDLE loud\n// needle quiet\n",
    );
    write(root, "docs/readme.md", "intro\nthe needle in docs\n");
    write(root, "ignored.txt", "needle ignored\n");
    write(root, "build/out.txt", "needle in build\n");
    write(root, ".env", "KEY=needle\n");
    write(root, ".hidden/secret.txt", "needle hidden\n");
    write(root, ".git/config", "needle in git\n");
    write(root, "data.bin", b"needle\0\x01\x02binary needle\n");
    write(root, "big.log", "needle\n".repeat(1000));
    write(outside, "needle.txt", "needle outside\n");
    std::os::unix::fs::symlink(outside, root.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("needle.txt"), root.join("linked.txt")).unwrap();
}

struct Env {
    c: Client,
    ws: Workspace,
    _outside: tempfile::TempDir,
}

async fn env_with(config: Value) -> Env {
    let outside = tempfile::tempdir().unwrap();
    let mut config = config;
    if config.get("tools").is_none() {
        config["tools"] = json!({"maxFileBytes": CAP});
    }
    let (c, _h, ws) = start(config).await;
    build_tree(&ws.root(), outside.path());
    Env {
        c,
        ws,
        _outside: outside,
    }
}

async fn env() -> Env {
    env_with(json!({})).await
}

async fn call(c: &mut Client, tool: &str, args: Value) -> Value {
    c.tool(tool, args).await
}

async fn call_err(c: &mut Client, tool: &str, args: Value) -> RpcError {
    c.tool_err(tool, args).await
}

/// (path, line) of each structured match.
fn places(matches: &Value) -> Vec<(String, u64)> {
    matches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn p(path: &str, line: u64) -> (String, u64) {
    (path.to_string(), line)
}

#[tokio::test]
async fn tools_list_has_the_search_tools_with_their_limits() {
    let mut e = env().await;
    let r = e.c.ok("orchestrator/tools/list", json!({})).await;
    let tools = r["tools"].as_array().unwrap();
    let schema = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["inputSchema"]
            .clone()
    };
    let grep = schema("grep_search");
    assert_eq!(grep["required"], json!(["pattern"]));
    assert_eq!(grep["properties"]["contextLines"]["maximum"], 10);
    assert_eq!(grep["properties"]["maxResults"]["maximum"], 2000);
    assert_eq!(grep["properties"]["maxResults"]["default"], 200);
    assert_eq!(grep["properties"]["glob"]["type"], "array");
    let mgrep = schema("mgrep");
    assert_eq!(mgrep["required"], json!(["patterns"]));
    assert_eq!(mgrep["properties"]["patterns"]["maxItems"], 32);
    assert_eq!(mgrep["properties"]["patterns"]["minItems"], 1);
    let glob = schema("glob_search");
    assert_eq!(glob["required"], json!(["patterns"]));
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn grep_finds_matches_with_paths_lines_and_columns() {
    let mut e = env().await;
    let r = call(&mut e.c, "grep_search", json!({"pattern": "needle"})).await;
    let m = &r["metadata"];
    assert_eq!(
        places(&m["matches"]),
        [
            p("docs/readme.md", 2),
            p("src/lib/deep/mod.rs", 2),
            p("src/lib/deep/mod.rs", 3),
            p("src/main.rs", 2),
            p("src/main.rs", 4),
        ]
    );
    assert_eq!(m["matches"][3]["column"], 8);
    assert_eq!(m["matches"][3]["text"], "    // needle one");
    assert!(m["matches"][0].get("before").is_none());
    assert_eq!(m["totals"]["matches"], 5);
    assert_eq!(m["totals"]["files"], 3);
    assert_eq!(m["totals"]["truncated"], false);
    let out = r["output"].as_str().unwrap();
    assert!(
        out.starts_with("`needle`: 5 matches in 3 files (showing 5 of 5)"),
        "{out}"
    );
    assert!(
        out.contains("\nsrc/main.rs:2:     // needle one\n"),
        "{out}"
    );
    assert!(
        out.contains("\nsrc/lib/deep/mod.rs:2: // NEEDLE loud\n"),
        "{out}"
    );
    assert_eq!(r["title"], "`needle`: 5 matches");

    // A directory, and a single file.
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "path": "src/lib"}),
    )
    .await;
    assert_eq!(
        places(&r["metadata"]["matches"]),
        [p("src/lib/deep/mod.rs", 2), p("src/lib/deep/mod.rs", 3)]
    );
    let abs = e.ws.root().join("src/main.rs");
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "path": abs}),
    )
    .await;
    assert_eq!(
        places(&r["metadata"]["matches"]),
        [p("src/main.rs", 2), p("src/main.rs", 4)]
    );
    // No match is an answer, not an error.
    let r = call(&mut e.c, "grep_search", json!({"pattern": "haystack"})).await;
    assert_eq!(r["metadata"]["totals"]["matches"], 0);
    assert!(r["output"].as_str().unwrap().contains("no matches"));
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn context_lines_are_marked_and_merged() {
    let mut e = env().await;
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "contextLines": 1, "glob": ["*.rs"]}),
    )
    .await;
    let out = r["output"].as_str().unwrap();
    let body: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(
        body,
        [
            "src/lib/deep/mod.rs-1- pub mod deep;",
            "src/lib/deep/mod.rs:2: // NEEDLE loud",
            "src/lib/deep/mod.rs:3: // needle quiet",
            "--",
            "src/main.rs-1- fn main() {",
            "src/main.rs:2:     // needle one",
            "src/main.rs-3-     let x = 1;",
            "src/main.rs:4:     let Needle = 2;",
            "src/main.rs-5- }",
        ],
        "{out}"
    );
    let first = &r["metadata"]["matches"][0];
    assert_eq!(
        first["before"],
        json!([{"line": 1, "text": "pub mod deep;"}])
    );
    assert_eq!(
        first["after"],
        json!([{"line": 3, "text": "// needle quiet"}])
    );
    let last = &r["metadata"]["matches"][3];
    assert_eq!(last["after"], json!([{"line": 5, "text": "}"}]));
    // Gaps between runs of lines are marked.
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "^fn|^}", "contextLines": 0, "path": "src/main.rs"}),
    )
    .await;
    assert_eq!(r["metadata"]["totals"]["matches"], 2);
    assert!(!r["output"].as_str().unwrap().contains("--"));
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn ignored_hidden_binary_large_and_symlinked_files_are_skipped_and_counted() {
    let mut e = env().await;
    let r = call(&mut e.c, "grep_search", json!({"pattern": "needle"})).await;
    let m = &r["metadata"];
    let paths: Vec<String> = places(&m["matches"]).into_iter().map(|(p, _)| p).collect();
    for skipped in [
        "ignored.txt",
        "build/out.txt",
        ".env",
        ".hidden/secret.txt",
        ".git/config",
        "data.bin",
        "big.log",
        "link/needle.txt",
        "linked.txt",
    ] {
        assert!(
            !paths.iter().any(|p| p == skipped),
            "{skipped} in {paths:?}"
        );
    }
    assert_eq!(m["totals"]["filesSkippedBinary"], 1);
    assert_eq!(m["totals"]["filesSkippedLarge"], 1);
    assert_eq!(m["skippedLarge"], json!(["big.log"]));
    assert_eq!(
        m["totals"]["filesSearched"], 3,
        "main.rs, mod.rs, readme.md"
    );
    let out = r["output"].as_str().unwrap();
    assert!(out.contains("skipped 1 binary file"), "{out}");
    assert!(
        out.contains("skipped 1 file over 4096 bytes (tools.maxFileBytes): big.log"),
        "{out}"
    );

    // Hidden files on request; `.git` never.
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "includeHidden": true}),
    )
    .await;
    let found = places(&r["metadata"]["matches"]);
    assert!(found.contains(&p(".env", 1)), "{found:?}");
    assert!(found.contains(&p(".hidden/secret.txt", 1)), "{found:?}");
    assert!(
        !found.iter().any(|(p, _)| p.starts_with(".git/")),
        "{found:?}"
    );
    assert_eq!(r["metadata"]["totals"]["matches"], 7);

    // A larger cap searches the large file.
    let mut e2 = env_with(json!({"tools": {"maxFileBytes": 1 << 20}})).await;
    let r = call(&mut e2.c, "grep_search", json!({"pattern": "needle"})).await;
    assert_eq!(r["metadata"]["totals"]["matches"], 1005);
    assert_eq!(r["metadata"]["totals"]["filesSkippedLarge"], 0);
    assert_eq!(e.c.shutdown().await.exit_code, 0);
    assert_eq!(e2.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn case_sensitivity_is_smart_by_default() {
    let mut e = env().await;
    let count = |r: &Value| r["metadata"]["totals"]["matches"].as_u64().unwrap();
    let r = call(&mut e.c, "grep_search", json!({"pattern": "Needle"})).await;
    assert_eq!(places(&r["metadata"]["matches"]), [p("src/main.rs", 4)]);
    let r = call(&mut e.c, "grep_search", json!({"pattern": "needle"})).await;
    assert_eq!(count(&r), 5);
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "caseSensitive": true}),
    )
    .await;
    assert_eq!(
        places(&r["metadata"]["matches"]),
        [
            p("docs/readme.md", 2),
            p("src/lib/deep/mod.rs", 3),
            p("src/main.rs", 2)
        ]
    );
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "NEEDLE", "caseSensitive": false}),
    )
    .await;
    assert_eq!(count(&r), 5);
    // Inline flags still work.
    let r = call(&mut e.c, "grep_search", json!({"pattern": "(?i)Needle"})).await;
    assert_eq!(count(&r), 5);
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn max_results_caps_the_output_but_counts_everything_in_a_stable_order() {
    let mut e = env().await;
    let root = e.ws.root();
    for f in 0..6 {
        let text: String = (0..10)
            .map(|i| format!("hay {i}\nmatch {f}.{i}\n"))
            .collect();
        write(&root, &format!("many/f{f}.txt"), text);
    }
    let args = json!({"pattern": "^match", "path": "many", "maxResults": 13});
    let first = call(&mut e.c, "grep_search", args.clone()).await;
    let m = &first["metadata"];
    assert_eq!(m["totals"]["matches"], 60);
    assert_eq!(m["totals"]["files"], 6);
    assert_eq!(m["totals"]["shown"], 13);
    assert_eq!(m["totals"]["truncated"], true);
    let found = places(&m["matches"]);
    let mut expected: Vec<(String, u64)> = (1..=10).map(|i| p("many/f0.txt", 2 * i)).collect();
    expected.extend((1..=3).map(|i| p("many/f1.txt", 2 * i)));
    assert_eq!(found, expected);
    let out = first["output"].as_str().unwrap();
    assert!(out.contains("(showing 13 of 60"), "{out}");
    assert!(out.contains("raise `maxResults`"), "{out}");
    assert!(
        out.contains("many/f1.txt: … 7 more matching lines not shown"),
        "{out}"
    );
    // The parallel walk never changes the answer.
    for _ in 0..5 {
        let again = call(&mut e.c, "grep_search", args.clone()).await;
        assert_eq!(again, first);
    }
    let r = call(
        &mut e.c,
        "mgrep",
        json!({"patterns": ["^match", "^hay"], "path": "many", "maxResults": 2}),
    )
    .await;
    for _ in 0..3 {
        let again = call(
            &mut e.c,
            "mgrep",
            json!({"patterns": ["^match", "^hay"], "path": "many", "maxResults": 2}),
        )
        .await;
        assert_eq!(again, r);
    }
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn globs_filter_grep_search() {
    let mut e = env().await;
    let paths = |r: &Value| -> Vec<String> {
        places(&r["metadata"]["matches"])
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "glob": ["*.md"]}),
    )
    .await;
    assert_eq!(paths(&r), ["docs/readme.md"]);
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "glob": ["!*.md"]}),
    )
    .await;
    assert!(paths(&r).iter().all(|p| p.ends_with(".rs")), "{r}");
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "glob": ["src/*.rs"]}),
    )
    .await;
    assert_eq!(paths(&r), ["src/main.rs", "src/main.rs"]);
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "glob": ["src/**/*.rs", "docs/**"]}),
    )
    .await;
    assert_eq!(r["metadata"]["totals"]["matches"], 5);
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn glob_search_lists_files_with_the_same_rules() {
    let mut e = env().await;
    let files = |r: &Value| -> Vec<String> {
        r["metadata"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let r = call(&mut e.c, "glob_search", json!({"patterns": ["**/*.rs"]})).await;
    assert_eq!(files(&r), ["src/lib/deep/mod.rs", "src/main.rs"]);
    assert_eq!(r["metadata"]["totals"]["files"], 2);
    let out = r["output"].as_str().unwrap();
    assert!(
        out.contains("\nsrc/lib/deep/mod.rs\nsrc/main.rs\n"),
        "{out}"
    );
    // Ignored, hidden and symlinked files are not listed; binary and large ones are.
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["*.txt", "*.bin", "*.log"]}),
    )
    .await;
    assert_eq!(files(&r), ["big.log", "data.bin"]);
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["*.txt"], "includeHidden": true}),
    )
    .await;
    assert_eq!(files(&r), [".hidden/secret.txt"]);
    // Anchored globs, exclusions, a directory.
    let r = call(&mut e.c, "glob_search", json!({"patterns": ["src/*"]})).await;
    assert_eq!(files(&r), ["src/main.rs"]);
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["*.rs", "*.md", "!main.rs"]}),
    )
    .await;
    assert_eq!(files(&r), ["docs/readme.md", "src/lib/deep/mod.rs"]);
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["*"], "path": "src"}),
    )
    .await;
    assert_eq!(files(&r), ["src/lib/deep/mod.rs", "src/main.rs"]);
    // The cap keeps the first paths and counts them all.
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["*"], "maxResults": 2}),
    )
    .await;
    assert_eq!(files(&r), ["big.log", "data.bin"]);
    assert_eq!(r["metadata"]["totals"]["files"], 5);
    assert_eq!(r["metadata"]["totals"]["truncated"], true);
    assert!(
        r["output"].as_str().unwrap().contains("showing 2 of 5"),
        "{r}"
    );
    let r = call(&mut e.c, "glob_search", json!({"patterns": ["*.zig"]})).await;
    assert_eq!(r["metadata"]["totals"]["files"], 0);
    assert!(r["output"].as_str().unwrap().contains("no files"));
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn mgrep_groups_per_pattern_and_equals_grep_search_per_pattern() {
    let mut e = env().await;
    let patterns = [
        "needle",
        "Needle",
        r"fn \w+",
        "deep|docs",
        "absent",
        "needle",
    ];
    for (context, max) in [(0, 200), (1, 2)] {
        let common = json!({"contextLines": context, "maxResults": max});
        let mut args = common.clone();
        args["patterns"] = json!(patterns);
        let r = call(&mut e.c, "mgrep", args).await;
        let groups = r["metadata"]["groups"].as_array().unwrap();
        assert_eq!(groups.len(), patterns.len());
        let mut sum = 0;
        for (i, pattern) in patterns.iter().enumerate() {
            let mut args = common.clone();
            args["pattern"] = json!(pattern);
            let single = call(&mut e.c, "grep_search", args).await;
            let g = &groups[i];
            assert_eq!(g["pattern"], *pattern);
            assert_eq!(g["matches"], single["metadata"]["matches"], "{pattern}");
            for key in ["matches", "files", "shown", "truncated"] {
                assert_eq!(
                    g["totals"][key], single["metadata"]["totals"][key],
                    "{pattern} {key}"
                );
            }
            sum += g["totals"]["matches"].as_u64().unwrap();
        }
        let totals = &r["metadata"]["totals"];
        assert_eq!(totals["matches"], sum);
        assert_eq!(totals["filesSearched"], 3);
        assert_eq!(totals["filesSkippedBinary"], 1);
        assert_eq!(totals["filesSkippedLarge"], 1);
    }
    let r = call(
        &mut e.c,
        "mgrep",
        json!({"patterns": ["Needle", "quiet", "absent"]}),
    )
    .await;
    let out = r["output"].as_str().unwrap();
    assert!(
        out.contains(
            "## 1 `Needle`: 1 match in 1 file (showing 1 of 1)\nsrc/main.rs:4:     let Needle = 2;\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("## 2 `quiet`: 1 match in 1 file (showing 1 of 1)\nsrc/lib/deep/mod.rs:3: // needle quiet\n"),
        "{out}"
    );
    assert!(out.contains("## 3 `absent`: no matches"), "{out}");
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn extra_roots_open_directories_outside_the_workspace() {
    let extra = tempfile::tempdir().unwrap();
    write(extra.path(), "lib/a.txt", "needle far away\n");
    let mut e =
        env_with(json!({"tools": {"extraRoots": [extra.path()], "maxFileBytes": CAP}})).await;
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "path": extra.path()}),
    )
    .await;
    let canonical = extra.path().canonicalize().unwrap();
    assert_eq!(
        r["metadata"]["matches"][0]["path"],
        canonical.join("lib/a.txt").to_str().unwrap()
    );
    let r = call(
        &mut e.c,
        "glob_search",
        json!({"patterns": ["lib/*.txt"], "path": extra.path()}),
    )
    .await;
    assert_eq!(r["metadata"]["totals"]["files"], 1);
    // The workspace's symlink to another outside directory is still refused.
    let e2 = call_err(
        &mut e.c,
        "grep_search",
        json!({"pattern": "x", "path": "link"}),
    )
    .await;
    assert!(
        e2.message.contains("outside the workspace"),
        "{}",
        e2.message
    );
    assert!(e2.message.contains("tools.extraRoots"), "{}", e2.message);
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn bad_search_config_is_refused_at_initialize() {
    for (config, needle) in [
        (
            json!({"tools": {"extraRoots": ["relative/dir"]}}),
            "tools.extraRoots",
        ),
        (json!({"tools": {"maxFileBytes": 0}}), "tools.maxFileBytes"),
        (json!({"tools": {"maxFileByte": 10}}), "maxFileByte"),
    ] {
        let ws = Workspace::new();
        let (source, _h) = scripted();
        let mut c = connect(source);
        let e = c
            .err(
                "initialize",
                json!({"capabilities": {}, "initializationOptions": {"workspaceRoot": ws.root(), "config": config}}),
            )
            .await;
        assert_eq!(e.code, -32602, "{e:?}");
        assert!(e.message.contains(needle), "{}", e.message);
    }
}

#[tokio::test]
async fn bad_inputs_get_clear_errors() {
    let mut e = env().await;
    let many: Vec<String> = (0..33).map(|i| format!("p{i}")).collect();
    // (tool, arguments, JSON-RPC code, text the message must contain, field)
    let cases = [
        (
            "grep_search",
            json!({"pattern": "foo("}),
            -32602,
            vec![
                "pattern",
                "unclosed group",
                "position 3",
                "    foo(\n       ^",
            ],
            "pattern",
        ),
        (
            "grep_search",
            json!({"pattern": "a{3,1}"}),
            -32602,
            vec!["invalid repetition count range", "position"],
            "pattern",
        ),
        (
            "grep_search",
            json!({"pattern": r"\p{Nope}"}),
            -32602,
            vec!["Unicode property not found", "position 0"],
            "pattern",
        ),
        (
            "grep_search",
            json!({"pattern": r"a\nb"}),
            -32602,
            vec!["line break"],
            "pattern",
        ),
        (
            "grep_search",
            json!({"path": "src"}),
            -32602,
            vec!["pattern"],
            "/pattern",
        ),
        (
            "grep_search",
            json!({"pattern": ""}),
            -32602,
            vec!["pattern"],
            "/pattern",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "../"}),
            -32602,
            vec!["outside the workspace", "tools.extraRoots"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "../../../../etc/passwd"}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "/etc"}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "link/needle.txt"}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "src/../../escape-attempt"}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "path": "no/such/dir"}),
            -32602,
            vec!["`no/such/dir` does not exist"],
            "path",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "glob": ["a[b"]}),
            -32602,
            vec!["glob", "a[b", "unclosed character class"],
            "glob",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "contextLines": 11}),
            -32602,
            vec!["contextLines"],
            "/contextLines",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "maxResults": 0}),
            -32602,
            vec!["maxResults"],
            "/maxResults",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "maxResults": 2001}),
            -32602,
            vec!["maxResults"],
            "/maxResults",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "glob": "*.rs"}),
            -32602,
            vec!["glob"],
            "/glob",
        ),
        (
            "grep_search",
            json!({"pattern": "x", "caseSensitiv": true}),
            -32602,
            vec!["caseSensitiv"],
            "",
        ),
        (
            "mgrep",
            json!({"patterns": []}),
            -32602,
            vec!["patterns"],
            "/patterns",
        ),
        (
            "mgrep",
            json!({"patterns": many}),
            -32602,
            vec!["patterns"],
            "/patterns",
        ),
        (
            "mgrep",
            json!({"patterns": ["ok", "[z-a]"]}),
            -32602,
            vec!["patterns[1]", "invalid character class range", "position 1"],
            "patterns",
        ),
        ("mgrep", json!({}), -32602, vec!["patterns"], "/patterns"),
        (
            "mgrep",
            json!({"patterns": ["x"], "path": ".."}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
        (
            "glob_search",
            json!({"patterns": []}),
            -32602,
            vec!["patterns"],
            "/patterns",
        ),
        (
            "glob_search",
            json!({"patterns": ["**/{a,b"]}),
            -32602,
            vec!["patterns", "unclosed alternate group"],
            "patterns",
        ),
        (
            "glob_search",
            json!({"patterns": ["!*.rs"]}),
            -32602,
            vec!["at least one glob must include files"],
            "patterns",
        ),
        (
            "glob_search",
            json!({"patterns": ["*"], "path": "missing"}),
            -32602,
            vec!["does not exist"],
            "path",
        ),
        (
            "glob_search",
            json!({"patterns": ["*"], "path": "/"}),
            -32602,
            vec!["outside the workspace"],
            "path",
        ),
    ];
    for (tool, args, code, needles, field) in cases {
        let err = call_err(&mut e.c, tool, args.clone()).await;
        assert_eq!(err.code, code, "{tool} {args}: {err:?}");
        for needle in needles {
            assert!(
                err.message.contains(needle),
                "{tool} {args}: `{needle}` not in: {}",
                err.message
            );
        }
        let data = err.data.as_ref().unwrap();
        assert_eq!(data["field"], field, "{tool} {args}: {err:?}");
    }
    // The server is still fine.
    let r = call(&mut e.c, "grep_search", json!({"pattern": "needle"})).await;
    assert_eq!(r["metadata"]["totals"]["matches"], 5);
    assert_eq!(e.c.shutdown().await.exit_code, 0);
}

#[tokio::test]
async fn git_roots_hash_globs_and_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let mut e = env().await;
    let root = e.ws.root();
    // .git is never searched, even when asked for by path.
    for path in [".git", ".git/config"] {
        let err = call_err(
            &mut e.c,
            "grep_search",
            json!({"pattern": "needle", "path": path}),
        )
        .await;
        assert!(err.message.contains("inside a .git directory"), "{err:?}");
        let err = call_err(
            &mut e.c,
            "glob_search",
            json!({"patterns": ["*"], "path": path}),
        )
        .await;
        assert!(err.message.contains("inside a .git directory"), "{err:?}");
    }
    // A glob starting with `#` is a glob, not a comment that lets everything through.
    write(&root, "#notes.md", "needle in notes\n");
    let r = call(&mut e.c, "glob_search", json!({"patterns": ["#*.md"]})).await;
    assert_eq!(r["metadata"]["files"], json!(["#notes.md"]));
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "glob": ["#*"]}),
    )
    .await;
    assert_eq!(places(&r["metadata"]["matches"]), [p("#notes.md", 1)]);
    let err = call_err(&mut e.c, "glob_search", json!({"patterns": ["*.md  "]})).await;
    assert!(err.message.contains("ends with spaces"), "{err:?}");
    // Two names that differ only in bytes that are not UTF-8 stay two files.
    for b in [0xffu8, 0xfe] {
        let bytes = [b'a', b, b'.', b't'];
        std::fs::create_dir_all(root.join("nu")).unwrap();
        std::fs::write(
            root.join("nu").join(std::ffi::OsStr::from_bytes(&bytes)),
            "needle\nneedle\n",
        )
        .unwrap();
    }
    let r = call(
        &mut e.c,
        "grep_search",
        json!({"pattern": "needle", "path": "nu"}),
    )
    .await;
    assert_eq!(
        places(&r["metadata"]["matches"]),
        [
            p("nu/a\\xFE.t", 1),
            p("nu/a\\xFE.t", 2),
            p("nu/a\\xFF.t", 1),
            p("nu/a\\xFF.t", 2)
        ]
    );
    assert_eq!(r["metadata"]["totals"]["truncated"], false);
    assert_eq!(r["metadata"]["totals"]["files"], 2);
}
