//! The tool's functions against a scripted Google: the requests they make
//! and what they make of the answers.

use std::cell::RefCell;
use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use warden_sdk::__private::Guest;
use warden_sdk::http::{self, Method};
use warden_sdk::prelude::*;

use crate::GoogleCalendar;
use crate::calendar::{self, event_id};
use crate::config::{Config, Settings};
use crate::google::{ApiRequest, ApiResponse, Calendar, REAUTHORIZE, SLOW_DOWN, Transport};

/// Answers requests from a script and records them.
struct FakeGoogle {
    replies: RefCell<VecDeque<Result<ApiResponse, http::Error>>>,
    requests: RefCell<Vec<ApiRequest>>,
}

impl FakeGoogle {
    fn new(replies: Vec<(u16, Value)>) -> FakeGoogle {
        FakeGoogle {
            replies: RefCell::new(
                replies
                    .into_iter()
                    .map(|(status, body)| {
                        Ok(ApiResponse {
                            status,
                            body: if body.is_null() {
                                Vec::new()
                            } else {
                                body.to_string().into_bytes()
                            },
                        })
                    })
                    .collect(),
            ),
            requests: RefCell::new(Vec::new()),
        }
    }

    fn failing(error: http::Error) -> FakeGoogle {
        FakeGoogle {
            replies: RefCell::new(VecDeque::from([Err(error)])),
            requests: RefCell::new(Vec::new()),
        }
    }

    fn requests(&self) -> Vec<ApiRequest> {
        assert!(
            self.replies.borrow().is_empty(),
            "the tool made fewer requests than scripted"
        );
        self.requests.borrow().clone()
    }
}

impl Transport for FakeGoogle {
    fn send(&self, request: &ApiRequest) -> Result<ApiResponse, http::Error> {
        self.requests.borrow_mut().push(request.clone());
        self.replies
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request {request:?}"))
    }
}

fn settings(config: Value) -> Settings {
    let config: Config = serde_json::from_value(config).expect("config parses");
    Settings::from_config(&config).expect("config is valid")
}

fn new_york() -> Settings {
    settings(json!({
        "time_zone": "America/New_York",
        "calendar_id": "front-desk@example.com",
        "default_event_duration": 45,
    }))
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn event(id: &str, summary: &str, start: &str, end: &str) -> Value {
    json!({
        "kind": "calendar#event",
        "id": id,
        "status": "confirmed",
        "summary": summary,
        "start": { "dateTime": start, "timeZone": "America/New_York" },
        "end": { "dateTime": end, "timeZone": "America/New_York" },
    })
}

fn google_error(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "error": {
            "errors": [{ "domain": "global", "reason": reason, "message": message }],
            "code": code,
            "message": message,
        }
    })
}

#[test]
fn metadata_declares_oauth_and_credentials() {
    let metadata = <GoogleCalendar as Guest>::metadata();
    assert_eq!(metadata.name, "google_calendar");
    assert_eq!(metadata.version, "0.1.0");
    assert!(
        metadata
            .description
            .starts_with("The business's Google Calendar.")
    );
    let functions: Vec<(&str, bool)> = metadata
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.read_only))
        .collect();
    assert_eq!(
        functions,
        [
            ("check_availability", true),
            ("list_events", true),
            ("create_event", false),
            ("update_event", false),
            ("cancel_event", false),
        ]
    );
    assert_eq!(metadata.allowed_hosts, ["https://www.googleapis.com"]);
    let credential = &metadata.credentials[0];
    assert_eq!(
        (
            credential.secret.as_str(),
            credential.header.as_str(),
            credential.format.as_str()
        ),
        ("access_token", "authorization", "Bearer {}")
    );
    assert_eq!(credential.hosts, ["https://www.googleapis.com"]);
    let oauth = metadata.oauth.expect("oauth2 is declared");
    assert_eq!(oauth.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(oauth.scopes, ["https://www.googleapis.com/auth/calendar"]);
    let secrets: Vec<(&str, bool)> = metadata
        .secrets
        .iter()
        .map(|s| (s.name.as_str(), s.required))
        .collect();
    assert_eq!(
        secrets,
        [
            ("access_token", true),
            ("refresh_token", true),
            ("client_id", true),
            ("client_secret", true),
            ("access_token_expires_at", false),
        ]
    );
    assert!(metadata.secrets.iter().all(|s| !s.description.is_empty()));

    let schema: Value = serde_json::from_str(&metadata.config_schema).unwrap();
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema.get("required"), None);
    assert_eq!(schema["properties"]["calendar_id"]["default"], "primary");
    assert_eq!(
        schema["properties"]["default_event_duration"]["default"],
        30
    );
    assert_eq!(schema["properties"]["time_zone"]["default"], "UTC");
    let create = &metadata.functions[2];
    let parameters: Value = serde_json::from_str(&create.parameters).unwrap();
    assert_eq!(parameters["required"], json!(["summary", "start"]));
}

