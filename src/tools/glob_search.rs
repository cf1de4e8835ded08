//! `glob_search`: files whose paths match globs, with the search tools' ignore rules.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::search::{self, glob, render, run_blocking, scope};
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct GlobSearch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// Globs (`**/*.rs`, `src/**/test_*.py`, `Cargo.toml`); a file matching any of them is
    /// listed, `!glob` excludes. A glob without `/` matches the file name at any depth; one
    /// with `/` is matched against the path from the workspace root.
    #[schemars(length(min = 1, max = 64))]
    patterns: Vec<String>,
    /// A directory to list, relative to the workspace root (or absolute inside it). Default:
    /// the whole workspace.
    #[serde(default)]
    path: Option<String>,
    /// At most this many paths are shown (1-2000, default 200); the total is always counted.
    #[serde(default = "search::default_max_results")]
    #[schemars(range(min = 1, max = 2000), default = "search::default_max_results")]
    max_results: usize,
    /// List hidden files and directories too (default false). `.git` is never listed.
    #[serde(default)]
    include_hidden: bool,
}

#[async_trait]
impl Tool for GlobSearch {
    const NAME: &'static str = "glob_search";
    const DESCRIPTION: &'static str = "Find files by name or path with globs \
(`**/*.rs`, `src/**/mod.rs`). Returns workspace-relative paths sorted by path, with the total \
count. Respects .gitignore and skips hidden files like grep_search.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        if args
            .patterns
            .iter()
            .all(|p| p.trim_start().starts_with('!'))
        {
            return Err(OrchestratorError::InvalidArgument {
                field: "patterns",
                message: "at least one glob must include files (every one starts with `!`)".into(),
            });
        }
        let scope = scope::resolve(
            orchestrator.workspace_root(),
            &orchestrator.config().tools.extra_roots,
            args.path.as_deref(),
        )?;
        let request = glob::GlobRequest {
            scope,
            patterns: args.patterns,
            include_hidden: args.include_hidden,
            max_results: args.max_results.clamp(1, search::MAX_RESULTS_CAP),
        };
        let (report, request) =
            run_blocking(move |cancel| glob::list(&request, cancel).map(|r| (r, request))).await?;
        let shown = report.files.len() as u64;
        let globs = request
            .patterns
            .iter()
            .map(|p| render::quoted(p))
            .collect::<Vec<_>>()
            .join(" ");
        let mut out = if report.total == 0 {
            format!("{globs}: no files\n")
        } else if shown < report.total {
            format!(
                "{globs}: {} files (showing {shown} of {}, by path; narrow with `path` or more \
                 specific globs, or raise `maxResults` up to {})\n",
                report.total,
                report.total,
                search::MAX_RESULTS_CAP
            )
        } else {
            format!(
                "{globs}: {} {}\n",
                report.total,
                render::plural(report.total, "file")
            )
        };
        if report.cancelled {
            out.push_str("(stopped early: cancelled, the count is partial)\n");
        }
        for f in &report.files {
            out.push_str(f);
            out.push('\n');
        }
        Ok(ToolOutput {
            title: Some(format!(
                "{} {}",
                report.total,
                render::plural(report.total, "file")
            )),
            output: out,
            metadata: json!({
                "files": report.files,
                "totals": {
                    "files": report.total,
                    "shown": shown,
                    "truncated": shown < report.total,
                    "unreadable": report.unreadable,
                },
            }),
        })
    }
}
