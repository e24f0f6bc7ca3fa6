//! HubSpot CRM API v3: contact search and notes associated with a contact.
//!
//! Wire format as documented at
//! <https://developers.hubspot.com/docs/api/crm/search> and
//! <https://developers.hubspot.com/docs/api/crm/notes>.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{StatusCode, header};
use serde_json::{Map, Value, json};

use crate::recorded::RecordedRequest;
use crate::server::{Server, random_hex};

/// The association type id of "note to contact" (`HUBSPOT_DEFINED`).
pub const NOTE_TO_CONTACT: u64 = 202;

/// The most results one search returns (`limit`).
const MAX_LIMIT: u64 = 200;
const DEFAULT_LIMIT: u64 = 10;
/// The most filter groups, and filters in all groups together, of a search.
const MAX_FILTER_GROUPS: usize = 5;
const MAX_FILTERS: usize = 18;
/// Properties every returned contact carries besides those asked for.
const ALWAYS: [&str; 3] = ["createdate", "hs_object_id", "lastmodifieddate"];

/// A fault the stand-in injects into the next API request
/// ([`HubSpot::fail_next`]), before authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubSpotFault {
    /// 429 with HubSpot's rate-limit body (`errorType: RATE_LIMIT`,
    /// `policyName: SECONDLY`).
    RateLimit,
    /// That status with HubSpot's error envelope (`category: INTERNAL_ERROR`
    /// for 5xx).
    Status(u16),
}

/// A local stand-in for HubSpot's CRM API v3, served under
/// [`base_url`](Self::base_url) (for `https://api.hubapi.com`):
///
/// - `POST /crm/v3/objects/contacts/search`: filter groups (OR) of filters
///   (AND) with `EQ`, `NEQ`, `HAS_PROPERTY`, `NOT_HAS_PROPERTY` and
///   `CONTAINS_TOKEN` (string comparison is case-insensitive, as HubSpot's),
///   `properties`, `limit` (≤ 200) and `after`; HubSpot's limits on groups
///   and filters;
/// - `POST /crm/v3/objects/notes`: `properties` with the required
///   `hs_timestamp` (ISO 8601 or epoch milliseconds) and `hs_note_body`, and
///   `associations` to contacts (type [`NOTE_TO_CONTACT`]);
/// - `GET /crm/v3/objects/contacts/{id}`.
///
/// Every request needs `Authorization: Bearer <token>` with a token from
/// [`issue_token`](Self::issue_token) (a private app's access token); every
/// request is recorded. Errors use HubSpot's envelope (`status`, `message`,
/// `correlationId`, `category`). Dropping the handle shuts the server down.
pub struct HubSpot {
    server: Server,
    state: Arc<Mutex<Crm>>,
}

impl std::fmt::Debug for HubSpot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpot")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Crm {
    tokens: Vec<String>,
    contacts: Vec<Record>,
    notes: Vec<Note>,
    faults: VecDeque<HubSpotFault>,
    requests: Vec<RecordedRequest>,
    last_id: u64,
}

#[derive(Clone)]
struct Record {
    id: String,
    properties: Map<String, Value>,
    created: DateTime<Utc>,
}

/// A stored note and the contacts it is associated with.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The note as HubSpot answers it (`id`, `properties`, `createdAt`, …).
    pub object: Value,
    /// The ids of the contacts it is associated with.
    pub contacts: Vec<String>,
}

