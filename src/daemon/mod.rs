//! One orchestrator per workspace, shared by every client: a daemon listening on a Unix socket
//! only its user can open, and the connector (`serve`) that finds it (starting it when none
//! answers) and relays a client's stdio to it.

pub mod connector;
mod core;
mod opencode_serve;
pub mod server;
pub mod socket;

pub use core::DaemonCore;
