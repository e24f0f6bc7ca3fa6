//! Google's OAuth 2.0 endpoints for web-server apps: the authorization
//! endpoint and its consent page, the token endpoint (authorization-code and
//! refresh-token grants) and token revocation.
//!
//! As documented at
//! <https://developers.google.com/identity/protocols/oauth2/web-server> and,
//! for PKCE, <https://developers.google.com/identity/protocols/oauth2/native-app>;
//! RFC 6749, RFC 7636 and RFC 7009 where Google's pages are silent.
//!
//! One user ([`GoogleCalendar::OWNER_EMAIL`]) is always signed in, and one
//! client ([`GoogleCalendar::CLIENT_ID`]) exists. What the user allowed on the
//! consent page is the grant: its scopes, and whether it includes offline
//! access. Revoking any token of the grant revokes all of it, as Google does.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::{Position, Url};

use super::{
    ACCESS_TOKEN_SECONDS, AccessToken, Calendars, GoogleCalendar, RefreshToken, new_access_token,
    new_refresh_token,
};
use crate::recorded::RecordedRequest;
use crate::server::random_hex;

/// The authorization endpoint, as at `https://accounts.google.com`.
const AUTHORIZE_PATH: &str = "/o/oauth2/v2/auth";
/// Where the consent page's buttons post the user's decision.
const CONSENT_PATH: &str = "/o/oauth2/v2/auth/consent";
/// The token endpoint, as at `https://oauth2.googleapis.com`.
const TOKEN_PATH: &str = "/token";
/// The revocation endpoint, as at `https://oauth2.googleapis.com`.
const REVOKE_PATH: &str = "/revoke";
/// How long an authorization code can be exchanged (RFC 6749 §4.1.2: ten
/// minutes at most).
const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// What `email` and `profile` stand for in a granted scope.
const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
const PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// A fault the token endpoint injects into the next authorization-code
/// exchange ([`GoogleCalendar::fail_next_code_exchange`]), before looking at
/// the request: the code stays unused, so a retry can succeed. The
/// refresh-token grant is never faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFault {
    /// That HTTP status. From 400 up with an OAuth error body,
    /// `{"error":"internal_failure"}` for 500–599 (Google does not document
    /// its token endpoint's server errors: this is a plausible shape, not a
    /// recorded one) and `invalid_request` otherwise; below 400 with an empty
    /// body.
    Status(u16),
    /// 401 `invalid_client` "Unauthorized": what Google answers once the
    /// client secret was rotated or the client deleted.
    InvalidClient,
    /// 200, `content-type: application/json`, and a truncated JSON body.
    MalformedJson,
}

/// The state of the OAuth endpoints beside the tokens themselves.
#[derive(Default)]
pub(super) struct Authorizations {
    redirect_uris: HashSet<String>,
    /// Requests shown on a consent page, by the id its form posts back.
    pending: HashMap<String, AuthorizationRequest>,
    codes: HashMap<String, AuthorizationCode>,
    /// The scopes the user allowed the client on the consent page.
    granted_scopes: BTreeSet<String>,
    /// Whether a refresh token was issued for the grant (and not revoked):
    /// until then, a consent with `access_type=offline` yields one.
    offline_granted: bool,
    /// Every token revoked, in order.
    revoked: Vec<String>,
    exchange_faults: VecDeque<TokenFault>,
}

/// A valid authorization request.
#[derive(Clone)]
struct AuthorizationRequest {
    redirect_uri: String,
    /// In request order, without duplicates, `email` and `profile` expanded.
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<Challenge>,
    /// `access_type=offline`.
    offline: bool,
    /// `prompt` contains `consent`.
    prompt_consent: bool,
    /// `prompt=none`.
    prompt_none: bool,
}

/// PKCE (RFC 7636 §4.2–4.3).
#[derive(Clone)]
struct Challenge {
    s256: bool,
    value: String,
}

impl Challenge {
    fn verifies(&self, verifier: &str) -> bool {
        if self.s256 {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == self.value
        } else {
            verifier == self.value
        }
    }
}