impl HubSpot {
    /// Starts the stand-in on `127.0.0.1:0`.
    pub async fn start() -> HubSpot {
        let state = Arc::new(Mutex::new(Crm::default()));
        let router = Router::new().fallback(handle).with_state(state.clone());
        HubSpot {
            server: Server::start(router).await,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, the API base (requests go to
    /// `{base_url}/crm/v3/…`) and the origin to allow.
    pub fn base_url(&self) -> String {
        self.server.origin()
    }

    /// A new private app access token the API accepts.
    pub fn issue_token(&self) -> String {
        let token = format!("pat-na1-canary-{}", random_hex::<16>());
        self.lock().tokens.push(token.clone());
        token
    }

    /// Adds a contact with `properties` (strings) and returns its id.
    pub fn add_contact(&self, properties: Value) -> String {
        let mut state = self.lock();
        let id = state.next_id();
        let properties = match properties {
            Value::Object(map) => map,
            other => panic!("HubSpot::add_contact: properties must be an object, got {other}"),
        };
        state.contacts.push(Record {
            id: id.clone(),
            properties,
            created: Utc::now(),
        });
        id
    }

    /// Every note created so far, in order.
    pub fn notes(&self) -> Vec<Note> {
        self.lock().notes.clone()
    }

    /// The next API request gets `fault` instead of being served. Faults queue.
    pub fn fail_next(&self, fault: HubSpotFault) {
        self.lock().faults.push_back(fault);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Crm> {
        self.state.lock().expect("HubSpot state lock")
    }
}

async fn handle(State(state): State<Arc<Mutex<Crm>>>, req: Request) -> Response {
    let req = RecordedRequest::read(req).await;
    let mut state = state.lock().expect("HubSpot state lock");
    state.requests.push(req.clone());
    if let Some(fault) = state.faults.pop_front() {
        return match fault {
            HubSpotFault::RateLimit => json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": correlation_id(),
                    "policyName": "SECONDLY",
                    "groupName": "publicapi:private-app:canary",
                }),
            ),
            HubSpotFault::Status(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiError::new(status, "INTERNAL_ERROR", "internal error").into_response()
            }
        };
    }
    let token = req
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "));
    if !token.is_some_and(|token| state.tokens.iter().any(|t| t == token)) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication \
             and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
        .into_response();
    }
    let result = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/crm/v3/objects/contacts/search") => {
            json_body(&req).and_then(|b| state.search(&b))
        }
        ("POST", "/crm/v3/objects/notes") => json_body(&req).and_then(|b| state.create_note(&b)),
        ("GET", path) if path.starts_with("/crm/v3/objects/contacts/") => {
            let id = &path["/crm/v3/objects/contacts/".len()..];
            state.contact(id, req.query.as_deref())
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        )),
    };
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(error) => error.into_response(),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

impl Crm {
    fn next_id(&mut self) -> String {
        self.last_id += 1;
        (151_000 + self.last_id).to_string()
    }

    fn search(&self, body: &Value) -> Answer {
        let groups = match body.get("filterGroups") {
            None => Vec::new(),
            Some(Value::Array(groups)) => groups.clone(),
            Some(_) => return Err(invalid("filterGroups must be an array")),
        };
        if groups.len() > MAX_FILTER_GROUPS {
            return Err(invalid(&format!(
                "Too many filter groups ({}). The maximum number of filter groups is {MAX_FILTER_GROUPS}.",
                groups.len()
            )));
        }
        let mut parsed = Vec::with_capacity(groups.len());
        let mut total_filters = 0;
        for group in &groups {
            let filters = group
                .get("filters")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("each filter group needs a filters array"))?;
            total_filters += filters.len();
            parsed.push(
                filters
                    .iter()
                    .map(Filter::parse)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        if total_filters > MAX_FILTERS {
            return Err(invalid(&format!(
                "Too many filters ({total_filters}). The maximum number of filters is {MAX_FILTERS}."
            )));
        }
        let limit = match body.get("limit") {
            None => DEFAULT_LIMIT,
            Some(value) => value
                .as_u64()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| invalid(&format!("limit must be between 1 and {MAX_LIMIT}")))?,
        };
        let after: usize = match body.get("after") {
            None => 0,
            Some(value) => value
                .as_str()
                .and_then(|a| a.parse().ok())
                .or_else(|| value.as_u64().map(|a| a as usize))
                .ok_or_else(|| invalid("after must be a paging cursor"))?,
        };
        let wanted = requested_properties(body.get("properties"))?;
        let matching: Vec<&Record> = self
            .contacts
            .iter()
            .filter(|c| parsed.is_empty() || parsed.iter().any(|g| g.iter().all(|f| f.matches(c))))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(after)
            .take(limit as usize)
            .map(|c| c.answer(&wanted))
            .collect();
        let mut answer = json!({ "total": matching.len(), "results": page });
        let next = after + limit as usize;
        if next < matching.len() {
            answer["paging"] = json!({ "next": { "after": next.to_string() } });
        }
        Ok((StatusCode::OK, answer))
    }

