//! The safe API and the operational routes: every route, auth separation,
//! tenancy, and the 4xx answers to bad requests.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use warden_tool_artifacts as artifacts;

on_both_backends!(
    the_openapi_document_matches_the_checked_in_snapshot,
    operational_routes_and_roles,
    credentials_are_separated_and_revocation_is_immediate,
    every_safe_route_works,
    another_organizations_ids_are_not_found_and_nothing_changes,
    bad_requests_are_client_problems,
    uploads_are_rate_limited_per_organization,
);

async fn uploads_are_rate_limited_per_organization(db: &TestDb) {
    let server = Server::start(
        db,
        warden_core::CoreSettings::default(),
        warden_api::ApiSettings {
            upload_rate_limit: Some(warden_api::RateLimit {
                per_second: 0.01,
                burst: 2,
            }),
            ..warden_api::ApiSettings::default()
        },
    )
    .await;
    let (a, b) = (server.org("a").await, server.org("b").await);
    let echo = component(artifacts::ECHO);
    for _ in 0..2 {
        let reply = server.upload(&a, echo.clone()).await;
        assert!(reply.status == 200 || reply.status == 201, "{reply:?}");
    }
    let refused = server.upload(&a, echo.clone()).await;
    let problem = refused.problem(429, "rate_limited");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("too many uploads"),
        "{problem}"
    );
    assert!(refused.header("retry-after").is_some());
    // Another organization has a bucket of its own.
    let reply = server.upload(&b, echo).await;
    assert_eq!(reply.status, 201, "{reply:?}");
}

async fn operational_routes_and_roles(db: &TestDb) {
    let server = Server::default(db).await;
    let health = server.send("GET", "/healthz", None, &[], vec![]).await;
    assert_eq!((health.status, &health.body[..]), (200, &b"ok"[..]));
    assert_eq!(
        server
            .send("GET", "/readyz", None, &[], vec![])
            .await
            .status,
        200
    );
    let spec = server.send("GET", "/openapi.json", None, &[], vec![]).await;
    assert_eq!(spec.status, 200);
    let spec = spec.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/tools",
        "/v1/tools/{tool_id}/secrets/{name}",
        "/v1/agents/{agent_id}/tools/{tool_id}/test",
        "/v1/invocations",
        "/worker/v1/agents/{agent_id}/invoke",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    let docs = server.send("GET", "/docs", None, &[], vec![]).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&docs.body).contains("/openapi.json"));
    server
        .send("GET", "/nowhere", None, &[], vec![])
        .await
        .problem(404, "not_found");
    server
        .send("PATCH", "/v1/tools", None, &[], vec![])
        .await
        .problem(405, "method_not_allowed");
    let key = server.org("acme").await;
    let worker = server.worker_token().await;
    server.stop().await;

    let api = Server::with_role(db, Role::Api).await;
    assert_eq!(api.get("/v1/tools", &key).await.status, 200);
    api.get("/worker/v1/agents/x/toolset", &worker)
        .await
        .problem(404, "not_found");
    assert_eq!(
        api.send("GET", "/healthz", None, &[], vec![]).await.status,
        200
    );
    api.stop().await;

    let worker_only = Server::with_role(db, Role::Worker).await;
    worker_only
        .get("/v1/tools", &key)
        .await
        .problem(404, "not_found");
    worker_only
        .get("/worker/v1/agents/x/toolset", &worker)
        .await
        .problem(404, "not_found");
    assert_eq!(
        worker_only
            .send("GET", "/openapi.json", None, &[], vec![])
            .await
            .status,
        200
    );
    worker_only.stop().await;
}

