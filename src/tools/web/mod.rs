//! What the web tools share: HTTP clients, the SSRF guard, body conversion, the docs cache,
//! the search providers and the code search client.

pub mod code_search;
pub mod convert;
pub mod doc_cache;
pub mod guard;
pub mod http;
pub mod nesting;
pub mod providers;

use std::sync::{Arc, OnceLock};

use reqwest::Client;

use crate::config::WebConfig;
use crate::orchestrator::OrchestratorError;

/// The web tools' HTTP clients, built on first use: loading the system's root certificates
/// takes milliseconds that a server start should not pay for tools it may never call.
#[derive(Default)]
pub struct WebClients {
    guarded: OnceLock<Result<Guarded, String>>,
    endpoints: OnceLock<Result<Client, String>>,
}

/// The client for URLs a model chose, and the policy it enforces (address literals are
/// checked before a request, since they never reach the resolver).
#[derive(Clone)]
pub struct Guarded {
    pub client: Client,
    pub policy: Arc<guard::AddressPolicy>,
}

impl WebClients {
    /// For URLs a model chose: address-guarded.
    pub fn guarded(&self, config: &WebConfig) -> Result<Guarded, OrchestratorError> {
        self.guarded
            .get_or_init(|| {
                let policy = Arc::new(guard::AddressPolicy::new(&config.allow_hosts));
                let client = http::guarded_client(config, policy.clone())?;
                Ok(Guarded { client, policy })
            })
            .clone()
            .map_err(OrchestratorError::ToolFailed)
    }

    /// For the configured search and code search endpoints.
    pub fn endpoints(&self, config: &WebConfig) -> Result<Client, OrchestratorError> {
        self.endpoints
            .get_or_init(|| http::endpoint_client(config))
            .clone()
            .map_err(OrchestratorError::ToolFailed)
    }
}

impl From<http::WebError> for OrchestratorError {
    fn from(e: http::WebError) -> Self {
        OrchestratorError::ToolFailed(e.to_string())
    }
}

/// Text cut to `max_chars` characters from `offset`, with a marker saying how to read on.
/// Returns the window and whether it was cut.
pub fn window(text: &str, offset: usize, max_chars: usize) -> (String, bool) {
    let total = text.chars().count();
    let start = offset.min(total);
    let shown: String = text.chars().skip(start).take(max_chars).collect();
    let end = start + shown.chars().count();
    if end >= total {
        return (shown, false);
    }
    let marker = format!(
        "\n\n[... truncated: showed characters {start}-{end} of {total}; call again with \
         offset={end} to read on]"
    );
    (shown + &marker, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cut_on_characters_and_say_how_to_read_on() {
        let text = "héllo wörld";
        assert_eq!(window(text, 0, 100), (text.to_string(), false));
        let (cut, truncated) = window(text, 0, 5);
        assert!(truncated);
        assert!(cut.starts_with("héllo\n\n[... truncated: showed characters 0-5 of 11"));
        assert!(cut.contains("offset=5"));
        assert_eq!(window(text, 6, 100), ("wörld".to_string(), false));
        assert_eq!(window(text, 50, 100), (String::new(), false));
    }
}
