//! Twilio Programmable Messaging, REST API 2010-04-01: sending an SMS,
//! fetching it, and fetching the account.
//!
//! Wire format as documented at
//! <https://www.twilio.com/docs/messaging/api/message-resource>,
//! <https://www.twilio.com/docs/iam/api/account> and
//! <https://www.twilio.com/docs/api/errors> (one page per error code).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound, Utc};
use http::{StatusCode, header};
use serde_json::{Value, json};

use crate::recorded::RecordedRequest;
use crate::server::{Server, random_hex};

/// The API version every path starts with.
const API_VERSION: &str = "2010-04-01";
/// The largest request body the stand-in reads; larger ones get 413.
const MAX_BODY: usize = 64 * 1024;
/// The longest `Body` Twilio accepts, in characters.
const MAX_BODY_CHARS: usize = 1600;
/// Per-segment capacities: one GSM-7 segment, a GSM-7 part of a concatenated
/// message (the rest is the UDH), and the same in UTF-16 units for UCS-2.
const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;
/// The statuses [`Twilio::set_status`] can move a message to.
const STATUSES: [&str; 6] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
];
/// The realm of Twilio's `WWW-Authenticate` challenge.
const CHALLENGE: &str = "Basic realm=\"Twilio API\"";

/// The GSM 03.38 default alphabet (one septet each; ESC left out).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM 03.38 extension table (ESC + one septet: two septets each).
const GSM7_EXTENDED: &str = "\x0C^{}\\[~]|€";

/// A fault the stand-in injects into the next API request
/// ([`Twilio::fail_next`]), before authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwilioFault {
    /// 429 with Twilio's error body, code 20429 "Too Many Requests".
    RateLimit,
    /// That status with Twilio's error body: 500 (and any 5xx but 503) is
    /// 20500 "Internal Server Error", 503 is 20503 "Service Unavailable", 401
    /// is the 20003 challenge, 404 is 20404; other 4xx use `20000 + status`.
    /// A status below 400 counts as 500.
    Status(u16),
}

/// A message as the stand-in stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct TwilioMessage {
    /// `SM` + 32 hex digits.
    pub sid: String,
    /// The account that created it.
    pub account_sid: String,
    /// The recipient, E.164.
    pub to: String,
    /// The sending number, E.164, owned by the account.
    pub from: String,
    /// The text.
    pub body: String,
    /// `queued` when created; then whatever [`Twilio::set_status`] set.
    pub status: String,
    /// SMS segments the body takes (GSM-7 or UCS-2).
    pub num_segments: u32,
    /// The error code of an `undelivered` or `failed` message.
    pub error_code: Option<u32>,
    /// When it was created, to the second (as Twilio reports it).
    pub date_created: DateTime<Utc>,
}

