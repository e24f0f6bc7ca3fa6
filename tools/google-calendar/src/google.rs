//! The Google Calendar API v3, as far as the tool uses it: requests, the
//! resources it reads, and what Google's errors mean for the LLM.
//!
//! Requests go through a [`Transport`] so the tool's logic can be tested on
//! the host with a scripted Google; in the component it is [`Http`], which
//! uses `warden_sdk::http` (the host adds the OAuth2 access token).

use chrono::DateTime;
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use warden_sdk::http::{self, Method, Request, encode_component};
use warden_sdk::prelude::*;

use crate::time;

/// What the LLM hears when Google fails on its side.
pub const TROUBLE: &str = "Google Calendar is having trouble; try again shortly";

/// What the LLM hears when Google refuses the credentials.
pub const REAUTHORIZE: &str = "Google Calendar refused the tool's access: the calendar \
     connection has expired or was revoked and must be re-authorized by the operator";

/// What the LLM hears when Google asks to slow down.
pub const SLOW_DOWN: &str =
    "Google Calendar is limiting requests right now; wait a minute and try again";

/// A request to `{api_base}/calendar/v3{path}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// Starts with `/`; path segments already encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl ApiRequest {
    pub fn new(method: Method, path: String) -> ApiRequest {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> ApiRequest {
        self.query.push((key, value.into()));
        self
    }

    pub fn body(mut self, body: Value) -> ApiRequest {
        self.body = Some(body);
        self
    }
}

/// Google's answer: any status.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends API requests.
pub trait Transport {
    fn send(&self, request: &ApiRequest) -> Result<ApiResponse, http::Error>;
}

/// The real transport: `warden_sdk::http` to `{api_base}/calendar/v3`.
pub struct Http<'a> {
    pub api_base: &'a str,
}

impl Transport for Http<'_> {
    fn send(&self, r: &ApiRequest) -> Result<ApiResponse, http::Error> {
        let mut request = Request::new(
            r.method.clone(),
            format!("{}/calendar/v3{}", self.api_base, r.path),
        )
        .header("accept", "application/json")
        .follow_redirects(false);
        for (key, value) in &r.query {
            request = request.query(key, value);
        }
        if let Some(body) = &r.body {
            request = request.json(body)?;
        }
        let response = request.send()?;
        Ok(ApiResponse {
            status: response.status().as_u16(),
            body: response.into_body(),
        })
    }
}

/// One calendar of the connected account.
pub struct Calendar<'a> {
    transport: &'a dyn Transport,
    id: &'a str,
}

impl<'a> Calendar<'a> {
    pub fn new(transport: &'a dyn Transport, id: &'a str) -> Calendar<'a> {
        Calendar { transport, id }
    }

    pub fn id(&self) -> &str {
        self.id
    }

    /// What a 404 on the calendar itself means.
    pub fn calendar_not_found(&self) -> String {
        format!(
            "the calendar `{}` was not found, or the connected Google account cannot see it; \
             the operator should check the tool's calendar_id",
            self.id
        )
    }

    pub fn events_path(&self) -> String {
        format!("/calendars/{}/events", encode_component(self.id))
    }

    pub fn event_path(&self, event_id: &str) -> String {
        format!("{}/{}", self.events_path(), encode_component(event_id))
    }

    /// Sends `request`; any status is an `Ok`.
    pub fn send(&self, request: &ApiRequest) -> Result<ApiResponse, ToolError> {
        Ok(self.transport.send(request)?)
    }

    /// Sends `request` and parses a 2xx answer as `T`; other statuses
    /// become errors, a 404 meaning `not_found`.
    pub fn call<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        not_found: &str,
    ) -> Result<T, ToolError> {
        let response = self.send(request)?;
        expect_success(request, &response, not_found)?;
        parse(&response.body)
    }

    /// Reads one event.
    pub fn get_event(&self, event_id: &str) -> Result<Event, ToolError> {
        let request = ApiRequest::new(Method::GET, self.event_path(event_id));
        self.call(&request, EVENT_NOT_FOUND)
    }
}

/// What a 404 on an event means.
pub const EVENT_NOT_FOUND: &str = "that event does not exist or was already cancelled; \
     list the events to find the right one";