struct AuthorizationCode {
    request: AuthorizationRequest,
    expires: Instant,
    /// Decided when the user allowed: offline access on first consent, or
    /// with `prompt=consent`.
    with_refresh_token: bool,
    /// The tokens issued for it, once exchanged.
    redeemed: Option<Vec<String>>,
}

/// Google's "Authorization Error" page, shown instead of redirecting.
struct ErrorPage {
    /// The status Google's page names ("Error 401: invalid_client"); the page
    /// itself is always served with 400.
    shown_status: u16,
    error: &'static str,
    description: String,
}

impl ErrorPage {
    fn new(error: &'static str, description: impl Into<String>) -> ErrorPage {
        ErrorPage {
            shown_status: 400,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> ErrorPage {
        ErrorPage::new("invalid_request", description)
    }

    fn missing(parameter: &str) -> ErrorPage {
        ErrorPage::invalid_request(format!("Missing required parameter: {parameter}"))
    }

    fn invalid_value(parameter: &str, detail: &str) -> ErrorPage {
        ErrorPage::invalid_request(format!("Invalid parameter value for {parameter}: {detail}"))
    }

    /// "Error 400: redirect_uri_mismatch: The redirect URI …".
    fn summary(&self) -> String {
        format!(
            "Error {}: {}: {}",
            self.shown_status, self.error, self.description
        )
    }

    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>Sign in - Google Accounts</title></head>\n<body>\n\
             <h1>Authorization Error</h1>\n\
             <p id=\"error-code\">Error {}: {}</p>\n\
             <p id=\"error-description\">{}</p>\n</body>\n</html>\n",
            self.shown_status,
            self.error,
            escape_html(&self.description)
        );
        html(StatusCode::BAD_REQUEST, body)
    }
}

impl GoogleCalendar {
    /// `{base_url}/o/oauth2/v2/auth`: the authorization endpoint (Google's is
    /// `https://accounts.google.com/o/oauth2/v2/auth`).
    pub fn authorize_url(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.server.origin())
    }

    /// `{base_url}/revoke`: the revocation endpoint (Google's is
    /// `https://oauth2.googleapis.com/revoke`).
    pub fn revoke_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.server.origin())
    }

    /// Registers an authorized redirect URI of [`CLIENT_ID`](Self::CLIENT_ID),
    /// as in the Google Cloud console. The authorization endpoint accepts a
    /// `redirect_uri` only if it is exactly (byte for byte) a registered one.
    ///
    /// # Panics
    ///
    /// If `uri` is not an absolute URL or has a fragment, which the console
    /// refuses too.
    pub fn register_redirect_uri(&self, uri: &str) {
        match Url::parse(uri) {
            Ok(url) if url.fragment().is_none() => {}
            _ => panic!(
                "GoogleCalendar::register_redirect_uri: {uri:?} is not an absolute URL without a fragment"
            ),
        }
        self.lock().oauth.redirect_uris.insert(uri.to_owned());
    }

    /// Does what a browser does with an authorization URL, without HTTP: checks
    /// the request as `GET /o/oauth2/v2/auth` does and, where that would show
    /// the consent page, clicks **Allow** (`allow`) or **Deny**. Returns the
    /// URL the user is redirected to (with `code`, or `error=access_denied`,
    /// or with `prompt=none` possibly `error=consent_required`), or, where
    /// Google shows its error page instead, `Err("Error 400: <error>:
    /// <description>")`. Nothing is recorded as a request.
    ///
    /// What the authorization endpoint checks, in order, each failure being an
    /// error page: `client_id` (present, then known: "Error 401:
    /// invalid_client"); `redirect_uri` (present, then registered with
    /// [`register_redirect_uri`](Self::register_redirect_uri):
    /// `redirect_uri_mismatch`); `response_type` (present, then `code`:
    /// `unsupported_response_type`); `scope` (present, space-separated, each
    /// `openid`, `email`, `profile` or a `https://www.googleapis.com/auth/…`
    /// URL: `invalid_scope`); `access_type` (`online`, the default, or
    /// `offline`); `prompt` (space-separated `consent`, `select_account`, or
    /// `none` alone); `code_challenge` (43–128 characters of
    /// `A–Z a–z 0–9 - . _ ~`) with `code_challenge_method` (`S256` or `plain`,
    /// case-sensitive; `plain` when absent, as RFC 7636 and Google say; a
    /// method without a challenge is refused). `state` is returned as given.
    /// Google shows every one of these failures on its own page rather than
    /// redirecting, so only the user's decision and `prompt=none` reach the
    /// redirect URI with an `error`.
    ///
    /// `prompt=none` skips the consent page: the redirect carries a code if
    /// the user already allowed every requested scope, else
    /// `error=consent_required`.
    pub fn consent(&self, authorization_url: &str, allow: bool) -> Result<String, String> {
        let url = Url::parse(authorization_url)
            .map_err(|error| format!("not an absolute URL ({error}): {authorization_url}"))?;
        if url[..Position::BeforePath] != self.server.origin() || url.path() != AUTHORIZE_PATH {
            return Err(format!(
                "not this stand-in's authorization endpoint ({}): {authorization_url}",
                self.authorize_url()
            ));
        }
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let mut state = self.lock();
        let request = validate(&state.oauth, &params).map_err(|page| page.summary())?;
        if request.prompt_none {
            return Ok(state.authorize_silently(request));
        }
        let location = if allow {
            state.grant(request, "consent")
        } else {
            denied(&request)
        };
        Ok(location)
    }

    /// Makes an authorization code expire now: exchanging it answers
    /// `invalid_grant` from now on. Unknown codes are ignored.
    pub fn expire_authorization_code(&self, code: &str) {
        if let Some(code) = self.lock().oauth.codes.get_mut(code) {
            code.expires = Instant::now();
        }
    }

    /// The next authorization-code exchange at the token endpoint gets `fault`
    /// instead of being served. Faults queue.
    pub fn fail_next_code_exchange(&self, fault: TokenFault) {
        self.lock().oauth.exchange_faults.push_back(fault);
    }

    /// Every token revoked so far, in order: by `POST /revoke`, by
    /// [`revoke_refresh_token`](Self::revoke_refresh_token), or because its
    /// authorization code was replayed. A revocation lists the token it named
    /// first, then the others it took with it (the refresh token and access
    /// tokens of the same grant).
    pub fn revoked_tokens(&self) -> Vec<String> {
        self.lock().oauth.revoked.clone()
    }
}