/// A local stand-in for Twilio's REST API 2010-04-01 (Programmable
/// Messaging), served under [`base_url`](Self::base_url) (for
/// `https://api.twilio.com`):
///
/// - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: a form body
///   (`application/x-www-form-urlencoded`) with `To`, `From`, `Body` and the
///   optional `StatusCallback`; Twilio's checks and error codes (21604, 21211,
///   21603, 21606, 21602, 21617, 21266, 21609, and 21701 for any
///   `MessagingServiceSid`: the stand-in has no Messaging Services); 201 with
///   the Message resource, `status: queued`, `num_segments` computed as
///   Twilio does (GSM-7 160/153 septets, else UCS-2 70/67 UTF-16 units);
/// - `GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json`: the
///   message with its current status ([`set_status`](Self::set_status));
/// - `GET /2010-04-01/Accounts/{AccountSid}.json`: the account.
///
/// Everything else is 404 (20404). Every request needs HTTP Basic
/// credentials `AccountSid:AuthToken` of an account of the stand-in, and may
/// only name that account in its path; every request is recorded. Errors use
/// Twilio's body (`code`, `message`, `more_info`, `status`). Status callbacks
/// are accepted and validated but not delivered. Dropping the handle shuts
/// the server down.
pub struct Twilio {
    server: Server,
    state: Arc<Mutex<Cloud>>,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Cloud {
    /// The primary account first.
    accounts: Vec<Account>,
    /// (owning account sid, E.164 number).
    numbers: Vec<(String, String)>,
    messages: Vec<Stored>,
    faults: VecDeque<TwilioFault>,
    requests: Vec<RecordedRequest>,
}

struct Account {
    sid: String,
    token: String,
    friendly_name: String,
    created: DateTime<Utc>,
}

struct Stored {
    message: TwilioMessage,
    date_updated: DateTime<Utc>,
    date_sent: Option<DateTime<Utc>>,
}

impl Twilio {
    /// Starts the stand-in on `127.0.0.1:0` with one account.
    pub async fn start() -> Twilio {
        let mut cloud = Cloud::default();
        cloud.new_account();
        let state = Arc::new(Mutex::new(cloud));
        let router = Router::new().fallback(handle).with_state(state.clone());
        Twilio {
            server: Server::start(router).await,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, standing for `https://api.twilio.com`
    /// (requests go to `{base_url}/2010-04-01/Accounts/…`).
    pub fn base_url(&self) -> String {
        self.server.origin()
    }

    /// The primary account's SID (`AC` + 32 hex digits).
    pub fn account_sid(&self) -> String {
        self.lock().accounts[0].sid.clone()
    }

    /// The primary account's auth token (32 hex digits).
    pub fn auth_token(&self) -> String {
        self.lock().accounts[0].token.clone()
    }

    /// `base64("{account_sid}:{auth_token}")`: the HTTP Basic credentials of
    /// the primary account, as an operator stores them.
    pub fn basic_credential(&self) -> String {
        let state = self.lock();
        let account = &state.accounts[0];
        STANDARD.encode(format!("{}:{}", account.sid, account.token))
    }

    /// Creates a second, separate account (not a subaccount) and returns its
    /// `(sid, auth token)`. It owns no numbers.
    pub fn add_account(&self) -> (String, String) {
        let mut state = self.lock();
        let account = state.new_account();
        (account.sid.clone(), account.token.clone())
    }

    /// Adds an SMS-capable number (E.164) owned by the primary account,
    /// usable as `From`.
    pub fn add_number(&self, e164: &str) {
        assert!(
            is_e164(e164),
            "Twilio::add_number: {e164:?} is not an E.164 number"
        );
        let mut state = self.lock();
        let owner = state.accounts[0].sid.clone();
        state.numbers.push((owner, e164.to_owned()));
    }

    /// Every message created, oldest first.
    pub fn messages(&self) -> Vec<TwilioMessage> {
        self.lock()
            .messages
            .iter()
            .map(|m| m.message.clone())
            .collect()
    }

    /// Moves message `sid` to `status` (`queued`, `sending`, `sent`,
    /// `delivered`, `undelivered` or `failed`), with `error_code` (e.g. 30003
    /// "Unreachable destination handset", 30005, 30006, 30007) only for
    /// `undelivered` or `failed`. `sent`, `delivered` and `undelivered` set
    /// `date_sent` if it is not set yet.
    ///
    /// # Panics
    ///
    /// On an unknown status or message, or an error code for another status.
    pub fn set_status(&self, sid: &str, status: &str, error_code: Option<u32>) {
        assert!(
            STATUSES.contains(&status),
            "Twilio::set_status: unknown status {status:?}, expected one of {STATUSES:?}"
        );
        assert!(
            error_code.is_none() || matches!(status, "undelivered" | "failed"),
            "Twilio::set_status: an error code goes with undelivered or failed, not {status:?}"
        );
        let now = now();
        let mut state = self.lock();
        let Some(stored) = state.messages.iter_mut().find(|m| m.message.sid == sid) else {
            drop(state);
            panic!("Twilio::set_status: no message {sid}");
        };
        stored.message.status = status.to_owned();
        stored.message.error_code = error_code;
        stored.date_updated = now;
        if matches!(status, "sent" | "delivered" | "undelivered") && stored.date_sent.is_none() {
            stored.date_sent = Some(now);
        }
    }

    /// The next API request gets `fault` instead of being served (before
    /// authentication). Faults queue.
    pub fn fail_next(&self, fault: TwilioFault) {
        self.lock().faults.push_back(fault);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Cloud> {
        self.state.lock().expect("Twilio state lock")
    }
}

async fn handle(State(state): State<Arc<Mutex<Cloud>>>, req: Request) -> Response {
    let (req, complete) = RecordedRequest::read_at_most(req, MAX_BODY).await;
    let mut state = state.lock().expect("Twilio state lock");
    state.requests.push(req.clone());
    if let Some(fault) = state.faults.pop_front() {
        return match fault {
            TwilioFault::RateLimit => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests")
            }
            TwilioFault::Status(code) => {
                let status = StatusCode::from_u16(code)
                    .ok()
                    .filter(|s| s.as_u16() >= 400)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                status_error(status, &req.path)
            }
        }
        .into_response();
    }
    if !complete {
        // Twilio documents no error code for this; the stand-in follows the
        // 20000 + status pattern of 20404, 20429 and 20500.
        return status_error(StatusCode::PAYLOAD_TOO_LARGE, &req.path).into_response();
    }
    let Some(account) = state.authenticate(&req) else {
        return ApiError::unauthorized().into_response();
    };
    let route = Route::parse(&req.path);
    // Credentials of one account naming another account in the path: Twilio
    // refuses them with 20003 (401) before looking at the resource — its
    // documented causes of 20003 include credentials "scoped to the wrong
    // account" and "subaccount credentials to access the main account or
    // another subaccount" (https://www.twilio.com/docs/api/errors/20003).
    // Separate accounts here are never parent and subaccount.
    if route.account.is_some_and(|sid| sid != account) {
        return ApiError::unauthorized().into_response();
    }
    let result = match (req.method.as_str(), route.resource) {
        ("POST", Resource::Messages) => state.create_message(&account, &req),
        ("GET", Resource::Message(sid)) => state.message(&account, sid, &req.path),
        ("GET", Resource::Account) => Ok((StatusCode::OK, state.account_resource(&account))),
        _ => Err(not_found(&req.path)),
    };
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(error) => error.into_response(),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

/// A path under `/2010-04-01/Accounts/`.
struct Route<'a> {
    /// The account SID the path names, if it names one.
    account: Option<&'a str>,
    resource: Resource<'a>,
}

enum Resource<'a> {
    /// `/Accounts/{sid}.json`
    Account,
    /// `/Accounts/{sid}/Messages.json`
    Messages,
    /// `/Accounts/{sid}/Messages/{MessageSid}.json`
    Message(&'a str),
    Other,
}

impl Route<'_> {
    fn parse(path: &str) -> Route<'_> {
        let Some(rest) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(API_VERSION))
            .and_then(|p| p.strip_prefix("/Accounts/"))
        else {
            return Route {
                account: None,
                resource: Resource::Other,
            };
        };
        let Some((account, tail)) = rest.split_once('/') else {
            return match rest.strip_suffix(".json") {
                Some(sid) => Route {
                    account: Some(sid),
                    resource: Resource::Account,
                },
                None => Route {
                    account: Some(rest),
                    resource: Resource::Other,
                },
            };
        };
        let resource = match tail {
            "Messages.json" => Resource::Messages,
            _ => match tail
                .strip_prefix("Messages/")
                .and_then(|m| m.strip_suffix(".json"))
                .filter(|m| !m.contains('/'))
            {
                Some(sid) => Resource::Message(sid),
                None => Resource::Other,
            },
        };
        Route {
            account: Some(account),
            resource,
        }
    }
}