/// `Ok` for a 2xx response, the mapped error (logged) otherwise.
pub fn expect_success(
    request: &ApiRequest,
    response: &ApiResponse,
    not_found: &str,
) -> Result<(), ToolError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let error = api_error(response.status, &response.body, not_found);
    warden_sdk::log::warn(format!(
        "Google Calendar answered {} {} with {}: {:?}",
        request.method, request.path, response.status, error
    ));
    Err(error)
}

/// Parses a successful response body.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ToolError> {
    serde_json::from_slice(body).map_err(|e| {
        warden_sdk::log::warn(format!("Google Calendar answered unexpected JSON: {e}"));
        ToolError::Upstream(TROUBLE.into())
    })
}

/// Google's error envelope: `{"error": {"code", "message", "errors":
/// [{"reason", "message", …}], "status"}}`.
#[derive(Debug, Default, Deserialize)]
struct Envelope {
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Google's reasons for "slow down" answers sent as 403.
const RATE_LIMIT_REASONS: [&str; 4] = [
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
];

/// The tool error for a non-2xx answer: `status` and Google's error
/// envelope in `body` (if it is one). `not_found` is what a 404 or 410 means
/// for this request. Messages are for the LLM: plain, and never anything
/// but Google's own short explanation.
pub fn api_error(status: u16, body: &[u8], not_found: &str) -> ToolError {
    let error = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default();
    let rate_limited = error
        .errors
        .iter()
        .filter_map(|e| e.reason.as_deref())
        .any(|r| RATE_LIMIT_REASONS.contains(&r))
        || error.status.as_deref() == Some("RESOURCE_EXHAUSTED");
    let detail = error
        .message
        .as_deref()
        .map(short)
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match status {
        401 => ToolError::Unauthorized(REAUTHORIZE.into()),
        429 => ToolError::RateLimited(SLOW_DOWN.into()),
        403 if rate_limited => ToolError::RateLimited(SLOW_DOWN.into()),
        403 => ToolError::Unauthorized(format!(
            "Google Calendar does not allow this for the connected account{detail}"
        )),
        404 | 410 => ToolError::NotFound(not_found.into()),
        400 => ToolError::InvalidArguments(format!("Google Calendar rejected the request{detail}")),
        409 => ToolError::InvalidArguments(format!("Google Calendar reported a conflict{detail}")),
        500..=599 => ToolError::Upstream(TROUBLE.into()),
        _ => ToolError::Upstream(format!(
            "Google Calendar gave an unexpected answer (HTTP {status}); try again shortly"
        )),
    }
}

/// Google's message, on one line and at most 200 characters.
fn short(message: &str) -> String {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// An event resource, the fields the tool uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub start: Option<EventTime>,
    #[serde(default)]
    pub end: Option<EventTime>,
    /// Kept as Google sent them, so an update can keep their responses.
    #[serde(default)]
    pub attendees: Vec<Value>,
    #[serde(default)]
    pub html_link: Option<String>,
}

/// An event's start or end: `dateTime` for timed events, `date` for
/// all-day ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default)]
    pub date_time: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

impl EventTime {
    /// The instant of a timed start or end, in `tz`.
    pub fn instant(&self, tz: Tz) -> Option<DateTime<Tz>> {
        let text = self.date_time.as_deref()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&tz))
    }

    /// The date of an all-day start or end (`YYYY-MM-DD`).
    pub fn date(&self) -> Option<chrono::NaiveDate> {
        let text = self.date.as_deref()?;
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    }

    /// As the tool reports it: RFC 3339 in `tz`, or the date of an all-day
    /// event.
    fn render(&self, tz: Tz) -> Value {
        match (self.instant(tz), &self.date) {
            (Some(instant), _) => json!(time::rfc3339(&instant)),
            (None, Some(date)) => json!(date),
            (None, None) => Value::Null,
        }
    }
}

impl Event {
    /// Whether the event lasts whole days.
    pub fn all_day(&self) -> bool {
        self.start
            .as_ref()
            .is_some_and(|s| s.date_time.is_none() && s.date.is_some())
    }

