//! The Google Calendar stand-in over real HTTP.

mod common;
#[path = "google_calendar/oauth.rs"]
mod oauth;

use std::time::Duration;

use base64::Engine as _;
use common::{Reply, get, get_auth, send, send_json};
use serde_json::{Value, json};
use warden_testing::{Fault, GoogleCalendar};

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn refresh(gc: &GoogleCalendar, refresh_token: &str) -> Reply {
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("client_secret", GoogleCalendar::CLIENT_SECRET),
    ]);
    send(
        "POST",
        &gc.token_url(),
        &[("content-type", "application/x-www-form-urlencoded")],
        body,
    )
    .await
}

fn events_url(gc: &GoogleCalendar, calendar: &str) -> String {
    format!("{}/calendar/v3/calendars/{calendar}/events", gc.base_url())
}

fn assert_envelope(reply: &Reply, code: u16, domain: &str, reason: &str, message: &str) {
    assert_eq!(
        reply.status.as_u16(),
        code,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let body = reply.json();
    assert_eq!(body["error"]["code"], code);
    assert_eq!(body["error"]["message"], message);
    assert_eq!(body["error"]["errors"][0]["domain"], domain);
    assert_eq!(body["error"]["errors"][0]["reason"], reason);
    assert_eq!(body["error"]["errors"][0]["message"], message);
}

fn event(summary: &str, start: &str, end: &str) -> Value {
    json!({"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}})
}

#[tokio::test]
async fn refresh_token_grant_issues_a_usable_access_token() {
    let gc = GoogleCalendar::start().await;
    let refresh_token = gc.issue_refresh_token();
    assert!(refresh_token.starts_with("1//"));

    let reply = refresh(&gc, &refresh_token).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], "https://www.googleapis.com/auth/calendar");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("ya29."));
    assert_eq!(gc.refreshed_access_tokens(), vec![access.clone()]);

    let reply = get_auth(&events_url(&gc, "primary"), &access).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["kind"], "calendar#events");

    // The request was recorded with its form body.
    let token_request = &gc.requests()[0];
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.path, "/token");
    assert!(String::from_utf8_lossy(&token_request.body).contains("grant_type=refresh_token"));
    assert_eq!(
        token_request.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn refresh_accepts_http_basic_client_authentication() {
    let gc = GoogleCalendar::start().await;
    let refresh_token = gc.issue_refresh_token();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        GoogleCalendar::CLIENT_ID,
        GoogleCalendar::CLIENT_SECRET
    ));
    let auth = format!("Basic {basic}");
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh_token),
    ]);
    let reply = send(
        "POST",
        &gc.token_url(),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &auth),
        ],
        body,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(gc.refreshed_access_tokens().len(), 1);
}

#[tokio::test]
async fn token_endpoint_errors_are_googles() {
    let gc = GoogleCalendar::start().await;
    let refresh_token = gc.issue_refresh_token();
    let url = gc.token_url();
    let ct = [("content-type", "application/x-www-form-urlencoded")];

    gc.revoke_refresh_token(&refresh_token);
    let reply = refresh(&gc, &refresh_token).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    let reply = refresh(&gc, "1//never-issued").await;
    assert_eq!(reply.json()["error"], "invalid_grant");

    let live = gc.issue_refresh_token();
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &live),
        ("client_id", "someone-else.apps.googleusercontent.com"),
        ("client_secret", GoogleCalendar::CLIENT_SECRET),
    ]);
    let reply = send("POST", &url, &ct, body).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"error": "invalid_client", "error_description": "The OAuth client was not found."})
    );

    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &live),
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("client_secret", "wrong"),
    ]);
    let reply = send("POST", &url, &ct, body).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_client");

    let body = form(&[
        ("grant_type", "password"),
        ("username", "u"),
        ("password", "p"),
    ]);
    let reply = send("POST", &url, &ct, body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: password"})
    );

    let body = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("client_secret", GoogleCalendar::CLIENT_SECRET),
    ]);
    let reply = send("POST", &url, &ct, body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");

    let body = form(&[("grant_type", "refresh_token"), ("refresh_token", &live)]);
    let reply = send("POST", &url, &ct, body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");

    assert!(gc.refreshed_access_tokens().is_empty());
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let gc = GoogleCalendar::start().await;
    let refresh_token = gc.issue_refresh_token();
    let access = refresh(&gc, &refresh_token).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &access).await.status,
        200
    );
    gc.revoke_refresh_token(&refresh_token);
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &access).await.status,
        401
    );
}

