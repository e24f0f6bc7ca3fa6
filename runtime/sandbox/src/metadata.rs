//! A tool's metadata on the host side, and its validation at load time.

use crate::bindings::{ContractVersion, WitToolMetadata};
use crate::http::oauth;
use serde_json::Value;
use std::collections::HashSet;

/// The name and host-pattern rules are the contract's, shared with the SDK's
/// `#[tool]` macro (which checks names at compile time).
pub use warden_contract::{MAX_QUALIFIED_NAME, is_valid_host_pattern, is_valid_name};

/// Bounds on what a tool may declare. Metadata is tenant input: every list
/// and text has a cap, and a refusal names the cap it broke.
pub mod caps {
    /// The most functions a tool may declare.
    pub const MAX_FUNCTIONS: usize = 128;
    /// The most secrets a tool may declare.
    pub const MAX_SECRETS: usize = 32;
    /// The most `allowed-hosts` entries.
    pub const MAX_ALLOWED_HOSTS: usize = 32;
    /// The most credentials, and the most hosts per credential.
    pub const MAX_CREDENTIALS: usize = 16;
    /// The most hosts one credential names.
    pub const MAX_CREDENTIAL_HOSTS: usize = 16;
    /// The most OAuth2 scopes.
    pub const MAX_SCOPES: usize = 32;
    /// The longest tool description, in bytes.
    pub const MAX_TOOL_DESCRIPTION_BYTES: usize = 4096;
    /// The longest function or secret description, in bytes.
    pub const MAX_DESCRIPTION_BYTES: usize = 2048;
    /// The longest other text (version, host pattern, header, format, URL,
    /// scope), in bytes.
    pub const MAX_TEXT_BYTES: usize = 512;
    /// All of a tool's metadata together, in bytes of text.
    pub const MAX_METADATA_BYTES: usize = 1024 * 1024;
    /// Problems listed when metadata is refused; more are counted.
    pub const MAX_PROBLEMS_LISTED: usize = 16;
}
use caps::*;

/// The metadata types are the contract's: the host validates a tool's answer
/// into them here, and stores them in their versioned form
/// ([`ToolMetadata::to_stored`]).
pub use warden_contract::{
    Credential, FunctionHints, FunctionSpec, OAuth2, SecretSpec, ToolMetadata,
};

/// Whether `url` is an absolute `https` URL with a host.
fn is_https_url(url: &str) -> bool {
    url.parse::<http::Uri>()
        .is_ok_and(|u| u.scheme_str() == Some("https") && u.host().is_some_and(|h| !h.is_empty()))
}

/// Parses one JSON Schema document and checks it describes an object and
/// stays within the schema rules (`crate::schema`).
fn object_schema(what: &str, raw: &str, problems: &mut Vec<String>) -> Value {
    if raw.len() > crate::schema::MAX_SCHEMA_BYTES {
        problems.push(format!(
            "{what} is {} bytes, over the limit of {}",
            raw.len(),
            crate::schema::MAX_SCHEMA_BYTES
        ));
        return Value::Null;
    }
    let schema: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{what} is not JSON: {e}"));
            return Value::Null;
        }
    };
    if let Err(rule) = crate::schema::check(&schema, raw.len()) {
        problems.push(format!("{what} {rule}"));
    } else if let Err(e) = jsonschema::meta::validate(&schema) {
        problems.push(format!("{what} is not a valid JSON Schema: {e}"));
    } else if schema.get("type").and_then(Value::as_str) != Some("object") {
        problems.push(format!(
            "{what} must be a JSON Schema with \"type\": \"object\""
        ));
    }
    schema
}

/// At most 64 characters of tenant text, for messages.
pub(crate) fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Checks the counts and sizes of everything a tool declares ([`caps`]);
/// the problems found, empty when all is within bounds.
fn bounds(raw: &WitToolMetadata) -> Vec<String> {
    let mut problems = Vec::new();
    let mut count = |what: &str, n: usize, max: usize| {
        if n > max {
            problems.push(format!("declares {n} {what}, over the limit of {max}"));
        }
    };
    count("functions", raw.functions.len(), MAX_FUNCTIONS);
    count("secrets", raw.secrets.len(), MAX_SECRETS);
    count("allowed hosts", raw.allowed_hosts.len(), MAX_ALLOWED_HOSTS);
    count("credentials", raw.credentials.len(), MAX_CREDENTIALS);
    for c in &raw.credentials {
        count(
            "hosts for one credential",
            c.hosts.len(),
            MAX_CREDENTIAL_HOSTS,
        );
    }
    if let Some(oauth) = &raw.oauth {
        count("OAuth2 scopes", oauth.scopes.len(), MAX_SCOPES);
    }
    if !problems.is_empty() {
        return problems;
    }

    let texts = [raw.version.as_str()]
        .into_iter()
        .chain(raw.allowed_hosts.iter().map(String::as_str))
        .chain(raw.credentials.iter().flat_map(|c| {
            [c.secret.as_str(), c.header.as_str(), c.format.as_str()]
                .into_iter()
                .chain(c.hosts.iter().map(String::as_str))
        }))
        .chain(raw.oauth.iter().flat_map(|o| {
            [o.authorize_url.as_str(), o.token_url.as_str()]
                .into_iter()
                .chain(o.scopes.iter().map(String::as_str))
        }));
    let mut total = raw.name.len() + raw.description.len() + raw.config_schema.len();
    for text in texts {
        total += text.len();
        if text.len() > MAX_TEXT_BYTES {
            problems.push(format!(
                "declares a text of {} bytes (`{}`), over the limit of {MAX_TEXT_BYTES}",
                text.len(),
                shown(text)
            ));
        }
    }
    let mut describe = |what: String, text: &str, max: usize| {
        if text.len() > max {
            problems.push(format!(
                "the description of {what} is {} bytes, over the limit of {max}",
                text.len()
            ));
        }
    };
    describe(
        "the tool".into(),
        &raw.description,
        MAX_TOOL_DESCRIPTION_BYTES,
    );
    for s in &raw.secrets {
        total += s.name.len() + s.description.len();
        describe(
            format!("secret `{}`", shown(&s.name)),
            &s.description,
            MAX_DESCRIPTION_BYTES,
        );
    }
    for f in &raw.functions {
        total += f.name.len()
            + f.description.len()
            + f.parameters.len()
            + f.output_schema.as_ref().map_or(0, String::len);
        describe(
            format!("function `{}`", shown(&f.name)),
            &f.description,
            MAX_DESCRIPTION_BYTES,
        );
    }
    if total > MAX_METADATA_BYTES {
        problems.insert(
            0,
            format!("the metadata is {total} bytes, over the limit of {MAX_METADATA_BYTES}"),
        );
    }
    problems
}

