//! `warden tool …`: inspect, call and benchmark a component from a file.

use clap::{Args, Subcommand};
use etcetera::BaseStrategy as _;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_sandbox::{
    Call, CallContext, CallEnv, Error, ErrorKind, HostPattern, HttpGrants, Instantiation, Limits,
    LogLevel, RefreshedToken, Sandbox, SandboxConfig, SecretMap, TokenCallback, Tool,
};

#[derive(Debug, Subcommand)]
pub(crate) enum ToolCommand {
    /// Print a tool's metadata as JSON.
    Inspect {
        /// The component (`.wasm`).
        path: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
        #[command(flatten)]
        compile: crate::compile::CompileArgs,
    },
    /// Call one function and print its result as JSON.
    ///
    /// Exits 0 with the result on stdout; on any failure prints
    /// `{"error":{"kind":…,"message":…}}` on stdout and exits 1.
    Call(CallArgs),
    /// Measure the per-call cost of the production call path (a fresh
    /// instance per call) and print JSON statistics.
    Bench(BenchArgs),
    /// Create a tool project (Rust, Python or TypeScript) that builds and passes
    /// `warden tool call` as generated.
    New(crate::scaffold::NewArgs),
}

/// A `--secret NAME=VALUE` flag, parsed straight into a secret type. Parsing
/// never fails, because clap would echo the rejected value (possibly the
/// secret itself) in its error; a malformed flag has no name and is reported
/// by [`InvokeArgs::secrets`] instead.
#[derive(Clone)]
struct SecretArg {
    name: Option<String>,
    value: SecretString,
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}=[REDACTED]", self.name)
    }
}

fn parse_secret(raw: &str) -> Result<SecretArg, std::convert::Infallible> {
    Ok(match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => SecretArg {
            name: Some(name.to_owned()),
            value: SecretString::from(value.to_owned()),
        },
        _ => SecretArg {
            name: None,
            value: SecretString::from(raw.to_owned()),
        },
    })
}

/// `SECRET=PATTERN` for `--credential-host`.
fn parse_credential_host(raw: &str) -> Result<(String, HostPattern), String> {
    let (secret, pattern) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}` is not SECRET=PATTERN"))?;
    Ok((secret.to_owned(), pattern.parse()?))
}

fn parse_json(raw: &str) -> Result<Value, String> {
    serde_json::from_str(raw).map_err(|e| format!("not valid JSON: {e}"))
}

#[derive(Debug, Args)]
pub(crate) struct InvokeArgs {
    /// The component (`.wasm`).
    path: PathBuf,
    /// The function to call.
    function: String,
    /// The function's arguments, as a JSON object.
    #[arg(long = "args", value_name = "JSON", value_parser = parse_json, default_value = "{}")]
    arguments: Value,
    /// The tool's configuration, as a JSON object.
    #[arg(long, value_name = "JSON", value_parser = parse_json, default_value = "{}")]
    config: Value,
    /// A secret for the call (repeatable). Note that command-line arguments
    /// are visible to other local users.
    #[arg(long = "secret", value_name = "NAME=VALUE", value_parser = parse_secret)]
    secrets: Vec<SecretArg>,
    /// Fuel for the call.
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock limit for the call, in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Linear memory limit, in MiB.
    #[arg(long, value_name = "MIB")]
    memory_mib: Option<usize>,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    compile: crate::compile::CompileArgs,
    #[command(flatten)]
    grants: GrantArgs,
}

/// Where compiled components are kept between runs.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Cache compiled components here, so later runs skip compilation
    /// [default: the per-user cache, `$XDG_CACHE_HOME/warden`, else
    /// `~/.cache/warden`].
    #[arg(long, env = "WARDEN_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile on every run and keep nothing on disk.
    #[arg(long)]
    no_cache: bool,
}

impl CacheArgs {
    /// The cache directory to use, created (mode 0700) if it is the per-user
    /// default; `None` with `--no-cache`, or when there is no home directory
    /// to put a default in.
    fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        let dir = match etcetera::choose_base_strategy() {
            Ok(strategy) => strategy.cache_dir().join("warden"),
            Err(e) => {
                tracing::debug!("no per-user cache directory ({e}); compiling without a cache");
                return None;
            }
        };
        // Only its user may write artifacts (or the key that authenticates
        // them) into the default cache: created private, and not used when
        // someone else could write into it.
        use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
        let private = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .and_then(|()| std::fs::metadata(&dir))
            .map_err(|e| e.to_string())
            .and_then(|meta| {
                // SAFETY: geteuid has no preconditions.
                let me = unsafe { libc::geteuid() };
                if meta.uid() != me || meta.mode() & 0o022 != 0 {
                    Err("it is not private to this user".to_owned())
                } else {
                    Ok(())
                }
            });
        match private {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::warn!(
                    "not using the cache directory {}: {e}; compiling without a cache",
                    dir.display()
                );
                None
            }
        }
    }
}

/// Operator grants on top of what a tool declares, for its outbound HTTP.
#[derive(Debug, Args)]
pub(crate) struct GrantArgs {
    /// Let tools reach this host too, on top of their `allowed-hosts`
    /// (`scheme://host[:port]`, optionally `*.`; repeatable).
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_hosts: Vec<HostPattern>,
    /// Never let a tool reach this host, whatever it declares (repeatable).
    #[arg(long = "deny-host", value_name = "PATTERN")]
    deny_hosts: Vec<HostPattern>,
    /// Let tools reach loopback, private and CGNAT addresses (local
    /// services, test stand-ins). Link-local and cloud metadata stay closed.
    #[arg(long)]
    allow_private_network: bool,
    /// Also send the declared credential SECRET to this host, e.g. a
    /// regional endpoint or a local stand-in (repeatable).
    #[arg(long = "credential-host", value_name = "SECRET=PATTERN", value_parser = parse_credential_host)]
    credential_hosts: Vec<(String, HostPattern)>,
    /// Refresh OAuth2 tokens at this token endpoint instead of the one the
    /// tool declares.
    #[arg(long, value_name = "URL")]
    oauth_token_url: Option<String>,
    /// Send browsers connecting an account (`POST
    /// /v1/tools/{id}/oauth/start`) to this authorization endpoint instead
    /// of the one the tool declares.
    #[arg(long, value_name = "URL")]
    oauth_authorize_url: Option<String>,
    /// Revoke a disconnected account's grant at this endpoint (RFC 7009);
    /// without it, the provider's known one (Google's), if any.
    #[arg(long, value_name = "URL")]
    oauth_revocation_url: Option<String>,
}

