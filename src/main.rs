//! The `opencode-orchestrator` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use opencode_orchestrator::config::{Config, default_log_path};
use opencode_orchestrator::server::{ConnectionOptions, CoreSource, serve_stdio};

#[derive(Parser)]
#[command(
    name = "opencode-orchestrator",
    version,
    about = "Multi-agent orchestrator for OpenCode"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve LSP-framed JSON-RPC on stdin/stdout: connect the client to its workspace's
    /// daemon (started when none runs), or serve it in this process with `--standalone`.
    Serve {
        /// Serve in this process, with an orchestrator of its own.
        #[arg(long)]
        standalone: bool,
        /// Accepted and ignored: stdio is the only transport (LSP clients pass it).
        #[arg(long, hide = true)]
        stdio: bool,
        /// Largest accepted frame body in bytes (default from config: 64 MiB).
        #[arg(long)]
        max_frame_bytes: Option<usize>,
        /// Requests handled at once (default from config: 128).
        #[arg(long)]
        concurrency: Option<usize>,
        /// The log file (default: <temp dir>/opencode-orchestrator.log).
        #[arg(long)]
        log_file: Option<std::path::PathBuf>,
    },
    /// Run the daemon of a workspace (`serve` starts it; not for people).
    #[command(hide = true)]
    Daemon {
        #[arg(long)]
        workspace: std::path::PathBuf,
        #[arg(long)]
        socket: std::path::PathBuf,
        #[arg(long)]
        log_file: Option<std::path::PathBuf>,
    },
    /// Print the version.
    Version,
    /// Print where the log file is.
    LogPath,
    /// Print the JSON Schema of the config file.
    ConfigSchema,
    /// Show a workspace's missions (read from its ledger; safe while a server runs).
    Missions {
        /// The workspace (default: the current directory).
        #[arg(long)]
        workspace: Option<std::path::PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// One mission in full, with its journal.
        id: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("opencode-orchestrator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::LogPath => {
            println!(
                "{}",
                user_config()
                    .map(|c| c.log_path())
                    .unwrap_or_else(|_| default_log_path())
                    .display()
            );
            ExitCode::SUCCESS
        }
        Command::ConfigSchema => match serde_json::to_string_pretty(&Config::json_schema()) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot render the schema: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve {
            standalone,
            stdio: _,
            max_frame_bytes,
            concurrency,
            log_file,
        } => serve(standalone, max_frame_bytes, concurrency, log_file),
        Command::Daemon {
            workspace,
            socket,
            log_file,
        } => daemon(workspace, socket, log_file),
        Command::Missions {
            workspace,
            json,
            id,
        } => match opencode_orchestrator::cli::missions(workspace, id.as_deref(), json) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("opencode-orchestrator: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// The user-wide config (the workspace one is read at `initialize`).
fn user_config() -> Result<Config, opencode_orchestrator::config::ConfigError> {
    Config::load(None, None)
}

fn daemon(
    workspace: std::path::PathBuf,
    socket: std::path::PathBuf,
    log_file: Option<std::path::PathBuf>,
) -> ExitCode {
    let config = match Config::load(Some(&workspace), None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("opencode-orchestrator: {e}");
            return ExitCode::from(2);
        }
    };
    let log_path = log_file.unwrap_or_else(|| config.log_path());
    let _guard = opencode_orchestrator::logging::init(&log_path, &config.log.level).ok();
    let Some(runtime) = async_runtime() else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(opencode_orchestrator::daemon::server::run(
        workspace, socket,
    ));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            tracing::info!("another daemon serves this workspace");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("daemon: {e}");
            eprintln!("opencode-orchestrator daemon: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The multi-threaded tokio runtime, or None after saying why it could not start.
fn async_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .inspect_err(|e| eprintln!("opencode-orchestrator: cannot start the async runtime: {e}"))
        .ok()
}

fn serve(
    standalone: bool,
    max_frame_bytes: Option<usize>,
    concurrency: Option<usize>,
    log_file: Option<std::path::PathBuf>,
) -> ExitCode {
    let config = match user_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("opencode-orchestrator: {e}");
            return ExitCode::from(2);
        }
    };
    let log_path = log_file.unwrap_or_else(|| config.log_path());
    let _guard = match opencode_orchestrator::logging::init(&log_path, &config.log.level) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!(
                "opencode-orchestrator: cannot open log file {}: {e}",
                log_path.display()
            );
            None
        }
    };
    let options = ConnectionOptions {
        max_frame_bytes: max_frame_bytes.unwrap_or(config.transport.max_frame_bytes),
        concurrency: concurrency.unwrap_or(config.transport.concurrency),
    };
    let Some(runtime) = async_runtime() else {
        return ExitCode::FAILURE;
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        standalone,
        "serving on stdio"
    );
    let code = if standalone {
        runtime.block_on(serve_stdio(
            options,
            CoreSource::OnInitialize { backend: None },
        ))
    } else {
        runtime.block_on(opencode_orchestrator::server::connect_stdio(options))
    };
    drop(_guard);
    // Exit now: tokio's stdin reader sits on a blocking thread that would keep the runtime
    // (and so the process) alive until more input arrives.
    std::process::exit(code);
}
