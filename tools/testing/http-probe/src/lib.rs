//! Probes the host's outbound HTTP policy: makes whatever request it is
//! told to through `warden_sdk::http`, tries to read its credential back,
//! and makes requests in a loop. Warden's tests point it at local stand-ins
//! (granted with `--allow-host` / `--credential-host`) to check allowed
//! hosts, credential injection, redirects and the per-call request cap.

use std::collections::BTreeMap;

use warden_sdk::http::{Method, Request};
use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FetchArgs {
    /// The absolute http(s) URL to request.
    url: String,
    /// The method, e.g. "POST"; default "GET".
    method: Option<String>,
    /// Request headers, name to value.
    headers: Option<BTreeMap<String, String>>,
    /// The request body, sent as UTF-8.
    body: Option<String>,
    /// Follow redirects (each hop passes the policy again); default false.
    follow_redirects: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadSecretArgs {
    /// The secret's name.
    name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FetchManyArgs {
    /// The absolute http(s) URL to GET, again and again.
    url: String,
    /// How many requests to make, one after the other.
    #[schemars(range(max = 1000))]
    count: u32,
}

struct HttpProbe;

/// Tests Warden's outbound HTTP policy.
#[tool(
    name = "http_probe",
    secret(
        name = "api_token",
        description = "The token the host injects into requests to the credential host.",
        required
    ),
    allowed_host = "https://api.credential.example",
    allowed_host = "https://plain.example",
    credential(
        secret = "api_token",
        header = "authorization",
        format = "Bearer {}",
        hosts = ["https://api.credential.example"]
    )
)]
impl HttpProbe {
    /// Makes one request. Returns `{"status", "headers": {lowercase name:
    /// value, repeated headers joined with ", "}, "body": lossy UTF-8}`; an
    /// error of the SDK's HTTP client becomes an `upstream` error carrying
    /// its message.
    fn fetch(_ctx: &Context, args: FetchArgs) -> Result<Value, ToolError> {
        let method = match &args.method {
            Some(name) => Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                .map_err(|_| ToolError::InvalidArguments(format!("invalid method `{name}`")))?,
            None => Method::GET,
        };
        let mut request = Request::new(method, &args.url)
            .follow_redirects(args.follow_redirects.unwrap_or(false));
        for (name, value) in args.headers.iter().flatten() {
            request = request.header(name, value);
        }
        if let Some(body) = args.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .map_err(|e| ToolError::Upstream(e.to_string()))?;
        let mut headers: BTreeMap<&str, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        Ok(json!({
            "status": response.status().as_u16(),
            "headers": headers,
            "body": response.text(),
        }))
    }

    /// Tries to read the secret `name`. Returns `{"value": ...}`, or
    /// `{"error": "host_only" | "not_set" | "not_declared", "message": ...}`
    /// with the message `Context::try_secret` gives.
    #[warden(read_only)]
    fn read_secret(ctx: &Context, args: ReadSecretArgs) -> Result<Value, ToolError> {
        use warden_sdk::__private::bindings::warden::tool::secrets::{SecretError, get};
        let error = match get(&args.name) {
            Ok(value) => return Ok(json!({ "value": value })),
            Err(SecretError::HostOnly) => "host_only",
            Err(SecretError::NotSet) => "not_set",
            Err(SecretError::NotDeclared) => "not_declared",
        };
        let message = match ctx.try_secret(&args.name) {
            Ok(Some(_)) => "the secret became readable".to_owned(),
            Ok(None) => "not set".to_owned(),
            Err(e) => e.message().to_owned(),
        };
        Ok(json!({ "error": error, "message": message }))
    }

    /// GETs `url` `count` times, one after the other, whatever happens.
    /// Returns `{"succeeded": requests that got a response (any status),
    /// "failed": the others, "first_error": the first failure's message or
    /// null}`.
    #[warden(read_only)]
    fn fetch_many(_ctx: &Context, args: FetchManyArgs) -> Result<Value, ToolError> {
        let (mut succeeded, mut failed, mut first_error) = (0u32, 0u32, None);
        for _ in 0..args.count {
            match Request::get(&args.url).follow_redirects(false).send() {
                Ok(_) => succeeded += 1,
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        Ok(json!({
            "succeeded": succeeded,
            "failed": failed,
            "first_error": first_error,
        }))
    }
}
