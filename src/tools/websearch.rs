//! `websearch`: the web through a provider chain (SearXNG, Brave, DuckDuckGo).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::web::providers::{self, Query};
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct WebSearch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// What to search for.
    #[schemars(length(min = 1, max = 500))]
    query: String,
    /// Results returned (1-20, default 8).
    #[serde(default = "default_max_results")]
    #[schemars(range(min = 1, max = 20), default = "default_max_results")]
    max_results: usize,
    /// A language code for the results (`en`, `de`, `fr`), when it matters.
    #[serde(default)]
    #[schemars(length(min = 2, max = 10))]
    language: Option<String>,
}

fn default_max_results() -> usize {
    8
}

#[async_trait]
impl Tool for WebSearch {
    const NAME: &'static str = "websearch";
    const DESCRIPTION: &'static str = "Search the web. Returns numbered results (title, URL, \
snippet) from the first provider that answers (SearXNG, then Brave, then DuckDuckGo, as \
configured). Read a result with webfetch.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let text = args.query.trim();
        if text.is_empty() {
            return Err(OrchestratorError::InvalidArgument {
                field: "query",
                message: "the query is blank; say what to search for".into(),
            });
        }
        let config = &orchestrator.config().web;
        let client = orchestrator.web_clients().endpoints(config)?;
        let query = Query {
            text,
            max_results: args.max_results,
            language: args.language.as_deref(),
            timeout_ms: config.timeout_ms,
        };
        let answer = providers::search(&client, config, &query).await;
        let attempts = serde_json::to_value(&answer.attempts).unwrap_or_default();
        if answer.hits.is_empty() {
            let answered = answer.attempts.iter().any(|a| a.outcome == "empty");
            let summary = answer
                .attempts
                .iter()
                .map(|a| {
                    let who = match &a.endpoint {
                        Some(e) => format!("{} ({e})", a.provider),
                        None => a.provider.to_string(),
                    };
                    match &a.error {
                        Some(error) => format!("{who}: {} — {error}", a.outcome),
                        None => format!("{who}: {}", a.outcome),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            if !answered {
                return Err(OrchestratorError::ToolFailed(format!(
                    "no search provider answered: {summary}. Configure `web.search` \
                     (a SearXNG instance, or a Brave key) or try again later"
                )));
            }
            return Ok(ToolOutput {
                title: Some(format!("no results for {text:?}")),
                output: format!("No results for {text:?} ({summary})."),
                metadata: json!({ "provider": null, "results": [], "attempts": attempts }),
            });
        }
        let provider = answer.hits[0].provider;
        let mut out = format!("Results for {text:?} from {provider}:\n");
        for (i, hit) in answer.hits.iter().enumerate() {
            out.push_str(&format!("\n{}. {}\n   {}\n", i + 1, hit.title, hit.url));
            if !hit.snippet.is_empty() {
                out.push_str(&format!("   {}\n", hit.snippet));
            }
        }
        Ok(ToolOutput {
            title: Some(format!("{} results for {text:?}", answer.hits.len())),
            output: out.trim_end().to_string(),
            metadata: json!({
                "provider": provider,
                "results": answer.hits,
                "attempts": attempts,
            }),
        })
    }
}
