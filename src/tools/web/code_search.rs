//! Public code search through the grep.app API (`/api/search`).
//!
//! A hit is a file: repository, path, match count and a snippet, which grep.app sends as an
//! HTML table of numbered lines with the matches marked; we turn it back into lines.

use reqwest::Client;
use serde::{Deserialize, Serialize};

use super::http::{self, WebError};

pub struct CodeQuery<'a> {
    pub query: &'a str,
    pub regex: bool,
    pub case_sensitive: bool,
    pub whole_words: bool,
    pub languages: &'a [String],
    pub repo: Option<&'a str>,
    pub path: Option<&'a str>,
    pub page: u32,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeHit {
    pub repo: String,
    pub path: String,
    pub branch: Option<String>,
    /// Matches in the file, as grep.app counts them.
    pub matches: u64,
    /// The snippet's lines: (line number, text).
    pub lines: Vec<(u64, String)>,
}

#[derive(Debug)]
pub struct CodeAnswer {
    pub total: u64,
    pub hits: Vec<CodeHit>,
}

#[derive(Deserialize)]
struct Response {
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    #[serde(default)]
    total: u64,
    #[serde(default)]
    hits: Vec<RawHit>,
}

#[derive(Deserialize)]
struct RawHit {
    repo: Raw,
    path: Raw,
    #[serde(default)]
    branch: Option<Raw>,
    #[serde(default)]
    total_matches: Option<Raw>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct Raw {
    raw: serde_json::Value,
}

impl Raw {
    fn text(&self) -> String {
        match &self.raw {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    snippet: String,
}

pub async fn search(
    client: &Client,
    base_url: &str,
    q: &CodeQuery<'_>,
) -> Result<CodeAnswer, WebError> {
    let url = http::parse_url(&format!("{}/api/search", base_url.trim_end_matches('/')))?;
    let page = q.page.to_string();
    let mut params: Vec<(&str, &str)> = vec![("q", q.query), ("page", &page)];
    if q.regex {
        params.push(("regexp", "true"));
    }
    if q.case_sensitive {
        params.push(("case", "true"));
    }
    if q.whole_words {
        params.push(("words", "true"));
    }
    for language in q.languages {
        params.push(("f.lang", language));
    }
    if let Some(repo) = q.repo {
        params.push(("f.repo.pattern", repo));
    }
    if let Some(path) = q.path {
        params.push(("f.path.pattern", path));
    }
    let request = client
        .get(url.clone())
        .query(&params)
        .header(reqwest::header::ACCEPT, "application/json");
    let body = http::read(request, &url, 8 << 20, q.timeout_ms).await?;
    let response: Response =
        serde_json::from_slice(&body.bytes).map_err(|e| WebError::Malformed {
            what: "the code search answer",
            url: body.url.to_string(),
            detail: e.to_string(),
        })?;
    let hits = response
        .hits
        .hits
        .into_iter()
        .map(|h| CodeHit {
            repo: h.repo.text(),
            path: h.path.text(),
            branch: h.branch.map(|b| b.text()),
            matches: h
                .total_matches
                .map(|m| m.text().trim().parse().unwrap_or(0))
                .unwrap_or(0),
            lines: h
                .content
                .map(|c| snippet_lines(&c.snippet))
                .unwrap_or_default(),
        })
        .collect();
    Ok(CodeAnswer {
        total: response.hits.total,
        hits,
    })
}

/// The snippet table's rows as (line number, text); plain text when it is not a table.
pub fn snippet_lines(snippet: &str) -> Vec<(u64, String)> {
    let doc = dom_query::Document::fragment(snippet);
    let rows = doc.select("tr");
    if rows.is_empty() {
        let text = doc.root().text();
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i as u64 + 1, l.trim_end().to_string()))
            .collect();
    }
    rows.iter()
        .filter_map(|row| {
            let number = row
                .attr("data-line")
                .and_then(|n| n.trim().parse().ok())
                .or_else(|| row.select(".lineno").first().text().trim().parse().ok())?;
            let code = row.select("pre").first();
            let text = if code.is_empty() {
                row.select("td").last().text().to_string()
            } else {
                code.text().to_string()
            };
            Some((number, text.trim_end_matches(['\n', '\r']).to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_tables_become_numbered_lines() {
        let snippet = r#"<table class="highlight-table"><tr data-line="11"><td><div class="lineno">11</div></td><td><div class="highlight"><pre>fn main() {</pre></div></td></tr><tr data-line="12"><td><div class="lineno">12</div></td><td><div class="highlight"><pre>    tokio::<mark>spawn</mark>(async {});</pre></div></td></tr><tr><td><div class="lineno">13</div></td><td><div class="highlight"><pre>}</pre></div></td></tr></table>"#;
        assert_eq!(
            snippet_lines(snippet),
            vec![
                (11, "fn main() {".to_string()),
                (12, "    tokio::spawn(async {});".to_string()),
                (13, "}".to_string()),
            ]
        );
        assert_eq!(
            snippet_lines("just text"),
            vec![(1, "just text".to_string())]
        );
        assert!(snippet_lines("").is_empty());
    }
}
