//! The LSP-framed JSON-RPC server: transport, lifecycle and the `orchestrator/...` methods.

pub mod connection;
mod errors;
pub mod framing;
mod lsp;
pub mod message;
mod methods;
pub mod protocol;

pub use connection::{ConnectionOptions, Ended, serve_connection};
pub use lsp::CoreSource;

/// Serves one client on stdin/stdout; returns the exit code LSP asks for.
pub async fn serve_stdio(options: ConnectionOptions, source: CoreSource) -> i32 {
    let ended = serve_connection(tokio::io::stdin(), tokio::io::stdout(), options, source).await;
    tracing::info!(
        exit_code = ended.exit_code,
        exit = ended.exit_received,
        "connection ended"
    );
    ended.exit_code
}
