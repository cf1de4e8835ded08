//! The Brave Search API (`X-Subscription-Token` header).

use reqwest::Client;
use serde::Deserialize;

use super::{Hit, Query, clean, decode, normalise};
use crate::tools::web::http::{self, WebError};

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    web: Option<Web>,
}

#[derive(Deserialize)]
struct Web {
    #[serde(default)]
    results: Vec<Result>,
}

#[derive(Deserialize)]
struct Result {
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
}

pub async fn search(
    client: &Client,
    endpoint: &str,
    key: &str,
    query: &Query<'_>,
) -> std::result::Result<Vec<Hit>, WebError> {
    let url = http::parse_url(endpoint)?;
    let count = query.max_results.clamp(1, 20).to_string();
    let mut params = vec![("q", query.text), ("count", count.as_str())];
    if let Some(language) = query.language {
        params.push(("search_lang", language));
    }
    let request = client
        .get(url.clone())
        .query(&params)
        .header(reqwest::header::ACCEPT, "application/json")
        .header("X-Subscription-Token", key);
    let body = http::read(request, &url, 4 << 20, query.timeout_ms).await?;
    let response: Response = decode(&body, "the Brave Search answer")?;
    Ok(normalise(
        response
            .web
            .map(|w| w.results)
            .unwrap_or_default()
            .into_iter()
            .map(|r| Hit {
                // Brave marks query terms with <strong>; the model wants plain text.
                title: clean(&strip_tags(&r.title)),
                url: r.url,
                snippet: clean(&strip_tags(&r.description)),
                provider: "brave",
            })
            .collect(),
    ))
}

fn strip_tags(text: &str) -> String {
    if !text.contains('<') {
        return text.to_string();
    }
    dom_query::Document::fragment(text)
        .root()
        .text()
        .to_string()
}
