//! Probes the sandbox: environment variables, arguments, files, stdin and
//! sockets, and reports what it saw. Under Warden it must see nothing.

use std::io::Read;
use warden_sdk::prelude::*;

struct EnvProber;

fn outcome<T, E: std::fmt::Display>(r: Result<T, E>, ok: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(v) => json!({ "ok": ok(v) }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Reports what the sandbox exposes.
#[tool(name = "env_prober")]
impl EnvProber {
    /// Returns `{env, args, files, stdin, sockets}` as seen from inside.
    #[warden(read_only)]
    fn probe(_ctx: &Context) -> Result<Value, ToolError> {
        let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        let args: Vec<String> = std::env::args().collect();
        let cwd = outcome(std::env::current_dir(), |p| json!(p.display().to_string()));

        let mut files = warden_sdk::serde_json::Map::new();
        for path in ["/", ".", "/etc/passwd", "/proc/self/environ"] {
            let read = if path.ends_with('/') || path == "." {
                outcome(std::fs::read_dir(path), |d| json!(d.count()))
            } else {
                outcome(std::fs::read(path), |b| json!(b.len()))
            };
            files.insert(format!("read {path}"), read);
        }
        files.insert(
            "create probe.txt".into(),
            outcome(std::fs::write("probe.txt", b"hello"), |_| json!(true)),
        );

        let mut input = Vec::new();
        let stdin = outcome(std::io::stdin().read_to_end(&mut input), |n| json!(n));

        let mut sockets = warden_sdk::serde_json::Map::new();
        sockets.insert(
            "tcp connect 127.0.0.1:5432".into(),
            outcome(std::net::TcpStream::connect("127.0.0.1:5432"), |_| {
                json!(true)
            }),
        );
        sockets.insert(
            "tcp connect 1.1.1.1:80".into(),
            outcome(std::net::TcpStream::connect("1.1.1.1:80"), |_| json!(true)),
        );
        sockets.insert(
            "tcp listen 0.0.0.0:8080".into(),
            outcome(std::net::TcpListener::bind("0.0.0.0:8080"), |_| json!(true)),
        );
        sockets.insert(
            "udp bind 0.0.0.0:0".into(),
            outcome(std::net::UdpSocket::bind("0.0.0.0:0"), |_| json!(true)),
        );
        sockets.insert(
            "dns localhost".into(),
            outcome(
                std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)),
                |a| json!(a.count()),
            ),
        );

        Ok(json!({
            "env": env,
            "args": args,
            "cwd": cwd,
            "files": files,
            "stdin": stdin,
            "sockets": sockets,
        }))
    }
}
