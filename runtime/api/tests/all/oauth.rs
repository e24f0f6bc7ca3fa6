//! Connecting a Google account for `google_calendar` through the OAuth2
//! authorization-code flow with PKCE, against the Google stand-in: the
//! happy path and a later call on the connected tokens (with the host
//! refreshing them), and every way it can fail changing nothing.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use serde_json::json;
use warden_core::HttpGrants;
use warden_testing::{GoogleCalendar, TokenFault};
use warden_tool_artifacts as artifacts;

on_both_backends!(
    an_account_connects_calls_and_disconnects,
    every_failed_connection_changes_nothing,
    a_connection_started_in_the_console_is_bound_to_its_browser,
);

/// The server, with `google_calendar` pointed at the stand-in for its
/// calls, its token refresh, its consent page and its revocation.
struct Connect {
    google: GoogleCalendar,
    server: Server,
    key: String,
    tool: String,
}

impl Connect {
    async fn start(db: &TestDb) -> Connect {
        let google = GoogleCalendar::start().await;
        let mut settings = crate::once::calendar_settings(&google);
        settings.http = HttpGrants {
            oauth_authorize_url: Some(google.authorize_url()),
            oauth_revocation_url: Some(google.revoke_url()),
            ..settings.http
        };
        let server = Server::start(db, settings, ApiSettings::default()).await;
        google.register_redirect_uri(&format!("http://{}/oauth/callback", server.addr));
        server
            .core
            .install_platform_tool(component(artifacts::GOOGLE_CALENDAR))
            .await
            .unwrap();
        let key = server.org("acme").await;
        let tool = tool_id(&server, &key).await;
        let connect = Connect {
            google,
            server,
            key,
            tool,
        };
        connect.set_client(&connect.key).await;
        connect
    }

    /// Sets the organization's OAuth2 client (the stand-in's).
    async fn set_client(&self, key: &str) {
        for (name, value) in [
            ("client_id", GoogleCalendar::CLIENT_ID),
            ("client_secret", GoogleCalendar::CLIENT_SECRET),
        ] {
            let set = self
                .server
                .json(
                    "PUT",
                    &format!("/v1/tools/{}/secrets/{name}", self.tool),
                    key,
                    &json!({ "value": value }),
                )
                .await;
            assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
        }
    }