impl GrantArgs {
    pub(crate) fn grants(&self) -> HttpGrants {
        HttpGrants {
            allow_hosts: self.allow_hosts.clone(),
            deny_hosts: self.deny_hosts.clone(),
            allow_private_network: self.allow_private_network,
            credential_hosts: self.credential_hosts.clone(),
            oauth_token_url: self.oauth_token_url.clone(),
            oauth_authorize_url: self.oauth_authorize_url.clone(),
            oauth_revocation_url: self.oauth_revocation_url.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    #[command(flatten)]
    invoke: InvokeArgs,
    /// The call id passed to the tool.
    #[arg(long, default_value = "cli-call")]
    call_id: String,
    /// The organization id passed to the tool.
    #[arg(long, default_value = "local")]
    organization_id: String,
    /// The agent id passed to the tool.
    #[arg(long)]
    agent_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    invoke: InvokeArgs,
    /// How many calls to make.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// How many calls run at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Skip the baseline: the same calls through a naive fresh-instance path
    /// (wasmtime's default allocator, a full link per call), measured in
    /// turns with the production path so that their ratio holds however
    /// loaded the machine is.
    #[arg(long)]
    no_baseline: bool,
}

impl InvokeArgs {
    fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(fuel) = self.fuel {
            limits.fuel = fuel;
        }
        if let Some(ms) = self.timeout_ms {
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mib) = self.memory_mib {
            limits.memory_bytes = mib * Limits::MIB;
        }
        limits
    }

    fn sandbox(&self, max_instances: u32, instantiation: Instantiation) -> Result<Sandbox, Error> {
        let limits = self.limits();
        let compiler = self
            .compile
            .compiler()
            .map_err(|e| Error::host(ErrorKind::Internal, e))?;
        Sandbox::new(SandboxConfig {
            max_instances,
            max_memory_bytes: limits.memory_bytes,
            default_limits: limits,
            cache_dir: self.cache.dir(),
            compiler: Some(compiler),
            instantiation,
            ..SandboxConfig::default()
        })
        .map_err(|e| Error::host(ErrorKind::Internal, format!("{e:#}")))
    }

    /// The `--secret` flags as a map, or a usage error that does not repeat
    /// the malformed value.
    fn secrets(&self) -> Result<SecretMap, String> {
        self.secrets
            .iter()
            .map(|s| match &s.name {
                Some(name) => Ok((name.clone(), s.value.clone())),
                None => Err(
                    "invalid value for '--secret <NAME=VALUE>': expected NAME=VALUE \
                             (the value is not shown)"
                        .to_owned(),
                ),
            })
            .collect()
    }

    fn call(&self, context: CallContext, secrets: SecretMap) -> Call {
        Call {
            function: self.function.clone(),
            arguments: self.arguments.clone(),
            env: CallEnv {
                context,
                secrets,
                http: self.grants.grants(),
                ..CallEnv::default()
            },
        }
    }
}

fn print_json(value: &Value) {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    // A reader that stopped reading (`| head`) is no failure of the call.
    if let Err(e) = writeln!(std::io::stdout().lock(), "{text}")
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("warden: cannot write the result: {e}");
    }
}

