//! DuckDuckGo's HTML endpoint: a form POST answered with a results page.

use reqwest::Client;

use super::{Hit, Query, clean, normalise};
use crate::tools::web::http::{self, WebError};

pub async fn search(
    client: &Client,
    endpoint: &str,
    query: &Query<'_>,
) -> Result<Vec<Hit>, WebError> {
    let url = http::parse_url(endpoint)?;
    let mut form = vec![("q", query.text)];
    if let Some(language) = query.language {
        form.push(("kl", language));
    }
    let request = client
        .post(url.clone())
        .form(&form)
        .header(reqwest::header::ACCEPT, "text/html");
    let body = http::read(request, &url, 4 << 20, query.timeout_ms).await?;
    let html = body.text();
    let hits = parse(&html);
    if hits.is_empty() && looks_blocked(&html, query.text) {
        return Err(WebError::Malformed {
            what: "the DuckDuckGo answer",
            url: body.url.to_string(),
            detail: "a challenge page instead of results (rate limited); try again later".into(),
        });
    }
    Ok(hits)
}

/// The results of an HTML results page.
pub fn parse(html: &str) -> Vec<Hit> {
    let doc = dom_query::Document::from(html);
    let mut hits = Vec::new();
    for result in doc.select("div.result").iter() {
        // Sponsored results carry the ad class; they are not answers.
        if result.has_class("result--ad") {
            continue;
        }
        let link = result.select("a.result__a").first();
        let Some(href) = link.attr("href") else {
            continue;
        };
        hits.push(Hit {
            title: clean(&link.text()),
            url: target(&href),
            snippet: clean(&result.select(".result__snippet").first().text()),
            provider: "duckduckgo",
        });
    }
    normalise(hits)
}

/// Result links go through a redirector (`//duckduckgo.com/l/?uddg=<target>`); the target is
/// what the model wants.
fn target(href: &str) -> String {
    let absolute = if href.starts_with("//") {
        format!("https:{href}")
    } else {
        href.to_string()
    };
    match reqwest::Url::parse(&absolute) {
        Ok(url) => url
            .query_pairs()
            .find(|(k, _)| k == "uddg")
            .map(|(_, v)| v.into_owned())
            .unwrap_or(absolute),
        Err(_) => absolute,
    }
}

/// A page with no results that reads like DuckDuckGo's bot check. The page echoes the query,
/// so a word the query itself holds ("coding challenge") says nothing.
fn looks_blocked(html: &str, query: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let query = query.to_ascii_lowercase();
    ["anomaly", "captcha", "challenge"]
        .iter()
        .any(|w| lower.contains(w) && !query.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_check_is_told_from_a_page_echoing_the_query() {
        let check = r#"<html><body><div class="anomaly-modal">Unfortunately, bots use
            DuckDuckGo too. Please complete the following challenge</div></body></html>"#;
        assert!(looks_blocked(check, "tokio spawn"));
        assert!(
            looks_blocked(check, "coding challenge"),
            "anomaly still tells"
        );
        let none = r#"<html><body><input name="q" value="coding challenge">
            <div class="no-results">No results.</div></body></html>"#;
        assert!(!looks_blocked(none, "coding challenge"));
        assert!(!looks_blocked(none, "Coding CHALLENGE"));
    }

    #[test]
    fn results_pages_are_parsed_and_redirects_unwrapped() {
        let html = r#"<html><body>
<div class="result results_links result--ad"><a class="result__a" href="https://ads.example/x">Ad</a></div>
<div class="result results_links">
  <h2><a class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Ftokio.rs%2Ftokio%2Ftutorial&amp;rut=abc">Tokio <b>tutorial</b></a></h2>
  <a class="result__snippet" href="x">Tokio is an   asynchronous runtime
  for Rust.</a>
</div>
<div class="result"><a class="result__a" href="https://docs.rs/tokio">tokio - Rust</a></div>
<div class="result"><a class="result__a" href="https://docs.rs/tokio">duplicate</a></div>
<div class="result"><a class="result__a" href="javascript:alert(1)">bad</a></div>
</body></html>"#;
        let hits = parse(html);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0].title, "Tokio tutorial");
        assert_eq!(hits[0].url, "https://tokio.rs/tokio/tutorial");
        assert_eq!(
            hits[0].snippet,
            "Tokio is an asynchronous runtime for Rust."
        );
        assert_eq!(hits[1].url, "https://docs.rs/tokio");
        assert_eq!(hits[1].snippet, "");
    }
}
