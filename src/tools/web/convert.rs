//! Response bodies to text a model can read: HTML to Markdown (main content first), JSON
//! pretty-printed, text as is.

use schemars::JsonSchema;

use super::nesting;
use serde::Deserialize;

/// What webfetch returns for an HTML page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Markdown (headings, lists, links, tables and fenced code kept).
    #[default]
    Markdown,
    /// Plain text, no markup.
    Text,
    /// The HTML source as sent.
    Html,
}

/// How much of an HTML page to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Extract {
    /// The main content only (readability): no navigation, headers, footers or sidebars.
    #[default]
    Main,
    /// The whole body (scripts, styles and navigation still dropped).
    Full,
}

/// What a body became.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub title: Option<String>,
    pub content: String,
    /// `html`, `json`, `xml` or `text`.
    pub kind: &'static str,
    /// For HTML: whether the main content was found (false: the whole body was used).
    pub main_content: bool,
}

/// How a media type is read, or `None` when it is not text.
pub fn kind_of(media_type: &str, body: &[u8]) -> Option<&'static str> {
    let mt = media_type;
    if mt == "text/html" || mt == "application/xhtml+xml" {
        return Some("html");
    }
    if mt == "application/json" || mt.ends_with("+json") || mt == "text/json" {
        return Some("json");
    }
    if mt == "application/xml" || mt == "text/xml" || mt.ends_with("+xml") {
        return Some("xml");
    }
    if mt.starts_with("text/")
        || matches!(
            mt,
            "application/javascript" | "application/x-javascript" | "application/toml"
        )
        || mt.ends_with("+yaml")
        || mt == "application/yaml"
    {
        return Some("text");
    }
    // No or a generic type: sniff. Text without NUL bytes is read as text (HTML if it looks so).
    if mt.is_empty() || mt == "application/octet-stream" {
        let head = &body[..body.len().min(1024)];
        if head.contains(&0) {
            return None;
        }
        let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
        let start = lower.trim_start();
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            return Some("html");
        }
        if std::str::from_utf8(head).is_ok() || head.len() == 1024 {
            return Some("text");
        }
    }
    None
}

/// Converts `text` of `kind` (from [`kind_of`]) fetched from `url`. CPU-bound: call it off
/// the async threads.
pub fn convert(
    text: &str,
    kind: &'static str,
    url: &str,
    format: Format,
    extract: Extract,
) -> Page {
    match kind {
        "html" => html(text, url, format, extract),
        "json" => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => Page {
                title: None,
                content: serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.into()),
                kind: "json",
                main_content: false,
            },
            // Declared JSON that is not: show it as sent rather than fail.
            Err(_) => plain(text, "text"),
        },
        other => plain(text, other),
    }
}

fn plain(text: &str, kind: &'static str) -> Page {
    Page {
        title: None,
        content: text.to_string(),
        kind,
        main_content: false,
    }
}

/// Elements that are never content.
const CHROME: [&str; 13] = [
    "head", "script", "style", "noscript", "template", "svg", "canvas", "iframe", "nav", "header",
    "footer", "aside", "form",
];

/// Pages nested deeper than this (counting elements that need an end tag) are shown as text:
/// real pages stay well under 100 levels; building a tree costs time quadratic in the depth
/// and converting it recurses once per level.
pub const MAX_DEPTH: usize = 256;

fn html(source: &str, url: &str, format: Format, extract: Extract) -> Page {
    let scan = nesting::scan(source);
    if format == Format::Html {
        return Page {
            title: scan.title,
            content: source.to_string(),
            kind: "html",
            main_content: false,
        };
    }
    if scan.depth > MAX_DEPTH {
        let note = format!(
            "[webfetch: this page nests its elements {} levels deep (more than {MAX_DEPTH}), \
             too deep to convert safely; its text follows]",
            scan.depth
        );
        return Page {
            title: scan.title,
            content: format!("{note}\n\n{}", tidy(&scan.text)),
            kind: "html",
            main_content: false,
        };
    }
    let article = match extract {
        Extract::Main => main_content(source, url),
        Extract::Full => None,
    };
    let main_content = article.is_some();
    let (title, fragment) = match article {
        Some((title, content)) => (Some(title).filter(|t| !t.trim().is_empty()), content),
        None => (scan.title, source.to_string()),
    };
    let content = match format {
        Format::Text => text_of(&fragment),
        _ => markdown_of(&fragment),
    };
    Page {
        title,
        content,
        kind: "html",
        main_content,
    }
}

/// Readability's pick of the page's main content, as (title, HTML); `None` when it finds
/// too little to trust (short pages, link lists), so the caller uses the whole body.
fn main_content(source: &str, url: &str) -> Option<(String, String)> {
    let config = dom_smoothie::Config {
        // Pages past this many elements are converted whole rather than scored.
        max_elements_to_parse: 50_000,
        ..Default::default()
    };
    let mut readability = dom_smoothie::Readability::new(source, Some(url), Some(config))
        .or_else(|_| dom_smoothie::Readability::new(source, None, None))
        .ok()?;
    let article = readability.parse().ok()?;
    if article.text_content.trim().chars().count() < 200 {
        return None;
    }
    Some((article.title, article.content.to_string()))
}

fn markdown_of(html: &str) -> String {
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(CHROME.to_vec())
        .build();
    let markdown = converter.convert(html).unwrap_or_else(|_| text_of(html));
    tidy(&markdown)
}

