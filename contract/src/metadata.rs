//! What a tool declares about itself, and the versioned form the host stores.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// What else it declares about its effects (contract 0.2.0 and later);
    /// `None` for tools built against 0.1.0, which could not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<FunctionHints>,
    /// JSON Schema of its JSON result, when the tool declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// A function's effect hints, as MCP's tool annotations carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionHints {
    /// Calling it again with the same arguments has no further effect.
    pub idempotent: bool,
    /// It may destroy or overwrite something rather than only add.
    pub destructive: bool,
    /// It reaches outside services or people.
    pub open_world: bool,
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

impl ToolMetadata {
    /// The function called `name`, if the tool has one.
    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The stored form: this metadata as a JSON object with
    /// `"format": METADATA_FORMAT` beside its fields.
    pub fn to_stored(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(StoredRef {
            format: METADATA_FORMAT,
            metadata: self,
        })
    }

    /// Reads the stored form. A document without `format` was written before
    /// the field existed and is format 1; a format this build does not know
    /// is refused rather than misread.
    pub fn from_stored(stored: Value) -> Result<ToolMetadata, String> {
        let stored: Stored = serde_json::from_value(stored).map_err(|e| e.to_string())?;
        match stored.format {
            // Format 2 added the optional `hints` and `output_schema`.
            1 | 2 => Ok(stored.metadata),
            other => Err(format!(
                "metadata format {other} is not known (this build reads format {METADATA_FORMAT})"
            )),
        }
    }
}

/// The format of stored metadata ([`ToolMetadata::to_stored`]). Raise it, and
/// teach [`ToolMetadata::from_stored`] the previous one, whenever the stored
/// shape changes.
pub const METADATA_FORMAT: u32 = 2;

#[derive(Serialize)]
struct StoredRef<'a> {
    format: u32,
    #[serde(flatten)]
    metadata: &'a ToolMetadata,
}

#[derive(Deserialize)]
struct Stored {
    #[serde(default = "first_format")]
    format: u32,
    #[serde(flatten)]
    metadata: ToolMetadata,
}

fn first_format() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> ToolMetadata {
        ToolMetadata {
            name: "echo".into(),
            version: "0.1.0".into(),
            description: "Echoes.".into(),
            config_schema: json!({"type": "object"}),
            secrets: vec![SecretSpec {
                name: "api_key".into(),
                description: "The key.".into(),
                required: true,
            }],
            allowed_hosts: vec!["https://api.example.com".into()],
            credentials: vec![Credential {
                secret: "api_key".into(),
                hosts: vec!["https://api.example.com".into()],
                header: "authorization".into(),
                format: "Bearer {}".into(),
            }],
            functions: vec![FunctionSpec {
                name: "echo".into(),
                description: "Echoes a message.".into(),
                parameters: json!({"type": "object"}),
                read_only: true,
                hints: Some(FunctionHints {
                    idempotent: true,
                    destructive: false,
                    open_world: false,
                }),
                output_schema: Some(json!({"type": "object"})),
            }],
            oauth: None,
        }
    }

    #[test]
    fn stored_metadata_carries_its_format_and_reads_back() {
        let stored = sample().to_stored().unwrap();
        assert_eq!(stored["format"], json!(METADATA_FORMAT));
        assert_eq!(stored["name"], json!("echo"));
        assert_eq!(ToolMetadata::from_stored(stored).unwrap(), sample());
    }

    #[test]
    fn a_format_1_row_reads_without_hints_or_output_schema() {
        let mut old = sample().to_stored().unwrap();
        old["format"] = json!(1);
        let function = &mut old["functions"][0];
        function.as_object_mut().unwrap().remove("hints");
        function.as_object_mut().unwrap().remove("output_schema");
        let read = ToolMetadata::from_stored(old).unwrap();
        assert_eq!(read.functions[0].hints, None);
        assert_eq!(read.functions[0].output_schema, None);
        assert_eq!(read.functions[0].name, "echo");
    }

    #[test]
    fn a_row_written_before_the_format_field_reads_as_format_1() {
        // What `tool_versions.metadata` held before the format tag: the plain
        // serde shape of the metadata.
        let old = serde_json::to_value(sample()).unwrap();
        assert!(old.get("format").is_none());
        assert_eq!(ToolMetadata::from_stored(old).unwrap(), sample());
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let mut stored = sample().to_stored().unwrap();
        stored["format"] = json!(METADATA_FORMAT + 1);
        let err = ToolMetadata::from_stored(stored).unwrap_err();
        assert!(
            err.contains(&format!("format {}", METADATA_FORMAT + 1)),
            "{err}"
        );
    }
}
