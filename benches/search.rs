//! Search benchmark: grep_search, mgrep and glob_search against ripgrep on the same corpus.
//!
//! `cargo bench --bench search [-- --runs N --corpus DIR --rg PATH --only grep_search|mgrep|glob_search]`
//!
//! The corpus is the Rust documentation HTML under `$(rustc --print sysroot)/share/doc/rust/html`
//! when present (about 52,000 files, 780 MB), else a generated tree (`--corpus` picks another
//! directory). The tools are called in process through the tool registry
//! (`ToolRegistry::call`: schema check, argument parsing, the search on the blocking pool, and
//! the output text and metadata), the way `orchestrator/tools/call` runs them, without the
//! JSON-RPC framing (about 0.2 ms a call, see the server figures). ripgrep runs as a child
//! process with its output read through a pipe. Every case runs once to warm the page cache,
//! then `--runs` times (default 7) interleaved with ripgrep; medians are reported, with the
//! ratio ours / rg. The match and file counts of both are compared.
//!
//! Same semantics on both sides: smart case (`rg -S`), `.gitignore` without a git repository
//! (`--no-require-git`), files over 1 MiB skipped (`--max-filesize 1M`, our default
//! `tools.maxFileBytes`), hidden files skipped, symlinks not followed.
//! Under `cargo test` (no `--bench` flag) it runs a small smoke version and prints nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opencode_orchestrator::config::{BackendKind, Config};
use opencode_orchestrator::orchestrator::backend::scripted::ScriptedBackend;
use opencode_orchestrator::orchestrator::{OpenParams, Orchestrator};
use opencode_orchestrator::tools::{ToolContext, ToolRegistry};
use serde_json::{Value, json};

const MGREP_PATTERNS: [&str; 5] = [
    "HashMap",
    "unsafe",
    "deprecated",
    r"[A-Z][a-z]+Error\b",
    r"fn \w+_mut",
];
const GREP_PATTERNS: [&str; 3] = ["HashMap", r"[A-Z][a-z]+Error\b", "unsafe"];
const GLOBS: [&str; 3] = ["*.js", "struct.*.html", "*.html"];

struct Bench {
    orch: Orchestrator,
    tools: ToolRegistry,
    corpus: PathBuf,
}

impl Bench {
    async fn open(corpus: &Path, workspace: &Path) -> Bench {
        let mut config = Config {
            backend: BackendKind::Scripted,
            ..Config::default()
        };
        config.tools.extra_roots = vec![corpus.to_path_buf()];
        let (backend, _handle) = ScriptedBackend::new();
        let orch = Orchestrator::open(OpenParams {
            workspace_root: workspace.to_path_buf(),
            config,
            backend: Ok(Arc::new(backend)),
        })
        .await
        .expect("open");
        Bench {
            orch,
            tools: ToolRegistry::builtin(),
            corpus: corpus.to_path_buf(),
        }
    }

    /// Runs a tool on the corpus; returns the time and the metadata.
    async fn tool(&self, name: &str, mut args: Value) -> (Duration, Value) {
        args["path"] = json!(self.corpus);
        let t0 = Instant::now();
        let out = self
            .tools
            .call(&self.orch, name, args, &ToolContext::default())
            .await
            .unwrap_or_else(|e| panic!("{name} failed: {e}"));
        (t0.elapsed(), out.metadata)
    }
}