    /// The start and end instants of a timed event.
    pub fn span(&self, tz: Tz) -> Option<(DateTime<Tz>, DateTime<Tz>)> {
        Some((
            self.start.as_ref()?.instant(tz)?,
            self.end.as_ref()?.instant(tz)?,
        ))
    }

    pub fn title(&self) -> &str {
        match self.summary.as_deref().map(str::trim) {
            Some(title) if !title.is_empty() => title,
            _ => "(no title)",
        }
    }

    /// Attendee e-mail addresses.
    pub fn attendee_emails(&self) -> Vec<&str> {
        self.attendees
            .iter()
            .filter_map(|a| a["email"].as_str())
            .collect()
    }

    /// The event as the tool reports it: `{id, summary, start, end, all_day,
    /// status, location?, attendees?}` with times in `tz`.
    pub fn to_json(&self, tz: Tz) -> Value {
        let mut event = json!({
            "id": self.id,
            "summary": self.title(),
            "start": self.start.as_ref().map_or(Value::Null, |t| t.render(tz)),
            "end": self.end.as_ref().map_or(Value::Null, |t| t.render(tz)),
            "all_day": self.all_day(),
            "status": self.status.as_deref().unwrap_or("confirmed"),
        });
        if let Some(location) = self.location.as_deref().filter(|l| !l.trim().is_empty()) {
            event["location"] = json!(location);
        }
        let attendees: Vec<Value> = self
            .attendees
            .iter()
            .filter(|a| a["email"].is_string())
            .map(|a| {
                let mut attendee = json!({
                    "email": a["email"],
                    "response": a["responseStatus"].as_str().unwrap_or("needsAction"),
                });
                if let Some(name) = a["displayName"].as_str() {
                    attendee["name"] = json!(name);
                }
                if a["organizer"] == json!(true) {
                    attendee["organizer"] = json!(true);
                }
                attendee
            })
            .collect();
        if !attendees.is_empty() {
            event["attendees"] = json!(attendees);
        }
        event
    }

    /// "“Dentist” on Monday, March 9, 2026 from 2:30 PM to 3 PM".
    pub fn spoken(&self, tz: Tz) -> String {
        let title = self.title();
        if let Some((start, end)) = self.span(tz) {
            return format!("“{title}” on {}", time::spoken_range(&start, &end));
        }
        let first = self.start.as_ref().and_then(EventTime::date);
        let last = self
            .end
            .as_ref()
            .and_then(EventTime::date)
            .and_then(|d| d.pred_opt());
        match (first, last) {
            (Some(first), Some(last)) if last > first => format!(
                "“{title}”, all day from {} to {}",
                first.format("%A, %B %-d, %Y"),
                last.format("%A, %B %-d, %Y")
            ),
            (Some(first), _) => format!("“{title}”, all day on {}", first.format("%A, %B %-d, %Y")),
            _ => format!("“{title}”"),
        }
    }
}

/// A page of `events.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    #[serde(default)]
    pub items: Vec<Event>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// The answer of `freeBusy.query`.
#[derive(Debug, Deserialize)]
pub struct FreeBusy {
    #[serde(default)]
    pub calendars: std::collections::BTreeMap<String, FreeBusyCalendar>,
}