impl Cloud {
    fn new_account(&mut self) -> &Account {
        self.accounts.push(Account {
            sid: format!("AC{}", random_hex::<16>()),
            token: random_hex::<16>(),
            friendly_name: format!("Warden test account {}", self.accounts.len() + 1),
            created: now(),
        });
        self.accounts.last().expect("just pushed")
    }

    /// The SID of the account whose `Authorization: Basic` credentials the
    /// request carries.
    fn authenticate(&self, req: &RecordedRequest) -> Option<String> {
        let (scheme, credentials) = req.header("authorization")?.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(credentials.trim()).ok()?).ok()?;
        let (sid, token) = decoded.split_once(':')?;
        self.accounts
            .iter()
            .find(|a| a.sid == sid && a.token == token)
            .map(|a| a.sid.clone())
    }

    fn create_message(&mut self, account: &str, req: &RecordedRequest) -> Answer {
        let params = form_params(req);
        let param = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let to =
            param("To").ok_or_else(|| invalid(21604, "A 'To' phone number is required.".into()))?;
        if !is_e164(&to) {
            return Err(invalid(21211, format!("Invalid 'To' Phone Number: {to}")));
        }
        if let Some(service) = param("MessagingServiceSid") {
            // The stand-in has no Messaging Services, so every one is unknown
            // to the account (https://www.twilio.com/docs/api/errors/21701).
            return Err(invalid(
                21701,
                format!(
                    "The Messaging Service {service} does not exist or does not belong to \
                     account {account}."
                ),
            ));
        }
        let from = param("From")
            .ok_or_else(|| invalid(21603, "A 'From' phone number is required.".into()))?;
        if !self
            .numbers
            .iter()
            .any(|(owner, number)| owner == account && *number == from)
        {
            return Err(invalid(
                21606,
                format!(
                    "The From phone number {from} is not a valid, SMS-capable inbound phone \
                     number or short code for your account."
                ),
            ));
        }
        let body =
            param("Body").ok_or_else(|| invalid(21602, "Message body is required.".into()))?;
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(invalid(
                21617,
                "The concatenated message body exceeds the 1600 character limit.".into(),
            ));
        }
        if to == from {
            return Err(invalid(
                21266,
                format!("'To' and 'From' number cannot be the same: {to}"),
            ));
        }
        if let Some(callback) = param("StatusCallback")
            && !is_callback_url(&callback)
        {
            return Err(invalid(
                21609,
                format!("The StatusCallback URL {callback} is not a valid URL."),
            ));
        }
        let now = now();
        let stored = Stored {
            message: TwilioMessage {
                sid: format!("SM{}", random_hex::<16>()),
                account_sid: account.to_owned(),
                to,
                from,
                num_segments: num_segments(&body),
                body,
                status: "queued".to_owned(),
                error_code: None,
                date_created: now,
            },
            date_updated: now,
            date_sent: None,
        };
        let resource = stored.resource();
        self.messages.push(stored);
        Ok((StatusCode::CREATED, resource))
    }

    /// A message of `account`; another account's message is not found, as at
    /// Twilio.
    fn message(&self, account: &str, sid: &str, path: &str) -> Answer {
        self.messages
            .iter()
            .find(|m| m.message.sid == sid && m.message.account_sid == account)
            .map(|m| (StatusCode::OK, m.resource()))
            .ok_or_else(|| not_found(path))
    }

    fn account_resource(&self, sid: &str) -> Value {
        let account = self
            .accounts
            .iter()
            .find(|a| a.sid == sid)
            .expect("an authenticated account exists");
        let uri = format!("/{API_VERSION}/Accounts/{sid}");
        let subresources: serde_json::Map<String, Value> = [
            ("addresses", "Addresses"),
            ("applications", "Applications"),
            ("authorized_connect_apps", "AuthorizedConnectApps"),
            ("available_phone_numbers", "AvailablePhoneNumbers"),
            ("balance", "Balance"),
            ("calls", "Calls"),
            ("conferences", "Conferences"),
            ("connect_apps", "ConnectApps"),
            ("incoming_phone_numbers", "IncomingPhoneNumbers"),
            ("keys", "Keys"),
            ("messages", "Messages"),
            ("notifications", "Notifications"),
            ("outgoing_caller_ids", "OutgoingCallerIds"),
            ("queues", "Queues"),
            ("recordings", "Recordings"),
            ("short_codes", "SMS/ShortCodes"),
            ("signing_keys", "SigningKeys"),
            ("sip", "SIP"),
            ("transcriptions", "Transcriptions"),
            ("usage", "Usage"),
        ]
        .into_iter()
        .map(|(name, path)| (name.to_owned(), json!(format!("{uri}/{path}.json"))))
        .collect();
        // Twilio's Account resource does carry the auth token.
        json!({
            "auth_token": account.token,
            "date_created": rfc2822(account.created),
            "date_updated": rfc2822(account.created),
            "friendly_name": account.friendly_name,
            "owner_account_sid": account.sid,
            "sid": account.sid,
            "status": "active",
            "subresource_uris": subresources,
            "type": "Full",
            "uri": format!("{uri}.json"),
        })
    }
}

