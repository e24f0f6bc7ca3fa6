//! Google Calendar API v3 and Google's OAuth 2.0 endpoints ([`oauth`]).
//!
//! Wire format as documented at
//! <https://developers.google.com/calendar/api/v3/reference>.

mod oauth;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone as _, Utc};
use chrono_tz::Tz;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::recorded::RecordedRequest;
use crate::server::{Server, random_bytes, random_hex};

pub use oauth::TokenFault;

const JSON_UTF8: &str = "application/json; charset=UTF-8";
/// Full access to the calendars; the scope of the tokens issued by
/// [`GoogleCalendar::issue_refresh_token`] and [`GoogleCalendar::issue_access_token`].
const SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// Lifetime of an access token issued by the token endpoint, as Google reports it.
const ACCESS_TOKEN_SECONDS: u64 = 3599;
const DEFAULT_MAX_RESULTS: usize = 250;
const MAX_MAX_RESULTS: usize = 2500;
/// base32hex in lowercase: the alphabet of Google Calendar event ids.
const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// A fault the stand-in injects into the next Calendar API request
/// ([`GoogleCalendar::fail_next`]); the token endpoint has its own,
/// [`TokenFault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with Google's error envelope: 500–599 → `backendError`
    /// "Backend Error"; 403 → `usageLimits`/`rateLimitExceeded`; 401 →
    /// `authError` "Invalid Credentials" (with `WWW-Authenticate`); 404 →
    /// `notFound`; 410 → `deleted`; others a reason derived from the status.
    /// A status below 400 is sent with an empty body.
    Status(u16),
    /// 429 with reason `rateLimitExceeded`, domain `usageLimits`, message
    /// "Rate Limit Exceeded".
    RateLimit,
    /// 200, `content-type: application/json`, and a truncated JSON body.
    MalformedJson,
}

/// A local stand-in for Google Calendar API v3 and Google's OAuth 2.0
/// endpoints.
///
/// Served under [`base_url`](Self::base_url):
///
/// - `GET /o/oauth2/v2/auth` ([`authorize_url`](Self::authorize_url)): the
///   authorization endpoint of the authorization-code flow, with PKCE, and the
///   consent page it shows (its buttons post to `/o/oauth2/v2/auth/consent`);
///   see [`consent`](Self::consent) for what it checks;
/// - `POST /token` ([`token_url`](Self::token_url)): the authorization-code
///   and refresh-token grants (client credentials in the form body or via HTTP
///   Basic, form-encoded or JSON body), answering and failing like
///   `https://oauth2.googleapis.com/token` (`invalid_grant`,
///   `redirect_uri_mismatch`, `invalid_client`, `invalid_request`,
///   `unsupported_grant_type`);
/// - `POST /revoke` ([`revoke_url`](Self::revoke_url)): token revocation, like
///   `https://oauth2.googleapis.com/revoke`;
/// - `POST /calendar/v3/freeBusy`;
/// - `GET|POST /calendar/v3/calendars/{calendarId}/events`;
/// - `GET|PATCH|PUT|DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}`.
///
/// Every `/calendar/v3/…` request needs `Authorization: Bearer <token>` with
/// an unexpired, unrevoked token issued by
/// [`issue_access_token`](Self::issue_access_token) or by the token endpoint,
/// for a calendar scope: any `https://www.googleapis.com/auth/calendar…` scope
/// reads, only `…/auth/calendar` and `…/auth/calendar.events` write (else 403
/// `insufficientPermissions`). Any calendar id exists; `primary` is the calendar
/// of [`OWNER_EMAIL`](Self::OWNER_EMAIL) (so `primary` and
/// `owner@example.com` name the same calendar). Calendars are in UTC.
///
/// Not modelled: recurring-event expansion (`recurrence` is stored as given),
/// partial responses (`fields`), sync tokens, ACLs, `If-Match`.
///
/// Every request, including the OAuth ones, is recorded. Dropping the handle
/// shuts the server down.
pub struct GoogleCalendar {
    server: Server,
    state: Arc<Mutex<Calendars>>,
}

impl std::fmt::Debug for GoogleCalendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleCalendar")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Calendars {
    refresh_tokens: HashMap<String, RefreshToken>,
    access_tokens: HashMap<String, AccessToken>,
    refreshed: Vec<String>,
    /// Redirect URIs, codes, consent and faults of the OAuth endpoints.
    oauth: oauth::Authorizations,
    /// Events by canonical calendar id, in insertion order.
    events: HashMap<String, Vec<Value>>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    last_etag: u64,
}

