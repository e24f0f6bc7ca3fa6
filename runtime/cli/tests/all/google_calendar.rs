//! The bundled `google_calendar` tool, run with `warden tool call` against the
//! local Google Calendar stand-in, with the host refreshing OAuth2 tokens.

use crate::*;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_testing::{Fault, GoogleCalendar};

/// The stand-in on a runtime of its own, while the tests run `warden`.
struct Google {
    _runtime: tokio::runtime::Runtime,
    api: GoogleCalendar,
    refresh_token: String,
    /// Every secret handed out, for the canary search.
    secrets: Vec<String>,
}

impl Google {
    fn start() -> Google {
        let runtime = stand_in_runtime();
        let api = runtime.block_on(GoogleCalendar::start());
        let refresh_token = api.issue_refresh_token();
        Google {
            _runtime: runtime,
            secrets: vec![
                refresh_token.clone(),
                GoogleCalendar::CLIENT_SECRET.to_owned(),
            ],
            api,
            refresh_token,
        }
    }

    fn token(&mut self, ttl: Duration) -> String {
        let token = self.api.issue_access_token(ttl);
        self.secrets.push(token.clone());
        token
    }

    /// `warden tool call` with the operator grants that point the tool at the
    /// stand-in; the tool's own declaration stays `https://www.googleapis.com`.
    fn call(&self, function: &str, args: Value, token: &str, expires_at: Option<u64>) -> Run {
        let config =
            json!({ "api_base": self.api.base_url(), "time_zone": "America/New_York" }).to_string();
        let args = args.to_string();
        let origin = self.api.origin();
        let token_url = self.api.token_url();
        let credential_host = format!("access_token={origin}");
        let secrets = [
            format!("access_token={token}"),
            format!("refresh_token={}", self.refresh_token),
            format!("client_id={}", GoogleCalendar::CLIENT_ID),
            format!("client_secret={}", GoogleCalendar::CLIENT_SECRET),
        ];
        let expiry = expires_at.map(|at| format!("access_token_expires_at={at}"));
        let mut argv = vec![
            "tool",
            "call",
            artifacts::GOOGLE_CALENDAR,
            function,
            "--config",
            &config,
            "--args",
            &args,
            "--call-id",
            "call-7",
            "--allow-host",
            &origin,
            "--credential-host",
            &credential_host,
            "--oauth-token-url",
            &token_url,
            "--allow-private-network",
        ];
        for secret in secrets.iter().chain(&expiry) {
            argv.extend(["--secret", secret.as_str()]);
        }
        let run = warden_with_env(&argv, &[("WARDEN_LOG", "debug")]);
        for secret in self
            .secrets
            .iter()
            .chain(&self.api.refreshed_access_tokens())
        {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "a token leaked:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn ok(run: &Run) -> Value {
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run.json()
}

#[test]
fn books_lists_moves_and_cancels_an_event() {
    let mut google = Google::start();
    let token = google.token(Duration::from_secs(3600));
    let expiry = Some(now() + 3600);

    let booked = ok(&google.call(
        "create_event",
        json!({
            "summary": "Dental check-up",
            "start": "2026-12-01T10:00",
            "duration_minutes": 45,
            "attendees": ["pat@example.com"],
        }),
        &token,
        expiry,
    ));
    let id = booked["id"].as_str().unwrap().to_owned();
    assert_eq!(booked["already_existed"], false);
    assert_eq!(booked["start"], "2026-12-01T10:00:00-05:00");
    assert_eq!(booked["end"], "2026-12-01T10:45:00-05:00");
    // The credential arrived as a bearer token; the tool never saw it.
    let post = google
        .api
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/events"))
        .unwrap();
    assert_eq!(
        post.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );

    // A retried LLM call (same call id) does not double-book.
    let again = ok(&google.call(
        "create_event",
        json!({ "summary": "Dental check-up", "start": "2026-12-01T10:00", "duration_minutes": 45 }),
        &token,
        expiry,
    ));
    assert_eq!(again["already_existed"], true);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(google.api.events("primary").len(), 1);

    let listed = ok(&google.call(
        "list_events",
        json!({ "start": "2026-12-01T00:00", "end": "2026-12-02T00:00" }),
        &token,
        expiry,
    ));
    assert_eq!(listed["events"].as_array().unwrap().len(), 1);
    assert_eq!(listed["events"][0]["summary"], "Dental check-up");

    let moved = ok(&google.call(
        "update_event",
        json!({ "event_id": id, "start": "2026-12-01T14:00" }),
        &token,
        expiry,
    ));
    assert_eq!(moved["start"], "2026-12-01T14:00:00-05:00");
    assert_eq!(
        moved["end"], "2026-12-01T14:45:00-05:00",
        "the length is kept"
    );

    let cancelled = ok(&google.call("cancel_event", json!({ "event_id": id }), &token, expiry));
    assert_eq!(cancelled["cancelled"], true);
    assert_eq!(google.api.events("primary")[0]["status"], "cancelled");

    // Cancelling twice: the caller hears that it is gone.
    let twice = google.call("cancel_event", json!({ "event_id": id }), &token, expiry);
    assert_eq!(twice.error_kind(), "not_found");
}

#[test]
fn check_availability_finds_the_free_slots_around_events() {
    let mut google = Google::start();
    let token = google.token(Duration::from_secs(3600));
    for (start, end) in [
        ("2026-12-02T10:00:00-05:00", "2026-12-02T11:00:00-05:00"),
        ("2026-12-02T13:00:00-05:00", "2026-12-02T13:30:00-05:00"),
        ("2026-12-02T13:15:00-05:00", "2026-12-02T14:00:00-05:00"),
    ] {
        google.api.insert_event(
            "primary",
            json!({ "summary": "busy", "start": { "dateTime": start }, "end": { "dateTime": end } }),
        );
    }
    let result = ok(&google.call(
        "check_availability",
        json!({ "start": "2026-12-02T09:00", "end": "2026-12-02T17:00", "slot_minutes": 60 }),
        &token,
        None,
    ));
    assert_eq!(result["is_free"], false);
    let slots: Vec<(String, String)> = result["free_slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            ("2026-12-02T09:00:00-05:00", "2026-12-02T10:00:00-05:00"),
            ("2026-12-02T11:00:00-05:00", "2026-12-02T13:00:00-05:00"),
            ("2026-12-02T14:00:00-05:00", "2026-12-02T17:00:00-05:00"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn an_expired_token_is_refreshed_once_and_the_call_succeeds() {
    let mut google = Google::start();
    let stale = google.token(Duration::ZERO);
    let run = google.call("list_events", json!({}), &stale, Some(now() - 60));
    ok(&run);
    assert_eq!(google.api.refreshed_access_tokens().len(), 1);
    assert!(
        run.stderr.contains("the OAuth2 access token was refreshed"),
        "{}",
        run.stderr
    );
    // Also when only the upstream's 401 says so (no expiry known).
    let run = google.call("list_events", json!({}), &stale, None);
    ok(&run);
    assert_eq!(google.api.refreshed_access_tokens().len(), 2);
}

#[test]
fn a_revoked_refresh_token_is_unauthorized() {
    let mut google = Google::start();
    let stale = google.token(Duration::ZERO);
    google
        .api
        .revoke_refresh_token(&google.refresh_token.clone());
    let run = google.call("list_events", json!({}), &stale, Some(now() - 60));
    assert_eq!(run.error_kind(), "unauthorized");
    assert!(
        run.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("calendar access must be re-authorized"),
        "{}",
        run.stdout
    );
}

#[test]
fn upstream_failures_and_malformed_json_are_upstream() {
    let mut google = Google::start();
    let token = google.token(Duration::from_secs(3600));
    for fault in [Fault::Status(500), Fault::MalformedJson] {
        google.api.fail_next(fault);
        let run = google.call("list_events", json!({}), &token, None);
        assert_eq!(run.error_kind(), "upstream", "{fault:?}: {}", run.stdout);
    }
    google.api.fail_next(Fault::RateLimit);
    let run = google.call("list_events", json!({}), &token, None);
    assert_eq!(run.error_kind(), "rate_limited");
}