/// Serves the OAuth endpoints; `None` for any other path.
pub(super) fn route(state: &mut Calendars, req: &RecordedRequest) -> Option<Response> {
    let response = match req.path.as_str() {
        AUTHORIZE_PATH => authorize(state, req),
        CONSENT_PATH => decide(state, req),
        TOKEN_PATH => token(state, req),
        REVOKE_PATH => revoke(state, req),
        _ => return None,
    };
    Some(response)
}

// ---------------------------------------------------------------------------
// Authorization endpoint and consent page.

/// `GET /o/oauth2/v2/auth`.
fn authorize(state: &mut Calendars, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed("GET");
    }
    let params: HashMap<String, String> = req.query_pairs().into_iter().collect();
    let request = match validate(&state.oauth, &params) {
        Ok(request) => request,
        Err(page) => return page.into_response(),
    };
    if request.prompt_none {
        return redirect(&state.authorize_silently(request));
    }
    let id = random_hex::<16>();
    let page = consent_page(&id, &request);
    state.oauth.pending.insert(id, request);
    html(StatusCode::OK, page)
}

/// `POST /o/oauth2/v2/auth/consent`: a button of the consent page.
fn decide(state: &mut Calendars, req: &RecordedRequest) -> Response {
    if req.method != "POST" {
        return method_not_allowed("POST");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    let request = form
        .get("consent_request")
        .and_then(|id| state.oauth.pending.remove(id));
    let Some(request) = request else {
        return ErrorPage::invalid_request(
            "This consent request is unknown or was already answered.",
        )
        .into_response();
    };
    match form.get("decision").map(String::as_str) {
        Some("allow") => redirect(&state.grant(request, "consent")),
        Some("deny") => redirect(&denied(&request)),
        _ => ErrorPage::invalid_request("Missing or invalid decision.").into_response(),
    }
}

/// Checks an authorization request as Google does (see
/// [`GoogleCalendar::consent`]).
fn validate(
    oauth: &Authorizations,
    params: &HashMap<String, String>,
) -> Result<AuthorizationRequest, ErrorPage> {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    let client_id = param("client_id").ok_or_else(|| ErrorPage::missing("client_id"))?;
    if client_id != GoogleCalendar::CLIENT_ID {
        return Err(ErrorPage {
            shown_status: 401,
            ..ErrorPage::new("invalid_client", "The OAuth client was not found.")
        });
    }
    let redirect_uri = param("redirect_uri").ok_or_else(|| ErrorPage::missing("redirect_uri"))?;
    if !oauth.redirect_uris.contains(redirect_uri) {
        return Err(ErrorPage::new(
            "redirect_uri_mismatch",
            format!(
                "The redirect URI in the request, {redirect_uri}, is not one registered for the OAuth client."
            ),
        ));
    }
    match param("response_type") {
        None => return Err(ErrorPage::missing("response_type")),
        Some("code") => {}
        Some(other) => {
            return Err(ErrorPage::new(
                "unsupported_response_type",
                format!("Unsupported response_type: {other}"),
            ));
        }
    }
    let scopes = parse_scopes(param("scope").ok_or_else(|| ErrorPage::missing("scope"))?)?;
    let offline = match param("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(ErrorPage::invalid_value(
                "access_type",
                &format!("'{other}' is not one of online, offline"),
            ));
        }
    };
    let prompts: Vec<&str> = param("prompt").unwrap_or("").split_whitespace().collect();
    if let Some(other) = prompts
        .iter()
        .find(|p| !matches!(**p, "none" | "consent" | "select_account"))
    {
        return Err(ErrorPage::invalid_value(
            "prompt",
            &format!("'{other}' is not one of none, consent, select_account"),
        ));
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(ErrorPage::invalid_value(
            "prompt",
            "none cannot be combined with other values",
        ));
    }
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => return Err(ErrorPage::missing("code_challenge")),
        (Some(value), method) => {
            let s256 = match method {
                None | Some("plain") => false,
                Some("S256") => true,
                Some(other) => {
                    return Err(ErrorPage::invalid_value(
                        "code_challenge_method",
                        &format!("'{other}' is not a valid CodeChallengeMethod"),
                    ));
                }
            };
            if !is_pkce_string(value) {
                return Err(ErrorPage::invalid_value(
                    "code_challenge",
                    "must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'",
                ));
            }
            Some(Challenge {
                s256,
                value: value.to_owned(),
            })
        }
    };
    Ok(AuthorizationRequest {
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.get("state").cloned(),
        challenge,
        offline,
        prompt_consent: prompts.contains(&"consent"),
        prompt_none,
    })
}