impl Stored {
    /// The Message resource as Twilio answers it.
    fn resource(&self) -> Value {
        let m = &self.message;
        let uri = format!(
            "/{API_VERSION}/Accounts/{}/Messages/{}",
            m.account_sid, m.sid
        );
        json!({
            "account_sid": m.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": rfc2822(m.date_created),
            "date_sent": self.date_sent.map(rfc2822),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": m.error_code,
            "error_message": m.error_code.and_then(error_description),
            "from": m.from,
            "messaging_service_sid": null,
            "num_media": "0",
            "num_segments": m.num_segments.to_string(),
            "price": null,
            "price_unit": "USD",
            "sid": m.sid,
            "status": m.status,
            "subresource_uris": { "media": format!("{uri}/Media.json") },
            "to": m.to,
            "uri": format!("{uri}.json"),
        })
    }
}

/// The titles of Twilio's common delivery errors.
fn error_description(code: u32) -> Option<&'static str> {
    Some(match code {
        30001 => "Queue overflow",
        30002 => "Account suspended",
        30003 => "Unreachable destination handset",
        30004 => "Message blocked",
        30005 => "Unknown destination handset",
        30006 => "Landline or unreachable carrier",
        30007 => "Message filtered",
        30008 => "Unknown error",
        30009 => "Missing segment",
        30010 => "Message price exceeds max price",
        _ => return None,
    })
}