fn text_of(html: &str) -> String {
    let doc = dom_query::Document::from(html);
    for tag in CHROME {
        doc.select(tag).remove();
    }
    let text = doc.select("body").text();
    let text = if text.trim().is_empty() {
        doc.root().text()
    } else {
        text
    };
    tidy(&text)
}

/// Trailing spaces trimmed and runs of blank lines collapsed to one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = r#"<!doctype html><html><head><title>Tokio tutorial - Spawning</title></head>
<body>
<nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/docs">Docs</a></nav>
<header><h1>Tokio</h1><p>Site banner text</p></header>
<main><article>
<h1>Spawning</h1>
<p>We are going to shift gears and start working on the Redis server. Tasks are the unit
of execution managed by the scheduler. Spawning a task submits it to the Tokio scheduler,
which then ensures that the task executes when it has work to do.</p>
<h2>Concurrency</h2>
<p>Our server has a slight problem (besides only responding with errors). It processes
inbound requests one at a time. When a connection is accepted, the server stays inside the
accept loop block until the response is fully written to the socket.</p>
<pre><code class="language-rust">tokio::spawn(async move {
    process(socket).await;
});</code></pre>
<ul><li>first point</li><li>second point</li></ul>
<table><thead><tr><th>Name</th><th>Kind</th></tr></thead><tbody><tr><td>spawn</td><td>fn</td></tr></tbody></table>
</article></main>
<aside>Related: a sidebar list of links</aside>
<footer>Copyright footer text</footer>
<script>window.tracking = true;</script>
</body></html>"#;

    #[test]
    fn html_becomes_markdown_of_the_main_content() {
        let page = convert(
            ARTICLE,
            "html",
            "https://tokio.rs/tokio/tutorial/spawning",
            Format::Markdown,
            Extract::Main,
        );
        assert!(page.main_content);
        assert_eq!(page.kind, "html");
        let md = &page.content;
        assert!(md.contains("## Concurrency"), "{md}");
        assert!(md.contains("```"), "{md}");
        assert!(md.contains("tokio::spawn(async move {"), "{md}");
        assert!(md.contains("first point"), "{md}");
        assert!(md.contains("| spawn"), "{md}");
        for chrome in [
            "Site banner",
            "sidebar",
            "Copyright footer",
            "tracking",
            "Blog",
        ] {
            assert!(!md.contains(chrome), "{chrome} kept in {md}");
        }
        assert!(!md.contains("\n\n\n"), "{md}");
    }

    #[test]
    fn full_extraction_keeps_the_body_but_drops_chrome_tags() {
        let page = convert(
            ARTICLE,
            "html",
            "https://tokio.rs/x",
            Format::Markdown,
            Extract::Full,
        );
        assert!(!page.main_content);
        assert_eq!(page.title.as_deref(), Some("Tokio tutorial - Spawning"));
        assert!(page.content.contains("## Concurrency"));
        assert!(!page.content.contains("tracking"));
        assert!(!page.content.contains("Copyright footer"));
    }

    #[test]
    fn short_pages_fall_back_to_the_whole_body() {
        let page = convert(
            "<html><head><title>Tiny</title></head><body><p>Just a line.</p></body></html>",
            "html",
            "http://x/",
            Format::Markdown,
            Extract::Main,
        );
        assert!(!page.main_content);
        assert_eq!(page.content, "Just a line.");
        assert_eq!(page.title.as_deref(), Some("Tiny"));
    }

    #[test]
    fn text_and_html_formats() {
        let text = convert(ARTICLE, "html", "http://x/", Format::Text, Extract::Main);
        assert!(text.content.contains("Concurrency"));
        assert!(!text.content.contains("##"));
        assert!(!text.content.contains('<'));
        let html = convert(ARTICLE, "html", "http://x/", Format::Html, Extract::Main);
        assert_eq!(html.content, ARTICLE);
    }

    #[test]
    fn json_is_pretty_printed_and_bad_json_passed_through() {
        let page = convert(
            r#"{"a":[1,2],"b":"c"}"#,
            "json",
            "http://x/",
            Format::Markdown,
            Extract::Main,
        );
        assert_eq!(
            page.content,
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"c\"\n}"
        );
        let page = convert(
            "{oops",
            "json",
            "http://x/",
            Format::Markdown,
            Extract::Main,
        );
        assert_eq!((page.content.as_str(), page.kind), ("{oops", "text"));
    }

    #[test]
    fn media_types_are_sorted_into_kinds() {
        assert_eq!(kind_of("text/html", b""), Some("html"));
        assert_eq!(kind_of("application/vnd.api+json", b""), Some("json"));
        assert_eq!(kind_of("application/rss+xml", b""), Some("xml"));
        assert_eq!(kind_of("text/plain", b""), Some("text"));
        assert_eq!(kind_of("text/markdown", b""), Some("text"));
        assert_eq!(kind_of("image/png", b"\x89PNG"), None);
        assert_eq!(kind_of("application/pdf", b"%PDF-1.7"), None);
        assert_eq!(kind_of("", b"<!DOCTYPE html><p>x"), Some("html"));
        assert_eq!(kind_of("application/octet-stream", b"ab\0cd"), None);
        assert_eq!(kind_of("", b"plain words"), Some("text"));
    }
}