async fn credentials_are_separated_and_revocation_is_immediate(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let worker = server.worker_token().await;

    let none = server.send("GET", "/v1/tools", None, &[], vec![]).await;
    none.problem(401, "unauthenticated");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    server
        .send(
            "GET",
            "/v1/tools",
            None,
            &[("authorization", "Basic abc")],
            vec![],
        )
        .await
        .problem(401, "unauthenticated");
    server
        .get("/v1/tools", "wdn_not-a-key")
        .await
        .problem(401, "unauthenticated");
    // Each credential only opens its own surface.
    server
        .get("/v1/tools", &worker)
        .await
        .problem(401, "unauthenticated");
    server
        .get("/worker/v1/agents/x/toolset", &key)
        .await
        .problem(401, "unauthenticated");
    assert_eq!(server.get("/v1/tools", &key).await.status, 200);
    server
        .get("/worker/v1/agents/x/toolset", &worker)
        .await
        .problem(404, "not_found");

    // Revocation applies to the very next request.
    let principal = server.core.authenticate(&key).await.unwrap();
    server
        .core
        .revoke_api_key(&principal.organization_id, &principal.api_key_id)
        .await
        .unwrap();
    server
        .get("/v1/tools", &key)
        .await
        .problem(401, "unauthenticated");
    let worker_principal = server.core.authenticate_worker(&worker).await.unwrap();
    server
        .core
        .revoke_worker_token(&worker_principal.worker_token_id)
        .await
        .unwrap();
    server
        .get("/worker/v1/agents/x/toolset", &worker)
        .await
        .problem(401, "unauthenticated");
    server.stop().await;
}

