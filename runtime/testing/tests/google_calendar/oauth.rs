//! Google's OAuth 2.0 authorization-code flow (PKCE, consent page, code
//! exchange) and token revocation, driven over real HTTP.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::json;
use url::Url;
use warden_testing::{GoogleCalendar, TokenFault};

use super::{events_url, form, refresh};
use crate::common::{Reply, get, get_auth, send, send_json};

const REDIRECT: &str = "http://127.0.0.1:7/oauth/google/callback";
const OTHER_REDIRECT: &str = "http://127.0.0.1:7/elsewhere";
const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
/// RFC 7636 Appendix B: this verifier's S256 challenge is `CHALLENGE`.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Well-formed, but not `VERIFIER`.
const OTHER_VERIFIER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn start() -> GoogleCalendar {
    let gc = GoogleCalendar::start().await;
    gc.register_redirect_uri(REDIRECT);
    gc
}

/// An authorization URL with PKCE (S256), offline access and a state;
/// `changes` replace (or, with an empty value, remove) parameters.
fn auth_url(gc: &GoogleCalendar, changes: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", CALENDAR),
        ("state", "st-1/+="),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ];
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    format!("{}?{}", gc.authorize_url(), form(&params))
}

/// Parameters to replace in [`auth_url`].
type Changes<'a> = &'a [(&'a str, &'a str)];

/// Opens the consent page and returns the id its form posts back.
async fn open_consent(url: &str) -> String {
    let reply = get(url, &[]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = text(&reply);
    let marker = "name=\"consent_request\" value=\"";
    let start = page.find(marker).expect("consent request id") + marker.len();
    let end = start + page[start..].find('"').expect("end of id");
    page[start..end].to_owned()
}

/// Clicks a consent page button the way its form posts.
async fn click(gc: &GoogleCalendar, id: &str, decision: &str) -> Reply {
    let url = format!("{}/consent", gc.authorize_url());
    let body = form(&[("consent_request", id), ("decision", decision)]);
    send("POST", &url, &[FORM], body).await
}

/// The redirect's target without its query, and its query parameters.
fn redirected(reply: &Reply) -> (String, HashMap<String, String>) {
    assert_eq!(reply.status, 302, "{}", text(reply));
    location(reply.header("location").expect("Location"))
}

fn location(location: &str) -> (String, HashMap<String, String>) {
    let url = Url::parse(location).expect("absolute Location");
    let params = url.query_pairs().into_owned().collect();
    (url[..url::Position::AfterPath].to_owned(), params)
}

/// Opens the consent page for `url`, clicks Allow, and returns the code.
async fn allow(gc: &GoogleCalendar, url: &str) -> String {
    let id = open_consent(url).await;
    let (_, params) = redirected(&click(gc, &id, "allow").await);
    params["code"].clone()
}

async fn exchange(
    gc: &GoogleCalendar,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Reply {
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", GoogleCalendar::CLIENT_ID),
        ("client_secret", GoogleCalendar::CLIENT_SECRET),
    ];
    if let Some(verifier) = verifier {
        params.push(("code_verifier", verifier));
    }
    send("POST", &gc.token_url(), &[FORM], form(&params)).await
}

async fn revoke(gc: &GoogleCalendar, token: &str) -> Reply {
    send("POST", &gc.revoke_url(), &[FORM], form(&[("token", token)])).await
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn assert_oauth_error(reply: &Reply, status: u16, error: &str, description: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", text(reply));
    assert_eq!(
        reply.json(),
        json!({"error": error, "error_description": description})
    );
}

/// Google's error page: 400, HTML naming the error, and no redirect.
fn assert_error_page(reply: &Reply, shown: &str, description: &str) {
    assert_eq!(reply.status, 400, "{}", text(reply));
    assert_eq!(reply.header("location"), None);
    let page = text(reply);
    assert!(page.contains(shown), "{shown:?} not in {page}");
    assert!(page.contains(description), "{description:?} not in {page}");
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_yields_working_tokens() {
    let gc = start().await;
    let url = auth_url(&gc, &[]);

    let reply = get(&url, &[]).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let page = text(&reply);
    for needed in [
        GoogleCalendar::CLIENT_ID,
        GoogleCalendar::OWNER_EMAIL,
        CALENDAR,
        "id=\"submit_approve_access\"",
        ">Allow</button>",
        "id=\"submit_deny_access\"",
        ">Deny</button>",
        "action=\"/o/oauth2/v2/auth/consent\"",
    ] {
        assert!(page.contains(needed), "{needed:?} not in {page}");
    }
    let id = open_consent(&url).await;

    let (target, params) = redirected(&click(&gc, &id, "allow").await);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["state"], "st-1/+=");
    assert_eq!(params["scope"], CALENDAR);
    let code = &params["code"];
    assert!(code.starts_with("4/"), "{code}");

    let reply = exchange(&gc, code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], CALENDAR);
    let access = body["access_token"].as_str().expect("access_token");
    let refresh_token = body["refresh_token"].as_str().expect("refresh_token");
    assert!(access.starts_with("ya29."));
    assert!(refresh_token.starts_with("1//"));

    let reply = get_auth(&events_url(&gc, "primary"), access).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = refresh(&gc, refresh_token).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(reply.json()["scope"], CALENDAR);
    let refreshed = reply.json()["access_token"].as_str().unwrap().to_owned();
    let reply = get_auth(&events_url(&gc, "primary"), &refreshed).await;
    assert_eq!(reply.status, 200);
    assert_eq!(gc.refreshed_access_tokens(), vec![refreshed]);

    let paths: Vec<String> = gc.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        &paths[..4],
        [
            "/o/oauth2/v2/auth",
            "/o/oauth2/v2/auth",
            "/o/oauth2/v2/auth/consent",
            "/token"
        ]
    );
}