#[tokio::test]
async fn bad_expired_or_missing_tokens_get_the_401_envelope() {
    let gc = GoogleCalendar::start().await;
    let url = events_url(&gc, "primary");
    let expired = gc.issue_access_token(Duration::ZERO);
    let expiring = gc.issue_access_token(Duration::from_secs(3600));
    gc.expire_access_token(&expiring);

    for reply in [
        get(&url, &[]).await,
        get_auth(&url, "ya29.not-a-token").await,
        get_auth(&url, &expired).await,
        get_auth(&url, &expiring).await,
        get(&url, &[("authorization", "Basic Zm9vOmJhcg==")]).await,
    ] {
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json(),
            json!({"error": {"errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials",
                "locationType": "header", "location": "Authorization"}], "code": 401, "message": "Invalid Credentials"}})
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#)
        );
    }
}

#[tokio::test]
async fn insert_list_get_patch_delete() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    let url = events_url(&gc, "primary");

    let reply = send_json(
        "POST",
        &format!("{url}?sendUpdates=all"),
        &token,
        &json!({
            "summary": "Dentist",
            "location": "Main St",
            "start": {"dateTime": "2026-03-10T09:00:00-05:00"},
            "end": {"dateTime": "2026-03-10T10:30:00", "timeZone": "America/New_York"},
            "attendees": [{"email": "patient@example.com"}],
        }),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let created = reply.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() >= 5
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
    );
    assert_eq!(created["kind"], "calendar#event");
    assert_eq!(created["status"], "confirmed");
    assert_eq!(created["organizer"]["email"], "owner@example.com");
    assert_eq!(created["creator"]["email"], "owner@example.com");
    assert_eq!(created["attendees"][0]["responseStatus"], "needsAction");
    assert!(
        created["htmlLink"]
            .as_str()
            .unwrap()
            .starts_with("https://www.google.com/calendar/event?eid=")
    );
    assert!(created["etag"].as_str().unwrap().starts_with('"'));
    assert_eq!(created["start"]["dateTime"], "2026-03-10T14:00:00Z");
    assert_eq!(created["end"]["dateTime"], "2026-03-10T10:30:00-04:00");
    assert!(created["created"].is_string() && created["updated"].is_string());

    // Another calendar; "primary" is the owner's.
    gc.insert_event(
        "team@example.com",
        event("Standup", "2026-03-10T15:00:00Z", "2026-03-10T15:15:00Z"),
    );
    assert_eq!(gc.events("owner@example.com").len(), 1);
    assert_eq!(
        gc.events("team@example.com")[0]["organizer"]["email"],
        "team@example.com"
    );

    gc.insert_event(
        "primary",
        event("Lunch", "2026-03-10T12:00:00Z", "2026-03-10T13:00:00Z"),
    );
    gc.insert_event(
        "primary",
        event("Review", "2026-03-11T10:00:00Z", "2026-03-11T11:00:00Z"),
    );

    let list = get_auth(
        &format!("{url}?singleEvents=true&orderBy=startTime"),
        &token,
    )
    .await
    .json();
    assert_eq!(list["kind"], "calendar#events");
    assert_eq!(list["timeZone"], "UTC");
    let summaries: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["Lunch", "Dentist", "Review"]);

    let window = format!(
        "{url}?timeMin={}&timeMax={}",
        form_urlencoded::byte_serialize(b"2026-03-10T13:30:00+00:00").collect::<String>(),
        "2026-03-11T00:00:00Z"
    );
    let list = get_auth(&window, &token).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["summary"], "Dentist");

    let list = get_auth(&format!("{url}?q=main%20st"), &token).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let list = get_auth(&format!("{url}?maxResults=2"), &token)
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let page_token = list["nextPageToken"].as_str().unwrap().to_owned();
    let list = get_auth(
        &format!("{url}?maxResults=2&pageToken={page_token}"),
        &token,
    )
    .await
    .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list.get("nextPageToken").is_none());

    let reply = get_auth(&format!("{url}?orderBy=startTime"), &token).await;
    assert_envelope(
        &reply,
        400,
        "global",
        "badRequest",
        "The requested ordering is not available for the particular query.",
    );

    let event_url = format!("{url}/{id}");
    let fetched = get_auth(&event_url, &token).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), created);

    let patched = send_json("PATCH", &event_url, &token, &json!({"summary": "Dentist (moved)", "start": {"dateTime": "2026-03-10T14:30:00Z"}, "end": {"dateTime": "2026-03-10T15:00:00Z"}})).await;
    assert_eq!(patched.status, 200);
    let patched = patched.json();
    assert_eq!(patched["summary"], "Dentist (moved)");
    assert_eq!(patched["location"], "Main St");
    assert_eq!(patched["id"], id.as_str());
    assert_eq!(patched["sequence"], 1);
    assert_ne!(patched["etag"], created["etag"]);

    let reply = send_json(
        "PATCH",
        &event_url,
        &token,
        &json!({"end": {"dateTime": "2026-03-10T14:00:00Z"}}),
    )
    .await;
    assert_envelope(
        &reply,
        400,
        "calendar",
        "timeRangeEmpty",
        "The specified time range is empty.",
    );

    let reply = send(
        "DELETE",
        &event_url,
        &[("authorization", &format!("Bearer {token}"))],
        "",
    )
    .await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());

    let reply = send(
        "DELETE",
        &event_url,
        &[("authorization", &format!("Bearer {token}"))],
        "",
    )
    .await;
    assert_eq!(reply.status, 410);
    assert_eq!(
        reply.json(),
        json!({"error": {"errors": [{"domain": "global", "reason": "deleted", "message": "Resource has been deleted"}],
            "code": 410, "message": "Resource has been deleted"}})
    );
    let reply = send_json("PATCH", &event_url, &token, &json!({"summary": "x"})).await;
    assert_envelope(
        &reply,
        410,
        "global",
        "deleted",
        "Resource has been deleted",
    );

    // Still readable, as cancelled; hidden from lists unless showDeleted.
    let fetched = get_auth(&event_url, &token).await.json();
    assert_eq!(fetched["status"], "cancelled");
    let list = get_auth(&url, &token).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let list = get_auth(&format!("{url}?showDeleted=true"), &token)
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_eq!(gc.events("primary").len(), 3);

    let reply = send(
        "DELETE",
        &format!("{url}/unknownid123"),
        &[("authorization", &format!("Bearer {token}"))],
        "",
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"error": {"errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}],
            "code": 404, "message": "Not Found"}})
    );
    assert_envelope(
        &get_auth(&format!("{url}/unknownid123"), &token).await,
        404,
        "global",
        "notFound",
        "Not Found",
    );
    assert_envelope(
        &send_json("PATCH", &format!("{url}/unknownid123"), &token, &json!({})).await,
        404,
        "global",
        "notFound",
        "Not Found",
    );
}