/// Splits `scope` and checks each: the OpenID Connect names or a Google API
/// scope URL. `email` and `profile` become the URLs Google reports them as.
fn parse_scopes(scope: &str) -> Result<Vec<String>, ErrorPage> {
    let mut scopes: Vec<String> = Vec::new();
    let mut invalid = Vec::new();
    for name in scope.split_whitespace() {
        let granted = match name {
            "openid" => name,
            "email" => EMAIL_SCOPE,
            "profile" => PROFILE_SCOPE,
            _ if name
                .strip_prefix("https://www.googleapis.com/auth/")
                .is_some_and(|rest| !rest.is_empty()) =>
            {
                name
            }
            _ => {
                invalid.push(name);
                continue;
            }
        };
        if !scopes.iter().any(|s| s == granted) {
            scopes.push(granted.to_owned());
        }
    }
    if !invalid.is_empty() {
        return Err(ErrorPage::new(
            "invalid_scope",
            format!(
                "Some requested scopes were invalid. {{invalid=[{}]}}",
                invalid.join(", ")
            ),
        ));
    }
    if scopes.is_empty() {
        return Err(ErrorPage::missing("scope"));
    }
    Ok(scopes)
}

/// RFC 7636 §4.1–4.2: `code_verifier` and `code_challenge` are both
/// 43–128 characters of the unreserved set.
fn is_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn consent_page(id: &str, request: &AuthorizationRequest) -> String {
    let scopes: String = request
        .scopes
        .iter()
        .map(|scope| format!("<li>{}</li>\n", escape_html(scope)))
        .collect();
    let offline = if request.offline {
        "<p id=\"offline\">It will keep this access when you are not using it.</p>\n"
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>Sign in - Google Accounts</title></head>\n<body>\n\
         <h1><span id=\"client\">{client}</span> wants access to your Google Account</h1>\n\
         <p id=\"account\">{account}</p>\n\
         <ul id=\"scopes\">\n{scopes}</ul>\n{offline}\
         <form method=\"post\" action=\"{CONSENT_PATH}\">\n\
         <input type=\"hidden\" name=\"consent_request\" value=\"{id}\">\n\
         <button type=\"submit\" id=\"submit_deny_access\" name=\"decision\" value=\"deny\">Deny</button>\n\
         <button type=\"submit\" id=\"submit_approve_access\" name=\"decision\" value=\"allow\">Allow</button>\n\
         </form>\n</body>\n</html>\n",
        client = escape_html(GoogleCalendar::CLIENT_ID),
        account = escape_html(GoogleCalendar::OWNER_EMAIL),
    )
}

