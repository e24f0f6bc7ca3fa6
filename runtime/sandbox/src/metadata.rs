//! A tool's metadata on the host side, and its validation at load time.

use crate::bindings::WitToolMetadata;
use crate::http::oauth;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// The longest LLM-facing function name, `{tool}__{function}`: the limit of
/// common function-calling APIs.
pub const MAX_QUALIFIED_NAME: usize = 64;

/// What a tool declares about itself (`tool-metadata` in the WIT contract),
/// with JSON documents parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolMetadata {
    /// The tool's name, e.g. `google_calendar`.
    pub name: String,
    /// The tool's version.
    pub version: String,
    /// What the tool is for.
    pub description: String,
    /// JSON Schema of the tool's configuration.
    pub config_schema: Value,
    /// Secrets the tool may read.
    pub secrets: Vec<SecretSpec>,
    /// Hosts the tool may send requests to.
    pub allowed_hosts: Vec<String>,
    /// Secrets the host injects into outbound requests.
    pub credentials: Vec<Credential>,
    /// Functions the LLM may call.
    pub functions: Vec<FunctionSpec>,
    /// OAuth2 settings, if the tool uses OAuth2 tokens.
    pub oauth: Option<OAuth2>,
}

/// A function the LLM may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// Name, unique within the tool.
    pub name: String,
    /// What it does, for the LLM.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
    /// Whether it changes nothing upstream.
    pub read_only: bool,
}

/// A secret the tool may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSpec {
    /// Name, unique within the tool.
    pub name: String,
    /// What the operator must provide.
    pub description: String,
    /// Whether the tool cannot work without it.
    pub required: bool,
}

/// A secret the host adds to outbound requests for some hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The declared secret.
    pub secret: String,
    /// Host patterns whose requests carry it.
    pub hosts: Vec<String>,
    /// Header name.
    pub header: String,
    /// Header value format; `{}` is the secret.
    pub format: String,
}

/// OAuth2 settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2 {
    /// Authorization endpoint.
    pub authorize_url: String,
    /// Token endpoint (refresh grant).
    pub token_url: String,
    /// Scopes.
    pub scopes: Vec<String>,
}

/// Whether `name` matches `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Whether `pattern` is an `allowed-hosts` entry: `scheme://host[:port]` with
/// scheme `http` or `https`, an optional leading `*.` label wildcard, and
/// nothing after the authority.
pub fn is_valid_host_pattern(pattern: &str) -> bool {
    pattern.parse::<crate::http::HostPattern>().is_ok()
}

/// Whether `url` is an absolute `https` URL with a host.
fn is_https_url(url: &str) -> bool {
    url.parse::<http::Uri>()
        .is_ok_and(|u| u.scheme_str() == Some("https") && u.host().is_some_and(|h| !h.is_empty()))
}

/// Parses one JSON Schema document and checks it describes an object.
fn object_schema(what: &str, raw: &str, problems: &mut Vec<String>) -> Value {
    let schema: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{what} is not JSON: {e}"));
            return Value::Null;
        }
    };
    if let Err(e) = jsonschema::meta::validate(&schema) {
        problems.push(format!("{what} is not a valid JSON Schema: {e}"));
    } else if schema.get("type").and_then(Value::as_str) != Some("object") {
        problems.push(format!(
            "{what} must be a JSON Schema with \"type\": \"object\""
        ));
    }
    schema
}

impl ToolMetadata {
    /// Converts the guest's answer, collecting every problem rather than
    /// stopping at the first so an author can fix them all at once.
    pub(crate) fn from_wit(raw: WitToolMetadata) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if !is_valid_name(&raw.name) {
            problems.push(format!(
                "tool name `{}` must match ^[a-z][a-z0-9_]{{0,63}}$",
                raw.name
            ));
        }
        if raw.version.trim().is_empty() {
            problems.push("tool version is empty".to_owned());
        }
        let config_schema = object_schema("config-schema", &raw.config_schema, &mut problems);