#[tokio::test]
async fn insert_validates_like_google() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    let url = events_url(&gc, "primary");

    let reply = send_json("POST", &url, &token, &json!({"summary": "no times"})).await;
    assert_envelope(&reply, 400, "global", "required", "Missing start time.");
    let reply = send_json(
        "POST",
        &url,
        &token,
        &json!({"start": {"dateTime": "2026-03-10T09:00:00Z"}}),
    )
    .await;
    assert_envelope(&reply, 400, "global", "required", "Missing end time.");
    let reply = send_json(
        "POST",
        &url,
        &token,
        &event("backwards", "2026-03-10T09:00:00Z", "2026-03-10T08:00:00Z"),
    )
    .await;
    assert_envelope(
        &reply,
        400,
        "calendar",
        "timeRangeEmpty",
        "The specified time range is empty.",
    );
    let reply = send_json(
        "POST",
        &url,
        &token,
        &event("no zone", "2026-03-10T09:00:00", "2026-03-10T10:00:00"),
    )
    .await;
    assert_envelope(
        &reply,
        400,
        "global",
        "required",
        "Missing time zone definition for start time.",
    );
    let reply = send(
        "POST",
        &url,
        &[("authorization", &format!("Bearer {token}"))],
        "{not json",
    )
    .await;
    assert_envelope(&reply, 400, "global", "parseError", "Parse Error");

    for bad_id in ["abc", "UPPERCASE1", "has-dash-1", "wxyz12345"] {
        let mut body = event("bad id", "2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z");
        body["id"] = json!(bad_id);
        let reply = send_json("POST", &url, &token, &body).await;
        assert_eq!(reply.status, 400, "{bad_id}");
        assert_eq!(reply.json()["error"]["errors"][0]["reason"], "invalid");
    }

    let mut body = event("with id", "2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z");
    body["id"] = json!("booking0slot0001");
    let reply = send_json("POST", &url, &token, &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["id"], "booking0slot0001");
    let reply = send_json("POST", &url, &token, &body).await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.json(),
        json!({"error": {"errors": [{"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."}],
            "code": 409, "message": "The requested identifier already exists."}})
    );

    // All-day events.
    let reply = send_json(
        "POST",
        &url,
        &token,
        &json!({"summary": "Holiday", "start": {"date": "2026-03-12"}, "end": {"date": "2026-03-13"}}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["start"], json!({"date": "2026-03-12"}));
    assert_eq!(gc.events("primary").len(), 2);
}