struct RefreshToken {
    /// Space-separated, as the token endpoint reports it.
    scope: String,
    /// Issued through the consent page: part of the user's grant to the client.
    consented: bool,
}

struct AccessToken {
    expires: Instant,
    /// The refresh token it was obtained with: revoking that revokes this too.
    refresh_token: Option<String>,
    /// Space-separated, as the token endpoint reports it.
    scope: String,
    /// Issued through the consent page: part of the user's grant to the client.
    consented: bool,
}

impl GoogleCalendar {
    /// The only OAuth client the token endpoint accepts.
    pub const CLIENT_ID: &'static str = "warden-test-client.apps.googleusercontent.com";
    /// The secret of [`CLIENT_ID`](Self::CLIENT_ID).
    pub const CLIENT_SECRET: &'static str = "GOCSPX-canary-client-secret-5d1e";
    /// The authenticated user: owner of the `primary` calendar, organizer and
    /// creator of the events inserted there.
    pub const OWNER_EMAIL: &'static str = "owner@example.com";

    /// Starts the stand-in on `127.0.0.1:0`.
    pub async fn start() -> GoogleCalendar {
        let state = Arc::new(Mutex::new(Calendars::default()));
        let router = Router::new().fallback(handle).with_state(state.clone());
        GoogleCalendar {
            server: Server::start(router).await,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`: the API base a tool is configured with
    /// (requests go to `{base_url}/calendar/v3/…`).
    pub fn base_url(&self) -> String {
        self.server.origin()
    }

    /// `http://127.0.0.1:PORT`, the same as [`base_url`](Self::base_url); for
    /// use as an allowed-host pattern.
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// `{base_url}/token`: the OAuth 2.0 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.origin())
    }

    /// A new valid refresh token for [`CLIENT_ID`](Self::CLIENT_ID), for the
    /// scope `https://www.googleapis.com/auth/calendar`. It stands on its own:
    /// it is no part of the grant made on the consent page.
    pub fn issue_refresh_token(&self) -> String {
        let token = new_refresh_token();
        let refresh = RefreshToken {
            scope: SCOPE.to_owned(),
            consented: false,
        };
        self.lock().refresh_tokens.insert(token.clone(), refresh);
        token
    }

    /// A new valid access token for the scope
    /// `https://www.googleapis.com/auth/calendar` that expires after `ttl`
    /// (`Duration::ZERO`: already expired).
    pub fn issue_access_token(&self, ttl: Duration) -> String {
        let token = new_access_token();
        let access = AccessToken {
            expires: Instant::now() + ttl,
            refresh_token: None,
            scope: SCOPE.to_owned(),
            consented: false,
        };
        self.lock().access_tokens.insert(token.clone(), access);
        token
    }

    /// Revokes a refresh token, as the user removing the app's access does:
    /// the token endpoint answers `invalid_grant` for it from now on, and the
    /// access tokens obtained with it stop working. For a token issued
    /// through the consent page that is the whole grant, as with `POST
    /// /revoke`. Anything else is ignored.
    pub fn revoke_refresh_token(&self, token: &str) {
        let mut state = self.lock();
        if state.refresh_tokens.contains_key(token) {
            state.revoke(token);
        }
    }

    /// Makes an access token expire now.
    pub fn expire_access_token(&self, token: &str) {
        if let Some(access) = self.lock().access_tokens.get_mut(token) {
            access.expires = Instant::now();
        }
    }

    /// The access tokens the refresh-token grant issued, in order (not those
    /// of authorization-code exchanges).
    pub fn refreshed_access_tokens(&self) -> Vec<String> {
        self.lock().refreshed.clone()
    }

    /// Seeds an event directly, as `events.insert` would store it (generated
    /// `id` if absent, `status`, `htmlLink`, `created`, `updated`, `etag`,
    /// `organizer`, `creator`, attendees' `responseStatus`, normalized
    /// `start`/`end`), and returns the stored event. `status: "cancelled"` is
    /// allowed, to seed a deleted event.
    ///
    /// # Panics
    ///
    /// If `events.insert` would reject the event; the panic names Google's error.
    pub fn insert_event(&self, calendar_id: &str, event: Value) -> Value {
        let inserted = self.lock().insert(calendar_id, event);
        // The lock is released before panicking, so the server keeps working.
        match inserted {
            Ok(event) => event,
            Err(error) => panic!(
                "GoogleCalendar::insert_event: events.insert would answer {} {}: {}",
                error.status.as_u16(),
                error.reason,
                error.message
            ),
        }
    }

    /// Every stored event of a calendar, cancelled ones included, in insertion order.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        self.lock()
            .events
            .get(calendar_key(calendar_id))
            .cloned()
            .unwrap_or_default()
    }