fn fail(error: &Error) -> ExitCode {
    print_json(&json!({ "error": { "kind": error.kind, "message": error.message } }));
    ExitCode::from(1)
}

pub(crate) async fn run(command: ToolCommand) -> ExitCode {
    match command {
        ToolCommand::Inspect {
            path,
            cache,
            compile,
        } => {
            let compiler = match compile.compiler() {
                Ok(compiler) => compiler,
                Err(e) => return fail(&Error::host(ErrorKind::Internal, e)),
            };
            let sandbox = match Sandbox::new(SandboxConfig {
                max_instances: 1,
                cache_dir: cache.dir(),
                compiler: Some(compiler),
                ..SandboxConfig::default()
            }) {
                Ok(s) => s,
                Err(e) => return fail(&Error::host(ErrorKind::Internal, format!("{e:#}"))),
            };
            match sandbox.load_file(&path).await {
                Ok(tool) => {
                    print_json(&json!({ "sha256": tool.sha256(), "metadata": tool.metadata() }));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        ToolCommand::Call(args) => call(args).await,
        ToolCommand::Bench(args) => bench(args).await,
        ToolCommand::New(args) => crate::scaffold::run(args),
    }
}

async fn load(
    args: &InvokeArgs,
    max_instances: u32,
    instantiation: Instantiation,
) -> Result<(Sandbox, Tool), Error> {
    let sandbox = args.sandbox(max_instances, instantiation)?;
    let tool = sandbox.load_file(&args.path).await?;
    Ok((sandbox, tool))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

async fn call(args: CallArgs) -> ExitCode {
    let secrets = match args.invoke.secrets() {
        Ok(secrets) => secrets,
        Err(message) => return usage_error(&message),
    };
    let (sandbox, tool) = match load(&args.invoke, 1, Instantiation::Pooled).await {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e),
    };
    let context = CallContext {
        call_id: args.call_id.clone(),
        organization_id: args.organization_id.clone(),
        agent_id: args.agent_id.clone(),
        config: args.invoke.config.clone(),
        call: None,
    };
    // A refreshed OAuth2 token is kept in memory for this process only; the
    // CLI has no store to seal it into, and never prints it.
    let refreshed: Arc<Mutex<Option<RefreshedToken>>> = Arc::default();
    let mut call = args.invoke.call(context, secrets);
    call.env.on_token_refresh = Some(TokenCallback::new({
        let refreshed = refreshed.clone();
        move |token| *refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(token)
    }));
    let outcome = sandbox.invoke(&tool, call).await;
    if let Some(token) = refreshed.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let expires = token
            .expires_at
            .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
            .map_or_else(String::new, |d| format!(", valid for {} s", d.as_secs()));
        eprintln!(
            "warden: the OAuth2 access token was refreshed{expires}; \
             the new token is kept in memory only and not shown"
        );
    }

    // What the tool logged or printed goes to stderr (already redacted), so
    // stdout stays the result alone.
    let report = &outcome.report;
    for record in &report.logs {
        let level = match record.level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        eprintln!("[tool {level}] {}", record.message);
    }
    for (stream, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
        for line in text.lines() {
            eprintln!("[tool {stream}] {line}");
        }
    }
    match outcome.result {
        Ok(result) => {
            // The sandbox hands back canonical JSON; print it as it is should
            // a result ever fail to parse here, rather than panic.
            match serde_json::from_str::<Value>(result.get()) {
                Ok(value) => print_json(&value),
                Err(_) => println!("{}", result.get()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

async fn bench(args: BenchArgs) -> ExitCode {
    let secrets = match args.invoke.secrets() {
        Ok(secrets) => secrets,
        Err(message) => return usage_error(&message),
    };
    let concurrency = args.concurrency.max(1);
    let calls = args.calls.max(1);
    let slots = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let mut paths = vec![Instantiation::Pooled];
    if !args.no_baseline {
        paths.push(Instantiation::Naive);
    }
    let mut benches = Vec::with_capacity(paths.len());
    for instantiation in paths {
        let (sandbox, tool) = match load(&args.invoke, slots, instantiation).await {
            Ok(loaded) => loaded,
            Err(e) => return fail(&e),
        };
        benches.push(Bench {
            sandbox,
            tool,
            latencies: Vec::with_capacity(calls),
            failures: 0,
            elapsed: Duration::ZERO,
        });
    }
    let context = CallContext {
        call_id: "bench".into(),
        organization_id: "bench".into(),
        agent_id: None,
        config: args.invoke.config.clone(),
        call: None,
    };
    let template = args.invoke.call(context, secrets);

    for bench in &benches {
        // One checked call first: benchmarking a failing call would be meaningless.
        if let Err(e) = bench
            .sandbox
            .invoke(&bench.tool, template.clone())
            .await
            .result
        {
            return fail(&e);
        }
        // Warm up (instance slots, caches, allocator) before measuring.
        for _ in 0..calls.min(1000) {
            let _ = bench.sandbox.invoke(&bench.tool, template.clone()).await;
        }
    }
    // The paths take turns, so a change in the machine's speed meanwhile
    // touches both alike.
    const TURNS: usize = 5;
    for turn in 0..TURNS {
        let n = calls / TURNS + usize::from(turn < calls % TURNS);
        for bench in &mut benches {
            bench.run(&template, n, concurrency).await;
        }
    }
    let mut report = benches[0].report();
    report["calls"] = json!(calls);
    report["concurrency"] = json!(concurrency);
    if let Some(baseline) = benches.get(1) {
        let baseline = baseline.report();
        let ratio = |a: &Value, b: &Value| {
            let ratio = a.as_f64().unwrap_or(0.0) / b.as_f64().unwrap_or(f64::NAN);
            (ratio * 100.0).round() / 100.0
        };
        report["baseline_speedup"] = json!({
            "p50": ratio(&baseline["p50_us"], &report["p50_us"]),
            "calls_per_sec": ratio(&report["calls_per_sec"], &baseline["calls_per_sec"]),
        });
        report["baseline"] = baseline;
    }
    let failures = benches.iter().map(|b| b.failures).sum::<usize>();
    print_json(&report);
    if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One instantiation path under `tool bench`, and what it measured.
struct Bench {
    sandbox: Sandbox,
    tool: Tool,
    latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
}

impl Bench {
    /// Makes `calls` calls, `concurrency` at a time.
    async fn run(&mut self, template: &Call, calls: usize, concurrency: usize) {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(concurrency);
        for worker in 0..concurrency {
            let n = calls / concurrency + usize::from(worker < calls % concurrency);
            let (sandbox, tool, template) =
                (self.sandbox.clone(), self.tool.clone(), template.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(n);
                let mut failures = 0usize;
                for _ in 0..n {
                    let call = template.clone();
                    let t = Instant::now();
                    let outcome = sandbox.invoke(&tool, call).await;
                    latencies.push(t.elapsed());
                    failures += usize::from(outcome.result.is_err());
                }
                (latencies, failures)
            }));
        }
        for task in tasks {
            let (l, f) = task.await.expect("bench tasks do not panic");
            self.latencies.extend(l);
            self.failures += f;
        }
        self.elapsed += started.elapsed();
    }

    fn report(&self) -> Value {
        let mut latencies = self.latencies.clone();
        latencies.sort_unstable();
        let percentile = |p: f64| {
            let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            (latencies[index].as_nanos() as f64 / 100.0).round() / 10.0
        };
        json!({
            "instantiation": match self.sandbox.config().instantiation {
                Instantiation::Pooled => "pooled: pooling allocator, pre-linked InstancePre",
                Instantiation::Naive => "naive: on-demand allocator, full link per call",
            },
            "failures": self.failures,
            "p50_us": percentile(0.50),
            "p99_us": percentile(0.99),
            "calls_per_sec": (self.latencies.len() as f64 / self.elapsed.as_secs_f64()).round(),
        })
    }
}
