//! `warden serve`: opens the state, installs the bundled tools, bootstraps
//! an empty database and serves the APIs until SIGTERM/SIGINT.

use crate::fail;
use crate::state::{BOOTSTRAP_FILE, StateArgs, write_private};
use clap::{Args, ValueEnum};
use secrecy::ExposeSecret;
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use warden_core::{BundledInstall, Core, CoreSettings, OrganizationGrants};
use warden_sandbox::Limits;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// The management API, the worker API and MCP.
    All,
    /// The management API only (`/v1`).
    Api,
    /// The worker API and MCP only (`/worker/v1`, `/mcp`).
    Worker,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Address to listen on.
    #[arg(long, env = "WARDEN_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Which APIs this process serves.
    #[arg(long, value_enum, default_value = "all")]
    role: RoleArg,
    /// How long in-flight calls may take to finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    shutdown_grace: u64,
    /// Operator grants for the platform's tools' outbound HTTP (and, with
    /// the flags below, for organizations' own tools).
    #[command(flatten)]
    grants: crate::tool::GrantArgs,
    /// Extend the grants above (`--allow-host`, `--allow-private-network`,
    /// `--credential-host`, `--oauth-*-url`) to the tools this
    /// organization uploads (repeatable). Denials apply to every tool.
    #[arg(long = "grants-for-organization", value_name = "ORG_ID")]
    grants_for_organizations: Vec<String>,
    /// Extend the grants to every organization's own tools: only where the
    /// operator trusts every uploader (one tenant, development).
    #[arg(long, conflicts_with = "grants_for_organizations")]
    grants_for_all_organizations: bool,
    /// Let the tool NAME grow its linear memory to MIB (default limit: 64
    /// MiB), e.g. a Python or JavaScript tool that loads large data
    /// (repeatable, at most 4096). It applies to the platform's tool of
    /// that name, and to organizations' own tools of that name only as
    /// `--grants-for-organization`/`--grants-for-all-organizations` say.
    /// Every instance of the tool may then hold that much memory.
    #[arg(long = "tool-memory", value_name = "NAME=MIB", value_parser = parse_tool_memory)]
    tool_memory: Vec<(String, usize)>,
    /// How long the recorded outcome of an exactly-once call (one with a
    /// call id, of a function that is not read-only) answers its retries,
    /// in seconds.
    #[arg(long, default_value_t = warden_core::DEFAULT_CALL_OUTCOME_TTL.as_secs(), value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..))]
    call_outcome_ttl: u64,
    /// Recorded exactly-once outcomes one organization keeps; past this (or
    /// `--call-outcome-bytes-per-organization`) its oldest go, and a retry
    /// of one of those calls runs again.
    #[arg(long, default_value_t = warden_core::OutcomeBudget::default().outcomes, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..))]
    call_outcomes_per_organization: u64,
    /// Bytes of recorded exactly-once outcomes (sealed) one organization
    /// keeps, all together; past this its oldest go.
    #[arg(long, default_value_t = warden_core::OutcomeBudget::default().bytes, value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(1..))]
    call_outcome_bytes_per_organization: u64,
    /// Sandbox instances one organization may hold at once (of 256); free
    /// slots go round-robin to the organizations waiting.
    #[arg(long, default_value_t = warden_sandbox::SandboxConfig::default().max_instances_per_tenant, value_name = "N")]
    max_instances_per_organization: u32,
    /// Open connections at once, all clients together (every listener).
    #[arg(long, default_value_t = warden_api::ServerLimits::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Open connections at once from one client address; 0 for no cap
    /// (behind a reverse proxy, which connects from one address).
    #[arg(long, default_value_t = warden_api::ServerLimits::default().max_connections_per_ip, value_name = "N")]
    max_connections_per_ip: usize,
    /// Seconds for a request's headers to arrive, from when the connection
    /// opens or the previous response ends (so also the keep-alive idle
    /// timeout).
    #[arg(long, default_value_t = warden_api::ServerLimits::default().header_read_timeout.as_secs(), value_name = "SECONDS")]
    header_read_timeout: u64,
    /// Seconds for a request's body to arrive once its headers did.
    #[arg(long, default_value_t = warden_api::ServerLimits::default().request_body_timeout.as_secs(), value_name = "SECONDS")]
    request_body_timeout: u64,
    /// Invocations per second allowed per (organization, tool); 0 turns the
    /// limit off.
    #[arg(long, default_value_t = 50.0, value_name = "N")]
    rate_limit: f64,
    /// Invocations a (organization, tool) may burst above the rate.
    #[arg(long, default_value_t = 100, value_name = "N")]
    rate_limit_burst: u32,
    /// Uploads (`POST /v1/tools`) per minute allowed per organization; 0
    /// turns the limit off.
    #[arg(long, default_value_t = warden_api::RateLimit::UPLOADS.per_second * 60.0, value_name = "N")]
    upload_rate_limit: f64,
    /// Uploads an organization may burst above the rate.
    #[arg(long, default_value_t = warden_api::RateLimit::UPLOADS.burst, value_name = "N")]
    upload_rate_limit_burst: u32,
    /// The URL clients reach this server at (`https://warden.example.com`),
    /// for the URLs it hands out, such as a call session's MCP URL; defaults
    /// to `http://{bind address}`.
    #[arg(long, env = "WARDEN_PUBLIC_URL", value_name = "URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Do not serve `GET /metrics` (Prometheus text). OTLP export, when
    /// configured, is unaffected.
    #[arg(long, env = "WARDEN_NO_METRICS_ENDPOINT")]
    no_metrics_endpoint: bool,
    /// Serve `GET /metrics` on this address instead of the API's (e.g. an
    /// internal interface only the scraper reaches).
    #[arg(
        long,
        env = "WARDEN_METRICS_LISTEN",
        value_name = "ADDR",
        conflicts_with = "no_metrics_endpoint"
    )]
    metrics_listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on `GET /metrics`.
    #[arg(long, env = "WARDEN_METRICS_TOKEN", value_name = "TOKEN", hide_env_values = true,
        value_parser = |text: &str| Ok::<_, String>(secrecy::SecretString::from(text.to_owned())))]
    metrics_token: Option<secrecy::SecretString>,
}

