//! The Arbor server: runs coding agents as sessions on their own git branches and worktrees and
//! serves them to editors over a language-server-style JSON-RPC protocol.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of this crate.

pub mod agents;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod export;
pub mod forge;
pub mod git;
pub mod hosts;
pub mod hub;
pub mod memory;
pub mod paths;
pub mod policy;
pub mod pricing;
pub mod render;
pub mod rpc;
pub mod sandbox;
pub mod service;
pub mod sessions;
pub mod store;
pub mod web;