    /// The next Calendar API request (not a token request) gets `fault`
    /// instead of being served, before authentication. Faults queue: calling
    /// this twice faults the next two requests.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Every request received so far, in order (token requests included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Calendars> {
        self.state.lock().expect("GoogleCalendar state lock")
    }
}

fn new_refresh_token() -> String {
    format!("1//canary-refresh-{}", random_hex::<32>())
}

fn new_access_token() -> String {
    format!("ya29.canary-{}", random_hex::<32>())
}

/// Whether a token's space-separated `scope` lets it read (any calendar scope:
/// `…/auth/calendar`, `…/auth/calendar.readonly`, `…/auth/calendar.events`,
/// `…/auth/calendar.freebusy`, …) or write (only `…/auth/calendar` and
/// `…/auth/calendar.events`) calendars.
fn scope_allows(scope: &str, write: bool) -> bool {
    scope
        .split(' ')
        .any(|scope| match scope.strip_prefix(SCOPE) {
            Some("" | ".events") => true,
            Some(narrower) => !write && narrower.starts_with('.'),
            None => false,
        })
}

/// The calendar `primary` is the owner's calendar.
fn calendar_key(calendar_id: &str) -> &str {
    if calendar_id == "primary" {
        GoogleCalendar::OWNER_EMAIL
    } else {
        calendar_id
    }
}