impl Calendars {
    /// The user allowed `request`: records the grant, issues a code and
    /// returns where the user goes next. `prompt` is what Google reports it
    /// showed (`consent` or `none`).
    fn grant(&mut self, request: AuthorizationRequest, prompt: &str) -> String {
        let oauth = &mut self.oauth;
        // Google returns a refresh token the first time the user grants
        // offline access, or again when `prompt=consent` forces the consent
        // page. "First" is until the grant's refresh tokens are revoked.
        let with_refresh_token =
            request.offline && (request.prompt_consent || !oauth.offline_granted);
        oauth.granted_scopes.extend(request.scopes.iter().cloned());
        let code = format!("4/0canary-{}", random_hex::<24>());
        let scope = request.scopes.join(" ");
        let mut pairs = Vec::new();
        if let Some(state) = &request.state {
            pairs.push(("state", state.as_str()));
        }
        pairs.extend([
            ("code", code.as_str()),
            ("scope", scope.as_str()),
            ("authuser", "0"),
            ("prompt", prompt),
        ]);
        let location = redirect_location(&request.redirect_uri, &pairs);
        oauth.codes.insert(
            code,
            AuthorizationCode {
                request,
                expires: Instant::now() + CODE_LIFETIME,
                with_refresh_token,
                redeemed: None,
            },
        );
        location
    }

    /// `prompt=none`: a code if every requested scope was granted before, else
    /// `error=consent_required` (the user is always signed in).
    fn authorize_silently(&mut self, request: AuthorizationRequest) -> String {
        let granted = &self.oauth.granted_scopes;
        if request.scopes.iter().all(|scope| granted.contains(scope)) {
            self.grant(request, "none")
        } else {
            error_location(&request, "consent_required")
        }
    }
}

fn denied(request: &AuthorizationRequest) -> String {
    error_location(request, "access_denied")
}

fn error_location(request: &AuthorizationRequest, error: &str) -> String {
    let mut pairs = vec![("error", error)];
    if let Some(state) = &request.state {
        pairs.push(("state", state.as_str()));
    }
    redirect_location(&request.redirect_uri, &pairs)
}

/// The redirect URI with `pairs` appended to its query.
fn redirect_location(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse(redirect_uri).expect("registered redirect URIs are absolute URLs");
    url.query_pairs_mut().extend_pairs(pairs);
    url.into()
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .header(
            header::CACHE_CONTROL,
            "no-cache, no-store, max-age=0, must-revalidate",
        )
        .body(Body::empty())
        .expect("redirect response")
}

fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            header::CACHE_CONTROL,
            "no-cache, no-store, max-age=0, must-revalidate",
        )
        .body(Body::from(body))
        .expect("HTML response")
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn method_not_allowed(allow: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(header::ALLOW, allow)
        .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
        .body(Body::from("<p>Error 405 (Method Not Allowed)!!1</p>"))
        .expect("405 response")
}

// ---------------------------------------------------------------------------
// Token endpoint.