async fn every_safe_route_works(db: &TestDb) {
    let server = Server::default(db).await;
    server
        .core
        .install_platform_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap();
    let key = server.org("acme").await;

    // Tools.
    let tools = server.get("/v1/tools", &key).await;
    assert_eq!(tools.status, 200);
    let tools = tools.json();
    assert_eq!(tools[0]["name"], "business_hours");
    assert_eq!(tools[0]["platform"], true);
    let installed = server.upload(&key, component(artifacts::ECHO)).await;
    assert_eq!(
        installed.status,
        201,
        "{}",
        String::from_utf8_lossy(&installed.body)
    );
    let echo = installed.json()["tool"].clone();
    let echo_id = echo["id"].as_str().unwrap().to_owned();
    assert_eq!(echo["name"], "echo");
    assert_eq!(echo["platform"], false);
    let again = server.upload(&key, component(artifacts::ECHO)).await;
    assert_eq!(
        (again.status, again.json()["created"].clone()),
        (200, json!(false))
    );
    let one = server.get(&format!("/v1/tools/{echo_id}"), &key).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["functions"].as_array().unwrap().len(), 2);
    assert_eq!(
        server
            .get("/v1/tools", &key)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Secrets, on a tool that declares some.
    let calendar = server
        .upload(&key, component(artifacts::GOOGLE_CALENDAR))
        .await;
    assert_eq!(calendar.status, 201);
    let calendar_id = calendar.json()["tool"]["id"].as_str().unwrap().to_owned();
    let canary = format!("canary-{}", uuid::Uuid::now_v7().simple());
    let set = server
        .json(
            "PUT",
            &format!("/v1/tools/{calendar_id}/secrets/client_id"),
            &key,
            &json!({ "value": canary }),
        )
        .await;
    assert_eq!(set.status, 200);
    let set = set.json();
    assert_eq!(
        (set["name"].clone(), set["is_set"].clone()),
        (json!("client_id"), json!(true))
    );
    let listed = server
        .get(&format!("/v1/tools/{calendar_id}/secrets"), &key)
        .await
        .json();
    let client_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "client_id")
        .unwrap();
    assert_eq!(client_id["is_set"], true);
    assert!(client_id.get("value").is_none());
    server
        .json(
            "PUT",
            &format!("/v1/tools/{calendar_id}/secrets/no_such_secret"),
            &key,
            &json!({ "value": canary }),
        )
        .await
        .problem(404, "not_found");
    server
        .json(
            "PUT",
            &format!("/v1/tools/{calendar_id}/secrets/client_id"),
            &key,
            &json!({ "value": "" }),
        )
        .await
        .problem(422, "invalid_body");
    let deleted = server
        .delete(&format!("/v1/tools/{calendar_id}/secrets/client_id"), &key)
        .await;
    assert_eq!(deleted.status, 204);
    let listed = server
        .get(&format!("/v1/tools/{calendar_id}/secrets"), &key)
        .await
        .json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["is_set"] == false)
    );

    // Agents.
    let mut ids = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let created = server
            .json(
                "POST",
                "/v1/agents",
                &key,
                &json!({ "name": name, "system_prompt": "Be brief.", "is_active": name != "gamma" }),
            )
            .await;
        assert_eq!(created.status, 201);
        ids.push(created.json()["id"].as_str().unwrap().to_owned());
    }
    let page = server.get("/v1/agents?limit=2", &key).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["name"], "gamma");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server
        .get(&format!("/v1/agents?limit=2&cursor={cursor}"), &key)
        .await
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let active = server
        .get("/v1/agents?is_active=true&name=ALP", &key)
        .await
        .json();
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    assert_eq!(active["items"][0]["name"], "alpha");
    // Page sizes outside 1..=100 are refused, not silently changed.
    for limit in ["0", "101", "100000"] {
        server
            .get(&format!("/v1/agents?limit={limit}"), &key)
            .await
            .problem(400, "invalid_query");
    }
    let full = server.get("/v1/agents?limit=100", &key).await;
    assert_eq!(full.status, 200);
    let agent = &ids[0];
    let patched = server
        .json(
            "PATCH",
            &format!("/v1/agents/{agent}"),
            &key,
            &json!({ "description": "Front desk" }),
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["description"], "Front desk");
    assert_eq!(patched.json()["name"], "alpha");

    // Agent tools.
    let attached = server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{echo_id}"),
            &key,
            &json!({ "config": {}, "is_enabled": true, "function_enables": { "fail": false } }),
        )
        .await;
    assert_eq!(
        attached.status,
        200,
        "{}",
        String::from_utf8_lossy(&attached.body)
    );
    assert_eq!(attached.json()["tool_name"], "echo");
    server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{echo_id}"),
            &key,
            &json!({ "function_enables": { "nope": true } }),
        )
        .await
        .problem(400, "invalid_request");
    let with_tools = server
        .get(&format!("/v1/agents/{agent}?include_tools=true"), &key)
        .await
        .json();
    assert_eq!(with_tools["tools"][0]["tool_id"], echo_id.as_str());
    assert!(
        server
            .get(&format!("/v1/agents/{agent}"), &key)
            .await
            .json()
            .get("tools")
            .is_none()
    );
    let agent_tools = server
        .get(&format!("/v1/agents/{agent}/tools"), &key)
        .await
        .json();
    assert_eq!(agent_tools.as_array().unwrap().len(), 1);
    let tested = server
        .send(
            "POST",
            &format!("/v1/agents/{agent}/tools/{echo_id}/test"),
            Some(&key),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        tested.status,
        200,
        "{}",
        String::from_utf8_lossy(&tested.body)
    );
    assert_eq!(tested.json()["ok"], true);

    // A worker call, then the audit trail and health.
    let worker = server.worker_token().await;
    let invoked = server
        .json(
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            &worker,
            &json!({ "name": "echo__echo", "arguments": { "message": "hi" }, "call_id": "c1" }),
        )
        .await;
    assert_eq!(
        invoked.status,
        200,
        "{}",
        String::from_utf8_lossy(&invoked.body)
    );
    let invocations = server
        .get(
            &format!("/v1/invocations?agent_id={agent}&tool_id={echo_id}&limit=10"),
            &key,
        )
        .await
        .json();
    assert_eq!(invocations["items"].as_array().unwrap().len(), 1);
    assert_eq!(invocations["items"][0]["outcome"], "ok");
    assert_eq!(
        invocations["items"][0]["id"],
        invoked.json()["invocation_id"]
    );
    let health = server
        .get(
            &format!("/v1/tools/{echo_id}/health?window_minutes=5"),
            &key,
        )
        .await;
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(
        (health["calls"].clone(), health["errors"].clone()),
        (json!(1), json!(0))
    );
    assert!(health["p50_duration_us"].is_i64());
    for window in ["0", "43201"] {
        server
            .get(
                &format!("/v1/tools/{echo_id}/health?window_minutes={window}"),
                &key,
            )
            .await
            .problem(400, "invalid_query");
    }

    // Deletions.
    assert_eq!(
        server
            .delete(&format!("/v1/agents/{agent}/tools/{echo_id}"), &key)
            .await
            .status,
        204
    );
    assert!(
        server
            .get(&format!("/v1/agents/{agent}/tools"), &key)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        server
            .delete(&format!("/v1/agents/{agent}"), &key)
            .await
            .status,
        204
    );
    server
        .get(&format!("/v1/agents/{agent}"), &key)
        .await
        .problem(404, "not_found");
    assert_eq!(
        server
            .delete(&format!("/v1/tools/{calendar_id}"), &key)
            .await
            .status,
        204
    );
    server
        .get(&format!("/v1/tools/{calendar_id}"), &key)
        .await
        .problem(404, "not_found");
    server.assert_never_sent(&canary);
    server.stop().await;
}

