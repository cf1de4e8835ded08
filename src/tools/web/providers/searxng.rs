//! SearXNG's JSON API (`/search?format=json`); the instance must enable the json format.

use reqwest::Client;
use serde::Deserialize;

use super::{Hit, Query, clean, decode, normalise};
use crate::tools::web::http::{self, WebError};

#[derive(Deserialize)]
struct Response {
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
    content: String,
}

pub async fn search(
    client: &Client,
    base: &str,
    query: &Query<'_>,
) -> std::result::Result<Vec<Hit>, WebError> {
    let url = http::parse_url(&format!("{}/search", base.trim_end_matches('/')))?;
    let mut params = vec![("q", query.text), ("format", "json")];
    if let Some(language) = query.language {
        params.push(("language", language));
    }
    let request = client
        .get(url.clone())
        .query(&params)
        .header(reqwest::header::ACCEPT, "application/json");
    let body = http::read(request, &url, 4 << 20, query.timeout_ms).await?;
    let response: Response = decode(&body, "the SearXNG answer")?;
    Ok(normalise(
        response
            .results
            .into_iter()
            .map(|r| Hit {
                title: clean(&r.title),
                url: r.url,
                snippet: clean(&r.content),
                provider: "searxng",
            })
            .collect(),
    ))
}