#[tokio::test]
async fn free_busy_merges_and_clips_busy_time() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    gc.insert_event(
        "primary",
        event("a", "2026-03-10T08:00:00Z", "2026-03-10T09:30:00Z"),
    );
    gc.insert_event(
        "primary",
        event("b", "2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z"),
    );
    gc.insert_event(
        "primary",
        event(
            "c",
            "2026-03-10T13:00:00+01:00",
            "2026-03-10T13:30:00+01:00",
        ),
    );
    gc.insert_event(
        "primary",
        event("outside", "2026-03-11T09:00:00Z", "2026-03-11T10:00:00Z"),
    );
    let mut free = event("free", "2026-03-10T15:00:00Z", "2026-03-10T16:00:00Z");
    free["transparency"] = json!("transparent");
    gc.insert_event("primary", free);
    let cancelled = gc.insert_event(
        "primary",
        event("cancelled", "2026-03-10T16:00:00Z", "2026-03-10T17:00:00Z"),
    );
    let reply = send(
        "DELETE",
        &format!(
            "{}/{}",
            events_url(&gc, "primary"),
            cancelled["id"].as_str().unwrap()
        ),
        &[("authorization", &format!("Bearer {token}"))],
        "",
    )
    .await;
    assert_eq!(reply.status, 204);
    gc.insert_event(
        "room@example.com",
        json!({"start": {"date": "2026-03-10"}, "end": {"date": "2026-03-11"}}),
    );

    let url = format!("{}/calendar/v3/freeBusy", gc.base_url());
    let reply = send_json(
        "POST",
        &url,
        &token,
        &json!({
            "timeMin": "2026-03-10T09:00:00Z",
            "timeMax": "2026-03-10T18:00:00Z",
            "items": [{"id": "primary"}, {"id": "room@example.com"}, {"id": "empty@example.com"}],
        }),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json(),
        json!({
            "kind": "calendar#freeBusy",
            "timeMin": "2026-03-10T09:00:00.000Z",
            "timeMax": "2026-03-10T18:00:00.000Z",
            "calendars": {
                "primary": {"busy": [
                    {"start": "2026-03-10T09:00:00Z", "end": "2026-03-10T10:00:00Z"},
                    {"start": "2026-03-10T12:00:00Z", "end": "2026-03-10T12:30:00Z"},
                ]},
                "room@example.com": {"busy": [{"start": "2026-03-10T09:00:00Z", "end": "2026-03-10T18:00:00Z"}]},
                "empty@example.com": {"busy": []},
            },
        })
    );

    let reply = send_json(
        "POST",
        &url,
        &token,
        &json!({"timeMin": "2026-03-10T18:00:00Z", "timeMax": "2026-03-10T09:00:00Z", "items": [{"id": "primary"}]}),
    )
    .await;
    assert_envelope(
        &reply,
        400,
        "calendar",
        "timeRangeEmpty",
        "The specified time range is empty.",
    );
}

