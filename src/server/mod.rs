//! The LSP-framed JSON-RPC server: transport, lifecycle and the `orchestrator/...` methods.

mod bridge;
pub mod connection;
mod errors;
pub mod framing;
mod lsp;
pub mod message;
mod methods;
mod output;
mod progress;
pub mod protocol;
pub mod uri;

pub use connection::{ConnectionOptions, Ended, serve_connection};
pub use lsp::CoreSource;

/// Serves one client on stdin/stdout; returns the exit code LSP asks for.
pub async fn serve_stdio(options: ConnectionOptions, source: CoreSource) -> i32 {
    let ended = match (pipe_stdin(), pipe_stdout()) {
        // Pipes (how editors and plugins start us) are read and written directly through the
        // event loop; tokio's generic stdin/stdout go through a blocking thread per read and
        // write, which costs a thread hop on every message.
        (Some(input), Some(output)) => serve_connection(input, output, options, source).await,
        _ => serve_connection(tokio::io::stdin(), tokio::io::stdout(), options, source).await,
    };
    tracing::info!(
        exit_code = ended.exit_code,
        exit = ended.exit_received,
        "connection ended"
    );
    ended.exit_code
}

/// `serve`: the client on stdin/stdout goes to its workspace's daemon; when none can serve
/// it (no workspace named, or the daemon cannot be reached), it is served in this process.
pub async fn connect_stdio(options: ConnectionOptions) -> i32 {
    match (pipe_stdin(), pipe_stdout()) {
        (Some(input), Some(output)) => connect(input, output, options).await,
        _ => connect(tokio::io::stdin(), tokio::io::stdout(), options).await,
    }
}

async fn connect<R, W>(input: R, output: W, options: ConnectionOptions) -> i32
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use crate::daemon::connector::{self, Outcome};
    match connector::run(input, output).await {
        Outcome::Relayed(code) => code,
        Outcome::Standalone {
            why,
            early,
            input,
            output,
        } => {
            tracing::info!("serving in this process: {why}");
            let input = tokio::io::AsyncReadExt::chain(std::io::Cursor::new(early), input);
            let source = CoreSource::OnInitialize { backend: None };
            serve_connection(input, output, options, source)
                .await
                .exit_code
        }
    }
}

fn pipe_stdin() -> Option<tokio::net::unix::pipe::Receiver> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()
}

fn pipe_stdout() -> Option<tokio::net::unix::pipe::Sender> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    tokio::net::unix::pipe::Sender::from_owned_fd(fd).ok()
}
