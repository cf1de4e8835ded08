//! The parallel walk shared by the search tools.

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{WalkBuilder, WalkParallel};

use super::scope::Scope;
use crate::orchestrator::OrchestratorError;

/// What the walk yields besides the ignore rules every search applies.
pub(crate) struct WalkOptions<'a> {
    /// Search hidden files and directories too (`.git` never).
    pub include_hidden: bool,
    /// Globs in ripgrep's `-g` syntax: a file must match one of them unless the only globs
    /// are `!`-negated ones, which exclude. They filter what the ignore rules let through.
    pub globs: &'a [String],
    /// The argument the globs came from, for error messages.
    pub glob_field: &'static str,
}

/// A parallel walker over the scope with the standard ignore rules (see the module docs of
/// `search`): `.gitignore` applies with or without a `.git` directory.
pub(crate) fn walker(
    scope: &Scope,
    opts: &WalkOptions<'_>,
) -> Result<WalkParallel, OrchestratorError> {
    let globs = if opts.globs.is_empty() {
        None
    } else {
        Some(overrides(scope, opts)?)
    };
    let mut b = WalkBuilder::new(&scope.root);
    b.standard_filters(true)
        .hidden(!opts.include_hidden)
        .require_git(false)
        .follow_links(false)
        .threads(0)
        // Runs after the ignore rules: globs narrow what the rules let through, and never bring
        // back an ignored or hidden file (unlike `rg -g`, where a matching glob wins).
        .filter_entry(move |e| {
            if e.file_name() == ".git" {
                return false;
            }
            match &globs {
                None => true,
                Some(globs) => {
                    let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                    !globs.matched(e.path(), is_dir).is_ignore()
                }
            }
        });
    Ok(b.build_parallel())
}

/// Globs as `ignore` overrides: a file must match one of the globs (unless all are `!`-negated),
/// and a file or directory matching a `!` glob is left out.
fn overrides(scope: &Scope, opts: &WalkOptions<'_>) -> Result<Override, OrchestratorError> {
    let mut ob = OverrideBuilder::new(&scope.glob_root);
    for (i, g) in opts.globs.iter().enumerate() {
        let at = if opts.globs.len() > 1 {
            format!("{}[{i}]: ", opts.glob_field)
        } else {
            String::new()
        };
        if g.trim().is_empty() || g.trim() == "!" {
            return Err(OrchestratorError::InvalidArgument {
                field: opts.glob_field,
                message: format!("{at}the glob is empty"),
            });
        }
        if g.trim_end() != g {
            return Err(OrchestratorError::InvalidArgument {
                field: opts.glob_field,
                message: format!(
                    "{at}`{g}` ends with spaces, which globs drop (gitignore rules); remove them"
                ),
            });
        }
        // Globs are gitignore lines: a leading `#` would make this one a comment, dropped
        // without a word, and the search would not be narrowed at all.
        let g = match g.strip_prefix('!') {
            Some(rest) if rest.starts_with('#') => format!("!\\{rest}"),
            None if g.starts_with('#') => format!("\\{g}"),
            _ => g.clone(),
        };
        let g = g.as_str();
        ob.add(g).map_err(|e| OrchestratorError::InvalidArgument {
            field: opts.glob_field,
            message: format!("{at}`{g}` is not a valid glob: {}", glob_error(&e)),
        })?;
    }
    ob.build().map_err(|e| OrchestratorError::InvalidArgument {
        field: opts.glob_field,
        message: format!("invalid globs: {}", glob_error(&e)),
    })
}

/// `ignore` wraps glob errors with the glob again; keep only the reason.
fn glob_error(e: &ignore::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(": ") {
        Some((_, reason)) if text.starts_with("error parsing glob") => reason.to_string(),
        _ => text,
    }
}
