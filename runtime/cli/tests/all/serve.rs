//! `warden serve` as an operator starts it: first-start bootstrap, the
//! generated key ring, bundled tools, and the operator commands on the same
//! database while it runs.

use crate::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::process::{Child, Stdio};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) address: String,
    pub(crate) stdout: String,
    /// Everything serve writes to stderr after its address line.
    pub(crate) stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &std::path::Path, extra: &[&str]) -> Server {
    start_with_env(data_dir, extra, &[])
}

/// `warden serve` with extra flags and environment variables.
pub(crate) fn start_with_env(
    data_dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("WARDEN_SECRET_KEYS")
        .env_remove("WARDEN_SECRET_KEY_FILE")
        .env_remove("WARDEN_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden serve starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("warden serve printed its address")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = stderr_lines.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    // What serve printed on stdout before listening (the bootstrap, if any):
    // printed before the address, so it is in the pipe by now.
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let stdout: String = rx.try_iter().collect::<Vec<_>>().join("\n");
    Server {
        child,
        address,
        stdout,
        stderr: stderr_lines,
    }
}

/// One HTTP/1.1 request; returns status and body.
pub(crate) fn http(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request += &format!("Authorization: Bearer {token}\r\n");
    }
    if let Some(body) = body {
        request += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request += "\r\n";
    request += body.unwrap_or("");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    status_and_body(&response)
}

/// The status and the body of a whole HTTP/1.1 response text.
pub(crate) fn status_and_body(response: &str) -> (u16, String) {
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn state_args(data_dir: &std::path::Path) -> Vec<String> {
    vec!["--data-dir".into(), data_dir.display().to_string()]
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_bootstraps_and_operator_commands_share_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start(&data);

    // Bootstrap: printed once, saved 0600, key ring generated 0600.
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    assert_eq!(mode(&data.join("bootstrap.json")), 0o600);
    assert_eq!(mode(&data.join("secret-keys")), 0o600);
    let api_key = bootstrap["api_key"].as_str().unwrap().to_owned();
    let worker_token = bootstrap["worker_token"].as_str().unwrap().to_owned();
    assert!(server.stdout.contains(&api_key), "{}", server.stdout);

    let (status, body) = http(&server.address, "GET", "/healthz", None, None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&server.address, "GET", "/v1/tools", Some(&api_key), None);
    assert_eq!(status, 200, "{body}");
    let tools: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = tools
        .as_array()
        .or_else(|| tools["items"].as_array())
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"business_hours") && names.contains(&"google_calendar"),
        "{names:?}"
    );
    // Worker tokens are not organization keys, and vice versa.
    assert_eq!(
        http(
            &server.address,
            "GET",
            "/v1/tools",
            Some(&worker_token),
            None
        )
        .0,
        401
    );

    // Operator commands on the same database, while serve runs.
    let mut args = vec!["org".to_owned(), "create".to_owned()];
    args.extend(state_args(&data));
    args.push("globex".into());
    let run = warden(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let created = run.json();
    let globex_key = created["api_key"].as_str().unwrap().to_owned();
    assert_eq!(
        http(&server.address, "GET", "/v1/tools", Some(&globex_key), None).0,
        200
    );

    let mut args = vec!["worker-token".to_owned(), "create".to_owned()];
    args.extend(state_args(&data));
    let run = warden(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.json()["worker_token"]
            .as_str()
            .unwrap()
            .starts_with("wdw_")
    );

    // A worker token revoked from the command line is refused at once; an
    // unknown id is an error.
    let token = run.json()["worker_token"].as_str().unwrap().to_owned();
    let token_id = run.json()["worker_token_id"].as_str().unwrap().to_owned();
    let agents_route = "/worker/v1/agents/00000000-0000-0000-0000-000000000000/toolset";
    assert_eq!(
        http(&server.address, "GET", agents_route, Some(&token), None).0,
        404
    );
    let mut args = vec!["worker-token".to_owned(), "revoke".to_owned()];
    args.extend(state_args(&data));
    args.push(token_id.clone());
    let revoked = warden(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_eq!(revoked.json()["revoked"], true);
    assert_eq!(
        http(&server.address, "GET", agents_route, Some(&token), None).0,
        401
    );
    *args.last_mut().unwrap() = "no-such-token".into();
    let unknown = warden(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no worker token with id"),
        "{}",
        unknown.stderr
    );

    // A revoked key is refused at once.
    let mut args = vec!["api-key".to_owned(), "revoke".to_owned()];
    args.extend(state_args(&data));
    args.push(created["api_key_id"].as_str().unwrap().to_owned());
    let run = warden(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        http(&server.address, "GET", "/v1/tools", Some(&globex_key), None).0,
        401
    );
    drop(server);

    // A second start neither bootstraps again nor prints credentials.
    let again = start(&data);
    assert!(!again.stdout.contains("api_key"), "{}", again.stdout);
    assert_eq!(
        http(&again.address, "GET", "/v1/tools", Some(&api_key), None).0,
        200
    );
}

/// `warden worker-token create --organization ORG_ID`: the token reaches that
/// organization's agents, and every worker route answers another
/// organization's agent exactly as an unknown agent.
#[test]
fn a_worker_token_limited_to_one_organization_sees_others_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let server = start(&data);
    let address = server.address.as_str();
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    let acme = bootstrap["organization_id"].as_str().unwrap().to_owned();
    let acme_key = bootstrap["api_key"].as_str().unwrap().to_owned();
    let everywhere = bootstrap["worker_token"].as_str().unwrap().to_owned();
    let command = |words: &[&str]| {
        let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        args.extend(state_args(&data));
        warden(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run = command(&["org", "create", "globex"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let globex = run.json()["organization_id"].as_str().unwrap().to_owned();
    let globex_key = run.json()["api_key"].as_str().unwrap().to_owned();

    // An agent in each organization, with the bundled business_hours.
    let hours = crate::telemetry::tool_id(&server, &acme_key, "business_hours");
    let settings = json!({ "config": {
        "time_zone": "America/New_York",
        "weekly_hours": { "monday": [{ "open": "09:00", "close": "17:00" }] },
    }})
    .to_string();
    let acme_agent = agent_with_tool(address, &acme_key, "Front desk", &hours, &settings);
    let globex_agent = agent_with_tool(address, &globex_key, "Reception", &hours, &settings);
    let unknown_agent = "0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e";

    // An unknown organization: a clear error, and no token.
    let refused = command(&["worker-token", "create", "--organization", "no-such-org"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("no organization with id no-such-org"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("wdw_"), "{}", refused.stdout);
    let listed = command(&["worker-token", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        1,
        "{}",
        listed.stdout
    );

    let run = command(&[
        "worker-token",
        "create",
        "--name",
        "acme-only",
        "--organization",
        &acme,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["organization_id"], acme.as_str());
    let scoped = run.json()["worker_token"].as_str().unwrap().to_owned();
    let scoped_id = run.json()["worker_token_id"].as_str().unwrap().to_owned();
    // The listing shows each token's scope, never a token.
    let listed = command(&["worker-token", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(!listed.stdout.contains(&scoped), "{}", listed.stdout);
    let listed = listed.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["worker_token_id"], scoped_id.as_str());
    assert_eq!(listed[0]["name"], "acme-only");
    assert_eq!(listed[0]["organization_id"], acme.as_str());
    assert_eq!(listed[1]["organization_id"], Value::Null);

    let invoke = |token: &str, agent: &str| {
        http(
            address,
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(token),
            Some(
                &json!({
                    "name": "business_hours__is_open",
                    "arguments": { "at": "2026-03-09T14:30" },
                    "call_id": "call-1",
                })
                .to_string(),
            ),
        )
    };
    let toolset = |token: &str, agent: &str| {
        http(
            address,
            "GET",
            &format!("/worker/v1/agents/{agent}/toolset"),
            Some(token),
            None,
        )
    };
    let session = |token: &str, body: Value| {
        http(
            address,
            "POST",
            "/worker/v1/sessions",
            Some(token),
            Some(&body.to_string()),
        )
    };
    let by_agent = |agent: &str| json!({ "agent_id": agent, "phone_number": "+15551234567" });
    let by_room = |agent: &str| json!({ "room_name": format!("agent-{agent}-+15551234567") });

    // Its own organization's agent: served.
    let (status, body) = invoke(&scoped, &acme_agent);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["result"]["open"],
        true,
        "{body}"
    );
    let (status, body) = toolset(&scoped, &acme_agent);
    assert_eq!(status, 200, "{body}");
    assert_eq!(session(&scoped, by_agent(&acme_agent)).0, 201);
    assert_eq!(session(&scoped, by_room(&acme_agent)).0, 201);

    // Another organization's agent: exactly an unknown agent, on every route.
    let unknown = invoke(&scoped, unknown_agent);
    assert_eq!(unknown.0, 404, "{}", unknown.1);
    assert_eq!(invoke(&scoped, &globex_agent), unknown);
    let unknown = toolset(&scoped, unknown_agent);
    assert_eq!(unknown.0, 404, "{}", unknown.1);
    assert_eq!(toolset(&scoped, &globex_agent), unknown);
    let unknown = session(&scoped, by_agent(unknown_agent));
    assert_eq!(unknown.0, 404, "{}", unknown.1);
    assert_eq!(session(&scoped, by_agent(&globex_agent)), unknown);
    let unknown = session(&scoped, by_room(unknown_agent));
    assert_eq!(unknown.0, 404, "{}", unknown.1);
    assert_eq!(session(&scoped, by_room(&globex_agent)), unknown);

    // And the other way round.
    let run = command(&["worker-token", "create", "--organization", &globex]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let globex_only = run.json()["worker_token"].as_str().unwrap().to_owned();
    let (status, body) = invoke(&globex_only, &globex_agent);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        invoke(&globex_only, &acme_agent),
        invoke(&globex_only, unknown_agent)
    );

    // A token without an organization still reaches both.
    for agent in [&acme_agent, &globex_agent] {
        let (status, body) = invoke(&everywhere, agent);
        assert_eq!(status, 200, "{body}");
        assert_eq!(toolset(&everywhere, agent).0, 200);
    }
}

/// Sends a raw HTTP request with a body and returns the whole response text,
/// or what arrived before the server closed the connection.
pub(crate) fn raw(address: &str, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let request = format!(
        "{head}\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Installs `component` as an organization's own tool (`POST /v1/tools`
/// under `key`); its id.
pub(crate) fn upload_tool(address: &str, key: &str, component: &[u8]) -> String {
    let response = raw(
        address,
        &format!(
            "POST /v1/tools HTTP/1.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/wasm"
        ),
        component,
    );
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates an agent named `name` and attaches `tool` with `settings` (the
/// body of `PUT /v1/agents/{id}/tools/{tool}`); the agent's id.
pub(crate) fn agent_with_tool(
    address: &str,
    key: &str,
    name: &str,
    tool: &str,
    settings: &str,
) -> String {
    let (status, agent) = http(
        address,
        "POST",
        "/v1/agents",
        Some(key),
        Some(&json!({ "name": name }).to_string()),
    );
    assert_eq!(status, 201, "{agent}");
    let agent = serde_json::from_str::<Value>(&agent).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = http(
        address,
        "PUT",
        &format!("/v1/agents/{agent}/tools/{tool}"),
        Some(key),
        Some(settings),
    );
    assert_eq!(status, 200, "{body}");
    agent
}

/// A server with the `sleeper` tool attached to an agent: (server, worker
/// token, agent id).
fn sleeper_server(data: &std::path::Path, grace_seconds: &str) -> (Server, String, String) {
    let server = start_with(data, &["--shutdown-grace", grace_seconds]);
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap())
            .unwrap();
    let key = bootstrap["api_key"].as_str().unwrap().to_owned();
    let worker = bootstrap["worker_token"].as_str().unwrap().to_owned();
    let installed = raw(
        &server.address,
        &format!(
            "POST /v1/tools HTTP/1.1\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/wasm"
        ),
        &std::fs::read(artifacts::SLEEPER).unwrap(),
    );
    assert!(installed.starts_with("HTTP/1.1 201"), "{installed}");
    let tool: Value = serde_json::from_str(installed.split_once("\r\n\r\n").unwrap().1).unwrap();
    let tool = tool["tool"]["id"].as_str().unwrap().to_owned();
    let agent = agent_with_tool(&server.address, &key, "Sleepy", &tool, "{}");
    (server, worker, agent)
}

/// Starts `sleeper__sleep` with a wall clock of `deadline_ms` on another
/// thread; the thread returns the response text.
fn sleep_call(
    server: &Server,
    worker: &str,
    agent: &str,
    deadline_ms: u64,
) -> std::thread::JoinHandle<String> {
    let address = server.address.clone();
    let head = format!(
        "POST /worker/v1/agents/{agent}/invoke HTTP/1.1\r\nAuthorization: Bearer {worker}\r\n\
         Content-Type: application/json\r\nX-Warden-Deadline-Ms: {deadline_ms}"
    );
    std::thread::spawn(move || {
        raw(
            &address,
            &head,
            br#"{"name":"sleeper__sleep","arguments":{},"call_id":"c1"}"#,
        )
    })
}

pub(crate) fn terminate(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for serve to exit, at most `limit`; returns how long it took and
/// whether it exited successfully.
pub(crate) fn wait_exit(server: &mut Server, limit: Duration) -> (Duration, bool) {
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return (started.elapsed(), status.success());
        }
        assert!(
            started.elapsed() < limit,
            "warden serve did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_lets_an_in_flight_call_finish() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, worker, agent) = sleeper_server(&data, "30");
    // The call ends (as a timeout) 1.5 s after it starts; SIGTERM arrives first.
    let call = sleep_call(&server, &worker, &agent, 1500);
    std::thread::sleep(Duration::from_millis(500));
    terminate(&server);
    let response = call.join().unwrap();
    assert!(
        response.starts_with("HTTP/1.1 504"),
        "the call was cut off: {response}"
    );
    assert!(response.contains("\"kind\":\"timeout\""), "{response}");
    // Then serve exits on its own, well inside the 30 s grace, with success.
    let (_, success) = wait_exit(&mut server, Duration::from_secs(10));
    assert!(success);
    let stderr = server.stderr.lock().unwrap().join("\n");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains("did not finish"), "{stderr}");
}

#[test]
fn the_grace_period_bounds_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, worker, agent) = sleeper_server(&data, "1");
    // This call would run for 8 s; the grace period is 1 s.
    let call = sleep_call(&server, &worker, &agent, 8000);
    std::thread::sleep(Duration::from_millis(500));
    terminate(&server);
    // Serve exits after the grace period, long before the call would end.
    wait_exit(&mut server, Duration::from_secs(6));
    let response = call.join().unwrap();
    assert!(!response.starts_with("HTTP/1.1 200"), "{response}");
    let stderr = server.stderr.lock().unwrap().join("\n");
    assert!(
        stderr.contains("in-flight calls did not finish within 1 s"),
        "{stderr}"
    );
}

#[test]
fn files_in_an_existing_world_readable_data_dir_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = start(&data);
    assert_eq!(http(&server.address, "GET", "/readyz", None, None).0, 200);
    for name in [
        "warden.db",
        "warden.db-wal",
        "secret-keys",
        "bootstrap.json",
    ] {
        let path = data.join(name);
        assert!(path.exists(), "{name} exists while serve runs");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    drop(server);

    // A database an earlier start left readable is made private again.
    std::fs::set_permissions(
        data.join("warden.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let again = start(&data);
    assert_eq!(mode(&data.join("warden.db")), 0o600);
    drop(again);
}

/// A server started with `flags` whose organization uploaded `memory_bomb`
/// and gave it to an agent: (its data directory, the server, the worker
/// token, the agent id).
fn memory_bomb_server(flags: &[&str]) -> (tempfile::TempDir, Server, String, String) {
    let data = tempfile::tempdir().unwrap();
    let server = start_with(data.path(), flags);
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("bootstrap.json")).unwrap())
            .unwrap();
    let key = bootstrap["api_key"].as_str().unwrap();
    let worker = bootstrap["worker_token"].as_str().unwrap().to_owned();
    let tool = upload_tool(
        &server.address,
        key,
        &std::fs::read(artifacts::MEMORY_BOMB).unwrap(),
    );
    let agent = agent_with_tool(&server.address, key, "Memory", &tool, r#"{"config":{}}"#);
    (data, server, worker, agent)
}

/// `memory_bomb`'s `allocate` of `mib` through the worker route of a server
/// started with `flags`, as an organization's upload: the invoke's status
/// and body.
fn allocate_in_server(flags: &[&str], mib: u32) -> (u16, Value) {
    let (_data, server, worker, agent) = memory_bomb_server(flags);
    let (status, body) = http(
        &server.address,
        "POST",
        &format!("/worker/v1/agents/{agent}/invoke"),
        Some(&worker),
        Some(&json!({ "name": "memory_bomb__allocate", "arguments": { "mib": mib } }).to_string()),
    );
    (status, serde_json::from_str(&body).unwrap())
}

#[test]
fn an_operator_grants_one_tool_more_memory_than_the_default() {
    // Within the default 64 MiB: no grant needed.
    let (status, body) = allocate_in_server(&[], 32);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], 32);

    // 96 MiB is past the default: refused as `memory_limit`.
    let (status, body) = allocate_in_server(&[], 96);
    assert_eq!(
        (status, &body["kind"]),
        (502, &json!("memory_limit")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("64 MiB"),
        "{body}"
    );

    // The operator grants `memory_bomb` 128 MiB and extends grants to the
    // organizations' own tools: the same call works.
    let (status, body) = allocate_in_server(
        &[
            "--tool-memory",
            "memory_bomb=128",
            "--grants-for-all-organizations",
        ],
        96,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], 96);
    // ...but not beyond the grant.
    let (_, body) = allocate_in_server(
        &[
            "--tool-memory",
            "memory_bomb=128",
            "--grants-for-all-organizations",
        ],
        160,
    );
    assert_eq!(body["kind"], "memory_limit", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("128 MiB"),
        "{body}"
    );

    // A grant by name does not reach an organization's upload of that name
    // unless the operator extends grants to that organization.
    let (_, body) = allocate_in_server(&["--tool-memory", "memory_bomb=128"], 96);
    assert_eq!(body["kind"], "memory_limit", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("64 MiB"),
        "{body}"
    );

    // Nonsense is refused at start, naming the flag.
    for bad in [
        "memory_bomb",
        "Memory=128",
        "memory_bomb=0",
        "memory_bomb=4097",
    ] {
        let run = warden(&["serve", "--tool-memory", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--tool-memory"), "{}", run.stderr);
    }
}

/// The outcome budget's flags reach the calls: with room for one recorded
/// outcome (by count, or by bytes smaller than any outcome), a retry of the
/// newer exactly-once call is answered from its outcome and a retry of the
/// older one runs again. Without the flags both retries are replays.
#[test]
fn the_outcome_budget_flags_keep_only_the_newest_outcomes() {
    for (flags, older_replayed) in [
        (&[][..], true),
        (&["--call-outcomes-per-organization", "1"][..], false),
        (&["--call-outcome-bytes-per-organization", "1"][..], false),
    ] {
        let (_data, server, worker, agent) = memory_bomb_server(flags);
        // `allocate` is not read-only: with a call id it runs once.
        let call = |call_id: &str| {
            let (status, body) = http(
                &server.address,
                "POST",
                &format!("/worker/v1/agents/{agent}/invoke"),
                Some(&worker),
                Some(
                    &json!({
                        "name": "memory_bomb__allocate",
                        "arguments": { "mib": 1 },
                        "call_id": call_id,
                    })
                    .to_string(),
                ),
            );
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(status, 200, "{flags:?}: {body}");
            body
        };
        let older = call("call-older");
        let newer = call("call-newer");
        assert!(older.get("replay_of").is_none(), "{flags:?}: {older}");
        assert!(newer.get("replay_of").is_none(), "{flags:?}: {newer}");
        assert_eq!(
            call("call-newer")["replay_of"],
            newer["invocation_id"],
            "{flags:?}"
        );
        let older_again = call("call-older");
        if older_replayed {
            assert_eq!(
                older_again["replay_of"], older["invocation_id"],
                "{flags:?}"
            );
        } else {
            assert!(
                older_again.get("replay_of").is_none(),
                "{flags:?}: the older outcome was kept: {older_again}"
            );
        }
    }

    // Zero is refused at start, naming the flag.
    for flag in [
        "--call-outcomes-per-organization",
        "--call-outcome-bytes-per-organization",
    ] {
        let run = warden(&["serve", flag, "0"]);
        assert_eq!(run.code, 2, "{flag}: {}", run.stderr);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
    }
}

/// `warden serve` on a fresh data directory whose operator grants point the
/// secret `secret` at a local stand-in at `origin` and reach organizations'
/// own tools, with the bootstrap's API key and worker token.
pub(crate) struct GrantedServer {
    pub(crate) server: Server,
    pub(crate) key: String,
    pub(crate) worker: String,
    _data: tempfile::TempDir,
}

impl GrantedServer {
    pub(crate) fn start(origin: &str, secret: &str) -> GrantedServer {
        let data = tempfile::tempdir().unwrap();
        let credential_host = format!("{secret}={origin}");
        let server = start_with(
            data.path(),
            &[
                "--allow-private-network",
                "--allow-host",
                origin,
                "--credential-host",
                &credential_host,
                // The tools are organizations' uploads, not platform tools.
                "--grants-for-all-organizations",
            ],
        );
        let bootstrap: Value = serde_json::from_str(
            &std::fs::read_to_string(data.path().join("bootstrap.json")).unwrap(),
        )
        .unwrap();
        GrantedServer {
            server,
            key: bootstrap["api_key"].as_str().unwrap().to_owned(),
            worker: bootstrap["worker_token"].as_str().unwrap().to_owned(),
            _data: data,
        }
    }

    /// Installs `component` as the organization's own tool with its secret
    /// `name` set to `value`, attached to a new agent with `config`: the
    /// tool's and the agent's ids.
    pub(crate) fn install(
        &self,
        component: &std::path::Path,
        (name, value): (&str, &str),
        config: Value,
    ) -> (String, String) {
        let address = &self.server.address;
        let tool = upload_tool(address, &self.key, &std::fs::read(component).unwrap());
        let (status, body) = http(
            address,
            "PUT",
            &format!("/v1/tools/{tool}/secrets/{name}"),
            Some(&self.key),
            Some(&json!({ "value": value }).to_string()),
        );
        assert_eq!(status, 200, "{body}");
        let settings = json!({ "config": config }).to_string();
        let agent = agent_with_tool(address, &self.key, "Agent", &tool, &settings);
        (tool, agent)
    }

    /// `POST /worker/v1/agents/{agent}/invoke` as a new call (a call id of
    /// its own): the status and the answer.
    pub(crate) fn invoke(&self, agent: &str, name: &str, arguments: Value) -> (u16, Value) {
        static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let turn = TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (status, body) = http(
            &self.server.address,
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            Some(&self.worker),
            Some(
                &json!({ "name": name, "arguments": arguments, "call_id": format!("turn-{turn}") })
                    .to_string(),
            ),
        );
        (status, serde_json::from_str(&body).unwrap())
    }

    /// `tools/call` of `name` over `/mcp` in a new call session of `agent`,
    /// as LiveKit Agents calls it: the status and the body.
    pub(crate) fn mcp_call(&self, agent: &str, name: &str, arguments: Value) -> (u16, String) {
        let token = self.open_session(json!({ "agent_id": agent }));
        self.mcp(
            &token,
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
    }

    /// Opens a call session with `body` (`POST /worker/v1/sessions`): its
    /// MCP session token.
    pub(crate) fn open_session(&self, body: Value) -> String {
        let (status, answer) = http(
            &self.server.address,
            "POST",
            "/worker/v1/sessions",
            Some(&self.worker),
            Some(&body.to_string()),
        );
        assert_eq!(status, 201, "{answer}");
        let session: Value = serde_json::from_str(&answer).unwrap();
        session["session_token"].as_str().unwrap().to_owned()
    }

    /// The MCP request `method` with `params` over `/mcp` in the session of
    /// `token`: the status and the body.
    pub(crate) fn mcp(&self, token: &str, method: &str, params: Value) -> (u16, String) {
        let request =
            json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let response = raw(
            &self.server.address,
            &format!(
                "POST /mcp HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
                 Mcp-Protocol-Version: 2025-06-18"
            ),
            request.as_bytes(),
        );
        status_and_body(&response)
    }

    /// The annotations `tools/list` gives the function `name` in a new call
    /// session of `agent`.
    pub(crate) fn mcp_annotations(&self, agent: &str, name: &str) -> Value {
        let token = self.open_session(json!({ "agent_id": agent }));
        let (status, body) = self.mcp(&token, "tools/list", json!({}));
        assert_eq!(status, 200, "{body}");
        let listed: Value = serde_json::from_str(&body).unwrap();
        let tools = listed["result"]["tools"].as_array().unwrap();
        let tool = tools.iter().find(|t| t["name"] == name);
        tool.unwrap_or_else(|| panic!("no {name} in {body}"))["annotations"].clone()
    }

    /// Everything the server wrote, stdout and stderr.
    pub(crate) fn output(&self) -> String {
        let stderr = self.server.stderr.lock().unwrap().join("\n");
        format!("{}\n{stderr}", self.server.stdout)
    }
}