#[tokio::test]
async fn a_missing_or_wrong_code_verifier_is_invalid_grant() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;

    let reply = exchange(&gc, &code, REDIRECT, None).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Missing code verifier.");
    let reply = exchange(&gc, &code, REDIRECT, Some(OTHER_VERIFIER)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Invalid code verifier.");
    // The challenge itself is not the verifier under S256.
    let reply = exchange(&gc, &code, REDIRECT, Some(CHALLENGE)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Invalid code verifier.");
    // Too short to be a verifier at all.
    let reply = exchange(&gc, &code, REDIRECT, Some("abc")).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Invalid code verifier.");

    // Refused exchanges leave the code usable.
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn plain_challenges_and_requests_without_pkce() {
    let gc = start().await;

    // No method means plain: the verifier is the challenge.
    let code = allow(&gc, &auth_url(&gc, &[("code_challenge_method", "")])).await;
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Invalid code verifier.");
    let reply = exchange(&gc, &code, REDIRECT, Some(CHALLENGE)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));

    let url = auth_url(
        &gc,
        &[
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ],
    );
    let code = allow(&gc, &url).await;
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));

    // Without PKCE no verifier is wanted, and one sent is refused.
    let url = auth_url(
        &gc,
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    let code = allow(&gc, &url).await;
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_grant");
    let reply = exchange(&gc, &code, REDIRECT, None).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;
    let first = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await.json();
    let access = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let reply = refresh(&gc, refresh_token).await;
    let refreshed = reply.json()["access_token"].as_str().unwrap().to_owned();

    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Bad Request");

    for token in [access, refreshed.as_str()] {
        let reply = get_auth(&events_url(&gc, "primary"), token).await;
        assert_eq!(reply.status, 401, "{token} still works");
    }
    let reply = refresh(&gc, refresh_token).await;
    assert_oauth_error(
        &reply,
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
    );
    let revoked = gc.revoked_tokens();
    for token in [access, refresh_token, refreshed.as_str()] {
        assert!(revoked.iter().any(|t| t == token), "{token} not revoked");
    }
}