        let mut secret_names = HashSet::new();
        for s in &raw.secrets {
            if !is_valid_name(&s.name) {
                problems.push(format!(
                    "secret name `{}` must match ^[a-z][a-z0-9_]{{0,63}}$",
                    s.name
                ));
            }
            if !secret_names.insert(s.name.as_str()) {
                problems.push(format!("duplicate secret name `{}`", s.name));
            }
        }
        for host in &raw.allowed_hosts {
            if !is_valid_host_pattern(host) {
                problems.push(format!(
                    "allowed host `{host}` must look like scheme://host[:port] \
                     (optionally *.host)"
                ));
            }
        }
        for c in &raw.credentials {
            if !secret_names.contains(c.secret.as_str()) {
                problems.push(format!(
                    "credential uses the secret `{}`, which is not declared",
                    c.secret
                ));
            }
            if http::HeaderName::from_bytes(c.header.as_bytes()).is_err() {
                problems.push(format!(
                    "credential header `{}` is not a header name",
                    c.header
                ));
            }
            if !c.format.contains("{}") {
                problems.push(format!(
                    "credential format `{}` has no `{{}}` for the secret",
                    c.format
                ));
            }
            if c.hosts.is_empty() {
                problems.push(format!("credential for `{}` names no hosts", c.secret));
            }
            for host in &c.hosts {
                if !is_valid_host_pattern(host) {
                    problems.push(format!("credential host `{host}` is not a host pattern"));
                } else if !host.starts_with("https://") {
                    problems.push(format!(
                        "credential host `{host}` must use https: credentials never travel in clear text"
                    ));
                }
            }
        }

        if let Some(oauth) = &raw.oauth {
            for (what, url) in [
                ("authorize-url", &oauth.authorize_url),
                ("token-url", &oauth.token_url),
            ] {
                if !is_https_url(url) {
                    problems.push(format!("oauth {what} `{url}` must be an https URL"));
                }
            }
            for name in [
                oauth::ACCESS_TOKEN,
                oauth::REFRESH_TOKEN,
                oauth::CLIENT_ID,
                oauth::CLIENT_SECRET,
            ] {
                if !secret_names.contains(name) {
                    problems.push(format!("an OAuth2 tool must declare the secret `{name}`"));
                }
            }
            if !raw
                .credentials
                .iter()
                .any(|c| c.secret == oauth::ACCESS_TOKEN)
            {
                problems.push(format!(
                    "an OAuth2 tool must declare a credential that sends `{}`",
                    oauth::ACCESS_TOKEN
                ));
            }
        }

        let mut function_names = HashSet::new();
        let mut functions = Vec::with_capacity(raw.functions.len());
        if raw.functions.is_empty() {
            problems.push("the tool declares no functions".to_owned());
        }
        for f in raw.functions {
            if !is_valid_name(&f.name) {
                problems.push(format!(
                    "function name `{}` must match ^[a-z][a-z0-9_]{{0,63}}$",
                    f.name
                ));
            } else if raw.name.len() + 2 + f.name.len() > MAX_QUALIFIED_NAME {
                problems.push(format!(
                    "`{}__{}` is longer than {MAX_QUALIFIED_NAME} characters",
                    raw.name, f.name
                ));
            }
            if !function_names.insert(f.name.clone()) {
                problems.push(format!("duplicate function name `{}`", f.name));
            }
            let parameters = object_schema(
                &format!("parameters of function `{}`", f.name),
                &f.parameters,
                &mut problems,
            );
            functions.push(FunctionSpec {
                name: f.name,
                description: f.description,
                parameters,
                read_only: f.read_only,
            });
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ToolMetadata {
            name: raw.name,
            version: raw.version,
            description: raw.description,
            config_schema,
            secrets: raw
                .secrets
                .into_iter()
                .map(|s| SecretSpec {
                    name: s.name,
                    description: s.description,
                    required: s.required,
                })
                .collect(),
            allowed_hosts: raw.allowed_hosts,
            credentials: raw
                .credentials
                .into_iter()
                .map(|c| Credential {
                    secret: c.secret,
                    hosts: c.hosts,
                    header: c.header,
                    format: c.format,
                })
                .collect(),
            functions,
            oauth: raw.oauth.map(|o| OAuth2 {
                authorize_url: o.authorize_url,
                token_url: o.token_url,
                scopes: o.scopes,
            }),
        })
    }

    /// The function called `name`, if the tool has one.
    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("google_calendar"));
        assert!(is_valid_name("a"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("1abc"));
        assert!(!is_valid_name("Abc"));
        assert!(!is_valid_name("a-b"));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(is_valid_name(&"a".repeat(64)));
    }

    #[test]
    fn host_patterns() {
        for ok in [
            "https://www.googleapis.com",
            "https://*.example.com",
            "http://localhost:8080",
            "https://[::1]:443",
        ] {
            assert!(is_valid_host_pattern(ok), "{ok}");
        }
        for bad in [
            "www.googleapis.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://exa mple.com",
            "https://example.com:99999",
            "https://*",
            "https://a.*.com",
        ] {
            assert!(!is_valid_host_pattern(bad), "{bad}");
        }
    }
}
