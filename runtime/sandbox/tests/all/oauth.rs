//! OAuth2 refresh by the host, with the Google Calendar tool against the
//! local Google stand-in.

use crate::*;
use secrecy::ExposeSecret;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_sandbox::{ErrorKind, HostPattern, HttpGrants, Origin, RefreshedToken, TokenCallback};
use warden_testing::{Fault, GoogleCalendar};
use warden_tool_artifacts as artifacts;

struct Setup {
    google: GoogleCalendar,
    refresh_token: String,
}

impl Setup {
    async fn new() -> Setup {
        let google = GoogleCalendar::start().await;
        let refresh_token = google.issue_refresh_token();
        Setup {
            google,
            refresh_token,
        }
    }

    /// A `list_events` call with `access_token` (and its expiry, if any).
    fn call(&self, access_token: &str, expires_at: Option<SystemTime>) -> Call {
        let mut c = call("list_events", json!({}));
        c.env.context.config = json!({ "api_base": self.google.base_url() });
        let origin: HostPattern = self.google.origin().parse().unwrap();
        c.env.http = HttpGrants {
            allow_hosts: vec![origin.clone()],
            credential_hosts: vec![("access_token".into(), origin)],
            allow_private_network: true,
            oauth_token_url: Some(self.google.token_url()),
            ..HttpGrants::default()
        };
        let mut pairs = vec![
            ("access_token", access_token.to_owned()),
            ("refresh_token", self.refresh_token.clone()),
            ("client_id", GoogleCalendar::CLIENT_ID.to_owned()),
            ("client_secret", GoogleCalendar::CLIENT_SECRET.to_owned()),
        ];
        if let Some(at) = expires_at {
            let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
            pairs.push(("access_token_expires_at", secs.to_string()));
        }
        c.env.secrets = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), SecretString::from(v)))
            .collect();
        c
    }

    /// Every secret this setup handed out or the stand-in issued.
    fn secrets(&self) -> Vec<String> {
        let mut all = vec![
            self.refresh_token.clone(),
            GoogleCalendar::CLIENT_SECRET.to_owned(),
        ];
        all.extend(self.google.refreshed_access_tokens());
        all
    }
}

fn capture() -> (TokenCallback, Arc<Mutex<Vec<RefreshedToken>>>) {
    let seen: Arc<Mutex<Vec<RefreshedToken>>> = Arc::default();
    let callback = TokenCallback::new({
        let seen = seen.clone();
        move |token| seen.lock().unwrap().push(token)
    });
    (callback, seen)
}

fn assert_no_secret(outcome: &CallOutcome, secrets: &[String]) {
    let all = format!("{:?}\n{:?}", outcome.result, outcome.report);
    for secret in secrets {
        assert!(!all.contains(secret.as_str()), "a secret leaked:\n{all}");
    }
}

fn bearer_tokens(google: &GoogleCalendar) -> Vec<String> {
    google
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/calendar/"))
        .map(|r| r.header("authorization").unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_token_is_used_as_is() {
    let setup = Setup::new().await;
    let token = setup.google.issue_access_token(Duration::from_secs(3600));
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    let (callback, seen) = capture();
    let mut c = setup.call(&token, Some(SystemTime::now() + Duration::from_secs(3600)));
    c.env.on_token_refresh = Some(callback);
    let outcome = invoke(&tool, c).await;
    ok(&outcome);
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(
        bearer_tokens(&setup.google),
        vec![format!("Bearer {token}")]
    );
    let mut secrets = setup.secrets();
    secrets.push(token);
    assert_no_secret(&outcome, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_before_use() {
    let setup = Setup::new().await;
    let stale = setup.google.issue_access_token(Duration::ZERO);
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    let (callback, seen) = capture();
    let mut c = setup.call(&stale, Some(SystemTime::now() - Duration::from_secs(60)));
    c.env.on_token_refresh = Some(callback);
    let outcome = invoke(&tool, c).await;
    ok(&outcome);

    let issued = setup.google.refreshed_access_tokens();
    assert_eq!(issued.len(), 1, "refreshed exactly once");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].access_token.expose_secret(), issued[0]);
    assert!(seen[0].expires_at.unwrap() > SystemTime::now());
    // The stale token never went out; the fresh one did.
    assert_eq!(
        bearer_tokens(&setup.google),
        vec![format!("Bearer {}", issued[0])]
    );
    let mut secrets = setup.secrets();
    secrets.push(stale);
    assert_no_secret(&outcome, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let setup = Setup::new().await;
    // No expiry given: the host learns from the upstream's 401.
    let stale = setup.google.issue_access_token(Duration::ZERO);
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    let (callback, seen) = capture();
    let mut c = setup.call(&stale, None);
    c.env.on_token_refresh = Some(callback);
    let outcome = invoke(&tool, c).await;
    ok(&outcome);
    let issued = setup.google.refreshed_access_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        bearer_tokens(&setup.google),
        vec![format!("Bearer {stale}"), format!("Bearer {}", issued[0])]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_grant_ends_the_call_as_unauthorized() {
    let setup = Setup::new().await;
    setup.google.revoke_refresh_token(&setup.refresh_token);
    let stale = setup.google.issue_access_token(Duration::ZERO);
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    let (callback, seen) = capture();
    let mut c = setup.call(&stale, Some(SystemTime::now() - Duration::from_secs(1)));
    c.env.on_token_refresh = Some(callback);
    let outcome = invoke(&tool, c).await;
    let mut secrets = setup.secrets();
    secrets.push(stale);
    assert_no_secret(&outcome, &secrets);
    let e = err(outcome);
    assert_eq!((e.kind, e.origin), (ErrorKind::Unauthorized, Origin::Host));
    assert!(e.message.contains("must be re-authorized"), "{}", e.message);
    assert!(seen.lock().unwrap().is_empty());
    // Nothing reached the API with a token known to be dead.
    assert!(bearer_tokens(&setup.google).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_are_upstream() {
    let setup = Setup::new().await;
    let token = setup.google.issue_access_token(Duration::from_secs(3600));
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    for fault in [Fault::Status(500), Fault::MalformedJson] {
        setup.google.fail_next(fault);
        let e = err(invoke(&tool, setup.call(&token, None)).await);
        assert_eq!(
            (e.kind, e.origin),
            (ErrorKind::Upstream, Origin::Tool),
            "{fault:?}"
        );
        assert!(!e.message.contains(&token));
    }
    setup.google.fail_next(Fault::RateLimit);
    let e = err(invoke(&tool, setup.call(&token, None)).await);
    assert_eq!(e.kind, ErrorKind::RateLimited, "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_test_export_checks_the_connection_without_revealing_tokens() {
    let setup = Setup::new().await;
    let token = setup.google.issue_access_token(Duration::from_secs(3600));
    let tool = load(artifacts::GOOGLE_CALENDAR).await;
    let outcome = sandbox().test(&tool, setup.call(&token, None).env).await;
    let summary = ok(&outcome);
    assert_eq!(summary["ok"], true, "{summary}");
    let mut secrets = setup.secrets();
    secrets.push(token.clone());
    assert_no_secret(&outcome, &secrets);

    // With the grant revoked and the token dead, the test says so.
    setup.google.revoke_refresh_token(&setup.refresh_token);
    setup.google.expire_access_token(&token);
    let e = err(sandbox().test(&tool, setup.call(&token, None).env).await);
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e:?}");
}