fn token(state: &mut Calendars, req: &RecordedRequest) -> Response {
    if req.method != "POST" {
        return method_not_allowed("POST");
    }
    let params = token_params(req);
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();

    let exchange = match param("grant_type").as_deref() {
        Some("authorization_code") => true,
        Some("refresh_token") => false,
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {}", other.unwrap_or("")),
            );
        }
    };
    if exchange && let Some(fault) = state.oauth.exchange_faults.pop_front() {
        return fault_response(fault);
    }

    // Client authentication: HTTP Basic or the body, not two different ones.
    let basic = req.header("authorization").and_then(basic_credentials);
    let (client_id, client_secret) = match (basic, param("client_id")) {
        (Some((id, secret)), None) => (Some(id), Some(secret)),
        (Some((id, secret)), Some(body_id)) if body_id == id => (Some(id), Some(secret)),
        (Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id in the request body does not match the one in the Authorization header.",
            );
        }
        (None, body_id) => (body_id, param("client_secret")),
    };
    let Some(client_id) = client_id else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Could not determine client ID from request.",
        );
    };
    if client_id != GoogleCalendar::CLIENT_ID {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if client_secret.as_deref() != Some(GoogleCalendar::CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }

    if exchange {
        exchange_code(state, &param)
    } else {
        refresh(state, &param)
    }
}

/// `grant_type=refresh_token`.
fn refresh(state: &mut Calendars, param: &dyn Fn(&str) -> Option<String>) -> Response {
    let Some(refresh_token) = param("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let Some(refresh) = state.refresh_tokens.get(&refresh_token) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    let scope = refresh.scope.clone();
    let consented = refresh.consented;
    let access_token = new_access_token();
    state.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            expires: Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS),
            refresh_token: Some(refresh_token),
            scope: scope.clone(),
            consented,
        },
    );
    state.refreshed.push(access_token.clone());
    token_json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": scope,
            "token_type": "Bearer",
        }),
    )
}

/// `grant_type=authorization_code`. A code is single-use: exchanging it again
/// answers `invalid_grant` and revokes what the first exchange issued (RFC
/// 6749 §4.1.2). A request refused for its `redirect_uri` or `code_verifier`
/// leaves the code unused (Google does not document whether it burns it).
fn exchange_code(state: &mut Calendars, param: &dyn Fn(&str) -> Option<String>) -> Response {
    let invalid_grant =
        |description: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description);
    let Some(code) = param("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: code",
        );
    };
    let Some(entry) = state.oauth.codes.get(&code) else {
        return invalid_grant("Malformed auth code.");
    };
    if let Some(issued) = entry.redeemed.clone() {
        let mut replayed = Vec::new();
        for token in &issued {
            replayed.extend(state.with_access_tokens(token));
        }
        state.forget(replayed);
        return invalid_grant("Bad Request");
    }
    if Instant::now() >= entry.expires {
        return invalid_grant("Bad Request");
    }
    let Some(redirect_uri) = param("redirect_uri") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: redirect_uri",
        );
    };
    if redirect_uri != entry.request.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "Bad Request",
        );
    }
    match (&entry.request.challenge, param("code_verifier")) {
        (None, None) => {}
        (Some(_), None) => return invalid_grant("Missing code verifier."),
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_string(&verifier) || !challenge.verifies(&verifier) {
                return invalid_grant("Invalid code verifier.");
            }
        }
        // RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade.
        (None, Some(_)) => {
            return invalid_grant(
                "Code verifier sent, but the authorization request had no code challenge.",
            );
        }
    }

    let scope = entry.request.scopes.join(" ");
    let refresh_token = entry.with_refresh_token.then(new_refresh_token);
    let access_token = new_access_token();
    let mut issued = vec![access_token.clone()];
    if let Some(refresh_token) = &refresh_token {
        state.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshToken {
                scope: scope.clone(),
                consented: true,
            },
        );
        state.oauth.offline_granted = true;
        issued.push(refresh_token.clone());
    }
    state.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            expires: Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS),
            refresh_token: refresh_token.clone(),
            scope: scope.clone(),
            consented: true,
        },
    );
    if let Some(entry) = state.oauth.codes.get_mut(&code) {
        entry.redeemed = Some(issued);
    }
    let mut body = json!({
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": scope,
        "token_type": "Bearer",
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    token_json(StatusCode::OK, &body)
}

fn fault_response(fault: TokenFault) -> Response {
    match fault {
        TokenFault::InvalidClient => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized")
        }
        TokenFault::MalformedJson => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from(r#"{"access_token":"ya29.canary-"#))
            .expect("malformed response"),
        TokenFault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.as_u16() < 400 {
                Response::builder()
                    .status(status)
                    .body(Body::empty())
                    .expect("fault response")
            } else if status.is_server_error() {
                oauth_error(status, "internal_failure", "Internal Failure")
            } else {
                oauth_error(status, "invalid_request", "Bad Request")
            }
        }
    }
}