    fn contact(&self, id: &str, query: Option<&str>) -> Answer {
        let properties: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .filter(|(k, _)| k == "properties")
            .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let wanted = if properties.is_empty() {
            ["firstname", "lastname", "email"]
                .map(str::to_owned)
                .to_vec()
        } else {
            properties
        };
        match self.contacts.iter().find(|c| c.id == id) {
            Some(contact) => Ok((StatusCode::OK, contact.answer(&wanted))),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "OBJECT_NOT_FOUND",
                "resource not found",
            )),
        }
    }

    fn create_note(&mut self, body: &Value) -> Answer {
        let properties = body
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("properties is required"))?;
        for (name, value) in properties {
            if !value.is_string() && !value.is_number() && !value.is_boolean() {
                return Err(invalid(&format!(
                    "Property values were not valid: {name} must be a string"
                )));
            }
        }
        let timestamp = properties
            .get("hs_timestamp")
            .ok_or_else(|| invalid("Property values were not valid: hs_timestamp is required"))
            .and_then(parse_timestamp)?;
        let mut contacts = Vec::new();
        let associations = match body.get("associations") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(invalid("associations must be an array")),
        };
        for association in &associations {
            let to = association
                .pointer("/to/id")
                .and_then(|id| {
                    id.as_str()
                        .map(str::to_owned)
                        .or_else(|| id.as_u64().map(|n| n.to_string()))
                })
                .ok_or_else(|| invalid("each association needs to.id"))?;
            let types = association
                .get("types")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("each association needs types"))?;
            for kind in types {
                let category = kind.get("associationCategory").and_then(Value::as_str);
                let id = kind.get("associationTypeId").and_then(Value::as_u64);
                if category != Some("HUBSPOT_DEFINED") || id != Some(NOTE_TO_CONTACT) {
                    return Err(invalid(&format!(
                        "association type {} {} is not valid between note and contact",
                        category.unwrap_or("?"),
                        id.map_or("?".to_owned(), |i| i.to_string())
                    )));
                }
            }
            if !self.contacts.iter().any(|c| c.id == to) {
                return Err(invalid(&format!(
                    "One or more associations are invalid: no contact with id {to}"
                )));
            }
            contacts.push(to);
        }
        let id = self.next_id();
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut stored: Map<String, Value> = properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(plain(v))))
            .collect();
        stored.insert(
            "hs_timestamp".into(),
            json!(timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        stored.insert("hs_createdate".into(), json!(now));
        stored.insert("hs_lastmodifieddate".into(), json!(now));
        stored.insert("hs_object_id".into(), json!(id));
        let object = json!({
            "id": id,
            "properties": stored,
            "createdAt": now,
            "updatedAt": now,
            "archived": false,
        });
        self.notes.push(Note {
            object: object.clone(),
            contacts,
        });
        Ok((StatusCode::CREATED, object))
    }
}

impl Record {
    fn answer(&self, wanted: &[String]) -> Value {
        let created = self.created.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut properties = Map::new();
        for name in wanted.iter().map(String::as_str).chain(ALWAYS) {
            let value = match name {
                "hs_object_id" => json!(self.id),
                "createdate" | "lastmodifieddate" => json!(created),
                _ => self.properties.get(name).cloned().unwrap_or(Value::Null),
            };
            properties.insert(name.to_owned(), value);
        }
        json!({
            "id": self.id,
            "properties": properties,
            "createdAt": created,
            "updatedAt": created,
            "archived": false,
        })
    }

