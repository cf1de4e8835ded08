//! `codesearch`: public code on GitHub through the grep.app API.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::search::pattern;
use super::web::code_search::{self, CodeQuery};
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct CodeSearch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// Code to find, literally (`tokio::spawn(`), or a regex with `regex: true`.
    #[schemars(length(min = 1, max = 1000))]
    query: String,
    /// Treat the query as a regular expression.
    #[serde(default)]
    regex: bool,
    /// Match case exactly (default: ignore case).
    #[serde(default)]
    case_sensitive: bool,
    /// Match whole words only.
    #[serde(default)]
    whole_words: bool,
    /// Only these languages, as grep.app names them (`Rust`, `TypeScript`, `Python`).
    #[serde(default)]
    #[schemars(length(max = 10))]
    language: Vec<String>,
    /// Only repositories whose `owner/name` contains this (`tokio-rs/`, `serde`).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    repo: Option<String>,
    /// Only files whose path contains this (`src/`, `Cargo.toml`).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    path: Option<String>,
    /// Result page (1-100, default 1); a page holds up to 10 files.
    #[serde(default = "first_page")]
    #[schemars(range(min = 1, max = 100), default = "first_page")]
    page: u32,
}

fn first_page() -> u32 {
    1
}

#[async_trait]
impl Tool for CodeSearch {
    const NAME: &'static str = "codesearch";
    const DESCRIPTION: &'static str = "Search public code on GitHub (grep.app) for real-world \
usage of an API: literal code such as `axum::Router::new(` works best. Filter by language, \
repository (`owner/name` fragment) or path. Returns files with their matching lines and \
GitHub links.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        if args.query.trim().is_empty() {
            return Err(OrchestratorError::InvalidArgument {
                field: "query",
                message: "the query is blank; give code to look for".into(),
            });
        }
        if args.regex {
            // Fail here, with the position, rather than with the service's terse error.
            pattern::compile(
                std::slice::from_ref(&args.query),
                Some(args.case_sensitive),
                "query",
            )?;
        }
        if let Some(i) = args.language.iter().position(|l| l.trim().is_empty()) {
            return Err(OrchestratorError::InvalidArgument {
                field: "language",
                message: format!("language[{i}] is blank"),
            });
        }
        let config = &orchestrator.config().web;
        let client = orchestrator.web_clients().endpoints(config)?;
        let query = CodeQuery {
            query: &args.query,
            regex: args.regex,
            case_sensitive: args.case_sensitive,
            whole_words: args.whole_words,
            languages: &args.language,
            repo: args.repo.as_deref(),
            path: args.path.as_deref(),
            page: args.page,
            timeout_ms: config.timeout_ms,
        };
        let answer = code_search::search(&client, &config.codesearch.base_url, &query).await?;
        let mut out = format!(
            "{} files match {:?}; page {} shows {}.\n",
            answer.total,
            args.query,
            args.page,
            answer.hits.len()
        );
        for hit in &answer.hits {
            out.push_str(&format!(
                "\n{}: {} ({} matches)\n{}\n",
                hit.repo,
                hit.path,
                hit.matches,
                github_url(&hit.repo, hit.branch.as_deref(), &hit.path)
            ));
            for (number, text) in &hit.lines {
                out.push_str(&format!("  {number}: {text}\n"));
            }
        }
        let hits: Vec<_> = answer
            .hits
            .iter()
            .map(|h| {
                json!({
                    "repo": h.repo,
                    "path": h.path,
                    "branch": h.branch,
                    "matches": h.matches,
                    "url": github_url(&h.repo, h.branch.as_deref(), &h.path),
                    "lines": h.lines.iter().map(|(n, t)| json!({"line": n, "text": t})).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(ToolOutput {
            title: Some(format!("{} files match {:?}", answer.total, args.query)),
            output: out.trim_end().to_string(),
            metadata: json!({ "total": answer.total, "page": args.page, "hits": hits }),
        })
    }
}

fn github_url(repo: &str, branch: Option<&str>, path: &str) -> String {
    format!(
        "https://github.com/{repo}/blob/{}/{path}",
        branch.unwrap_or("HEAD")
    )
}