#[test]
fn event_ids_are_stable_base32hex_per_call() {
    let id = event_id("call-123");
    assert_eq!(id, event_id("call-123"));
    assert_ne!(id, event_id("call-124"));
    assert_eq!(id.len(), 64);
    // Google: characters from base32hex (0-9, a-v), 5 to 1024 of them.
    assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'v')));
    assert_eq!(
        id,
        "b5253f5485c88746e639847f9f2832cc741c4c4d19c636faf4b5130c9019e7aa"
    );
}

#[test]
fn check_availability_merges_busy_time_and_finds_free_slots() {
    let google = FakeGoogle::new(vec![(
        200,
        json!({
            "kind": "calendar#freeBusy",
            "calendars": {
                "front-desk@example.com": {
                    "busy": [
                        { "start": "2026-03-09T13:00:00Z", "end": "2026-03-09T14:30:00Z" },
                        { "start": "2026-03-09T14:00:00Z", "end": "2026-03-09T15:00:00Z" },
                        { "start": "2026-03-09T17:00:00Z", "end": "2026-03-09T18:00:00Z" }
                    ]
                }
            }
        }),
    )]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::check_availability(
        &s,
        &cal,
        serde_json::from_value(json!({
            "start": "2026-03-09T09:00",
            "end": "2026-03-09T17:00",
            "slot_minutes": 60
        }))
        .unwrap(),
    )
    .unwrap();

    let requests = google.requests();
    assert_eq!(requests[0].method, Method::POST);
    assert_eq!(requests[0].path, "/freeBusy");
    assert_eq!(
        requests[0].body,
        Some(json!({
            "timeMin": "2026-03-09T09:00:00-04:00",
            "timeMax": "2026-03-09T17:00:00-04:00",
            "timeZone": "America/New_York",
            "items": [{ "id": "front-desk@example.com" }],
        }))
    );
    assert_eq!(result["is_free"], json!(false));
    assert_eq!(
        result["busy"],
        json!([
            { "start": "2026-03-09T09:00:00-04:00", "end": "2026-03-09T11:00:00-04:00" },
            { "start": "2026-03-09T13:00:00-04:00", "end": "2026-03-09T14:00:00-04:00" }
        ])
    );
    assert_eq!(
        result["free_slots"],
        json!([
            { "start": "2026-03-09T11:00:00-04:00", "end": "2026-03-09T13:00:00-04:00", "minutes": 120 },
            { "start": "2026-03-09T14:00:00-04:00", "end": "2026-03-09T17:00:00-04:00", "minutes": 180 }
        ])
    );
    assert_eq!(
        result["message"],
        "The calendar is busy on Monday, March 9, 2026 between 9 AM and 5 PM: 9 AM to 11 AM \
         and 1 PM to 2 PM. Free for 1 hour or more: 11 AM to 1 PM and 2 PM to 5 PM."
    );
}

#[test]
fn check_availability_of_a_free_window() {
    let google = FakeGoogle::new(vec![(
        200,
        json!({ "calendars": { "primary": { "busy": [] } } }),
    )]);
    let s = settings(json!({}));
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::check_availability(
        &s,
        &cal,
        serde_json::from_value(json!({
            "start": "2026-03-09T09:00:00Z", "end": "2026-03-09T10:00:00Z"
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(result["is_free"], json!(true));
    assert_eq!(result["busy"], json!([]));
    assert_eq!(result.get("free_slots"), None);
    assert_eq!(
        result["message"],
        "The calendar is free the whole time on Monday, March 9, 2026 between 9 AM and 10 AM."
    );
}

#[test]
fn check_availability_refuses_bad_windows_and_unknown_calendars() {
    let s = new_york();
    let google = FakeGoogle::new(vec![]);
    let cal = Calendar::new(&google, &s.calendar_id);
    let args = |start: &str, end: &str| {
        serde_json::from_value(json!({ "start": start, "end": end })).unwrap()
    };
    assert!(matches!(
        calendar::check_availability(&s, &cal, args("2026-03-09T10:00", "2026-03-09T09:00")),
        Err(ToolError::InvalidArguments(m)) if m.contains("must be after")
    ));
    assert!(matches!(
        calendar::check_availability(&s, &cal, args("next tuesday", "2026-03-09T09:00")),
        Err(ToolError::InvalidArguments(m)) if m.contains("`start`")
    ));
    google.requests();

    let google = FakeGoogle::new(vec![(
        200,
        json!({ "calendars": { "front-desk@example.com": {
            "busy": [], "errors": [{ "domain": "global", "reason": "notFound" }]
        } } }),
    )]);
    let cal = Calendar::new(&google, &s.calendar_id);
    assert!(matches!(
        calendar::check_availability(&s, &cal, args("2026-03-09T09:00", "2026-03-09T10:00")),
        Err(ToolError::NotFound(m)) if m.contains("front-desk@example.com")
    ));
}

#[test]
fn list_events_defaults_to_the_next_week() {
    let google = FakeGoogle::new(vec![(
        200,
        json!({
            "kind": "calendar#events",
            "items": [
                event("e1", "Cleaning – Jane", "2026-03-09T10:00:00-04:00", "2026-03-09T10:45:00-04:00"),
                {
                    "id": "e2", "status": "confirmed", "summary": "Staff day",
                    "start": { "date": "2026-03-10" }, "end": { "date": "2026-03-11" }
                }
            ],
            "nextPageToken": "more"
        }),
    )]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::list_events(
        &s,
        &cal,
        serde_json::from_value(json!({ "query": " Jane " })).unwrap(),
        utc("2026-03-08T12:00:00Z"),
    )
    .unwrap();

    let request = &google.requests()[0];
    assert_eq!(request.method, Method::GET);
    assert_eq!(request.path, "/calendars/front-desk%40example.com/events");
    assert_eq!(
        request.query,
        [
            ("singleEvents", "true".to_string()),
            ("orderBy", "startTime".into()),
            ("timeMin", "2026-03-08T08:00:00-04:00".into()),
            ("timeMax", "2026-03-15T08:00:00-04:00".into()),
            ("maxResults", "10".into()),
            ("timeZone", "America/New_York".into()),
            ("q", "Jane".into()),
        ]
    );
    assert_eq!(result["count"], 2);
    assert_eq!(result["has_more"], json!(true));
    assert_eq!(
        result["events"],
        json!([
            {
                "id": "e1", "summary": "Cleaning – Jane", "status": "confirmed", "all_day": false,
                "start": "2026-03-09T10:00:00-04:00", "end": "2026-03-09T10:45:00-04:00"
            },
            {
                "id": "e2", "summary": "Staff day", "status": "confirmed", "all_day": true,
                "start": "2026-03-10", "end": "2026-03-11"
            }
        ])
    );
    let message = result["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "2 events between Sunday, March 8, 2026 at 8 AM and Sunday, March 15, 2026 at 8 AM: "
        ),
        "{message}"
    );
    assert!(message.contains("“Cleaning – Jane” on Monday, March 9, 2026 from 10 AM to 10:45 AM"));
    assert!(message.contains("“Staff day”, all day on Tuesday, March 10, 2026"));
    assert!(message.ends_with("ask for a shorter time range to see them."));
}

#[test]
fn list_events_checks_its_arguments() {
    let s = new_york();
    let google = FakeGoogle::new(vec![]);
    let cal = Calendar::new(&google, &s.calendar_id);
    let now = utc("2026-03-08T12:00:00Z");
    assert!(matches!(
        calendar::list_events(&s, &cal, serde_json::from_value(json!({ "max_results": 51 })).unwrap(), now),
        Err(ToolError::InvalidArguments(m)) if m.contains("max_results")
    ));
    assert!(matches!(
        calendar::list_events(&s, &cal, serde_json::from_value(json!({ "end": "2026-03-01T00:00" })).unwrap(), now),
        Err(ToolError::InvalidArguments(m)) if m.contains("after the start")
    ));
    google.requests();
}

#[test]
fn create_event_books_under_the_call_id() {
    let id = event_id("call-42");
    let mut created = event(
        &id,
        "Cleaning – Jane",
        "2026-03-09T14:30:00-04:00",
        "2026-03-09T15:15:00-04:00",
    );
    created["attendees"] =
        json!([{ "email": "jane@example.com", "responseStatus": "needsAction" }]);
    let google = FakeGoogle::new(vec![(200, created)]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::create_event(
        &s,
        &cal,
        "call-42",
        serde_json::from_value(json!({
            "summary": " Cleaning – Jane ",
            "start": "2026-03-09T14:30",
            "attendees": ["jane@example.com", "JANE@example.com"],
            "location": "Room 2",
        }))
        .unwrap(),
    )
    .unwrap();

    let request = &google.requests()[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/calendars/front-desk%40example.com/events");
    assert_eq!(request.query, [("sendUpdates", "all".to_string())]);
    assert_eq!(
        request.body,
        Some(json!({
            "id": id,
            "summary": "Cleaning – Jane",
            // The configured default length, 45 minutes.
            "start": { "dateTime": "2026-03-09T14:30:00-04:00", "timeZone": "America/New_York" },
            "end": { "dateTime": "2026-03-09T15:15:00-04:00", "timeZone": "America/New_York" },
            "location": "Room 2",
            "attendees": [{ "email": "jane@example.com" }],
        }))
    );
    assert_eq!(result["id"], json!(id));
    assert_eq!(result["already_existed"], json!(false));
    assert_eq!(
        result["message"],
        "Booked “Cleaning – Jane” on Monday, March 9, 2026 from 2:30 PM to 3:15 PM. \
         Invitations went to jane@example.com."
    );
}

#[test]
fn create_event_retried_returns_the_existing_event() {
    let id = event_id("call-42");
    let google = FakeGoogle::new(vec![
        (
            409,
            google_error(409, "duplicate", "The requested identifier already exists."),
        ),
        (
            200,
            event(
                &id,
                "Call back",
                "2026-03-09T09:00:00-04:00",
                "2026-03-09T09:15:00-04:00",
            ),
        ),
    ]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::create_event(
        &s,
        &cal,
        "call-42",
        serde_json::from_value(json!({
            "summary": "Call back", "start": "2026-03-09T09:00", "duration_minutes": 15
        }))
        .unwrap(),
    )
    .unwrap();
    let requests = google.requests();
    assert_eq!(requests[0].query, []);
    assert_eq!(
        requests[0].body.as_ref().unwrap()["end"]["dateTime"],
        "2026-03-09T09:15:00-04:00"
    );
    assert_eq!(requests[1].method, Method::GET);
    assert_eq!(
        requests[1].path,
        format!("/calendars/front-desk%40example.com/events/{id}")
    );
    assert_eq!(result["already_existed"], json!(true));
    assert_eq!(result["start"], "2026-03-09T09:00:00-04:00");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .starts_with("This booking was already made")
    );
}

#[test]
fn create_event_checks_its_arguments() {
    let s = new_york();
    let google = FakeGoogle::new(vec![]);
    let cal = Calendar::new(&google, &s.calendar_id);
    let create = |args: Value| {
        calendar::create_event(&s, &cal, "c", serde_json::from_value(args).unwrap()).unwrap_err()
    };
    let cases = [
        (
            json!({ "summary": "x", "start": "2026-03-09T09:00", "end": "2026-03-09T10:00", "duration_minutes": 5 }),
            "not both",
        ),
        (
            json!({ "summary": "x", "start": "2026-03-09T09:00", "end": "2026-03-09T08:00" }),
            "after the start",
        ),
        (
            json!({ "summary": "  ", "start": "2026-03-09T09:00" }),
            "summary",
        ),
        (
            json!({ "summary": "x", "start": "2026-03-09T09:00", "attendees": ["jane at example"] }),
            "e-mail",
        ),
        (
            json!({ "summary": "x", "start": "2026-03-09T09:00", "duration_minutes": 0 }),
            "duration_minutes",
        ),
    ];
    for (args, needle) in cases {
        let error = create(args.clone());
        assert!(
            matches!(&error, ToolError::InvalidArguments(m) if m.contains(needle)),
            "{args}: {error:?}"
        );
    }
    google.requests();
}

#[test]
fn update_event_moving_the_start_keeps_the_length() {
    let mut current = event(
        "e1",
        "Cleaning",
        "2026-03-09T10:00:00-04:00",
        "2026-03-09T10:45:00-04:00",
    );
    current["attendees"] = json!([
        { "email": "jane@example.com", "responseStatus": "accepted" },
        { "email": "bob@example.com", "responseStatus": "declined" }
    ]);
    let google = FakeGoogle::new(vec![
        (200, current),
        (
            200,
            event(
                "e1",
                "Cleaning",
                "2026-03-10T15:00:00-04:00",
                "2026-03-10T15:45:00-04:00",
            ),
        ),
    ]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::update_event(
        &s,
        &cal,
        serde_json::from_value(json!({
            "event_id": "e1",
            "start": "2026-03-10T15:00",
            "attendees": ["jane@example.com", "amy@example.com"],
        }))
        .unwrap(),
    )
    .unwrap();
    let requests = google.requests();
    assert_eq!(requests[0].method, Method::GET);
    assert_eq!(requests[1].method, Method::PATCH);
    assert_eq!(
        requests[1].path,
        "/calendars/front-desk%40example.com/events/e1"
    );
    assert_eq!(requests[1].query, [("sendUpdates", "all".to_string())]);
    assert_eq!(
        requests[1].body,
        Some(json!({
            "start": { "dateTime": "2026-03-10T15:00:00-04:00", "timeZone": "America/New_York", "date": null },
            "end": { "dateTime": "2026-03-10T15:45:00-04:00", "timeZone": "America/New_York", "date": null },
            "attendees": [
                { "email": "jane@example.com", "responseStatus": "accepted" },
                { "email": "amy@example.com" }
            ],
        }))
    );
    assert_eq!(
        result["message"],
        "Updated: “Cleaning” on Tuesday, March 10, 2026 from 3 PM to 3:45 PM."
    );
}

#[test]
fn update_event_changes_only_what_is_given() {
    let google = FakeGoogle::new(vec![(
        200,
        event(
            "e1",
            "Checkup",
            "2026-03-09T10:00:00-04:00",
            "2026-03-09T10:45:00-04:00",
        ),
    )]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    calendar::update_event(
        &s,
        &cal,
        serde_json::from_value(json!({ "event_id": "e1", "summary": "Checkup" })).unwrap(),
    )
    .unwrap();
    let requests = google.requests();
    assert_eq!(requests.len(), 1, "no read is needed for a new title");
    assert_eq!(requests[0].body, Some(json!({ "summary": "Checkup" })));

    let google = FakeGoogle::new(vec![]);
    let cal = Calendar::new(&google, &s.calendar_id);
    assert!(matches!(
        calendar::update_event(&s, &cal, serde_json::from_value(json!({ "event_id": "e1" })).unwrap()),
        Err(ToolError::InvalidArguments(m)) if m.starts_with("nothing to change")
    ));
    google.requests();

    // A missing event is reported as such, before any change is tried.
    let google = FakeGoogle::new(vec![(404, google_error(404, "notFound", "Not Found"))]);
    let cal = Calendar::new(&google, &s.calendar_id);
    assert!(matches!(
        calendar::update_event(
            &s,
            &cal,
            serde_json::from_value(json!({ "event_id": "gone", "start": "2026-03-10T09:00" })).unwrap()
        ),
        Err(ToolError::NotFound(m)) if m.contains("does not exist or was already cancelled")
    ));
    assert_eq!(google.requests().len(), 1);
}

#[test]
fn cancel_event_deletes_and_notifies() {
    let google = FakeGoogle::new(vec![(204, Value::Null)]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    let result = calendar::cancel_event(
        &cal,
        serde_json::from_value(json!({ "event_id": "e1" })).unwrap(),
    )
    .unwrap();
    let request = &google.requests()[0];
    assert_eq!(request.method, Method::DELETE);
    assert_eq!(
        request.path,
        "/calendars/front-desk%40example.com/events/e1"
    );
    assert_eq!(request.query, [("sendUpdates", "all".to_string())]);
    assert_eq!(result["cancelled"], json!(true));
    assert_eq!(result["event_id"], "e1");

    let google = FakeGoogle::new(vec![(
        410,
        google_error(410, "deleted", "Resource has been deleted"),
    )]);
    let cal = Calendar::new(&google, &s.calendar_id);
    assert!(matches!(
        calendar::cancel_event(
            &cal,
            serde_json::from_value(json!({ "event_id": "e1" })).unwrap()
        ),
        Err(ToolError::NotFound(_))
    ));
}

#[test]
fn upstream_failures_reach_the_llm_plainly() {
    let s = new_york();
    let list = |google: &FakeGoogle| {
        let cal = Calendar::new(google, &s.calendar_id);
        calendar::list_events(
            &s,
            &cal,
            serde_json::from_value(json!({})).unwrap(),
            utc("2026-03-08T12:00:00Z"),
        )
    };
    let cases = [
        (
            401,
            google_error(401, "authError", "Invalid Credentials"),
            ToolError::Unauthorized(REAUTHORIZE.into()),
        ),
        (
            403,
            google_error(403, "rateLimitExceeded", "Rate Limit Exceeded"),
            ToolError::RateLimited(SLOW_DOWN.into()),
        ),
        (429, Value::Null, ToolError::RateLimited(SLOW_DOWN.into())),
        (
            503,
            google_error(503, "backendError", "Backend Error"),
            ToolError::Upstream(crate::google::TROUBLE.into()),
        ),
        (
            200,
            json!("not an event list"),
            ToolError::Upstream(crate::google::TROUBLE.into()),
        ),
    ];
    for (status, body, expected) in cases {
        let google = FakeGoogle::new(vec![(status, body)]);
        assert_eq!(list(&google).unwrap_err(), expected, "status {status}");
    }
    let google = FakeGoogle::new(vec![(404, google_error(404, "notFound", "Not Found"))]);
    assert!(matches!(list(&google), Err(ToolError::NotFound(m)) if m.contains("calendar_id")));

    let google = FakeGoogle::failing(http::Error::Timeout {
        url: "https://www.googleapis.com/calendar/v3/calendars/primary/events".into(),
    });
    assert_eq!(
        list(&google).unwrap_err(),
        ToolError::Upstream("www.googleapis.com did not answer in time; try again shortly".into())
    );
}

#[test]
fn test_export_reads_one_event() {
    let google = FakeGoogle::new(vec![(200, json!({ "items": [] }))]);
    let s = new_york();
    let cal = Calendar::new(&google, &s.calendar_id);
    assert_eq!(
        calendar::test(&s, &cal).unwrap(),
        json!({ "ok": true, "calendar_id": "front-desk@example.com", "time_zone": "America/New_York" })
    );
    let request = &google.requests()[0];
    assert_eq!(request.path, "/calendars/front-desk%40example.com/events");
    assert_eq!(request.query, [("maxResults", "1".to_string())]);
}
