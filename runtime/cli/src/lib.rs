//! The `warden` command line. `main` only parses flags; everything it runs
//! lives here so tests can drive it.

mod keys;
mod tool;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Warden: a sandboxed WebAssembly tool runtime for voice agents.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Develop and try tools (WebAssembly components) locally.
    #[command(subcommand)]
    Tool(Box<tool::ToolCommand>),
    /// Manage the key ring that seals stored secrets.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Tool(cmd) => tool::run(*cmd).await,
            Command::Keys(cmd) => keys::run(cmd).await,
        }
    })
}
