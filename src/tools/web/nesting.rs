//! One linear pass over an HTML page before any tree is built: how deep its elements nest,
//! its title, and its text.
//!
//! Building a tree is quadratic in the nesting depth (html5ever checks the open elements at
//! each tag) and the Markdown converter recurses once per level: a page of a few hundred KB
//! nested tens of thousands deep would take minutes, and a few thousand levels overflow a
//! thread's stack and abort the server. Such pages are shown as the text this pass collects.

use std::cell::RefCell;
use std::collections::HashMap;

use html5ever::LocalName;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// What the pass found.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// The deepest nesting of elements that need an end tag (see [`counts_for_depth`]).
    pub depth: usize,
    /// The first `<title>`, whitespace collapsed.
    pub title: Option<String>,
    /// The text outside scripts, styles and the title, a line per block element.
    pub text: String,
}

pub fn scan(html: &str) -> Scan {
    let sink = Sink(RefCell::new(State::default()));
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    // Script tokens are only returned by a sink that runs scripts; this one never asks.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let state = tokenizer.sink.0.into_inner();
    let title = state.title.split_whitespace().collect::<Vec<_>>().join(" ");
    Scan {
        depth: state.max_depth,
        title: (!title.is_empty()).then_some(title),
        text: state.text,
    }
}

/// Elements with no end tag, and those whose end tag may be left out (the parser closes them
/// at the next sibling): neither makes a page deeper however many there are.
fn counts_for_depth(name: &str) -> bool {
    !matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "p"
            | "li"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "option"
            | "optgroup"
            | "rb"
            | "rt"
            | "rtc"
            | "rp"
            | "thead"
            | "tbody"
            | "tfoot"
            | "colgroup"
            | "caption"
            | "html"
            | "head"
            | "body"
    )
}

/// Elements whose content is not text for a reader.
fn raw_kind(name: &str) -> Option<RawKind> {
    match name {
        "script" => Some(RawKind::ScriptData),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(RawKind::Rawtext),
        "title" | "textarea" => Some(RawKind::Rcdata),
        _ => None,
    }
}

/// Elements that start a new line of text.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "br"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "tr"
            | "ul"
    )
}

#[derive(Default)]
struct State {
    /// Open elements that count for depth, innermost last (interned names: no allocation).
    open: Vec<LocalName>,
    /// How many of each name are in `open`, so an end tag finds its element in O(1).
    open_by_name: HashMap<LocalName, usize>,
    max_depth: usize,
    /// Inside a raw element (script, style, title, ...): its name.
    raw: Option<LocalName>,
    title: String,
    title_done: bool,
    text: String,
}

impl State {
    fn start(&mut self, name: &LocalName, self_closing: bool) -> TokenSinkResult<()> {
        if is_block(name) {
            self.text.push('\n');
        }
        if let Some(kind) = raw_kind(name) {
            if !self_closing {
                self.raw = Some(name.clone());
                return TokenSinkResult::RawData(kind);
            }
            return TokenSinkResult::Continue;
        }
        if name == "plaintext" {
            return TokenSinkResult::Plaintext;
        }
        if !self_closing && counts_for_depth(name) {
            self.open.push(name.clone());
            *self.open_by_name.entry(name.clone()).or_default() += 1;
            self.max_depth = self.max_depth.max(self.open.len());
        }
        TokenSinkResult::Continue
    }

    fn end(&mut self, name: &LocalName) {
        if self.raw.as_ref() == Some(name) {
            self.raw = None;
            if name == "title" {
                self.title_done = true;
            }
            return;
        }
        if is_block(name) {
            self.text.push('\n');
        }
        // An end tag closes its element and whatever is still open inside it (as a parser
        // would); one with no open element is ignored. Each element is popped once: linear.
        if self.open_by_name.get(name).copied().unwrap_or(0) == 0 {
            return;
        }
        while let Some(top) = self.open.pop() {
            if let Some(n) = self.open_by_name.get_mut(&top) {
                *n -= 1;
            }
            if top == *name {
                break;
            }
        }
    }

    fn characters(&mut self, text: &str) {
        match self.raw.as_deref() {
            None => self.text.push_str(text),
            Some("title") if !self.title_done => self.title.push_str(text),
            Some("textarea") => self.text.push_str(text),
            Some(_) => {}
        }
    }
}

struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut state = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => return state.start(&tag.name, tag.self_closing),
                TagKind::EndTag => state.end(&tag.name),
            },
            Token::CharacterTokens(text) => state.characters(&text),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_elements_that_need_an_end_tag() {
        let page = "<html><head><title> The  page </title></head><body>\
                    <div><section><span>a</span></section></div>\
                    <ul><li>one<li>two<li>three</ul><p>x<p>y<br><img src=x></body></html>";
        let s = scan(page);
        assert_eq!(s.depth, 3, "div > section > span");
        assert_eq!(s.title.as_deref(), Some("The page"));
        assert!(s.text.contains("one") && s.text.contains("three") && !s.text.contains("page"));
    }

    #[test]
    fn unclosed_elements_nest_and_stray_end_tags_change_nothing() {
        assert_eq!(scan("<div><div><div>x").depth, 3);
        assert_eq!(scan("</div></span><div>x</div>").depth, 1);
        // An end tag closes what is open inside its element.
        assert_eq!(scan("<div><b><i>x</div><div>y</div>").depth, 3);
        assert_eq!(scan(&format!("{}x", "<div>".repeat(10_000))).depth, 10_000);
        let balanced = format!("{}x{}", "<span>".repeat(300), "</span>".repeat(300));
        assert_eq!(scan(&balanced).depth, 300);
    }

    #[test]
    fn scripts_styles_and_comments_are_not_text_or_tags() {
        let s = scan(
            "<body><script>if (a < b) { document.write('<div><div>') }</script>\
             <style>div > p { color: red }</style><!-- <div><div> -->\
             <p>Tom &amp; Jerry</p><textarea><div>typed</textarea></body>",
        );
        assert_eq!(s.depth, 0, "{s:?}");
        assert!(s.text.contains("Tom & Jerry"), "{s:?}");
        assert!(s.text.contains("<div>typed"), "{s:?}");
        assert!(
            !s.text.contains("document") && !s.text.contains("color"),
            "{s:?}"
        );
    }
}
