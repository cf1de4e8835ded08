//! Regexes for the search tools.
//!
//! Each pattern gets its own case mode (smart case by default: case-insensitive unless the
//! pattern has an uppercase literal character), written into the pattern as an inline flag,
//! and its own matcher. mgrep runs every pattern's matcher over each file's bytes rather than
//! one alternation of all patterns: an alternation loses each regex's literal prefilter (on
//! the Rust docs, `rg -e` with the benchmark's five patterns is slower than five separate `rg`
//! runs), and the file is already in memory, so a pattern costs only its matching.

use grep_matcher::Matcher;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use regex_syntax::ast::{self, Ast};

use crate::orchestrator::OrchestratorError;

/// Compiled patterns.
#[derive(Debug)]
pub(crate) struct Patterns {
    /// The patterns as given.
    pub sources: Vec<String>,
    /// One matcher per pattern.
    pub each: Vec<RegexMatcher>,
}

impl Patterns {
    pub fn len(&self) -> usize {
        self.sources.len()
    }
}

/// `case_sensitive`: `None` for smart case, else as given. `field` names the argument.
pub(crate) fn compile(
    patterns: &[String],
    case_sensitive: Option<bool>,
    field: &'static str,
) -> Result<Patterns, OrchestratorError> {
    if patterns.is_empty() {
        return Err(OrchestratorError::InvalidArgument {
            field,
            message: "at least one pattern is needed".into(),
        });
    }
    // The error already names the field; with several patterns, also say which one.
    let bad = |i: usize, message: String| OrchestratorError::InvalidArgument {
        field,
        message: if patterns.len() > 1 {
            format!("{field}[{i}]: {message}")
        } else {
            message
        },
    };
    let builder = builder();
    let mut each = Vec::with_capacity(patterns.len());
    for (i, p) in patterns.iter().enumerate() {
        if p.is_empty() {
            return Err(bad(
                i,
                "the pattern is empty (it would match every line); to list files use glob_search"
                    .into(),
            ));
        }
        let insensitive = match case_sensitive {
            Some(sensitive) => !sensitive,
            None => smart_case_insensitive(p),
        };
        check_syntax(p, insensitive).map_err(|m| bad(i, m))?;
        let with_flag = format!("(?{}i){p}", if insensitive { "" } else { "-" });
        let matcher = builder
            .build(&with_flag)
            .map_err(|e| bad(i, build_error(p, &e)))?;
        each.push(matcher);
    }
    Ok(Patterns {
        sources: patterns.to_vec(),
        each,
    })
}

/// Line-oriented matching as ripgrep does it: `^` and `$` at line boundaries, and nothing
/// matches across a line break.
fn builder() -> RegexMatcherBuilder {
    let mut b = RegexMatcherBuilder::new();
    b.line_terminator(Some(b'\n'))
        .multi_line(true)
        .unicode(true)
        .case_smart(false)
        .case_insensitive(false);
    b
}

/// Smart case: case-insensitive when the pattern has at least one literal character and none
/// of its literal characters is uppercase (`\pL` or `\W` are classes, not literals).
fn smart_case_insensitive(pattern: &str) -> bool {
    let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
        return false;
    };
    match ast::visit(&ast, Literals::default()) {
        Ok((any, upper)) => any && !upper,
        Err(never) => match never {},
    }
}

#[derive(Default)]
struct Literals {
    any: bool,
    upper: bool,
}

impl Literals {
    fn note(&mut self, c: char) {
        self.any = true;
        self.upper |= c.is_uppercase();
    }
}

impl ast::Visitor for Literals {
    /// (any literal, any uppercase literal)
    type Output = (bool, bool);
    type Err = std::convert::Infallible;

    fn finish(self) -> Result<(bool, bool), Self::Err> {
        Ok((self.any, self.upper))
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), Self::Err> {
        if let Ast::Literal(lit) = ast {
            self.note(lit.c);
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ast::ClassSetItem) -> Result<(), Self::Err> {
        match item {
            ast::ClassSetItem::Literal(lit) => self.note(lit.c),
            ast::ClassSetItem::Range(r) => {
                self.note(r.start.c);
                self.note(r.end.c);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Parses the pattern on its own (so positions are the caller's) with the flags the matcher
/// uses; a syntax error comes back with its position and a caret under it.
fn check_syntax(pattern: &str, insensitive: bool) -> Result<(), String> {
    let parsed = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .unicode(true)
        .multi_line(true)
        .case_insensitive(insensitive)
        .nest_limit(250)
        .build()
        .parse(pattern);
    let err = match parsed {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let (kind, span) = match &err {
        regex_syntax::Error::Parse(e) => (e.kind().to_string(), *e.span()),
        regex_syntax::Error::Translate(e) => (e.kind().to_string(), *e.span()),
        other => return Err(format!("`{pattern}` is not a valid regex: {other}")),
    };
    let start = span.start;
    let mut message = format!(
        "`{pattern}` is not a valid regex: {kind} at position {} (0-based)",
        start.offset
    );
    if pattern.contains('\n') {
        message.push_str(&format!(" (line {}, column {})", start.line, start.column));
    } else {
        // The pattern with a caret under the error, as the regex crate shows it.
        let width = span.end.column.saturating_sub(start.column).max(1);
        message.push_str(&format!(
            "\n    {pattern}\n    {}{}",
            " ".repeat(start.column.saturating_sub(1)),
            "^".repeat(width)
        ));
    }
    Err(message)
}

fn build_error(pattern: &str, e: &grep_regex::Error) -> String {
    match e.kind() {
        grep_regex::ErrorKind::NotAllowed(lit) => format!(
            "`{pattern}` can match a line break ({lit:?}); searches go line by line, so a \
             pattern must match within one line"
        ),
        _ => format!("`{pattern}` cannot be used: {e}"),
    }
}

/// The 0-based byte offset of the first match of `m` in `line`.
pub(crate) fn first_match(m: &RegexMatcher, line: &[u8]) -> Option<usize> {
    m.find(line).ok().flatten().map(|found| found.start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn smart_case_looks_at_literals_only() {
        assert!(smart_case_insensitive("foo"));
        assert!(!smart_case_insensitive("Foo"));
        assert!(!smart_case_insensitive("[A-Z]x"));
        assert!(!smart_case_insensitive(r"\w+"));
        assert!(smart_case_insensitive(r"\pLfoo"));
    }

    #[test]
    fn each_pattern_has_its_own_case() {
        let ps = compile(&p(&["Foo", "bar"]), None, "patterns").unwrap();
        assert!(first_match(&ps.each[0], b"xFoo").is_some());
        assert!(first_match(&ps.each[0], b"foo").is_none());
        assert_eq!(first_match(&ps.each[1], b"xxBaR"), Some(2));
        let ps = compile(&p(&["foo"]), Some(true), "pattern").unwrap();
        assert!(first_match(&ps.each[0], b"FOO").is_none());
        let ps = compile(&p(&["(?i)FOO"]), Some(true), "pattern").unwrap();
        assert!(first_match(&ps.each[0], b"foo").is_some());
    }

    #[test]
    fn errors_point_at_the_position() {
        let e = compile(&p(&["foo("]), None, "pattern")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unclosed group"), "{e}");
        assert!(e.contains("position 3"), "{e}");
        let e = compile(&p(&["ok", "a{2,1}"]), None, "patterns")
            .unwrap_err()
            .to_string();
        assert!(e.contains("patterns[1]"), "{e}");
        let e = compile(&p(&[r"a\nb"]), None, "pattern")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line break"), "{e}");
        let e = compile(&p(&[""]), None, "pattern").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