    /// `POST …/oauth/start` as `key`: the authorization URL.
    async fn start_url(&self, key: &str) -> String {
        let started = self
            .server
            .json(
                "POST",
                &format!("/v1/tools/{}/oauth/start", self.tool),
                key,
                &json!({}),
            )
            .await;
        assert_eq!(
            started.status,
            200,
            "{}",
            String::from_utf8_lossy(&started.body)
        );
        started.json()["authorization_url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Follows the provider's redirect to Warden's callback, as the browser
    /// would: the status and the page.
    async fn follow(&self, location: &str) -> (u16, String) {
        let (status, page, _) = self.follow_with(location, &[]).await;
        (status, page)
    }

    /// As [`Connect::follow`], with the browser's cookies: also the
    /// `Set-Cookie` of the answer.
    async fn follow_with(
        &self,
        location: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let path = location
            .strip_prefix(&format!("http://{}", self.server.addr))
            .unwrap_or_else(|| panic!("the provider redirected elsewhere: {location}"));
        let reply = self
            .server
            .send("GET", path, None, headers, Vec::new())
            .await;
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert!(
            reply
                .header("content-security-policy")
                .is_some_and(|csp| csp.starts_with("default-src 'none'"))
        );
        (
            reply.status,
            String::from_utf8_lossy(&reply.body).into_owned(),
            reply.header("set-cookie").map(str::to_owned),
        )
    }

    /// The tool's secrets, by name: whether set, and when.
    async fn secrets(&self, key: &str) -> Value {
        let listed = self
            .server
            .get(&format!("/v1/tools/{}/secrets", self.tool), key)
            .await
            .json();
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    json!([s["is_set"], s["updated_at"]]),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Asserts that the organization's secrets are `before` and that it is
    /// not connected.
    async fn unchanged(&self, before: &Value) {
        assert_eq!(&self.secrets(&self.key).await, before);
        assert_eq!(self.oauth_view(&self.key).await["connected"], false);
    }

    async fn oauth_view(&self, key: &str) -> Value {
        self.server
            .get(&format!("/v1/tools/{}", self.tool), key)
            .await
            .json()["oauth"]
            .clone()
    }
}

async fn tool_id(server: &Server, key: &str) -> String {
    let tools = server.get("/v1/tools", key).await.json();
    tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "google_calendar")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn an_account_connects_calls_and_disconnects(db: &TestDb) {
    let c = Connect::start(db).await;
    assert_eq!(c.oauth_view(&c.key).await["connected"], false);

    // The authorization URL: Google's parameters, PKCE with S256, offline
    // access, the tool's scopes, Warden's callback.
    let url = c.start_url(&c.key).await;
    assert!(url.starts_with(&c.google.authorize_url()), "{url}");
    let params = query(&url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], GoogleCalendar::CLIENT_ID);
    assert_eq!(
        params["redirect_uri"],
        format!("http://{}/oauth/callback", c.server.addr)
    );
    assert_eq!(params["scope"], "https://www.googleapis.com/auth/calendar");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(params["access_type"], "offline");
    assert!(params["state"].len() >= 43);

    // Consent, and the provider's redirect back: connected.
    let location = c.google.consent(&url, true).unwrap();
    let (status, page) = c.follow(&location).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Account connected"), "{page}");
    let secrets = c.secrets(&c.key).await;
    for name in ["access_token", "refresh_token", "access_token_expires_at"] {
        assert_eq!(secrets[name][0], true, "{name}: {secrets}");
    }
    let view = c.oauth_view(&c.key).await;
    assert_eq!(view["connected"], true, "{view}");
    assert_eq!(view["connected_at"], secrets["refresh_token"][1]);

    // The same redirect again (a replayed state): refused, nothing changes.
    let (status, page) = c.follow(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired or was already used"), "{page}");
    assert_eq!(c.secrets(&c.key).await, secrets);

    // A call on the connected tokens, after the access token expired: the
    // host refreshes it with the connected refresh token.
    let expired = c
        .server
        .json(
            "PUT",
            &format!("/v1/tools/{}/secrets/access_token_expires_at", c.tool),
            &c.key,
            &json!({ "value": "1" }),
        )
        .await;
    assert_eq!(expired.status, 200);
    let agent = crate::mcp::agent(&c.server, &c.key, "scheduler").await;
    crate::mcp::attach(
        &c.server,
        &c.key,
        &agent,
        &c.tool,
        json!({ "config": { "api_base": c.google.base_url(), "time_zone": "UTC" } }),
    )
    .await;
    let worker = c.server.worker_token().await;
    let listed = c
        .server
        .json(
            "POST",
            &format!("/worker/v1/agents/{agent}/invoke"),
            &worker,
            &json!({ "name": "google_calendar__list_events", "arguments": {} }),
        )
        .await;
    assert_eq!(
        listed.status,
        200,
        "{}",
        String::from_utf8_lossy(&listed.body)
    );
    assert_eq!(c.google.refreshed_access_tokens().len(), 1);

    // Another organization sees none of it, and cannot disconnect it.
    let other = c.server.org("globex").await;
    let theirs = c.secrets(&other).await;
    assert!(
        theirs.as_object().unwrap().values().all(|s| s[0] == false),
        "{theirs}"
    );
    assert_eq!(c.oauth_view(&other).await["connected"], false);

    // Disconnecting revokes the grant at the provider and drops the tokens;
    // the client stays.
    let done = c
        .server
        .send(
            "DELETE",
            &format!("/v1/tools/{}/oauth", c.tool),
            Some(&c.key),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.json()["revoked_at_provider"], true);
    assert!(!c.google.revoked_tokens().is_empty());
    let secrets = c.secrets(&c.key).await;
    for name in ["access_token", "refresh_token", "access_token_expires_at"] {
        assert_eq!(secrets[name][0], false, "{name}: {secrets}");
    }
    for name in ["client_id", "client_secret"] {
        assert_eq!(secrets[name][0], true, "{name}: {secrets}");
    }
    assert_eq!(c.oauth_view(&c.key).await["connected"], false);

    // No token or client secret reached a response or a log line.
    let seen = String::from_utf8_lossy(&c.server.seen.lock().unwrap()).into_owned();
    assert!(!seen.contains(GoogleCalendar::CLIENT_SECRET));
    assert_never_logged(GoogleCalendar::CLIENT_SECRET);
    for token in c.google.revoked_tokens() {
        assert!(!seen.contains(&token));
        assert_never_logged(&token);
    }
    c.server.stop().await;
}

async fn every_failed_connection_changes_nothing(db: &TestDb) {
    let c = Connect::start(db).await;
    let before = c.secrets(&c.key).await;

    // Consent declined.
    let url = c.start_url(&c.key).await;
    let location = c.google.consent(&url, false).unwrap();
    assert!(location.contains("error=access_denied"), "{location}");
    let (status, page) = c.follow(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("consent was declined"), "{page}");
    c.unchanged(&before).await;

    // The token endpoint fails, then rejects the client: nothing connected,
    // and the state is used up either way.
    for (fault, expected, code) in [
        (TokenFault::Status(500), "token endpoint answered", 502),
        (TokenFault::InvalidClient, "client id or secret", 400),
    ] {
        let url = c.start_url(&c.key).await;
        c.google.fail_next_code_exchange(fault);
        let location = c.google.consent(&url, true).unwrap();
        let (status, page) = c.follow(&location).await;
        assert_eq!(status, code, "{page}");
        assert!(page.contains(expected), "{page}");
        c.unchanged(&before).await;
        let (status, page) = c.follow(&location).await;
        assert_eq!(status, 400);
        assert!(page.contains("expired or was already used"), "{page}");
    }

    // A state never issued, none at all, and a code without a state.
    let base = format!("http://{}/oauth/callback", c.server.addr);
    for (location, expected) in [
        (
            format!("{base}?state=forged&code=abc"),
            "expired or was already used",
        ),
        (format!("{base}?code=abc"), "carries no state"),
        (base.clone(), "carries no state"),
        (
            format!("{base}?state={}&code=abc", "s".repeat(5000)),
            "too long",
        ),
    ] {
        let (status, page) = c.follow(&location).await;
        assert_eq!(status, 400, "{location}");
        assert!(page.contains(expected), "{page}");
    }
    // Hostile text in the provider's error is neither echoed nor run.
    let url = c.start_url(&c.key).await;
    let state = query(&url)["state"].clone();
    let (status, page) = c
        .follow(&format!(
            "{base}?state={state}&error=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ))
        .await;
    assert_eq!(status, 400);
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("an unknown error"), "{page}");
    c.unchanged(&before).await;

    // A tool that does not use OAuth2 has nothing to connect.
    let echo = c.server.upload(&c.key, component(artifacts::ECHO)).await;
    let echo = echo.json()["tool"]["id"].as_str().unwrap().to_owned();
    let refused = c
        .server
        .json(
            "POST",
            &format!("/v1/tools/{echo}/oauth/start"),
            &c.key,
            &json!({}),
        )
        .await;
    refused.problem(409, "conflict");
    c.server
        .delete(&format!("/v1/tools/{echo}/oauth"), &c.key)
        .await
        .problem(409, "conflict");

    // Another organization: no client set, so nothing to start; and an
    // unknown tool is 404.
    let other = c.server.org("globex").await;
    c.server
        .json(
            "POST",
            &format!("/v1/tools/{}/oauth/start", c.tool),
            &other,
            &json!({}),
        )
        .await
        .problem(409, "conflict");
    c.server
        .json(
            "POST",
            "/v1/tools/0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e/oauth/start",
            &c.key,
            &json!({}),
        )
        .await
        .problem(404, "not_found");
    // A state started by acme finishes only for acme: globex, once it has
    // its own client, is not connected by acme's consent.
    c.set_client(&other).await;
    let url = c.start_url(&c.key).await;
    let location = c.google.consent(&url, true).unwrap();
    let (status, _) = c.follow(&location).await;
    assert_eq!(status, 200);
    assert_eq!(c.oauth_view(&c.key).await["connected"], true);
    assert_eq!(c.oauth_view(&other).await["connected"], false);

    // Connections waiting for their provider are bounded per organization.
    let mut last = None;
    for _ in 0..=warden_core::MAX_PENDING_OAUTH_PER_ORGANIZATION {
        last = Some(
            c.server
                .json(
                    "POST",
                    &format!("/v1/tools/{}/oauth/start", c.tool),
                    &other,
                    &json!({}),
                )
                .await,
        );
    }
    last.unwrap().problem(429, "busy");
    c.server.stop().await;
}

/// `POST …/oauth/start` through `console`: the authorization URL and the
/// browser-binding cookie (as the browser sends it back).
async fn console_start(c: &Connect, console: &Caller) -> (String, String) {
    let started = c
        .server
        .call(
            console,
            "POST",
            &format!("/v1/tools/{}/oauth/start", c.tool),
            None,
        )
        .await;
    assert_eq!(
        started.status,
        200,
        "{}",
        String::from_utf8_lossy(&started.body)
    );
    let cookie = started
        .header("set-cookie")
        .expect("a binding cookie")
        .to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/oauth/callback",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let url = started.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    (url, cookie.split(';').next().unwrap().to_owned())
}

async fn a_connection_started_in_the_console_is_bound_to_its_browser(db: &TestDb) {
    let c = Connect::start(db).await;
    let before = c.secrets(&c.key).await;
    let ours = c.server.console(&c.key).await;
    let globex = c.server.org("globex").await;
    c.set_client(&globex).await;
    let theirs = c.server.console(&globex).await;
    let globex_before = c.secrets(&globex).await;

    // Started with a key, a connection is bound to nothing: no cookie.
    let with_key = c
        .server
        .json(
            "POST",
            &format!("/v1/tools/{}/oauth/start", c.tool),
            &c.key,
            &json!({}),
        )
        .await;
    assert!(with_key.header("set-cookie").is_none());

    // Our console starts a connection; another organization's console (its
    // own binding in its cookie) is handed the provider's link and consents:
    // nothing is connected, for either organization.
    let (url, _our_binding) = console_start(&c, &ours).await;
    let (_, their_binding) = console_start(&c, &theirs).await;
    let location = c.google.consent(&url, true).unwrap();
    let (status, page, cleared) = c
        .follow_with(&location, &[("cookie", &their_binding)])
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("another console session"), "{page}");
    // The browser brought no binding for this connection, so the answer
    // clears nothing (its binding for its own connection stays).
    assert!(cleared.is_none(), "{cleared:?}");
    c.unchanged(&before).await;
    assert_eq!(c.secrets(&globex).await, globex_before);
    assert_eq!(c.oauth_view(&globex).await["connected"], false);

    // A browser without the binding connects nothing either.
    let (url, _) = console_start(&c, &ours).await;
    let location = c.google.consent(&url, true).unwrap();
    let (status, page) = c.follow(&location).await;
    assert_eq!(status, 400, "{page}");
    c.unchanged(&before).await;

    // The browser that started it connects, though it started another
    // connection since (each has a binding of its own), and the answer
    // clears the binding it used; the other connection still works.
    let (url, binding) = console_start(&c, &ours).await;
    let (second_url, second_binding) = console_start(&c, &ours).await;
    assert_ne!(binding.split('=').next(), second_binding.split('=').next());
    let both = format!("{binding}; {second_binding}");
    let location = c.google.consent(&url, true).unwrap();
    let (status, page, cleared) = c.follow_with(&location, &[("cookie", &both)]).await;
    assert_eq!(status, 200, "{page}");
    let name = binding.split('=').next().unwrap();
    assert!(
        cleared.is_some_and(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0"))
    );
    let location = c.google.consent(&second_url, true).unwrap();
    let (status, page, _) = c
        .follow_with(&location, &[("cookie", &second_binding)])
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(c.oauth_view(&c.key).await["connected"], true);
    assert_eq!(c.oauth_view(&globex).await["connected"], false);
    c.server.stop().await;
}