async fn another_organizations_ids_are_not_found_and_nothing_changes(db: &TestDb) {
    let server = Server::default(db).await;
    let ours = server.org("acme").await;
    let theirs = server.org("globex").await;
    let tool = server
        .upload(&ours, component(artifacts::GOOGLE_CALENDAR))
        .await
        .json()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = server
        .json("POST", "/v1/agents", &ours, &json!({ "name": "alpha" }))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attached = server
        .json(
            "PUT",
            &format!("/v1/agents/{agent}/tools/{tool}"),
            &ours,
            &json!({ "config": { "api_base": "http://127.0.0.1:9" } }),
        )
        .await;
    assert_eq!(
        attached.status,
        200,
        "{}",
        String::from_utf8_lossy(&attached.body)
    );
    server
        .json(
            "PUT",
            &format!("/v1/tools/{tool}/secrets/client_id"),
            &ours,
            &json!({ "value": "x" }),
        )
        .await;
    let before = (
        server
            .get(&format!("/v1/agents/{agent}?include_tools=true"), &ours)
            .await
            .body,
        server.get(&format!("/v1/tools/{tool}"), &ours).await.body,
    );

    // With the other organization's key, and through its console session.
    let callers = [Caller::Key(theirs.clone()), server.console(&theirs).await];
    for t in &callers {
        let attempts = [
            ("GET", format!("/v1/tools/{tool}"), None),
            ("DELETE", format!("/v1/tools/{tool}"), None),
            ("GET", format!("/v1/tools/{tool}/secrets"), None),
            (
                "PUT",
                format!("/v1/tools/{tool}/secrets/client_id"),
                Some(json!({ "value": "evil" })),
            ),
            (
                "DELETE",
                format!("/v1/tools/{tool}/secrets/client_id"),
                None,
            ),
            ("GET", format!("/v1/tools/{tool}/health"), None),
            ("POST", format!("/v1/tools/{tool}/oauth/start"), None),
            ("DELETE", format!("/v1/tools/{tool}/oauth"), None),
            ("GET", format!("/v1/agents/{agent}"), None),
            (
                "PATCH",
                format!("/v1/agents/{agent}"),
                Some(json!({ "name": "evil" })),
            ),
            ("DELETE", format!("/v1/agents/{agent}"), None),
            ("GET", format!("/v1/agents/{agent}/tools"), None),
            (
                "PUT",
                format!("/v1/agents/{agent}/tools/{tool}"),
                Some(json!({ "config": {} })),
            ),
            ("DELETE", format!("/v1/agents/{agent}/tools/{tool}"), None),
            (
                "POST",
                format!("/v1/agents/{agent}/tools/{tool}/test"),
                None,
            ),
            (
                "POST",
                format!("/v1/agents/{agent}/invoke"),
                Some(json!({ "name": "google_calendar__list_events", "arguments": {} })),
            ),
        ];
        for (method, path, body) in &attempts {
            let reply = server.call(t, method, path, body.as_ref()).await;
            assert_eq!(reply.status, 404, "{method} {path} as {t:?}");
            reply.problem(404, "not_found");
        }
        let listed = server
            .call(t, "GET", &format!("/v1/invocations?agent_id={agent}"), None)
            .await;
        assert_eq!(listed.status, 200);
        assert!(listed.json()["items"].as_array().unwrap().is_empty());
        assert!(
            server.call(t, "GET", "/v1/agents", None).await.json()["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(
            server
                .call(t, "GET", "/v1/tools", None)
                .await
                .json()
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["id"] != tool.as_str())
        );
    }
    let after = (
        server
            .get(&format!("/v1/agents/{agent}?include_tools=true"), &ours)
            .await
            .body,
        server.get(&format!("/v1/tools/{tool}"), &ours).await.body,
    );
    assert_eq!(before, after);
    server.stop().await;
}