/// Runs rg in the corpus; returns the time and its standard output.
fn rg(bin: &str, corpus: &Path, args: &[&str]) -> (Duration, String) {
    let t0 = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .current_dir(corpus)
        .output()
        .expect("run rg");
    let took = t0.elapsed();
    // 1: no match; anything else is a failure.
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "rg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

const RG_COMMON: [&str; 3] = ["-S", "--no-require-git", "--max-filesize=1M"];

/// (files, matching lines) from `rg -c` output.
fn rg_counts(out: &str) -> (u64, u64) {
    let mut files = 0;
    let mut lines = 0;
    for l in out.lines() {
        if let Some((_, n)) = l.rsplit_once(':') {
            files += 1;
            lines += n.parse::<u64>().unwrap_or(0);
        }
    }
    (files, lines)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = v.len();
    if n % 2 == 1 {
        ms(v[n / 2])
    } else {
        (ms(v[n / 2 - 1]) + ms(v[n / 2])) / 2.0
    }
}

/// One measured case: our times and ripgrep's (one or more ripgrep variants).
struct Case {
    name: String,
    ours: Vec<Duration>,
    theirs: Vec<(String, Vec<Duration>)>,
    agree: String,
}

fn print_case(c: &Case) {
    let ours = median(c.ours.clone());
    for (label, times) in &c.theirs {
        let theirs = median(times.clone());
        println!(
            "| {} | {ours:.0} ms | {label}: {theirs:.0} ms | {:.2}x | {} |",
            c.name,
            ours / theirs,
            c.agree
        );
    }
}

async fn full(runs: usize, corpus: Option<PathBuf>, rg_bin: String, only: Option<String>) {
    let wanted = |case: &str| only.as_deref().is_none_or(|o| case.starts_with(o));
    let generated = tempfile::tempdir().expect("temp dir");
    let corpus = corpus.or_else(rust_docs).unwrap_or_else(|| {
        println!("Rust docs not found: generating a corpus");
        generate(generated.path(), 20_000, 400);
        generated.path().to_path_buf()
    });
    let version = Command::new(&rg_bin)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|_| {
            panic!("`{rg_bin}` not found: install ripgrep (apt-get install ripgrep)")
        });
    let workspace = tempfile::tempdir().expect("temp dir");
    let b = Bench::open(&corpus, workspace.path()).await;
    println!(
        "corpus {} ; {version} ; {runs} runs after a warm-up, medians",
        corpus.display()
    );

    let (_, meta) = b.tool("grep_search", json!({"pattern": "HashMap"})).await;
    let totals = &meta["totals"];
    let (_, all) = rg(&rg_bin, &corpus, &["--files", "--no-require-git"]);
    println!(
        "files: rg --files {}; grep_search searched {}, skipped {} binary and {} over 1 MiB",
        all.lines().count(),
        totals["filesSearched"],
        totals["filesSkippedBinary"],
        totals["filesSkippedLarge"]
    );
    let mut cases = Vec::new();
    // grep_search vs rg (counting, and printing every line).
    for pattern in GREP_PATTERNS.iter().filter(|_| wanted("grep_search")) {
        let mut case = Case {
            name: format!("grep_search `{pattern}`"),
            ours: vec![],
            theirs: vec![("rg -c".into(), vec![]), ("rg -n".into(), vec![])],
            agree: String::new(),
        };
        for run in 0..=runs {
            let (t, meta) = b.tool("grep_search", json!({"pattern": pattern})).await;
            let mut c_args: Vec<&str> = RG_COMMON.to_vec();
            c_args.extend(["-c", pattern]);
            let (tc, out) = rg(&rg_bin, &corpus, &c_args);
            let mut n_args: Vec<&str> = RG_COMMON.to_vec();
            n_args.extend(["-n", pattern]);
            let (tn, _) = rg(&rg_bin, &corpus, &n_args);
            if run == 0 {
                let (files, lines) = rg_counts(&out);
                let totals = &meta["totals"];
                case.agree = agree(
                    (
                        totals["files"].as_u64().unwrap(),
                        totals["matches"].as_u64().unwrap(),
                    ),
                    (files, lines),
                );
                continue;
            }
            case.ours.push(t);
            case.theirs[0].1.push(tc);
            case.theirs[1].1.push(tn);
        }
        cases.push(case);
    }
    // mgrep of 5 patterns vs 5 sequential rg runs (and one rg with all of them, unattributed).
    if wanted("mgrep") {
        let mut case = Case {
            name: "mgrep, 5 patterns".into(),
            ours: vec![],
            theirs: vec![
                ("5 x rg -c".into(), vec![]),
                ("5 x rg -n".into(), vec![]),
                ("1 x rg -c -e ×5 (no per-pattern counts)".into(), vec![]),
            ],
            agree: String::new(),
        };
        for run in 0..=runs {
            let (t, meta) = b.tool("mgrep", json!({"patterns": MGREP_PATTERNS})).await;
            let mut tc = Duration::ZERO;
            let mut tn = Duration::ZERO;
            let mut disagree = Vec::new();
            for (i, pattern) in MGREP_PATTERNS.iter().enumerate() {
                let mut c_args: Vec<&str> = RG_COMMON.to_vec();
                c_args.extend(["-c", pattern]);
                let (d, out) = rg(&rg_bin, &corpus, &c_args);
                tc += d;
                let mut n_args: Vec<&str> = RG_COMMON.to_vec();
                n_args.extend(["-n", pattern]);
                tn += rg(&rg_bin, &corpus, &n_args).0;
                let totals = &meta["groups"][i]["totals"];
                let ours = (
                    totals["files"].as_u64().unwrap(),
                    totals["matches"].as_u64().unwrap(),
                );
                if ours != rg_counts(&out) {
                    disagree.push(format!("`{pattern}` {}", agree(ours, rg_counts(&out))));
                }
            }
            let mut all: Vec<&str> = RG_COMMON.to_vec();
            all.push("-c");
            for p in MGREP_PATTERNS {
                all.extend(["-e", p]);
            }
            let (t1, _) = rg(&rg_bin, &corpus, &all);
            if run == 0 {
                case.agree = if disagree.is_empty() {
                    "all 5 agree".into()
                } else {
                    disagree.join("; ")
                };
                continue;
            }
            case.ours.push(t);
            case.theirs[0].1.push(tc);
            case.theirs[1].1.push(tn);
            case.theirs[2].1.push(t1);
        }
        cases.push(case);
    }
    // glob_search vs rg --files -g.
    for glob in GLOBS.iter().filter(|_| wanted("glob_search")) {
        let mut case = Case {
            name: format!("glob_search `{glob}`"),
            ours: vec![],
            theirs: vec![("rg --files -g".into(), vec![])],
            agree: String::new(),
        };
        for run in 0..=runs {
            let (t, meta) = b.tool("glob_search", json!({"patterns": [glob]})).await;
            let (tr, out) = rg(
                &rg_bin,
                &corpus,
                &["--files", "--no-require-git", "-g", glob],
            );
            if run == 0 {
                let ours = meta["totals"]["files"].as_u64().unwrap();
                let theirs = out.lines().count() as u64;
                case.agree = if ours == theirs {
                    format!("{ours} files, same")
                } else {
                    format!("ours {ours} files, rg {theirs}")
                };
                continue;
            }
            case.ours.push(t);
            case.theirs[0].1.push(tr);
        }
        cases.push(case);
    }
    println!("| case | ours (median) | rg (median) | ratio | counts |");
    println!("|---|---|---|---|---|");
    for c in &cases {
        print_case(c);
    }
    b.orch.shutdown().await;
}

