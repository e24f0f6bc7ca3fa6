//! The plain HTTP target over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{get, send};
use serde_json::json;
use warden_testing::HttpTarget;

#[tokio::test]
async fn routes() {
    let target = HttpTarget::start().await;
    assert_eq!(
        target.origin(),
        format!("http://127.0.0.1:{}", target.port())
    );

    let to = "https://example.com/a?b=c";
    let encoded: String = form_urlencoded::byte_serialize(to.as_bytes()).collect();
    let reply = get(&target.url(&format!("/redirect?to={encoded}")), &[]).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some(to));

    let reply = send("POST", &target.url("/status/503"), &[], "").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), json!({"status": 503}));
    assert_eq!(get(&target.url("/status/204"), &[]).await.status, 204);
    assert_eq!(get(&target.url("/status/abc"), &[]).await.status, 400);

    let reply = get(
        &target.url("/echo-headers"),
        &[("Authorization", "Bearer sk-canary"), ("X-Custom", "1")],
    )
    .await;
    assert_eq!(reply.status, 200);
    let headers = reply.json();
    assert_eq!(headers["authorization"], "Bearer sk-canary");
    assert_eq!(headers["x-custom"], "1");

    let started = Instant::now();
    let reply = get(&target.url("/slow?ms=200"), &[]).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let reply = get(&target.url("/bytes?n=200000"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-length"), Some("200000"));
    assert_eq!(reply.body.len(), 200_000);
    assert!(reply.body.iter().all(|b| *b == b'a'));
    assert!(get(&target.url("/bytes?n=0"), &[]).await.body.is_empty());

    let reply = send(
        "PUT",
        &target.url("/anything/else?x=1"),
        &[("content-type", "text/plain")],
        "hello",
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"ok": true, "method": "PUT", "path": "/anything/else"})
    );

    let requests = target.requests();
    assert_eq!(requests.len(), 9);
    let last = requests.last().unwrap();
    assert_eq!(last.method, "PUT");
    assert_eq!(last.path, "/anything/else");
    assert_eq!(last.query.as_deref(), Some("x=1"));
    assert_eq!(last.body, b"hello");
    assert_eq!(last.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        requests[0].query.as_deref(),
        Some(format!("to={encoded}").as_str())
    );
}

#[tokio::test]
async fn drop_shuts_the_server_down() {
    let target = HttpTarget::start().await;
    let origin = target.origin();
    assert_eq!(get(&target.url("/"), &[]).await.status, 200);
    drop(target);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tokio::net::TcpStream::connect(origin.trim_start_matches("http://"))
            .await
            .is_err()
    );
}