/// The token request's parameters: form-encoded (RFC 6749) or, as Google also
/// accepts, a JSON object.
fn token_params(req: &RecordedRequest) -> HashMap<String, String> {
    let is_json = req.header("content-type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if is_json {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&req.body) else {
            return HashMap::new();
        };
        return object
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
    }
    form_urlencoded::parse(&req.body).into_owned().collect()
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    token_json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn token_json(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            header::CACHE_CONTROL,
            "no-cache, no-store, max-age=0, must-revalidate",
        )
        .header(header::PRAGMA, "no-cache")
        .body(Body::from(
            serde_json::to_vec(value).expect("serialize JSON"),
        ))
        .expect("token response")
}

// ---------------------------------------------------------------------------
// Revocation endpoint.

/// `POST /revoke` with `token` in the form body or the query, no client
/// authentication (Google needs none): 200 `{}`, or 400 `invalid_token` for a
/// token that is unknown, expired or already revoked.
fn revoke(state: &mut Calendars, req: &RecordedRequest) -> Response {
    if req.method != "POST" {
        return method_not_allowed("POST");
    }
    let token = token_params(req)
        .remove("token")
        .or_else(|| req.query_param("token"))
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Bad Request");
    };
    if state.revoke(&token) {
        token_json(StatusCode::OK, &json!({}))
    } else {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        )
    }
}

impl Calendars {
    /// Revokes a live token, as `POST /revoke` does; `false` if it is not one.
    /// A token of the consent grant takes the whole grant with it (every
    /// token issued through the consent page, and the granted scopes); any
    /// other token takes its refresh token and that one's access tokens.
    pub(super) fn revoke(&mut self, token: &str) -> bool {
        let (consented, refresh_token) = if let Some(refresh) = self.refresh_tokens.get(token) {
            (refresh.consented, Some(token.to_owned()))
        } else if let Some(access) = self
            .access_tokens
            .get(token)
            .filter(|access| Instant::now() < access.expires)
        {
            (access.consented, access.refresh_token.clone())
        } else {
            return false;
        };
        let mut gone = vec![token.to_owned()];
        if consented {
            gone.extend(
                self.refresh_tokens
                    .iter()
                    .filter(|(_, refresh)| refresh.consented)
                    .map(|(token, _)| token.clone()),
            );
            gone.extend(
                self.access_tokens
                    .iter()
                    .filter(|(_, access)| access.consented)
                    .map(|(token, _)| token.clone()),
            );
            self.oauth.granted_scopes.clear();
            self.oauth.offline_granted = false;
        } else if let Some(refresh_token) = refresh_token {
            gone.extend(self.with_access_tokens(&refresh_token));
        }
        self.forget(gone);
        true
    }

    /// `token`, and if it is a refresh token, the access tokens obtained with it.
    fn with_access_tokens(&self, token: &str) -> Vec<String> {
        let mut tokens = vec![token.to_owned()];
        tokens.extend(
            self.access_tokens
                .iter()
                .filter(|(_, access)| access.refresh_token.as_deref() == Some(token))
                .map(|(access, _)| access.clone()),
        );
        tokens
    }

    /// Removes tokens, recording each one that existed as revoked, once.
    fn forget(&mut self, tokens: Vec<String>) {
        for token in tokens {
            let existed = self.refresh_tokens.remove(&token).is_some()
                | self.access_tokens.remove(&token).is_some();
            if existed {
                self.oauth.revoked.push(token);
            }
        }
    }
}
