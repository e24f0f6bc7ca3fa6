//! End-to-end tests of the `warden` binary: what a tool author sees.

mod business_hours;
mod console;
mod google_calendar;
mod hostile;
mod http_policy;
mod js_tools;
mod keys;
mod python_tools;
mod serve;
mod shared;
mod telemetry;

use serde_json::{Value, json};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use warden_tool_artifacts as artifacts;

const CANARY: &str = "canary-cli-5b2e8d41-do-not-leak";

/// A compile cache shared by the tests of this binary, so timing-sensitive
/// checks measure the call and not cranelift.
fn cache_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    pub fn error_kind(&self) -> String {
        assert_eq!(
            self.code, 1,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let json = self.json();
        assert!(json["error"]["message"].is_string(), "{json}");
        json["error"]["kind"].as_str().unwrap().to_owned()
    }
}

/// A runtime of its own for the local stand-ins, which serve while the test
/// thread runs `warden` and waits for it.
pub fn stand_in_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the stand-ins")
}

pub fn warden(args: &[&str]) -> Run {
    warden_with_env(args, &[])
}

pub fn warden_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .env("WARDEN_CACHE_DIR", cache_dir())
        .envs(env.iter().copied());
    finish(command)
}

/// Runs `command` (a `warden` invocation) to its end.
fn finish(mut command: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("warden runs");
    Run {
        code: status.code().expect("warden exits normally"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reports a test that could not run here, by name (`why` starts with it);
/// under CI, which installs everything, that is a broken set-up and fails.
pub fn skipped(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED {why}");
}

/// `warden tool call` of `function` with `args` and `config`, with the
/// grants that point the secret `(name, value)` at a local stand-in at
/// `origin` (as a credential the host adds), and the call id `call_id`.
pub fn call_against_stand_in(
    component: &std::path::Path,
    function: &str,
    args: &Value,
    config: &Value,
    (name, value): (&str, &str),
    origin: &str,
    call_id: &str,
) -> Run {
    let secret = format!("{name}={value}");
    let credential_host = format!("{name}={origin}");
    warden(&[
        "tool",
        "call",
        component.to_str().unwrap(),
        function,
        "--args",
        &args.to_string(),
        "--config",
        &config.to_string(),
        "--secret",
        &secret,
        "--allow-private-network",
        "--allow-host",
        origin,
        "--credential-host",
        &credential_host,
        "--call-id",
        call_id,
    ])
}

/// A `greeter` project made by `warden tool new --lang LANG`, in a
/// temporary directory: the directory's guard and the project's path.
pub fn new_greeter(lang: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("greeter");
    let run = warden(&[
        "tool",
        "new",
        "greeter",
        "--lang",
        lang,
        "--dir",
        project.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (dir, project)
}

/// Checks that `component`, made by `warden tool new`, answers its
/// generated `hello` function.
pub fn greets_ada(component: &std::path::Path) {
    let run = warden(&[
        "tool",
        "call",
        component.to_str().unwrap(),
        "hello",
        "--args",
        r#"{"name":"Ada"}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({ "greeting": "Hello, Ada!" }));
}

fn echo_works() {
    let run = warden(&[
        "tool",
        "call",
        artifacts::ECHO,
        "echo",
        "--args",
        r#"{"message":"still here"}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["message"], "still here");
}

#[test]
fn call_prints_the_result_and_exits_0() {
    let run = warden(&[
        "tool",
        "call",
        artifacts::ECHO,
        "echo",
        "--args",
        r#"{"message":"hi"}"#,
        "--call-id",
        "c-42",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({ "message": "hi", "call_id": "c-42" }));
}

#[test]
fn each_fixture_gives_its_kind_and_echo_works_after_it() {
    for (path, function, extra, kind) in [
        (artifacts::FUEL_BOMB, "spin", &[][..], "fuel_exhausted"),
        (artifacts::MEMORY_BOMB, "grow", &[][..], "memory_limit"),
        (
            artifacts::STACK_OVERFLOW,
            "recurse",
            &[][..],
            "stack_overflow",
        ),
        (
            artifacts::BIG_OUTPUT,
            "produce",
            &[][..],
            "output_too_large",
        ),
        (artifacts::TRAP, "explode", &[][..], "trap"),
        (
            artifacts::SLEEPER,
            "sleep",
            &["--timeout-ms", "200"][..],
            "timeout",
        ),
        (
            artifacts::BAD_METADATA,
            "lookup",
            &[][..],
            "invalid_component",
        ),
    ] {
        let mut args = vec!["tool", "call", path, function];
        args.extend_from_slice(extra);
        let run = warden(&args);
        assert_eq!(run.error_kind(), kind, "{path}: {}", run.stdout);
        echo_works();
    }
}

#[test]
fn memory_limit_follows_the_flag() {
    let run = warden(&[
        "tool",
        "call",
        artifacts::MEMORY_BOMB,
        "grow",
        "--memory-mib",
        "8",
    ]);
    assert_eq!(run.error_kind(), "memory_limit");
    assert!(run.stdout.contains("8 MiB"), "{}", run.stdout);
}

#[test]
fn sleeper_times_out_well_within_a_second() {
    // Load once so the artifact is cached; then time only the call.
    let warm = warden(&["tool", "inspect", artifacts::SLEEPER]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    let started = Instant::now();
    let run = warden(&[
        "tool",
        "call",
        artifacts::SLEEPER,
        "sleep",
        "--timeout-ms",
        "200",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(run.error_kind(), "timeout");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[test]
fn bad_metadata_names_the_duplicate() {
    let run = warden(&["tool", "inspect", artifacts::BAD_METADATA]);
    assert_eq!(run.error_kind(), "invalid_component");
    assert!(
        run.stdout.contains("duplicate function name `lookup`"),
        "{}",
        run.stdout
    );
}

#[test]
fn env_prober_sees_nothing() {
    let run = warden(&["tool", "call", artifacts::ENV_PROBER, "probe"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["env"], json!([]));
    for section in ["files", "sockets"] {
        for (what, outcome) in report[section].as_object().unwrap() {
            assert!(outcome.get("error").is_some(), "{what}: {outcome}");
        }
    }
    let stdin = &report["stdin"];
    assert!(
        stdin.get("error").is_some() || stdin["ok"] == json!(0),
        "{stdin}"
    );
}

#[test]
fn secret_fisher_gets_only_the_declared_secret() {
    let secret = format!("api_key={CANARY}");
    let run = warden(&[
        "tool",
        "call",
        artifacts::SECRET_FISHER,
        "fish",
        "--args",
        r#"{"names":["api_key","undeclared"]}"#,
        "--secret",
        &secret,
        "--secret",
        "undeclared=also-a-secret-value",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    use sha2::Digest;
    assert_eq!(report["api_key"]["status"], "ok");
    assert_eq!(
        report["api_key"]["sha256"],
        hex::encode(sha2::Sha256::digest(CANARY.as_bytes()))
    );
    assert_eq!(report["undeclared"]["status"], "not_declared");
}

#[test]
fn no_secret_given_with_secret_appears_in_any_output() {
    let secret = format!("api_key={CANARY}");
    let mut outputs = Vec::new();
    for via in ["error", "log", "stdout", "stderr", "panic", "result"] {
        let args = format!(r#"{{"via":"{via}"}}"#);
        let run = warden(&[
            "tool",
            "call",
            artifacts::SECRET_FISHER,
            "leak",
            "--args",
            &args,
            "--secret",
            &secret,
        ]);
        assert!(
            run.stdout.contains("[REDACTED]") || run.stderr.contains("[REDACTED]"),
            "{via}: the leak attempt should be visible, redacted:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        outputs.push((via, run));
    }
    // Every fixture, given the canary too, with verbose host logging.
    for (name, path) in artifacts::FIXTURES {
        // Warden's own logging at its most verbose (the compiler's trace
        // output is huge and irrelevant here).
        let run = warden_with_env(
            &["tool", "call", path, "anything", "--secret", &secret],
            &[("WARDEN_LOG", "info,warden=trace,warden_sandbox=trace")],
        );
        outputs.push((name, run));
    }
    // A malformed --secret must not echo its value either.
    outputs.push((
        "malformed flag",
        warden(&["tool", "call", artifacts::ECHO, "echo", "--secret", CANARY]),
    ));
    let spellings = warden_sandbox::redacted_spellings(CANARY);
    for (what, run) in outputs {
        for spelling in &spellings {
            assert!(
                !run.stdout.contains(spelling) && !run.stderr.contains(spelling),
                "{what} leaked the canary (spelled {spelling:?}):\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}

#[test]
fn stateful_returns_1_on_every_call() {
    for _ in 0..3 {
        let run = warden(&["tool", "call", artifacts::STATEFUL, "count"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json(), json!(1));
    }
}

#[test]
fn schema_invalid_arguments_are_invalid_arguments() {
    let run = warden(&[
        "tool",
        "call",
        artifacts::ECHO,
        "echo",
        "--args",
        r#"{"message":7}"#,
    ]);
    assert_eq!(run.error_kind(), "invalid_arguments");
}

#[test]
fn unknown_function_and_missing_file_are_errors_not_crashes() {
    let run = warden(&["tool", "call", artifacts::ECHO, "nope"]);
    assert_eq!(run.error_kind(), "unknown_function");
    let run = warden(&["tool", "call", "/nonexistent/tool.wasm", "echo"]);
    assert_eq!(run.error_kind(), "invalid_component");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["tool", "call", artifacts::ECHO][..],
        &[
            "tool",
            "call",
            artifacts::ECHO,
            "echo",
            "--args",
            "{not json",
        ][..],
        &[
            "tool",
            "call",
            artifacts::ECHO,
            "echo",
            "--secret",
            "no-equals-sign",
        ][..],
        &["tool", "frobnicate"][..],
    ] {
        let run = warden(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn inspect_prints_the_metadata() {
    let run = warden(&["tool", "inspect", artifacts::ECHO]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["metadata"]["name"], "echo");
    assert_eq!(json["metadata"]["functions"][0]["name"], "echo");
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn bench_reports_latency_and_throughput() {
    let bench_echo = |flags: &[&str]| {
        let mut args = vec![
            "tool",
            "bench",
            artifacts::ECHO,
            "echo",
            "--args",
            r#"{"message":"hi"}"#,
        ];
        args.extend_from_slice(flags);
        warden(&args)
    };
    let run = bench_echo(&["--calls", "300", "--concurrency", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["calls"], 300);
    assert_eq!(json["concurrency"], 2);
    assert_eq!(json["failures"], 0);
    for key in ["p50_us", "p99_us", "calls_per_sec"] {
        assert!(json[key].as_f64().unwrap() > 0.0, "{key}: {json}");
    }
    assert!(json["p99_us"].as_f64() >= json["p50_us"].as_f64());
    assert!(
        json["instantiation"]
            .as_str()
            .unwrap()
            .starts_with("pooled")
    );
    // The naive baseline ran the same calls in the same process.
    let baseline = &json["baseline"];
    assert!(
        baseline["instantiation"]
            .as_str()
            .unwrap()
            .starts_with("naive")
    );
    assert_eq!(baseline["failures"], 0, "{json}");
    for key in ["p50_us", "p99_us", "calls_per_sec"] {
        assert!(baseline[key].as_f64().unwrap() > 0.0, "{key}: {json}");
    }
    let speedup = json["baseline_speedup"]["p50"].as_f64().unwrap();
    let expected = baseline["p50_us"].as_f64().unwrap() / json["p50_us"].as_f64().unwrap();
    assert!((speedup - expected).abs() < 0.01, "{json}");

    let run = bench_echo(&["--calls", "10", "--no-baseline"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json().get("baseline").is_none());
}

#[test]
fn bench_refuses_a_failing_call() {
    let run = warden(&["tool", "bench", artifacts::TRAP, "explode", "--calls", "10"]);
    assert_eq!(run.error_kind(), "trap");
}

/// `warden tool` without `--cache-dir`, with `home` as the home directory and
/// no cache settings from the environment.
fn warden_at_home(args: &[&str], home: &std::path::Path) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .env_remove("WARDEN_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", home);
    finish(command)
}

/// The compiled artifacts (`*.cwasm`) under `dir`, at any depth.
fn artifacts_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(artifacts_under(&path));
        } else if path.extension().is_some_and(|e| e == "cwasm") {
            found.push(path);
        }
    }
    found
}

#[test]
fn tool_commands_cache_compiled_components_per_user_by_default() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join(".cache/warden");
    let call = [
        "tool",
        "call",
        artifacts::ECHO,
        "echo",
        "--args",
        r#"{"message":"hi"}"#,
    ];

    // The first run compiles and keeps the artifact in ~/.cache/warden, which
    // only its user may open.
    let run = warden_at_home(&call, home.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["message"], "hi");
    let cached = artifacts_under(&cache);
    assert_eq!(cached.len(), 1, "{cached:?}");
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");

    // The next run reads it: a damaged artifact is noticed (and replaced),
    // which only a run that read the cache can do.
    std::fs::write(&cached[0], b"not an artifact").unwrap();
    let run = warden_at_home(&["tool", "inspect", artifacts::ECHO], home.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("fails its integrity check"),
        "{}",
        run.stderr
    );
    assert_ne!(std::fs::read(&cached[0]).unwrap(), b"not an artifact");

    // A default cache others may write into is not used.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = std::fs::read(&cached[0]).unwrap();
    let run = warden_at_home(&call, home.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("not private"), "{}", run.stderr);
    assert_eq!(std::fs::read(&cached[0]).unwrap(), before);

    // `--no-cache` compiles and writes nothing.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut no_cache = call.to_vec();
    no_cache.push("--no-cache");
    let run = warden_at_home(&no_cache, elsewhere.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!elsewhere.path().join(".cache").exists());
}

#[test]
fn tool_new_writes_a_project_and_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();

    let rust = at("rusty");
    let run = warden(&["tool", "new", "order_status", "--dir", &rust]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lib = std::fs::read_to_string(dir.path().join("rusty/src/lib.rs")).unwrap();
    assert!(lib.contains(r#"#[tool(name = "order_status")]"#), "{lib}");
    let cargo = std::fs::read_to_string(dir.path().join("rusty/Cargo.toml")).unwrap();
    assert!(cargo.contains("sdk/rust"), "{cargo}");
    assert!(
        run.stderr
            .contains("cargo build --release --target wasm32-wasip2")
    );

    let python = at("py");
    let run = warden(&[
        "tool",
        "new",
        "order_status",
        "--lang",
        "python",
        "--dir",
        &python,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let app = std::fs::read_to_string(dir.path().join("py/app.py")).unwrap();
    assert!(app.contains(r#"name = "order_status""#), "{app}");
    assert!(dir.path().join("py/test_app.py").exists());

    let js = at("js");
    let run = warden(&["tool", "new", "order_status", "--lang", "js", "--dir", &js]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let index = std::fs::read_to_string(dir.path().join("js/src/index.ts")).unwrap();
    assert!(index.contains(r#"name: "order_status""#), "{index}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("js/package.json")).unwrap())
            .unwrap();
    let sdk = manifest["dependencies"]["warden-tool"].as_str().unwrap();
    assert!(
        sdk.starts_with("file:") && sdk.ends_with("sdk/js"),
        "{manifest}"
    );
    assert_eq!(
        manifest["scripts"]["build"],
        "warden-tool build src/index.ts -o order_status.wasm"
    );
    assert!(run.stderr.contains("npm run build"), "{}", run.stderr);

    // A name the host would refuse, or a directory that exists: an error,
    // and nothing written.
    let bad = at("bad");
    let run = warden(&["tool", "new", "Order-Status", "--dir", &bad]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot be a tool's name"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("bad").exists());
    let run = warden(&["tool", "new", "other", "--dir", &python]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("py/app.py")).unwrap(),
        app
    );
}

#[test]
fn tool_new_rust_project_builds_and_answers_tool_call() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("greeter");
    let run = warden(&["tool", "new", "greeter", "--dir", project.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Built as its README says, in a target directory kept between runs.
    let target =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scaffold-test");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    greets_ada(&target.join("wasm32-wasip2/release/greeter.wasm"));
}

#[test]
fn a_component_bigger_than_the_instance_pool_allows_is_an_invalid_component() {
    // Seventeen core instances: one more than a component may have.
    let instances = "(core instance (instantiate $m))\n".repeat(17);
    let component = wat::parse_str(format!("(component (core module $m) {instances})")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.wasm");
    std::fs::write(&path, component).unwrap();
    let run = warden(&["tool", "inspect", path.to_str().unwrap()]);
    assert_eq!(run.error_kind(), "invalid_component");
    let message = run.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("more than this host allows"), "{message}");
    assert!(message.contains("17 core module instances"), "{message}");
}