    fn property(&self, name: &str) -> Option<String> {
        match name {
            "hs_object_id" => Some(self.id.clone()),
            _ => self
                .properties
                .get(name)
                .map(plain)
                .filter(|v| !v.is_empty()),
        }
    }
}

struct Filter {
    property: String,
    operator: String,
    value: Option<String>,
}

impl Filter {
    fn parse(filter: &Value) -> Result<Filter, ApiError> {
        let property = filter
            .get("propertyName")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("each filter needs a propertyName"))?
            .to_owned();
        let operator = filter
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("each filter needs an operator"))?
            .to_owned();
        let value = filter.get("value").map(plain);
        match operator.as_str() {
            "HAS_PROPERTY" | "NOT_HAS_PROPERTY" => {}
            "EQ" | "NEQ" | "CONTAINS_TOKEN" if value.is_some() => {}
            "EQ" | "NEQ" | "CONTAINS_TOKEN" => {
                return Err(invalid(&format!("operator {operator} needs a value")));
            }
            other => {
                return Err(invalid(&format!(
                    "operator {other} is not supported by this stand-in's search"
                )));
            }
        }
        Ok(Filter {
            property,
            operator,
            value,
        })
    }

    fn matches(&self, contact: &Record) -> bool {
        let actual = contact.property(&self.property);
        let value = self.value.as_deref().unwrap_or("").to_lowercase();
        match self.operator.as_str() {
            "HAS_PROPERTY" => actual.is_some(),
            "NOT_HAS_PROPERTY" => actual.is_none(),
            "EQ" => actual.is_some_and(|a| a.to_lowercase() == value),
            "NEQ" => actual.is_none_or(|a| a.to_lowercase() != value),
            "CONTAINS_TOKEN" => {
                actual.is_some_and(|a| a.to_lowercase().split_whitespace().any(|t| glob(&value, t)))
            }
            _ => false,
        }
    }
}

/// A token against a `CONTAINS_TOKEN` value, which may start or end with `*`.
fn glob(pattern: &str, token: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => token.contains(rest.trim_end_matches('*')),
        (Some(suffix), _) => token.ends_with(suffix),
        (None, Some(prefix)) => token.starts_with(prefix),
        (None, None) => token == pattern,
    }
}

fn requested_properties(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    match value {
        None => Ok(["firstname", "lastname", "email"]
            .map(str::to_owned)
            .to_vec()),
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid("properties must be strings"))
            })
            .collect(),
        Some(_) => Err(invalid("properties must be an array")),
    }
}

fn parse_timestamp(value: &Value) -> Result<DateTime<Utc>, ApiError> {
    let text = plain(value);
    if let Ok(millis) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| invalid("hs_timestamp is out of range"));
    }
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(&format!(
                "Property values were not valid: hs_timestamp {text:?} is not a valid date"
            ))
        })
}

/// A JSON scalar as the string HubSpot stores.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_body(req: &RecordedRequest) -> Result<Value, ApiError> {
    let typed = req
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    if !typed {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "VALIDATION_ERROR",
            "Content-Type must be application/json",
        ));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("Invalid input JSON on line 1: {e}"),
        )
    })
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

fn correlation_id() -> String {
    let hex = random_hex::<16>();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

struct ApiError {
    status: StatusCode,
    category: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, category: &'static str, message: &str) -> ApiError {
        ApiError {
            status,
            category,
            message: message.to_owned(),
        }
    }

    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({
                "status": "error",
                "message": self.message,
                "correlationId": correlation_id(),
                "category": self.category,
            }),
        )
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json;charset=utf-8")
        .body(Body::from(body.to_string()))
        .expect("JSON response")
}