async fn handle(State(state): State<Arc<Mutex<Calendars>>>, req: Request) -> Response {
    let req = RecordedRequest::read(req).await;
    let mut state = state.lock().expect("GoogleCalendar state lock");
    state.requests.push(req.clone());
    if let Some(response) = oauth::route(&mut state, &req) {
        return response;
    }
    let Some(rest) = req.path.strip_prefix("/calendar/v3/") else {
        return plain_not_found();
    };
    if let Some(fault) = state.faults.pop_front() {
        return fault_response(fault);
    }
    let Some(scope) = state.bearer_scope(&req) else {
        return ApiError::auth().into_response();
    };
    let write = req.method != "GET" && rest != "freeBusy";
    if !scope_allows(scope, write) {
        return ApiError::insufficient_scopes().into_response();
    }
    match state.api(&req, rest) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

// ---------------------------------------------------------------------------
// Calendar API.

impl Calendars {
    /// The scope of the request's bearer token, if that is a live access token.
    fn bearer_scope(&self, req: &RecordedRequest) -> Option<&str> {
        let (scheme, token) = req.header("authorization")?.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.access_tokens
            .get(token.trim())
            .filter(|access| Instant::now() < access.expires)
            .map(|access| access.scope.as_str())
    }

    fn api(&mut self, req: &RecordedRequest, rest: &str) -> Result<Response, ApiError> {
        let segments = rest
            .split('/')
            .map(percent_decode)
            .collect::<Option<Vec<String>>>()
            .ok_or_else(ApiError::not_found)?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method.as_str();
        match (method, segments.as_slice()) {
            ("POST", ["freeBusy"]) => self.free_busy(req),
            (_, ["freeBusy"]) => Err(ApiError::method_not_allowed()),
            ("GET", ["calendars", calendar, "events"]) => self.list(req, calendar),
            ("POST", ["calendars", calendar, "events"]) => {
                check_send_updates(req)?;
                let body = parse_body(req)?;
                let event = self.insert(calendar, body)?;
                Ok(json_response(StatusCode::OK, &event))
            }
            (_, ["calendars", _, "events"]) => Err(ApiError::method_not_allowed()),
            ("GET", ["calendars", calendar, "events", event_id]) => {
                let (_, event) = self.find(calendar, event_id)?;
                Ok(json_response(StatusCode::OK, event))
            }
            ("PATCH" | "PUT", ["calendars", calendar, "events", event_id]) => {
                check_send_updates(req)?;
                let body = parse_body(req)?;
                let event = self.update(calendar, event_id, body, method == "PUT")?;
                Ok(json_response(StatusCode::OK, &event))
            }
            ("DELETE", ["calendars", calendar, "events", event_id]) => {
                check_send_updates(req)?;
                self.delete(calendar, event_id)?;
                Ok(Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Body::empty())
                    .expect("204 response"))
            }
            (_, ["calendars", _, "events", _]) => Err(ApiError::method_not_allowed()),
            _ => Err(ApiError::not_found()),
        }
    }

    fn next_etag(&mut self) -> String {
        let now = u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0);
        self.last_etag = now.max(self.last_etag + 1);
        format!("\"{}\"", self.last_etag)
    }

    fn find(&self, calendar: &str, event_id: &str) -> Result<(usize, &Value), ApiError> {
        self.events
            .get(calendar_key(calendar))
            .and_then(|events| events.iter().enumerate().find(|(_, e)| e["id"] == event_id))
            .ok_or_else(ApiError::not_found)
    }

    /// `events.insert`.
    fn insert(&mut self, calendar: &str, body: Value) -> Result<Value, ApiError> {
        let Value::Object(mut event) = body else {
            return Err(ApiError::parse_error());
        };
        let key = calendar_key(calendar).to_owned();
        let id = match event.get("id") {
            None | Some(Value::Null) => generate_event_id(),
            Some(Value::String(id)) if valid_event_id(id) => id.clone(),
            Some(_) => return Err(ApiError::invalid("Invalid resource id value.")),
        };
        if self
            .events
            .get(&key)
            .is_some_and(|events| events.iter().any(|e| e["id"] == id.as_str()))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "global",
                "duplicate",
                "The requested identifier already exists.",
            ));
        }
        for field in READ_ONLY {
            event.remove(*field);
        }
        strip_nulls(&mut event);
        validate(&mut event)?;

        let now = now_rfc3339();
        let person = json!({"email": key, "self": true});
        event.insert("kind".into(), json!("calendar#event"));
        event.insert("etag".into(), json!(self.next_etag()));
        event.insert("id".into(), json!(id));
        event.entry("status").or_insert_with(|| json!("confirmed"));
        event.insert("htmlLink".into(), json!(html_link(&id, &key)));
        event.insert("created".into(), json!(now));
        event.insert("updated".into(), json!(now));
        event.insert("creator".into(), person.clone());
        event.insert("organizer".into(), person);
        event
            .entry("iCalUID")
            .or_insert_with(|| json!(format!("{id}@google.com")));
        event.entry("sequence").or_insert_with(|| json!(0));
        event
            .entry("reminders")
            .or_insert_with(|| json!({"useDefault": true}));
        event.entry("eventType").or_insert_with(|| json!("default"));

        let event = Value::Object(event);
        self.events.entry(key).or_default().push(event.clone());
        Ok(event)
    }

    /// `events.patch` (`replace == false`) and `events.update` (`replace == true`).
    fn update(
        &mut self,
        calendar: &str,
        event_id: &str,
        body: Value,
        replace: bool,
    ) -> Result<Value, ApiError> {
        let (index, stored) = self.find(calendar, event_id)?;
        if stored["status"] == "cancelled" {
            return Err(ApiError::deleted());
        }
        let Value::Object(changes) = body else {
            return Err(ApiError::parse_error());
        };
        let Value::Object(stored) = stored.clone() else {
            unreachable!("stored events are objects");
        };
        let mut event = if replace {
            stored
                .iter()
                .filter(|(k, _)| READ_ONLY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            stored.clone()
        };
        for (field, value) in changes {
            if READ_ONLY.contains(&field.as_str()) {
                continue;
            }
            if value.is_null() {
                event.remove(&field);
            } else if field == "start" || field == "end" || replace {
                event.insert(field, value);
            } else {
                merge(event.entry(field).or_insert(Value::Null), value);
            }
        }
        strip_nulls(&mut event);
        validate(&mut event)?;

        let sequence = stored.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        if event.get("start") != stored.get("start") || event.get("end") != stored.get("end") {
            event.insert("sequence".into(), json!(sequence + 1));
        } else {
            event.entry("sequence").or_insert_with(|| json!(sequence));
        }
        event.entry("status").or_insert_with(|| json!("confirmed"));
        event
            .entry("reminders")
            .or_insert_with(|| json!({"useDefault": true}));
        event.entry("eventType").or_insert_with(|| json!("default"));
        event.insert("updated".into(), json!(now_rfc3339()));
        event.insert("etag".into(), json!(self.next_etag()));
        let event = Value::Object(event);
        let key = calendar_key(calendar);
        self.events.get_mut(key).expect("calendar of a found event")[index] = event.clone();
        Ok(event)
    }

    /// `events.delete`: the event stays, cancelled.
    fn delete(&mut self, calendar: &str, event_id: &str) -> Result<(), ApiError> {
        let (index, stored) = self.find(calendar, event_id)?;
        if stored["status"] == "cancelled" {
            return Err(ApiError::deleted());
        }
        let etag = self.next_etag();
        let key = calendar_key(calendar);
        let event = &mut self.events.get_mut(key).expect("calendar of a found event")[index];
        event["status"] = json!("cancelled");
        event["updated"] = json!(now_rfc3339());
        event["etag"] = json!(etag);
        Ok(())
    }

    /// `events.list`.
    fn list(&self, req: &RecordedRequest, calendar: &str) -> Result<Response, ApiError> {
        let param = |name: &str| req.query_param(name);
        let time_min = param("timeMin")
            .map(|v| parse_query_time(&v, "timeMin"))
            .transpose()?;
        let time_max = param("timeMax")
            .map(|v| parse_query_time(&v, "timeMax"))
            .transpose()?;
        if let (Some(min), Some(max)) = (time_min, time_max)
            && max < min
        {
            return Err(ApiError::time_range_empty());
        }
        let max_results = match param("maxResults") {
            None => DEFAULT_MAX_RESULTS,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .min(MAX_MAX_RESULTS),
                _ => {
                    return Err(ApiError::invalid_parameter(
                        "maxResults",
                        &format!("Invalid value '{v}'. Values must be within the range: [1, 2500]"),
                    ));
                }
            },
        };
        let single_events = parse_bool_param(req, "singleEvents")?;
        let show_deleted = parse_bool_param(req, "showDeleted")?;
        let order_by = param("orderBy");
        match order_by.as_deref() {
            None | Some("updated") => {}
            Some("startTime") if single_events => {}
            Some("startTime") => {
                return Err(ApiError::bad_request(
                    "The requested ordering is not available for the particular query.",
                ));
            }
            Some(other) => {
                return Err(ApiError::invalid_parameter(
                    "orderBy",
                    &format!(
                        "Invalid value '{other}'. Values must match the following regular expression: '(?i)(startTime|updated)'"
                    ),
                ));
            }
        }
        let offset = match param("pageToken") {
            None => 0,
            Some(token) => decode_page_token(&token)
                .ok_or_else(|| ApiError::invalid("Invalid page token value."))?,
        };
        let needle = param("q").map(|q| q.to_lowercase());

        let key = calendar_key(calendar);
        let mut items: Vec<&Value> = self
            .events
            .get(key)
            .map(|events| events.iter().collect())
            .unwrap_or_default();
        items.retain(|event| {
            if event["status"] == "cancelled" && !show_deleted {
                return false;
            }
            let (start, end) = event_span(event);
            if time_min.is_some_and(|min| end <= min) || time_max.is_some_and(|max| start >= max) {
                return false;
            }
            needle
                .as_deref()
                .is_none_or(|needle| matches_query(event, needle))
        });
        match order_by.as_deref() {
            Some("startTime") => items.sort_by_key(|event| event_span(event).0),
            Some("updated") => {
                items.sort_by(|a, b| a["updated"].as_str().cmp(&b["updated"].as_str()))
            }
            _ => {}
        }
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(offset)
            .take(max_results)
            .cloned()
            .collect();
        let updated = self
            .events
            .get(key)
            .and_then(|events| events.iter().filter_map(|e| e["updated"].as_str()).max())
            .map_or_else(now_rfc3339, str::to_owned);
        let mut body = json!({
            "kind": "calendar#events",
            "etag": format!("\"p3{}\"", random_hex::<8>()),
            "summary": key,
            "description": "",
            "updated": updated,
            "timeZone": param("timeZone").unwrap_or_else(|| "UTC".to_owned()),
            "accessRole": "owner",
            "defaultReminders": [],
            "items": page,
        });
        if offset + max_results < total {
            body["nextPageToken"] = json!(encode_page_token(offset + max_results));
        }
        Ok(json_response(StatusCode::OK, &body))
    }

    /// `freebusy.query`.
    fn free_busy(&self, req: &RecordedRequest) -> Result<Response, ApiError> {
        let Value::Object(body) = parse_body(req)? else {
            return Err(ApiError::parse_error());
        };
        let time_min = match body.get("timeMin").and_then(Value::as_str) {
            Some(v) => parse_body_time(v)?,
            None => return Err(ApiError::required("Missing timeMin parameter.")),
        };
        let time_max = match body.get("timeMax").and_then(Value::as_str) {
            Some(v) => parse_body_time(v)?,
            None => return Err(ApiError::required("Missing timeMax parameter.")),
        };
        if time_max <= time_min {
            return Err(ApiError::time_range_empty());
        }
        let zone = match body.get("timeZone").and_then(Value::as_str) {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| ApiError::invalid("Invalid time zone definition."))?,
        };
        let format = |t: DateTime<Utc>| {
            t.with_timezone(&zone)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        };

        let mut calendars = Map::new();
        for item in body
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                return Err(ApiError::required("Required"));
            };
            let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
                .events
                .get(calendar_key(id))
                .into_iter()
                .flatten()
                .filter(|e| e["status"] != "cancelled" && e["transparency"] != "transparent")
                .map(event_span)
                .filter(|(start, end)| start < end && *start < time_max && *end > time_min)
                .map(|(start, end)| (start.max(time_min), end.min(time_max)))
                .collect();
            spans.sort();
            let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
            for (start, end) in spans {
                match busy.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => busy.push((start, end)),
                }
            }
            let busy: Vec<Value> = busy
                .into_iter()
                .map(|(start, end)| json!({"start": format(start), "end": format(end)}))
                .collect();
            calendars.insert(id.to_owned(), json!({"busy": busy}));
        }
        let millis = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "kind": "calendar#freeBusy",
                "timeMin": millis(time_min),
                "timeMax": millis(time_max),
                "calendars": calendars,
            }),
        ))
    }
}

