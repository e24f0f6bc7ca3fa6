//! The console: its app under a strict CSP, and its session — an API key
//! exchanged for an HttpOnly SameSite=Strict cookie that works only under
//! `/console/api`, with a CSRF token on every change.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    signing_in_sets_a_strict_cookie_and_never_shows_the_key,
    the_session_works_only_on_the_console_api_and_changes_need_the_csrf_token,
    signing_out_and_revoking_the_key_end_the_session,
    the_app_is_served_under_a_strict_policy,
    a_function_is_tried_with_the_key_and_audited,
    a_component_is_previewed_without_being_installed,
);

fn cookie_of(caller: &Caller) -> &str {
    match caller {
        Caller::Console { cookie, .. } => cookie,
        Caller::Key(_) => unreachable!("a console caller"),
    }
}

async fn sign_in(server: &Server, body: &[u8]) -> Reply {
    server
        .send(
            "POST",
            "/console/api/session",
            None,
            &[("content-type", "application/json")],
            body.to_vec(),
        )
        .await
}

async fn signing_in_sets_a_strict_cookie_and_never_shows_the_key(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let reply = sign_in(
        &server,
        &serde_json::to_vec(&json!({ "api_key": key })).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let cookie = reply.header("set-cookie").unwrap().to_owned();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("warden_console=")
        .unwrap();
    assert!(token.starts_with("wdc_") && token.len() > 40, "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console/api",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    // The test server's public URL is http://: no Secure attribute, or the
    // browser would drop the cookie.
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["organization_name"], "acme");
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    // Neither the key nor the session token is in the body.
    let text = String::from_utf8_lossy(&reply.body);
    assert!(!text.contains(&key) && !text.contains(token), "{text}");

    // The page learns its session (and the same CSRF token) from the cookie.
    let cookie_header = format!("warden_console={token}");
    let session = server
        .send(
            "GET",
            "/console/api/session",
            None,
            &[("cookie", &cookie_header)],
            vec![],
        )
        .await;
    assert_eq!(session.status, 200);
    assert_eq!(session.json()["csrf_token"], csrf.as_str());
    assert_eq!(session.json()["organization_id"], body["organization_id"]);

    // Refused: an unknown key, a worker token, a malformed body; none of
    // them sets a cookie or echoes what was sent.
    let worker = server.worker_token().await;
    for (body, status) in [
        (json!({ "api_key": "wdn_nope" }).to_string(), 401),
        (json!({ "api_key": worker }).to_string(), 401),
        (json!({ "api_key": 7 }).to_string(), 422),
        (json!({ "api_key": key, "extra": 1 }).to_string(), 422),
        ("{not json".to_owned(), 400),
    ] {
        let reply = sign_in(&server, body.as_bytes()).await;
        assert_eq!(reply.status, status, "{body}");
        assert!(reply.header("set-cookie").is_none());
        let text = String::from_utf8_lossy(&reply.body);
        assert!(!text.contains(&key) && !text.contains(&worker), "{text}");
    }
    let unknown = server
        .send(
            "GET",
            "/console/api/session",
            None,
            &[("cookie", "warden_console=wdc_nope")],
            vec![],
        )
        .await;
    unknown.problem(401, "unauthenticated");
    server.assert_never_sent(&key);
    assert_never_logged(&key);
    assert_never_logged(token);
    server.stop().await;
}

async fn the_session_works_only_on_the_console_api_and_changes_need_the_csrf_token(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let console = server.console(&key).await;
    let Caller::Console { cookie, csrf } = &console else {
        unreachable!()
    };

    // Reading through the console works.
    let agents = server.call(&console, "GET", "/v1/agents", None).await;
    assert_eq!(agents.status, 200);
    assert_eq!(agents.header("cache-control"), Some("no-store"));

    // The cookie is no credential anywhere else.
    for (method, path) in [
        ("GET", "/v1/agents"),
        ("GET", "/v1/tools"),
        (
            "GET",
            "/worker/v1/agents/0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e/toolset",
        ),
        ("POST", "/worker/v1/sessions"),
        ("POST", "/mcp"),
    ] {
        let reply = server
            .send(
                method,
                path,
                None,
                &[
                    ("cookie", cookie),
                    ("x-csrf-token", csrf),
                    ("content-type", "application/json"),
                    ("accept", "application/json, text/event-stream"),
                ],
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(reply.status, 401, "{method} {path}");
    }
    // Nor is a key a credential on the console's API: only the session is.
    let with_key = server
        .send("GET", "/console/api/v1/agents", Some(&key), &[], vec![])
        .await;
    with_key.problem(401, "unauthenticated");

    // A change needs the session's CSRF token, and must not come from
    // another site; refused changes change nothing.
    let new_agent = serde_json::to_vec(&json!({ "name": "alpha" })).unwrap();
    let host = server.addr.to_string();
    let own_origin = format!("http://{host}");
    let refused: [Vec<(&str, &str)>; 5] = [
        vec![("cookie", cookie)],
        vec![("cookie", cookie), ("x-csrf-token", "0".repeat(64).leak())],
        vec![
            ("cookie", cookie),
            ("x-csrf-token", csrf),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![
            ("cookie", cookie),
            ("x-csrf-token", csrf),
            ("sec-fetch-site", "same-site"),
        ],
        vec![
            ("cookie", cookie),
            ("x-csrf-token", csrf),
            ("origin", "http://evil.example"),
        ],
    ];
    for headers in refused {
        let mut headers = headers;
        headers.push(("content-type", "application/json"));
        let reply = server
            .send(
                "POST",
                "/console/api/v1/agents",
                None,
                &headers,
                new_agent.clone(),
            )
            .await;
        reply.problem(403, "csrf");
    }
    let listed = server.call(&console, "GET", "/v1/agents", None).await;
    assert!(listed.json()["items"].as_array().unwrap().is_empty());

    // From the console's own page it works.
    let created = server
        .send(
            "POST",
            "/console/api/v1/agents",
            None,
            &[
                ("cookie", cookie),
                ("x-csrf-token", csrf),
                ("content-type", "application/json"),
                ("origin", &own_origin),
                ("sec-fetch-site", "same-origin"),
            ],
            new_agent,
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    // ...and is what the key sees.
    let seen = server.get("/v1/agents", &key).await.json();
    assert_eq!(seen["items"][0]["name"], "alpha");

    // A session of one organization does not see another's agents.
    let other = server.org("globex").await;
    let theirs = server.console(&other).await;
    let listed = server.call(&theirs, "GET", "/v1/agents", None).await;
    assert!(listed.json()["items"].as_array().unwrap().is_empty());
    server.stop().await;
}

async fn signing_out_and_revoking_the_key_end_the_session(db: &TestDb) {
    let server = Server::default(db).await;
    let (org, issued) = server.core.create_organization("acme").await.unwrap();
    let key = secrecy::ExposeSecret::expose_secret(&issued.key).to_owned();
    let console = server.console(&key).await;
    let Caller::Console { cookie, csrf } = &console else {
        unreachable!()
    };

    // Signing out needs the CSRF token while the session is live.
    let forged = server
        .send(
            "DELETE",
            "/console/api/session",
            None,
            &[("cookie", cookie)],
            vec![],
        )
        .await;
    forged.problem(403, "csrf");
    assert_eq!(
        server
            .call(&console, "GET", "/v1/agents", None)
            .await
            .status,
        200
    );
    let out = server
        .send(
            "DELETE",
            "/console/api/session",
            None,
            &[("cookie", cookie), ("x-csrf-token", csrf)],
            vec![],
        )
        .await;
    assert_eq!(out.status, 204);
    let cleared = out.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with("warden_console=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    server
        .call(&console, "GET", "/v1/agents", None)
        .await
        .problem(401, "unauthenticated");

    // Revoking the key ends every session it signed in.
    let again = server.console(&key).await;
    assert_eq!(
        server.call(&again, "GET", "/v1/agents", None).await.status,
        200
    );
    server
        .core
        .revoke_api_key(&org.id, &issued.record.id)
        .await
        .unwrap();
    server
        .call(&again, "GET", "/v1/agents", None)
        .await
        .problem(401, "unauthenticated");
    server
        .send(
            "GET",
            "/console/api/session",
            None,
            &[("cookie", cookie_of(&again))],
            vec![],
        )
        .await
        .problem(401, "unauthenticated");
    server.stop().await;
}

async fn the_app_is_served_under_a_strict_policy(db: &TestDb) {
    let server = Server::default(db).await;
    let redirect = server.send("GET", "/console", None, &[], vec![]).await;
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("/console/"));

    let page = server.send("GET", "/console/", None, &[], vec![]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // No inline script or style in the page: every script has a source.
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(html.contains("app.js"), "{html}");
    for tag in html.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src="), "inline script in {html}");
        assert!(
            tag[tag.find('>').unwrap() + 1..].starts_with("</script>"),
            "{html}"
        );
    }
    assert!(
        !html.contains("<style") && !html.contains(" style="),
        "{html}"
    );

    let script = server
        .send("GET", "/console/app.js", None, &[], vec![])
        .await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = script.header("etag").unwrap().to_owned();
    let again = server
        .send(
            "GET",
            "/console/app.js",
            None,
            &[("if-none-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    for path in [
        "/console/nope.js",
        "/console/../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/..%2fCargo.toml",
        "/console/api/nope",
    ] {
        let reply = server.send("GET", path, None, &[], vec![]).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    server.stop().await;
}

/// An agent of `key`'s organization with the echo tool attached.
async fn echo_agent(server: &Server, key: &str) -> String {
    let tool = server.upload(key, component(artifacts::ECHO)).await.json()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = server
        .json("POST", "/v1/agents", key, &json!({ "name": "try" }))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attached = server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            key,
            &json!({}),
        )
        .await;
    assert_eq!(
        attached.status,
        200,
        "{}",
        String::from_utf8_lossy(&attached.body)
    );
    agent
}

async fn a_function_is_tried_with_the_key_and_audited(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let agent = echo_agent(&server, &key).await;
    let console = server.console(&key).await;
    let path = format!("/v1/agents/{agent}/invoke");
    for caller in [Caller::Key(key.clone()), console] {
        let reply = server
            .call(
                &caller,
                "POST",
                &path,
                Some(&json!({ "name": "echo__echo", "arguments": { "message": "hi" } })),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        assert_eq!(body["result"]["message"], "hi", "{body}");
        let invocation = body["invocation_id"].as_str().unwrap().to_owned();
        let audited = server
            .get(&format!("/v1/invocations?agent_id={agent}"), &key)
            .await
            .json();
        assert!(
            audited["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == invocation.as_str() && r["outcome"] == "ok"),
            "{audited}"
        );

        // Schema-invalid arguments and unknown functions are the tool's
        // refusals, as on the worker route.
        server
            .call(
                &caller,
                "POST",
                &path,
                Some(&json!({ "name": "echo__echo", "arguments": { "message": 5 } })),
            )
            .await
            .problem(422, "invalid_arguments");
        let unknown = server
            .call(
                &caller,
                "POST",
                &path,
                Some(&json!({ "name": "echo__nope" })),
            )
            .await;
        assert!(
            unknown.status == 404 || unknown.status == 422,
            "{unknown:?}"
        );
    }
    server.stop().await;
}

async fn a_component_is_previewed_without_being_installed(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let console = server.console(&key).await;
    let echo = component(artifacts::ECHO);
    let tools_before = server.get("/v1/tools", &key).await.body;

    let Caller::Console { cookie, csrf } = &console else {
        unreachable!()
    };
    let inspect = |bytes: Vec<u8>, content_type: &'static str| {
        let headers = [
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("content-type", content_type),
        ];
        let server = &server;
        async move {
            server
                .send(
                    "POST",
                    "/console/api/v1/tools/inspect",
                    None,
                    &headers,
                    bytes,
                )
                .await
        }
    };
    let preview = inspect(echo.clone(), "application/wasm").await;
    assert_eq!(
        preview.status,
        200,
        "{}",
        String::from_utf8_lossy(&preview.body)
    );
    let body = preview.json();
    assert_eq!(body["name"], "echo");
    assert!(
        body["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "echo")
    );
    assert_eq!(body["replaces_version"], serde_json::Value::Null);
    assert_eq!(body["installed"], false);
    // Nothing was stored.
    assert_eq!(server.get("/v1/tools", &key).await.body, tools_before);

    // Once installed, the preview says so.
    let installed = server.upload(&key, echo.clone()).await;
    assert_eq!(installed.status, 201);
    let again = inspect(echo.clone(), "application/wasm").await.json();
    assert_eq!(again["installed"], true);
    assert_eq!(
        again["replaces_version"],
        installed.json()["tool"]["version"]
    );

    // Refusals come back with their reasons.
    inspect(b"\0asm garbage".to_vec(), "application/wasm")
        .await
        .problem(422, "invalid_component");
    inspect(echo.clone(), "application/octet-stream")
        .await
        .problem(415, "unsupported_media_type");
    inspect(Vec::new(), "application/wasm")
        .await
        .problem(422, "invalid_component");
    // With the key as well.
    let with_key = server
        .send(
            "POST",
            "/v1/tools/inspect",
            Some(&key),
            &[("content-type", "application/wasm")],
            echo,
        )
        .await;
    assert_eq!(with_key.status, 200);
    server.stop().await;
}
