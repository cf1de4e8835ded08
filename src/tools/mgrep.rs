//! `mgrep`: many regexes answered in one pass over the tree, results grouped per pattern.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::search::{self, GrepArgs, render};
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct Mgrep;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The regexes (Rust/ripgrep syntax, 1-32 of them), each matched line by line.
    #[schemars(length(min = 1, max = 32))]
    patterns: Vec<String>,
    /// A directory or file to search, relative to the workspace root (or absolute inside it).
    /// Default: the whole workspace.
    #[serde(default)]
    path: Option<String>,
    /// Only files matching one of these globs (`*.rs`, `src/**/*.ts`); `!glob` excludes.
    /// A glob without `/` matches the file name at any depth.
    #[serde(default)]
    glob: Vec<String>,
    /// true: exact case; false: ignore case. Default: smart case per pattern (ignore case
    /// unless that pattern has an uppercase letter).
    #[serde(default)]
    case_sensitive: Option<bool>,
    /// Lines of context before and after each match (0-10, default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    context_lines: usize,
    /// At most this many matching lines are shown per pattern (1-2000, default 200); the
    /// totals are always counted.
    #[serde(default = "search::default_max_results")]
    #[schemars(range(min = 1, max = 2000), default = "search::default_max_results")]
    max_results: usize,
    /// Search hidden files and directories too (default false). `.git` is never searched.
    #[serde(default)]
    include_hidden: bool,
}

#[async_trait]
impl Tool for Mgrep {
    const NAME: &'static str = "mgrep";
    const DESCRIPTION: &'static str = "Search file contents for several regexes at once \
(up to 32) in a single pass over the tree: much faster than one grep_search per pattern. \
Results are grouped per pattern, each as `path:line: text` lines sorted by path then line, \
with its total count. Same filters and rules as grep_search.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        if args.patterns.len() > search::MAX_PATTERNS {
            return Err(OrchestratorError::InvalidArgument {
                field: "patterns",
                message: format!(
                    "at most {} patterns per call, got {}",
                    search::MAX_PATTERNS,
                    args.patterns.len()
                ),
            });
        }
        let context = args.context_lines > 0;
        let report = search::grep(
            orchestrator,
            GrepArgs {
                patterns: args.patterns,
                pattern_field: "patterns",
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
        let total: u64 = report.groups.iter().map(|g| g.matches).sum();
        let mut out = format!(
            "{} patterns, {total} matching lines in all; {}\n",
            report.groups.len(),
            render::scan_summary(&report.stats, max_file_bytes)
        );
        let mut groups = Vec::with_capacity(report.groups.len());
        for (i, group) in report.groups.iter().enumerate() {
            out.push_str(&format!(
                "\n## {} {}: {}\n",
                i + 1,
                render::quoted(&group.pattern),
                render::group_summary(group)
            ));
            render::lines(group, context, &mut out);
            groups.push(json!({
                "pattern": group.pattern,
                "matches": render::matches_json(group, context),
                "totals": render::group_totals(group),
            }));
        }
        let mut totals = json!({ "matches": total });
        render::add_scan_totals(&mut totals, &report.stats);
        Ok(ToolOutput {
            title: Some(format!(
                "{} patterns: {total} {}",
                report.groups.len(),
                render::plural(total, "match")
            )),
            output: out,
            metadata: json!({
                "groups": groups,
                "totals": totals,
                "skippedLarge": render::skipped_large_json(&report),
            }),
        })
    }
}