async fn bad_requests_are_client_problems(db: &TestDb) {
    let server = Server::default(db).await;
    let key = server.org("acme").await;
    let post = |body: &'static [u8], content_type: &'static str| {
        let (server, key) = (&server, key.clone());
        async move {
            server
                .send(
                    "POST",
                    "/v1/agents",
                    Some(&key),
                    &[("content-type", content_type)],
                    body.to_vec(),
                )
                .await
        }
    };
    post(b"{\"name\": ", "application/json")
        .await
        .problem(400, "malformed_body");
    post(b"{\"name\": 5}", "application/json")
        .await
        .problem(422, "invalid_body");
    let unknown = post(
        b"{\"name\": \"a\", \"colour\": \"red\"}",
        "application/json",
    )
    .await;
    let unknown = unknown.problem(422, "invalid_body");
    assert!(unknown["detail"].as_str().unwrap().contains("colour"));
    post(b"{}", "application/json")
        .await
        .problem(422, "invalid_body");
    post(b"{\"name\": \"a\"}", "text/plain")
        .await
        .problem(415, "unsupported_media_type");
    post(b"{\"name\": \"  \"}", "application/json")
        .await
        .problem(400, "invalid_request");
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    server
        .send(
            "POST",
            "/v1/agents",
            Some(&key),
            &[("content-type", "application/json")],
            big.into_bytes(),
        )
        .await
        .problem(413, "payload_too_large");
    server
        .get("/v1/agents?limit=lots", &key)
        .await
        .problem(400, "invalid_query");
    server
        .get("/v1/agents?cursor=%%%", &key)
        .await
        .problem(400, "invalid_request");
    server
        .get("/v1/tools/does-not-exist", &key)
        .await
        .problem(404, "not_found");

    // Secret bodies: rejections never quote the body.
    let tool = server
        .upload(&key, component(artifacts::GOOGLE_CALENDAR))
        .await
        .json()["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/tools/{tool}/secrets/client_id");
    let canary = "canary-in-a-bad-body";
    for body in [
        json!({ "value": canary, "extra": canary }),
        json!({ "value": [canary] }),
        json!({ "valu": canary }),
    ] {
        server
            .json("PUT", &path, &key, &body)
            .await
            .problem(422, "invalid_body");
    }
    server
        .send(
            "PUT",
            &path,
            Some(&key),
            &[("content-type", "application/json")],
            format!("{{\"value\": \"{canary}").into_bytes(),
        )
        .await
        .problem(400, "malformed_body");
    server.assert_never_sent(canary);

    // Uploads.
    server
        .send(
            "POST",
            "/v1/tools",
            Some(&key),
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await
        .problem(415, "unsupported_media_type");
    server
        .send(
            "POST",
            "/v1/tools",
            Some(&key),
            &[],
            component(artifacts::ECHO),
        )
        .await
        .problem(415, "unsupported_media_type");
    server
        .upload(&key, b"\0asm not really".to_vec())
        .await
        .problem(422, "invalid_component");
    server
        .upload(&key, Vec::new())
        .await
        .problem(422, "invalid_component");
    // A core wasm module, not a component of the `warden:tool` world.
    server
        .upload(&key, b"\0asm\x01\0\0\0".to_vec())
        .await
        .problem(422, "invalid_component");
    server
        .upload(&key, vec![0u8; warden_api::MAX_COMPONENT_BYTES + 1])
        .await
        .problem(413, "payload_too_large");
    server.stop().await;
}

/// The OpenAPI document as served is the checked-in `openapi.json`: every
/// change to the wire format shows up in review. After an intended change,
/// run the tests with `WARDEN_UPDATE_OPENAPI=1` to rewrite the snapshot.
async fn the_openapi_document_matches_the_checked_in_snapshot(db: &TestDb) {
    let server = Server::start(db, CoreSettings::default(), ApiSettings::default()).await;
    let served = server.send("GET", "/openapi.json", None, &[], vec![]).await;
    assert_eq!(served.status, 200);
    let served = String::from_utf8(served.body.to_vec()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("WARDEN_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{served}\n")).unwrap();
        return;
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        served.trim_end() == snapshot.trim_end(),
        "the OpenAPI document differs from {}; if the change is intended, rerun with \
         WARDEN_UPDATE_OPENAPI=1 and review the diff",
        path.display()
    );
}
