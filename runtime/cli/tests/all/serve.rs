//! `warden serve` as an operator starts it: first-start bootstrap, the
//! generated key ring, bundled tools, and the operator commands on the same
//! database while it runs.

use crate::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::process::{Child, Stdio};

struct Server {
    child: Child,
    address: String,
    stdout: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
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
    std::thread::spawn(move || for _ in lines {});
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
    }
}

/// One HTTP/1.1 request; returns status and body.
fn http(
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
