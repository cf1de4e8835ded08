//! opencode-orchestrator: a multi-agent orchestrator for the OpenCode coding agent.
//!
//! - [`server`]: the LSP-framed JSON-RPC transport and the `orchestrator/...` methods.
//! - [`orchestrator`]: scheduler, task ledger, event bus and the agent runtime interface.
//! - [`tools`]: the tools agents call, behind one registry.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod logging;
pub mod orchestrator;
pub mod server;
pub mod tools;