impl ServeArgs {
    /// Whether `GET /metrics` is served.
    pub(crate) fn metrics_endpoint(&self) -> bool {
        !self.no_metrics_endpoint
    }
}

/// The most memory `--tool-memory` grants: all a 32-bit linear memory can
/// address.
const MAX_TOOL_MEMORY_MIB: usize = 4096;

fn parse_tool_memory(text: &str) -> Result<(String, usize), String> {
    let (name, mib) = text
        .split_once('=')
        .ok_or("expected NAME=MIB, e.g. hubspot_crm=256")?;
    if !warden_sandbox::is_valid_name(name) {
        return Err(format!(
            "`{name}` is not a tool name (^[a-z][a-z0-9_]{{0,63}}$)"
        ));
    }
    match mib.parse::<usize>() {
        Ok(mib @ 1..=MAX_TOOL_MEMORY_MIB) => Ok((name.to_owned(), mib * Limits::MIB)),
        _ => Err(format!(
            "`{mib}` is not a number of MiB from 1 to {MAX_TOOL_MEMORY_MIB}"
        )),
    }
}

/// An `http://` or `https://` URL with a host and nothing after the path.
fn parse_public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("the public URL must start with http:// or https://")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err("the public URL must name a host (and no user)".into());
    }
    if rest.contains(['?', '#']) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the public URL must have no query, fragment or white space".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Installs the bundled tools as platform tools (a no-op when unchanged; a
/// different build of an installed version is kept installed, with a warning).
async fn install_bundled(core: &Core) -> Result<(), String> {
    for component in warden_tool_artifacts::BUNDLED {
        let outcome = core
            .install_bundled_tool(component.to_vec())
            .await
            .map_err(|e| format!("installing a bundled tool failed: {e}"))?;
        match outcome {
            BundledInstall::Installed(installed) if installed.created => {
                tracing::info!(tool = %installed.tool.name, version = %installed.tool.version, "installed bundled tool");
            }
            BundledInstall::Installed(_) => {}
            BundledInstall::Kept { reason } => tracing::warn!(
                "the installed build of a bundled tool stays current: {reason} (a different \
                 build of the same version; a change to a bundled tool needs a new version)"
            ),
        }
    }
    Ok(())
}