#[tokio::test]
async fn the_exchange_needs_the_authorization_requests_redirect_uri() {
    let gc = start().await;
    gc.register_redirect_uri(OTHER_REDIRECT);
    let code = allow(&gc, &auth_url(&gc, &[])).await;

    let reply = exchange(&gc, &code, OTHER_REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "redirect_uri_mismatch", "Bad Request");
    let reply = exchange(&gc, &code, &format!("{REDIRECT}/"), Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "redirect_uri_mismatch", "Bad Request");
    let reply = exchange(&gc, &code, "", Some(VERIFIER)).await;
    assert_oauth_error(
        &reply,
        400,
        "invalid_request",
        "Missing parameter: redirect_uri",
    );

    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let gc = start().await;
    let stranger = "https://attacker.example/callback";
    let url = auth_url(&gc, &[("redirect_uri", stranger)]);

    let reply = get(&url, &[]).await;
    assert_error_page(&reply, "Error 400: redirect_uri_mismatch", stranger);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    // A registered URI differing only by a trailing slash is another URI.
    let reply = get(
        &auth_url(
            &gc,
            &[("redirect_uri", "http://127.0.0.1:7/oauth/google/callback/")],
        ),
        &[],
    )
    .await;
    assert_error_page(&reply, "Error 400: redirect_uri_mismatch", "callback/");

    let refused = gc
        .consent(&url, true)
        .expect_err("unregistered redirect URI");
    assert!(
        refused.starts_with("Error 400: redirect_uri_mismatch: "),
        "{refused}"
    );
}

#[tokio::test]
async fn malformed_authorization_requests_get_error_pages() {
    let gc = start().await;
    // (parameter changes, error shown, part of the description)
    let cases: &[(Changes, &str, &str)] = &[
        (
            &[("client_id", "")],
            "Error 400: invalid_request",
            "Missing required parameter: client_id",
        ),
        (
            &[("client_id", "someone-else.apps.googleusercontent.com")],
            "Error 401: invalid_client",
            "The OAuth client was not found.",
        ),
        (
            &[("redirect_uri", "")],
            "Error 400: invalid_request",
            "Missing required parameter: redirect_uri",
        ),
        (
            &[("response_type", "")],
            "Error 400: invalid_request",
            "Missing required parameter: response_type",
        ),
        (
            &[("response_type", "token")],
            "Error 400: unsupported_response_type",
            "token",
        ),
        (
            &[("scope", "")],
            "Error 400: invalid_request",
            "Missing required parameter: scope",
        ),
        (
            &[("scope", "calendar openid")],
            "Error 400: invalid_scope",
            "{invalid=[calendar]}",
        ),
        (
            &[("code_challenge_method", "s256")],
            "Error 400: invalid_request",
            "Invalid parameter value for code_challenge_method: &#39;s256&#39; is not a valid CodeChallengeMethod",
        ),
        (
            &[("code_challenge", "")],
            "Error 400: invalid_request",
            "Missing required parameter: code_challenge",
        ),
        (
            &[("code_challenge", "too-short")],
            "Error 400: invalid_request",
            "Invalid parameter value for code_challenge",
        ),
        (
            &[("access_type", "forever")],
            "Error 400: invalid_request",
            "Invalid parameter value for access_type",
        ),
        (
            &[("prompt", "none consent")],
            "Error 400: invalid_request",
            "Invalid parameter value for prompt",
        ),
        (
            &[("prompt", "login")],
            "Error 400: invalid_request",
            "Invalid parameter value for prompt",
        ),
    ];
    for (changes, shown, description) in cases {
        let url = auth_url(&gc, changes);
        let reply = get(&url, &[]).await;
        assert_error_page(&reply, shown, description);
        let refused = gc.consent(&url, true).expect_err(shown);
        assert!(refused.starts_with(shown), "{refused}");
    }
    // Nothing was issued for any of them.
    assert!(gc.requests().iter().all(|r| r.path == "/o/oauth2/v2/auth"));
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    let gc = start().await;
    let id = open_consent(&auth_url(&gc, &[])).await;
    let (target, params) = redirected(&click(&gc, &id, "deny").await);
    assert_eq!(target, REDIRECT);
    assert_eq!(
        params,
        HashMap::from([
            ("error".to_owned(), "access_denied".to_owned()),
            ("state".to_owned(), "st-1/+=".to_owned()),
        ])
    );

    // A consent page is answered once.
    let reply = click(&gc, &id, "allow").await;
    assert_error_page(&reply, "Error 400: invalid_request", "already answered");
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_the_grant() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;
    let tokens = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await.json();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let reply = revoke(&gc, refresh_token).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = get_auth(&events_url(&gc, "primary"), access).await;
    assert_eq!(reply.status, 401);
    let reply = refresh(&gc, refresh_token).await;
    assert_eq!(reply.json()["error"], "invalid_grant");
    let revoked = gc.revoked_tokens();
    assert_eq!(revoked.first().map(String::as_str), Some(refresh_token));
    assert!(revoked.iter().any(|t| t == access));

    let reply = revoke(&gc, refresh_token).await;
    assert_oauth_error(&reply, 400, "invalid_token", "Token expired or revoked");
    let reply = revoke(&gc, "1//never-issued").await;
    assert_oauth_error(&reply, 400, "invalid_token", "Token expired or revoked");
    let reply = send("POST", &gc.revoke_url(), &[FORM], "").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    let reply = get(&format!("{}?token={access}", gc.revoke_url()), &[]).await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_refresh_token() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;
    let tokens = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await.json();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    // The token in the query, as Google's own example sends it.
    let url = format!("{}?{}", gc.revoke_url(), form(&[("token", access)]));
    let reply = send("POST", &url, &[FORM], "").await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = refresh(&gc, refresh_token).await;
    assert_eq!(reply.json()["error"], "invalid_grant");
    assert_eq!(gc.revoked_tokens()[0], access);

    // Tokens issued outside the consent page stand alone.
    let seeded = gc.issue_access_token(std::time::Duration::from_secs(600));
    let other = gc.issue_access_token(std::time::Duration::from_secs(600));
    assert_eq!(revoke(&gc, &seeded).await.status, 200);
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &seeded).await.status,
        401
    );
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &other).await.status,
        200
    );
    // A seeded refresh token takes its own access tokens only.
    let seeded_refresh = gc.issue_refresh_token();
    let reply = refresh(&gc, &seeded_refresh).await;
    let refreshed = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(&gc, &seeded_refresh).await.status, 200);
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &refreshed)
            .await
            .status,
        401
    );
    assert_eq!(
        get_auth(&events_url(&gc, "primary"), &other).await.status,
        200
    );
}

