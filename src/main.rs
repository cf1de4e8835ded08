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
    /// Serve LSP-framed JSON-RPC on stdin/stdout.
    Serve {
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
            max_frame_bytes,
            concurrency,
            log_file,
        } => serve(max_frame_bytes, concurrency, log_file),
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

fn serve(
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opencode-orchestrator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "serving on stdio");
    let code = runtime.block_on(serve_stdio(
        options,
        CoreSource::OnInitialize { backend: None },
    ));
    drop(_guard);
    // Exit now: tokio's stdin reader sits on a blocking thread that would keep the runtime
    // (and so the process) alive until more input arrives.
    std::process::exit(code);
}