/// Fields the server owns: ignored when a client sends them.
const READ_ONLY: &[&str] = &[
    "kind",
    "etag",
    "id",
    "htmlLink",
    "created",
    "updated",
    "creator",
    "organizer",
    "iCalUID",
];

/// Patch semantics: objects merge field by field, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

fn strip_nulls(event: &mut Map<String, Value>) {
    event.retain(|_, v| !v.is_null());
    for field in ["start", "end"] {
        if let Some(Value::Object(time)) = event.get_mut(field) {
            time.retain(|_, v| !v.is_null());
        }
    }
}

/// What `events.insert`/`update`/`patch` check; normalizes `start`, `end` and attendees.
fn validate(event: &mut Map<String, Value>) -> Result<(), ApiError> {
    let (start, start_json) = parse_event_time(event.get("start"), "start")?;
    let (end, end_json) = parse_event_time(event.get("end"), "end")?;
    if matches!(start, When::Day(_)) != matches!(end, When::Day(_)) {
        return Err(ApiError::invalid(
            "Start and end times must either both be date or both be dateTime.",
        ));
    }
    if end.instant() < start.instant() {
        return Err(ApiError::time_range_empty());
    }
    event.insert("start".into(), start_json);
    event.insert("end".into(), end_json);

    if let Some(status) = event.get("status")
        && !matches!(
            status.as_str(),
            Some("confirmed" | "tentative" | "cancelled")
        )
    {
        return Err(ApiError::invalid("Invalid value for: status"));
    }
    if let Some(transparency) = event.get("transparency")
        && !matches!(transparency.as_str(), Some("opaque" | "transparent"))
    {
        return Err(ApiError::invalid("Invalid value for: transparency"));
    }
    if let Some(attendees) = event.get_mut("attendees") {
        let Value::Array(attendees) = attendees else {
            return Err(ApiError::parse_error());
        };
        for attendee in attendees {
            let Value::Object(attendee) = attendee else {
                return Err(ApiError::parse_error());
            };
            let email = attendee.get("email").and_then(Value::as_str).unwrap_or("");
            if email.is_empty() {
                return Err(ApiError::required("Missing attendee email."));
            }
            if !email.contains('@') {
                return Err(ApiError::invalid("Invalid attendee email."));
            }
            attendee
                .entry("responseStatus")
                .or_insert_with(|| json!("needsAction"));
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl When {
    /// All-day dates are days of the calendar's time zone, UTC.
    fn instant(self) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::Day(d) => d.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        }
    }
}

/// Parses an event's `start` or `end` (`{"dateTime", "timeZone"?}` or
/// `{"date"}`) and returns it with `dateTime` normalized the way Google
/// returns it (in the event's time zone if given, else UTC).
fn parse_event_time(value: Option<&Value>, which: &str) -> Result<(When, Value), ApiError> {
    let Some(Value::Object(time)) = value else {
        return Err(ApiError::required(&format!("Missing {which} time.")));
    };
    let zone = match time.get("timeZone") {
        None => None,
        Some(Value::String(name)) => Some(name.parse::<Tz>().map_err(|_| {
            ApiError::invalid(&format!("Invalid time zone definition for {which} time."))
        })?),
        Some(_) => return Err(ApiError::parse_error()),
    };
    let invalid = || ApiError::invalid(&format!("Invalid {which} time."));
    match (time.get("dateTime"), time.get("date")) {
        (Some(_), Some(_)) => Err(invalid()),
        (Some(Value::String(text)), None) => {
            let instant = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
                t.with_timezone(&Utc)
            } else {
                let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .map_err(|_| invalid())?;
                let Some(zone) = zone else {
                    return Err(ApiError::required(&format!(
                        "Missing time zone definition for {which} time."
                    )));
                };
                // A local time in a DST gap moves forward, as Google does.
                zone.from_local_datetime(&naive)
                    .earliest()
                    .or_else(|| {
                        zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .ok_or_else(invalid)?
                    .with_timezone(&Utc)
            };
            let mut normalized = time.clone();
            let shown = instant.with_timezone(&zone.unwrap_or(Tz::UTC));
            normalized.insert(
                "dateTime".into(),
                json!(shown.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
            Ok((When::At(instant), Value::Object(normalized)))
        }
        (None, Some(Value::String(text))) => {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
            Ok((When::Day(day), Value::Object(time.clone())))
        }
        (None, None) => Err(ApiError::required(&format!("Missing {which} time."))),
        _ => Err(invalid()),
    }
}

/// The `[start, end)` of a stored (hence valid) event.
fn event_span(event: &Value) -> (DateTime<Utc>, DateTime<Utc>) {
    let time = |field: &str| {
        parse_event_time(event.get(field), field)
            .map(|(when, _)| when.instant())
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    (time("start"), time("end"))
}

/// Free-text search: case-insensitive substring of the summary, description,
/// location, or an attendee's or the organizer's email or name.
fn matches_query(event: &Value, needle: &str) -> bool {
    let contains = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.to_lowercase().contains(needle))
    };
    ["summary", "description", "location"]
        .iter()
        .any(|f| contains(&event[*f]))
        || event["attendees"]
            .as_array()
            .into_iter()
            .flatten()
            .chain([&event["organizer"]])
            .any(|person| contains(&person["email"]) || contains(&person["displayName"]))
}

/// A query-string time (`timeMin`, `timeMax`): RFC 3339 with a mandatory offset.
fn parse_query_time(text: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request_at("Bad Request", name))
}

fn parse_body_time(text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request("Bad Request"))
}

fn parse_bool_param(req: &RecordedRequest, name: &str) -> Result<bool, ApiError> {
    match req.query_param(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::invalid_parameter(
            name,
            &format!(
                "Invalid value '{other}'. Values must match the following regular expression: 'true|false'"
            ),
        )),
    }
}