#[tokio::test]
async fn faults_apply_to_the_next_api_request_only() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    let url = events_url(&gc, "primary");

    gc.fail_next(Fault::Status(500));
    // The token endpoint is not faulted.
    let refresh_token = gc.issue_refresh_token();
    assert_eq!(refresh(&gc, &refresh_token).await.status, 200);
    assert_envelope(
        &get_auth(&url, &token).await,
        500,
        "global",
        "backendError",
        "Backend Error",
    );
    assert_eq!(get_auth(&url, &token).await.status, 200);

    gc.fail_next(Fault::Status(403));
    assert_envelope(
        &get_auth(&url, &token).await,
        403,
        "usageLimits",
        "rateLimitExceeded",
        "Rate Limit Exceeded",
    );

    gc.fail_next(Fault::RateLimit);
    assert_envelope(
        &get_auth(&url, &token).await,
        429,
        "usageLimits",
        "rateLimitExceeded",
        "Rate Limit Exceeded",
    );

    gc.fail_next(Fault::Status(503));
    assert_envelope(
        &get_auth(&url, &token).await,
        503,
        "global",
        "backendError",
        "Backend Error",
    );

    gc.fail_next(Fault::Status(404));
    assert_envelope(
        &get_auth(&url, &token).await,
        404,
        "global",
        "notFound",
        "Not Found",
    );

    gc.fail_next(Fault::MalformedJson);
    let reply = get_auth(&url, &token).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    assert!(reply.body.starts_with(b"{\"kind\":\"calendar#events\""));

    // Queued faults hit successive requests.
    gc.fail_next(Fault::RateLimit);
    gc.fail_next(Fault::Status(502));
    assert_eq!(get_auth(&url, &token).await.status, 429);
    assert_eq!(get_auth(&url, &token).await.status, 502);
    assert_eq!(get_auth(&url, &token).await.status, 200);
}

#[tokio::test]
async fn requests_are_recorded_and_drop_stops_the_server() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    let url = format!(
        "{}?timeMin=2026-03-10T00:00:00Z",
        events_url(&gc, "team%40example.com")
    );
    let reply = get_auth(&url, &token).await;
    assert_eq!(reply.json()["summary"], "team@example.com");

    let requests = gc.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path,
        "/calendar/v3/calendars/team%40example.com/events"
    );
    assert_eq!(
        requests[0].query.as_deref(),
        Some("timeMin=2026-03-10T00:00:00Z")
    );
    assert_eq!(
        requests[0].header("Authorization"),
        Some(format!("Bearer {token}").as_str())
    );

    let addr = gc.base_url().trim_start_matches("http://").to_owned();
    drop(gc);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn update_replaces_and_free_busy_honours_time_zone() {
    let gc = GoogleCalendar::start().await;
    let token = gc.issue_access_token(Duration::from_secs(600));
    let mut seeded = event("Call", "2026-07-01T09:00:00Z", "2026-07-01T10:00:00Z");
    seeded["description"] = json!("to be dropped by PUT");
    let stored = gc.insert_event("primary", seeded);
    let event_url = format!(
        "{}/{}",
        events_url(&gc, "primary"),
        stored["id"].as_str().unwrap()
    );

    let reply = send_json(
        "PUT",
        &event_url,
        &token,
        &event("Call v2", "2026-07-01T09:00:00Z", "2026-07-01T10:00:00Z"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let updated = reply.json();
    assert_eq!(updated["summary"], "Call v2");
    assert!(updated.get("description").is_none());
    assert_eq!(updated["id"], stored["id"]);
    assert_eq!(updated["created"], stored["created"]);
    assert_eq!(updated["sequence"], 0);

    let reply = send_json(
        "POST",
        &format!("{}/calendar/v3/freeBusy", gc.base_url()),
        &token,
        &json!({"timeMin": "2026-07-01T00:00:00Z", "timeMax": "2026-07-02T00:00:00Z",
            "timeZone": "Europe/Paris", "items": [{"id": "primary"}]}),
    )
    .await;
    assert_eq!(
        reply.json()["calendars"]["primary"]["busy"],
        json!([{"start": "2026-07-01T11:00:00+02:00", "end": "2026-07-01T12:00:00+02:00"}])
    );
}

#[tokio::test]
async fn token_endpoint_accepts_a_json_body() {
    let gc = GoogleCalendar::start().await;
    let refresh_token = gc.issue_refresh_token();
    let body = json!({"grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": GoogleCalendar::CLIENT_ID, "client_secret": GoogleCalendar::CLIENT_SECRET});
    let reply = send(
        "POST",
        &gc.token_url(),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(gc.refreshed_access_tokens().len(), 1);
}
