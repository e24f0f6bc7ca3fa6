//! The `warden` command line. `main` only parses flags; everything it runs
//! lives here so tests can drive it.

mod compile;
mod keys;
mod operator;
mod scaffold;
mod serve;
mod state;
mod telemetry;
mod tool;

pub use telemetry::LogFormat;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Warden: a sandboxed WebAssembly tool runtime for voice agents.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// How log lines on stderr look (`WARDEN_LOG` filters them, default `warn`).
    #[arg(
        long,
        global = true,
        env = "WARDEN_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
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
    /// Run Warden: the management API and the worker API over HTTP.
    Serve(Box<serve::ServeArgs>),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage organization API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage worker tokens (credentials of voice-agent workers).
    #[command(subcommand, name = "worker-token")]
    WorkerToken(WorkerTokenCommand),
    /// Internal: compile one component from stdin in a limited process.
    #[command(name = "__compile", hide = true)]
    Compile(compile::CompileChildArgs),
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization; prints `{"organization_id","api_key",…}` once.
    Create(operator::OrgCreateArgs),
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Revoke an API key by its id; it stops working at once.
    Revoke(operator::ApiKeyRevokeArgs),
}

#[derive(Debug, Subcommand)]
enum WorkerTokenCommand {
    /// Create a worker token (`--organization ORG_ID` limits it to one
    /// organization's agents); prints `{"worker_token",…}` once.
    Create(operator::WorkerTokenCreateArgs),
    /// List worker tokens (never the tokens themselves) with their scope.
    List(operator::WorkerTokenListArgs),
    /// Revoke a worker token by its id; it stops working at once.
    Revoke(operator::WorkerTokenRevokeArgs),
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // The compile child does one thing and has no runtime or telemetry.
    let command = match cli.command {
        Command::Compile(args) => return compile::child(args),
        command => command,
    };
    let cli = Cli { command, ..cli };
    let prometheus = matches!(&cli.command, Command::Serve(args) if args.metrics_endpoint());
    let telemetry = match telemetry::init(cli.log_format, prometheus) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    let metrics = telemetry.metrics_registry();
    let code = runtime.block_on(async {
        match cli.command {
            Command::Tool(cmd) => tool::run(*cmd).await,
            Command::Keys(cmd) => keys::run(cmd).await,
            Command::Serve(args) => serve::serve(*args, metrics).await,
            Command::Org(OrgCommand::Create(args)) => operator::org_create(args).await,
            Command::ApiKey(ApiKeyCommand::Revoke(args)) => operator::api_key_revoke(args).await,
            Command::WorkerToken(WorkerTokenCommand::Create(args)) => {
                operator::worker_token_create(args).await
            }
            Command::WorkerToken(WorkerTokenCommand::List(args)) => {
                operator::worker_token_list(args).await
            }
            Command::WorkerToken(WorkerTokenCommand::Revoke(args)) => {
                operator::worker_token_revoke(args).await
            }
            Command::Compile(_) => unreachable!("handled before the runtime starts"),
        }
    });
    // Tasks still holding spans end with the runtime; then flush.
    drop(runtime);
    telemetry.shutdown();
    code
}

/// Prints `error: {message}` on stderr; the exit code of a failed command.
fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