/// Converts the guest's answer, collecting every problem rather than
/// stopping at the first so an author can fix them all at once.
/// `version` is the contract version the tool answered in: effect hints are
/// known only from 0.2.0 on.
pub(crate) fn from_wit(
    raw: WitToolMetadata,
    version: ContractVersion,
) -> Result<ToolMetadata, Vec<String>> {
    let mut problems = bounds(&raw);
    if !problems.is_empty() {
        // Over a count or the total size: the entries are not looked at.
        return Err(problems);
    }
    if !is_valid_name(&raw.name) {
        problems.push(format!(
            "tool name `{}` must match ^[a-z][a-z0-9_]{{0,63}}$",
            shown(&raw.name)
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
                shown(&s.name)
            ));
        }
        if !secret_names.insert(s.name.as_str()) {
            problems.push(format!("duplicate secret name `{}`", shown(&s.name)));
        }
    }
    for host in &raw.allowed_hosts {
        if !is_valid_host_pattern(host) {
            problems.push(format!(
                "allowed host `{}` must look like scheme://host[:port] \
                     (optionally *.host)",
                shown(host)
            ));
        }
    }
    for c in &raw.credentials {
        if !secret_names.contains(c.secret.as_str()) {
            problems.push(format!(
                "credential uses the secret `{}`, which is not declared",
                shown(&c.secret)
            ));
        }
        if http::HeaderName::from_bytes(c.header.as_bytes()).is_err() {
            problems.push(format!(
                "credential header `{}` is not a header name",
                shown(&c.header)
            ));
        }
        if !c.format.contains("{}") {
            problems.push(format!(
                "credential format `{}` has no `{{}}` for the secret",
                shown(&c.format)
            ));
        }
        if c.hosts.is_empty() {
            problems.push(format!(
                "credential for `{}` names no hosts",
                shown(&c.secret)
            ));
        }
        for host in &c.hosts {
            if !is_valid_host_pattern(host) {
                problems.push(format!(
                    "credential host `{}` is not a host pattern",
                    shown(host)
                ));
            } else if !host.starts_with("https://") {
                problems.push(format!(
                    "credential host `{}` must use https: credentials never travel in clear text",
                    shown(host)
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
                problems.push(format!(
                    "oauth {what} `{}` must be an https URL",
                    shown(url)
                ));
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
                shown(&f.name)
            ));
        } else if raw.name.len() + 2 + f.name.len() > MAX_QUALIFIED_NAME {
            problems.push(format!(
                "`{}__{}` is longer than {MAX_QUALIFIED_NAME} characters",
                shown(&raw.name),
                f.name
            ));
        }
        if !function_names.insert(f.name.clone()) {
            problems.push(format!("duplicate function name `{}`", shown(&f.name)));
        }
        let parameters = object_schema(
            &format!("parameters of function `{}`", shown(&f.name)),
            &f.parameters,
            &mut problems,
        );
        let output_schema = f.output_schema.as_deref().map(|raw| {
            object_schema(
                &format!("output-schema of function `{}`", shown(&f.name)),
                raw,
                &mut problems,
            )
        });
        functions.push(FunctionSpec {
            name: f.name,
            description: f.description,
            parameters,
            read_only: f.read_only,
            hints: (version != ContractVersion::V0_1).then_some(FunctionHints {
                idempotent: f.idempotent,
                destructive: f.destructive,
                open_world: f.open_world,
            }),
            output_schema,
        });
    }

    if !problems.is_empty() {
        if problems.len() > MAX_PROBLEMS_LISTED {
            let more = problems.len() - MAX_PROBLEMS_LISTED;
            problems.truncate(MAX_PROBLEMS_LISTED);
            problems.push(format!("and {more} more problems"));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