fn check_send_updates(req: &RecordedRequest) -> Result<(), ApiError> {
    match req.query_param("sendUpdates").as_deref() {
        None | Some("all" | "externalOnly" | "none") => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(
            "sendUpdates",
            &format!(
                "Invalid value '{other}'. Values must match the following regular expression: '(?i)(all|externalOnly|none)'"
            ),
        )),
    }
}

fn parse_body(req: &RecordedRequest) -> Result<Value, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&req.body).map_err(|_| ApiError::parse_error())
}

fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| BASE32HEX.contains(&b))
}

fn generate_event_id() -> String {
    random_bytes::<26>()
        .iter()
        .map(|b| char::from(BASE32HEX[usize::from(b % 32)]))
        .collect()
}

fn html_link(event_id: &str, calendar: &str) -> String {
    let eid = URL_SAFE_NO_PAD.encode(format!("{event_id} {calendar}"));
    format!("https://www.google.com/calendar/event?eid={eid}")
}

fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("canary-page:{offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    decoded.strip_prefix("canary-page:")?.parse().ok()
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Decodes one percent-encoded path segment.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, JSON_UTF8)
        .header(header::CACHE_CONTROL, "private, max-age=0")
        .header(header::VARY, "Origin, X-Origin, Referer")
        .body(Body::from(
            serde_json::to_vec(value).expect("serialize JSON"),
        ))
        .expect("JSON response")
}