/// The form parameters of a request. Twilio reads parameters only from an
/// `application/x-www-form-urlencoded` body: any other body (JSON, say) is not
/// read at all, so every parameter is missing and the request fails the first
/// required-parameter check (for a message, 400 with 21604).
fn form_params(req: &RecordedRequest) -> Vec<(String, String)> {
    let form = req.header("content-type").is_some_and(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !form {
        return Vec::new();
    }
    form_urlencoded::parse(&req.body).into_owned().collect()
}

/// `^\+[1-9]\d{1,14}$`
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// A fully qualified `http(s)` URL with a host (no underscores), at most 4000
/// characters, as Twilio wants a `StatusCallback`.
fn is_callback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .split(':')
        .next()
        .unwrap_or("");
    url.len() <= 4000
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !url.chars().any(char::is_whitespace)
}

/// The SMS segments `body` takes: GSM-7 if every character is in the GSM
/// 03.38 alphabet (extension characters take two septets), else UCS-2
/// (counted in UTF-16 units). A part of a concatenated message never splits
/// an escape sequence or a surrogate pair — as in Twilio's own segment
/// calculator (github.com/TwilioDevEd/message-segment-calculator), which
/// also keeps multi-character graphemes (flags, ZWJ emoji) whole; this one
/// may split those.
fn num_segments(body: &str) -> u32 {
    let gsm: Option<Vec<usize>> = body.chars().map(gsm7_septets).collect();
    let (units, single, part) = match gsm {
        Some(septets) => (septets, GSM7_SINGLE, GSM7_PART),
        None => (
            body.chars().map(char::len_utf16).collect(),
            UCS2_SINGLE,
            UCS2_PART,
        ),
    };
    if units.iter().sum::<usize>() <= single {
        return 1;
    }
    let mut segments = 1;
    let mut used = 0;
    for unit in units {
        if used + unit > part {
            segments += 1;
            used = 0;
        }
        used += unit;
    }
    segments
}

fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Now, to the second: Twilio's dates carry no fractions.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// RFC 2822 as Twilio writes it: `Thu, 24 Aug 2023 05:01:45 +0000`.
fn rfc2822(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn invalid(code: u32, message: String) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code,
        message,
    }
}

fn not_found(path: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: 20404,
        message: format!("The requested resource {path} was not found"),
    }
}

/// Twilio's error for a bare HTTP status (faults, oversized bodies).
fn status_error(status: StatusCode, path: &str) -> ApiError {
    match status.as_u16() {
        401 => ApiError::unauthorized(),
        404 => not_found(path),
        503 => ApiError::new(status, 20503, "Service Unavailable"),
        500..=599 => ApiError::new(status, 20500, "Internal Server Error"),
        code => ApiError::new(
            status,
            20000 + u32::from(code),
            status.canonical_reason().unwrap_or("Error"),
        ),
    }
}

struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: u32, message: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: message.to_owned(),
        }
    }

    /// 20003: missing or wrong credentials, or credentials of another account.
    fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    fn into_response(self) -> Response {
        let mut body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        if self.status != StatusCode::UNAUTHORIZED {
            return json_response(self.status, &body);
        }
        // Twilio's 401 adds a `detail` and the Basic challenge.
        body["detail"] = json!("Your AccountSid or AuthToken was incorrect.");
        let mut response = json_response(self.status, &body);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(CHALLENGE),
        );
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("twilio-request-id", format!("RQ{}", random_hex::<16>()))
        .body(Body::from(body.to_string()))
        .expect("JSON response")
}