/// On an empty database: the `default` organization, an admin API key and a
/// worker token, printed once and written to `bootstrap.json` (0600).
async fn bootstrap(core: &Core, data_dir: &Path) -> Result<(), String> {
    let organizations = core.list_organizations().await.map_err(|e| e.to_string())?;
    if !organizations.is_empty() {
        return Ok(());
    }
    let (organization, key) = core
        .create_organization("default")
        .await
        .map_err(|e| e.to_string())?;
    let worker = core
        .create_worker_token("bootstrap")
        .await
        .map_err(|e| e.to_string())?;
    let document = serde_json::to_string_pretty(&json!({
        "organization_id": organization.id,
        "api_key": key.key.expose_secret(),
        "api_key_id": key.record.id,
        "worker_token": worker.token.expose_secret(),
    }))
    .expect("JSON serializes");
    let path = data_dir.join(BOOTSTRAP_FILE);
    write_private(&path, &format!("{document}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("{document}");
    eprintln!(
        "warden: created organization `default`; its API key and a worker token are shown \
         above once and saved to {} (mode 0600)",
        path.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("warden: shutting down, letting in-flight calls finish");
}

/// Runs `warden serve`; `metrics` is what `GET /metrics` renders (`None`:
/// not served).
pub(crate) async fn serve(args: ServeArgs, metrics: Option<prometheus::Registry>) -> ExitCode {
    // LiveKit from WARDEN_LIVEKIT_*: absent is fine (calls answer 503), half
    // set is a mistake worth stopping for.
    let livekit = match warden_livekit::LiveKitConfig::from_env() {
        Ok(None) => None,
        Ok(Some(config)) => {
            let url = config.url.clone();
            match warden_core::LiveKitLink::new(config) {
                Ok(link) => {
                    eprintln!("warden: LiveKit at {url}");
                    Some(link)
                }
                Err(e) => return fail(&format!("LiveKit configuration: {e}")),
            }
        }
        Err(e) => return fail(&format!("LiveKit configuration: {e}")),
    };
    let organization_grants = if args.grants_for_all_organizations {
        OrganizationGrants::All
    } else if args.grants_for_organizations.is_empty() {
        OrganizationGrants::None
    } else {
        OrganizationGrants::Only(args.grants_for_organizations.iter().cloned().collect())
    };
    let settings = CoreSettings {
        http: args.grants.grants(),
        organization_grants,
        limits: None,
        tool_memory: args.tool_memory.iter().cloned().collect(),
        livekit,
        call_outcome_ttl: Some(std::time::Duration::from_secs(args.call_outcome_ttl)),
        call_outcome_budget: warden_core::OutcomeBudget {
            outcomes: args.call_outcomes_per_organization,
            bytes: args.call_outcome_bytes_per_organization,
        },
    };
    let core = match args
        .state
        .open_with(settings, args.max_instances_per_organization)
        .await
    {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    if let Err(e) = install_bundled(&core).await {
        return fail(&e);
    }
    if let Err(e) = bootstrap(&core, &args.state.data_dir).await {
        return fail(&e);
    }
    let role = match args.role {
        RoleArg::All => warden_api::Role::All,
        RoleArg::Api => warden_api::Role::Api,
        RoleArg::Worker => warden_api::Role::Worker,
    };
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", args.bind)),
    };
    let address = listener.local_addr().map_or(args.bind, |a| a);
    let limits = warden_api::ServerLimits {
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        request_body_timeout: Duration::from_secs(args.request_body_timeout.max(1)),
    };
    let metrics = metrics.map(|registry| {
        let endpoint = warden_api::MetricsEndpoint::new(registry);
        match args.metrics_token.clone() {
            Some(token) => endpoint.with_token(token),
            None => endpoint,
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    };
    let (metrics, metrics_server) = match (args.metrics_listen, metrics) {
        (Some(at), Some(endpoint)) => {
            let listener = match tokio::net::TcpListener::bind(at).await {
                Ok(listener) => listener,
                Err(e) => return fail(&format!("cannot listen on {at} for metrics: {e}")),
            };
            let local = listener.local_addr().map_or(at, |a| a);
            eprintln!("warden: metrics on http://{local}/metrics");
            let server = warden_api::serve(
                listener,
                warden_api::metrics_router(endpoint),
                limits,
                stopped(),
            );
            (None, Some(tokio::spawn(server)))
        }
        (_, metrics) => (metrics, None),
    };
    let router = warden_api::router(
        core,
        warden_api::ApiSettings {
            role,
            rate_limit: (args.rate_limit > 0.0).then_some(warden_api::RateLimit {
                per_second: args.rate_limit,
                burst: args.rate_limit_burst.max(1),
            }),
            upload_rate_limit: (args.upload_rate_limit > 0.0).then_some(warden_api::RateLimit {
                per_second: args.upload_rate_limit / 60.0,
                burst: args.upload_rate_limit_burst.max(1),
            }),
            public_url: args
                .public_url
                .unwrap_or_else(|| format!("http://{address}")),
            metrics,
        },
    );
    eprintln!("warden: listening on http://{address} (API reference at http://{address}/docs)");
    let grace = Duration::from_secs(args.shutdown_grace);
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        let _ = stopped_tx.send(());
    };
    let server = warden_api::serve(listener, router, limits, shutdown);
    tokio::pin!(server);
    // After the signal, in-flight calls get `grace` to finish.
    let result = tokio::select! {
        result = &mut server => result,
        () = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            eprintln!("warden: in-flight calls did not finish within {} s; stopping", grace.as_secs());
            Ok(())
        }
    };
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server error: {e}")),
    }
}