fn plain_not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
        .body(Body::from("Not Found"))
        .expect("404 response")
}

fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::MalformedJson => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, JSON_UTF8)
            .body(Body::from(r#"{"kind":"calendar#events","items":[{"id":"#))
            .expect("malformed response"),
        Fault::RateLimit => ApiError::rate_limited(StatusCode::TOO_MANY_REQUESTS).into_response(),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.as_u16() < 400 {
                return Response::builder()
                    .status(status)
                    .body(Body::empty())
                    .expect("fault response");
            }
            ApiError::for_status(status).into_response()
        }
    }
}

/// Google's error envelope:
/// `{"error":{"errors":[{"domain","reason","message",…}],"code","message"}}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    domain: &'static str,
    reason: String,
    message: String,
    /// `(locationType, location)`.
    location: Option<(&'static str, String)>,
}

impl ApiError {
    fn new(status: StatusCode, domain: &'static str, reason: &str, message: &str) -> ApiError {
        ApiError {
            status,
            domain,
            reason: reason.to_owned(),
            message: message.to_owned(),
            location: None,
        }
    }

    fn at(mut self, location_type: &'static str, location: &str) -> ApiError {
        self.location = Some((location_type, location.to_owned()));
        self
    }

    fn auth() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "authError",
            "Invalid Credentials",
        )
        .at("header", "Authorization")
    }

    /// The token is valid but its scopes do not cover the request.
    fn insufficient_scopes() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
    }

    fn deleted() -> ApiError {
        ApiError::new(
            StatusCode::GONE,
            "global",
            "deleted",
            "Resource has been deleted",
        )
    }

    fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "global",
            "httpMethodNotAllowed",
            "Method Not Allowed",
        )
    }

    fn parse_error() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "parseError",
            "Parse Error",
        )
    }

    fn required(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "global", "required", message)
    }

    fn invalid(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "global", "invalid", message)
    }

    fn invalid_parameter(parameter: &str, message: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "invalidParameter",
            message,
        )
        .at("parameter", parameter)
    }

    fn bad_request(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "global", "badRequest", message)
    }

    fn bad_request_at(message: &str, parameter: &str) -> ApiError {
        ApiError::bad_request(message).at("parameter", parameter)
    }

    fn time_range_empty() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
        )
    }

    fn rate_limited(status: StatusCode) -> ApiError {
        ApiError::new(
            status,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        )
    }

    fn for_status(status: StatusCode) -> ApiError {
        match status.as_u16() {
            400 => ApiError::bad_request("Bad Request"),
            401 => ApiError::auth(),
            403 | 429 => ApiError::rate_limited(status),
            404 => ApiError::not_found(),
            405 => ApiError::method_not_allowed(),
            409 => ApiError::new(status, "global", "conflict", "Conflict"),
            410 => ApiError::deleted(),
            412 => ApiError::new(status, "global", "conditionNotMet", "Precondition Failed"),
            500..=599 => ApiError::new(status, "global", "backendError", "Backend Error"),
            _ => {
                let message = status.canonical_reason().unwrap_or("Error");
                ApiError::new(status, "global", &lower_camel(message), message)
            }
        }
    }

    fn into_response(self) -> Response {
        let mut detail =
            json!({"domain": self.domain, "reason": self.reason, "message": self.message});
        if let Some((location_type, location)) = &self.location {
            detail["locationType"] = json!(location_type);
            detail["location"] = json!(location);
        }
        let body = json!({
            "error": {"errors": [detail], "code": self.status.as_u16(), "message": self.message}
        });
        let mut response = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#,
                ),
            );
        } else if self.reason == "insufficientPermissions" {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="https://accounts.google.com/", error="insufficient_scope""#,
                ),
            );
        }
        response
    }
}

/// "Payload Too Large" → "payloadTooLarge".
fn lower_camel(words: &str) -> String {
    let mut out = String::new();
    for (i, word) in words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first.to_ascii_lowercase());
            } else {
                out.push(first.to_ascii_uppercase());
            }
            out.push_str(&chars.as_str().to_ascii_lowercase());
        }
    }
    out
}