#[tokio::test]
async fn a_refresh_token_comes_with_the_first_offline_consent_or_prompt_consent() {
    let gc = start().await;
    let tokens = |reply: Reply| reply.json();

    let online = allow(&gc, &auth_url(&gc, &[("access_type", "")])).await;
    let body = tokens(exchange(&gc, &online, REDIRECT, Some(VERIFIER)).await);
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());

    let first = allow(&gc, &auth_url(&gc, &[])).await;
    let body = tokens(exchange(&gc, &first, REDIRECT, Some(VERIFIER)).await);
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("first offline consent")
        .to_owned();

    let again = allow(&gc, &auth_url(&gc, &[])).await;
    let body = tokens(exchange(&gc, &again, REDIRECT, Some(VERIFIER)).await);
    assert!(body.get("refresh_token").is_none(), "{body}");

    let forced = allow(&gc, &auth_url(&gc, &[("prompt", "consent")])).await;
    let body = tokens(exchange(&gc, &forced, REDIRECT, Some(VERIFIER)).await);
    assert!(body["refresh_token"].is_string(), "{body}");

    // Once the grant is revoked, the next offline consent is a first one.
    assert_eq!(revoke(&gc, &refresh_token).await.status, 200);
    let after = allow(&gc, &auth_url(&gc, &[])).await;
    let body = tokens(exchange(&gc, &after, REDIRECT, Some(VERIFIER)).await);
    assert!(body["refresh_token"].is_string(), "{body}");
}