fn agree(ours: (u64, u64), rg: (u64, u64)) -> String {
    if ours == rg {
        format!("{} lines in {} files, same", ours.1, ours.0)
    } else {
        format!(
            "ours {} lines in {} files, rg {} in {}",
            ours.1, ours.0, rg.1, rg.0
        )
    }
}

fn rust_docs() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    let dir = Path::new(sysroot.trim()).join("share/doc/rust/html");
    dir.is_dir().then_some(dir)
}

/// A deterministic tree of `files` text files of `lines` lines each, 100 files per directory.
fn generate(root: &Path, files: usize, lines: usize) {
    const WORDS: [&str; 16] = [
        "alpha",
        "HashMap",
        "unsafe",
        "vector",
        "deprecated",
        "IoError",
        "fn iter_mut",
        "buffer",
        "Sender",
        "lorem",
        "ipsum",
        "parse",
        "thread",
        "ParseError",
        "token",
        "impl",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for f in 0..files {
        let dir = root.join(format!("d{:03}", f / 100));
        if f % 100 == 0 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        let mut text = String::new();
        for _ in 0..lines {
            for _ in 0..(4 + next() % 8) {
                // Mostly filler; the interesting words are rarer.
                let r = next();
                let w = if r % 8 == 0 {
                    WORDS[(r >> 8) as usize % WORDS.len()]
                } else {
                    WORDS[9 + (r >> 8) as usize % 2]
                };
                text.push_str(w);
                text.push(' ');
            }
            text.push('\n');
        }
        let ext = if f % 10 == 0 { "js" } else { "html" };
        std::fs::write(dir.join(format!("f{f}.{ext}")), text).expect("write");
    }
}

/// A tiny run of each tool on a generated tree; panics if anything is off.
async fn smoke() {
    let corpus = tempfile::tempdir().expect("temp dir");
    generate(corpus.path(), 30, 20);
    let workspace = tempfile::tempdir().expect("temp dir");
    let b = Bench::open(corpus.path(), workspace.path()).await;
    let (_, grep) = b.tool("grep_search", json!({"pattern": "HashMap"})).await;
    let (_, mgrep) = b.tool("mgrep", json!({"patterns": MGREP_PATTERNS})).await;
    assert_eq!(
        grep["totals"]["matches"],
        mgrep["groups"][0]["totals"]["matches"]
    );
    assert!(grep["totals"]["matches"].as_u64().unwrap() > 0);
    let (_, glob) = b.tool("glob_search", json!({"patterns": ["*.js"]})).await;
    assert_eq!(glob["totals"]["files"], 3);
    b.orch.shutdown().await;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(7);
    let corpus = value("--corpus").map(PathBuf::from);
    let rg_bin = value("--rg").unwrap_or_else(|| "rg".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if bench {
        rt.block_on(full(runs, corpus, rg_bin, value("--only")));
    } else {
        rt.block_on(smoke());
    }
}
