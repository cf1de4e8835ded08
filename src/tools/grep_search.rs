//! `grep_search`: a regex over the workspace's files, ripgrep style.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::search::{self, GrepArgs, render};
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct GrepSearch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// A regex (Rust/ripgrep syntax), matched line by line: `fn \w+_mut`, `TODO|FIXME`.
    #[schemars(length(min = 1))]
    pattern: String,
    /// A directory or file to search, relative to the workspace root (or absolute inside it).
    /// Default: the whole workspace.
    #[serde(default)]
    path: Option<String>,
    /// Only files matching one of these globs (`*.rs`, `src/**/*.ts`); `!glob` excludes.
    /// A glob without `/` matches the file name at any depth.
    #[serde(default)]
    glob: Vec<String>,
    /// true: exact case; false: ignore case. Default: smart case (ignore case unless the
    /// pattern has an uppercase letter).
    #[serde(default)]
    case_sensitive: Option<bool>,
    /// Lines of context before and after each match (0-10, default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    context_lines: usize,
    /// At most this many matching lines are shown (1-2000, default 200); the total is always
    /// counted.
    #[serde(default = "search::default_max_results")]
    #[schemars(range(min = 1, max = 2000), default = "search::default_max_results")]
    max_results: usize,
    /// Search hidden files and directories too (default false). `.git` is never searched.
    #[serde(default)]
    include_hidden: bool,
}

#[async_trait]
impl Tool for GrepSearch {
    const NAME: &'static str = "grep_search";
    const DESCRIPTION: &'static str = "Search file contents with a regex (ripgrep engine). \
Returns `path:line: text` lines sorted by path then line, with the total count. Respects \
.gitignore; skips hidden, binary and very large files. Use `glob` to pick file types and \
`path` to narrow to a directory. For several patterns at once, use mgrep.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let context = args.context_lines > 0;
        let report = search::grep(
            orchestrator,
            GrepArgs {
                patterns: vec![args.pattern],
                pattern_field: "pattern",
                path: args.path,
                glob: args.glob,
                case_sensitive: args.case_sensitive,
                context_lines: args.context_lines,
                max_results: args.max_results,
                include_hidden: args.include_hidden,
            },
        )
        .await?;
        let max_file_bytes = orchestrator.config().tools.max_file_bytes;
        let group = &report.groups[0];
        let mut out = format!(
            "{}: {}; {}\n",
            render::quoted(&group.pattern),
            render::group_summary(group),
            render::scan_summary(&report.stats, max_file_bytes)
        );
        if group.shown_count > 0 {
            out.push('\n');
            render::lines(group, context, &mut out);
        }
        let mut totals = render::group_totals(group);
        render::add_scan_totals(&mut totals, &report.stats);
        Ok(ToolOutput {
            title: Some(format!(
                "{}: {} {}",
                render::quoted(&group.pattern),
                group.matches,
                render::plural(group.matches, "match")
            )),
            output: out,
            metadata: json!({
                "pattern": group.pattern,
                "matches": render::matches_json(group, context),
                "totals": totals,
                "skippedLarge": render::skipped_large_json(&report),
            }),
        })
    }
}