#[tokio::test]
async fn prompt_none_needs_an_earlier_consent() {
    let gc = start().await;
    let silent = auth_url(&gc, &[("prompt", "none")]);

    let reply = get(&silent, &[]).await;
    let (target, params) = redirected(&reply);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["error"], "consent_required");
    assert_eq!(params["state"], "st-1/+=");

    allow(&gc, &auth_url(&gc, &[])).await;
    let (_, params) = redirected(&get(&silent, &[]).await);
    assert_eq!(params["prompt"], "none");
    let reply = exchange(&gc, &params["code"], REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn an_expired_or_unknown_code_is_invalid_grant() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;
    gc.expire_authorization_code(&code);
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Bad Request");

    let reply = exchange(&gc, "4/0never-issued", REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 400, "invalid_grant", "Malformed auth code.");
    let reply = exchange(&gc, "", REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(
        &reply,
        400,
        "invalid_request",
        "Missing required parameter: code",
    );
}

#[tokio::test]
async fn the_exchange_authenticates_the_client() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;
    let body = |secret: &str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", GoogleCalendar::CLIENT_ID),
            ("client_secret", secret),
        ])
    };
    let reply = send("POST", &gc.token_url(), &[FORM], body("wrong")).await;
    assert_oauth_error(&reply, 401, "invalid_client", "Unauthorized");

    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        GoogleCalendar::CLIENT_ID,
        GoogleCalendar::CLIENT_SECRET
    ));
    let auth = format!("Basic {basic}");
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    let reply = send(
        "POST",
        &gc.token_url(),
        &[FORM, ("authorization", &auth)],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}

#[tokio::test]
async fn injected_faults_fail_the_next_code_exchange_only() {
    let gc = start().await;
    let code = allow(&gc, &auth_url(&gc, &[])).await;

    gc.fail_next_code_exchange(TokenFault::Status(500));
    gc.fail_next_code_exchange(TokenFault::InvalidClient);
    gc.fail_next_code_exchange(TokenFault::MalformedJson);
    // The refresh-token grant is not faulted.
    let seeded = gc.issue_refresh_token();
    assert_eq!(refresh(&gc, &seeded).await.status, 200);

    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 500, "internal_failure", "Internal Failure");
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_oauth_error(&reply, 401, "invalid_client", "Unauthorized");
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());

    // The faulted exchanges did not use the code up.
    let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert!(reply.json()["access_token"].is_string());
}

#[tokio::test]
async fn the_consent_helper_does_what_the_browser_does() {
    let gc = start().await;
    let url = auth_url(&gc, &[]);

    let denied = gc.consent(&url, false).expect("denied");
    let (target, params) = location(&denied);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["error"], "access_denied");

    let allowed = gc.consent(&url, true).expect("allowed");
    let (target, params) = location(&allowed);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["state"], "st-1/+=");
    let reply = exchange(&gc, &params["code"], REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));

    let elsewhere = url.replace("/o/oauth2/v2/auth", "/o/oauth2/auth");
    assert!(gc.consent(&elsewhere, true).is_err());
    // No HTTP request was made.
    assert!(gc.requests().iter().all(|r| r.path == "/token"));
}

#[tokio::test]
async fn the_calendar_api_checks_the_granted_scopes() {
    let gc = start().await;
    let token_for = async |scope: &str| {
        let code = allow(&gc, &auth_url(&gc, &[("scope", scope)])).await;
        let reply = exchange(&gc, &code, REDIRECT, Some(VERIFIER)).await;
        reply.json()["access_token"].as_str().unwrap().to_owned()
    };
    let event = json!({
        "summary": "Call",
        "start": {"dateTime": "2026-03-10T10:00:00Z"},
        "end": {"dateTime": "2026-03-10T10:30:00Z"},
    });
    let free_busy = format!("{}/calendar/v3/freeBusy", gc.base_url());
    let window = json!({
        "timeMin": "2026-03-10T09:00:00Z",
        "timeMax": "2026-03-10T18:00:00Z",
        "items": [{"id": "primary"}],
    });

    let identity = token_for("openid email").await;
    let reply = get_auth(&events_url(&gc, "primary"), &identity).await;
    assert_eq!(reply.status, 403, "{}", text(&reply));
    assert_eq!(
        reply.json()["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );

    let read_only = token_for(&format!("{CALENDAR}.readonly")).await;
    let reply = get_auth(&events_url(&gc, "primary"), &read_only).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = send_json("POST", &free_busy, &read_only, &window).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let reply = send_json("POST", &events_url(&gc, "primary"), &read_only, &event).await;
    assert_eq!(reply.status, 403, "{}", text(&reply));

    let events_only = token_for(&format!("{CALENDAR}.events")).await;
    let reply = send_json("POST", &events_url(&gc, "primary"), &events_only, &event).await;
    assert_eq!(reply.status, 200, "{}", text(&reply));
}