#[derive(Debug, Deserialize)]
pub struct FreeBusyCalendar {
    #[serde(default)]
    pub busy: Vec<BusyPeriod>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
pub struct BusyPeriod {
    pub start: String,
    pub end: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(code: u16, reason: &str, message: &str) -> Vec<u8> {
        json!({
            "error": {
                "errors": [{ "domain": "usageLimits", "reason": reason, "message": message }],
                "code": code,
                "message": message,
            }
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn maps_google_errors() {
        let nf = "that event does not exist";
        let e = |status, body: &[u8]| api_error(status, body, nf);
        assert_eq!(
            e(401, &envelope(401, "authError", "Invalid Credentials")),
            ToolError::Unauthorized(REAUTHORIZE.into())
        );
        assert_eq!(
            e(
                403,
                &envelope(403, "rateLimitExceeded", "Rate Limit Exceeded")
            ),
            ToolError::RateLimited(SLOW_DOWN.into())
        );
        assert_eq!(
            e(403, &envelope(403, "userRateLimitExceeded", "slow down")),
            ToolError::RateLimited(SLOW_DOWN.into())
        );
        assert_eq!(e(429, b""), ToolError::RateLimited(SLOW_DOWN.into()));
        assert_eq!(
            e(
                403,
                &envelope(
                    403,
                    "forbiddenForNonOrganizer",
                    "Shared properties can only be changed by the organizer of the event."
                )
            ),
            ToolError::Unauthorized(
                "Google Calendar does not allow this for the connected account: Shared \
                 properties can only be changed by the organizer of the event."
                    .into()
            )
        );
        assert_eq!(
            e(404, &envelope(404, "notFound", "Not Found")),
            ToolError::NotFound(nf.into())
        );
        assert_eq!(
            e(410, &envelope(410, "deleted", "Resource has been deleted")),
            ToolError::NotFound(nf.into())
        );
        assert_eq!(
            e(
                400,
                &envelope(400, "timeRangeEmpty", "The specified time range is empty.")
            ),
            ToolError::InvalidArguments(
                "Google Calendar rejected the request: The specified time range is empty.".into()
            )
        );
        assert_eq!(
            e(400, b"<html>"),
            ToolError::InvalidArguments("Google Calendar rejected the request".into())
        );
        assert_eq!(e(500, b"oops"), ToolError::Upstream(TROUBLE.into()));
        assert_eq!(
            e(503, &envelope(503, "backendError", "Backend Error")),
            ToolError::Upstream(TROUBLE.into())
        );
        assert!(matches!(e(418, b""), ToolError::Upstream(m) if m.contains("418")));
        // Google's message is kept short and on one line.
        let long = "x ".repeat(300);
        let ToolError::InvalidArguments(m) = e(400, &envelope(400, "invalid", &long)) else {
            panic!("400 is invalid arguments");
        };
        assert!(
            m.chars().count() < 260 && m.ends_with('…') && !m.contains('\n'),
            "{m}"
        );
        // Malformed success bodies are Google's trouble.
        assert_eq!(
            parse::<Event>(b"{not json").unwrap_err(),
            ToolError::Upstream(TROUBLE.into())
        );
    }

    #[test]
    fn renders_events() {
        let tz = chrono_tz::America::New_York;
        let event: Event = serde_json::from_value(json!({
            "id": "abc123",
            "status": "confirmed",
            "summary": "Dentist",
            "location": "12 Main St",
            "start": { "dateTime": "2026-03-09T18:30:00Z", "timeZone": "UTC" },
            "end": { "dateTime": "2026-03-09T19:00:00Z" },
            "attendees": [
                { "email": "ann@example.com", "responseStatus": "accepted", "displayName": "Ann" },
                { "email": "bob@example.com" }
            ],
            "htmlLink": "https://calendar.google.com/event?eid=x"
        }))
        .unwrap();
        assert_eq!(
            event.to_json(tz),
            json!({
                "id": "abc123",
                "summary": "Dentist",
                "start": "2026-03-09T14:30:00-04:00",
                "end": "2026-03-09T15:00:00-04:00",
                "all_day": false,
                "status": "confirmed",
                "location": "12 Main St",
                "attendees": [
                    { "email": "ann@example.com", "response": "accepted", "name": "Ann" },
                    { "email": "bob@example.com", "response": "needsAction" }
                ]
            })
        );
        assert_eq!(
            event.spoken(tz),
            "“Dentist” on Monday, March 9, 2026 from 2:30 PM to 3 PM"
        );

        let offsite: Event = serde_json::from_value(json!({
            "id": "x", "start": { "date": "2026-03-09" }, "end": { "date": "2026-03-11" }
        }))
        .unwrap();
        assert_eq!(
            offsite.to_json(tz),
            json!({
                "id": "x", "summary": "(no title)", "start": "2026-03-09", "end": "2026-03-11",
                "all_day": true, "status": "confirmed"
            })
        );
        assert_eq!(
            offsite.spoken(tz),
            "“(no title)”, all day from Monday, March 9, 2026 to Tuesday, March 10, 2026"
        );
    }
}
