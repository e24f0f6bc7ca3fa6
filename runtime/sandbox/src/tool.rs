//! A loaded tool: its compiled component, ready to instantiate, plus its
//! validated metadata and compiled argument schemas.

use crate::bindings::ToolWorldPre;
use crate::error::{Error, ErrorKind};
use crate::http::ToolNet;
use crate::metadata::{FunctionSpec, ToolMetadata};
use crate::store::CallState;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// A tool loaded into a [`Sandbox`](crate::Sandbox). Cheap to clone; every
/// call still gets a fresh instance.
#[derive(Clone)]
pub struct Tool {
    pub(crate) inner: Arc<ToolInner>,
}

pub(crate) struct ToolInner {
    pub sha256: String,
    pub metadata: ToolMetadata,
    pub pre: ToolWorldPre<CallState>,
    pub argument_validators: HashMap<String, jsonschema::Validator>,
    pub config_validator: jsonschema::Validator,
    pub secret_names: Arc<HashSet<String>>,
    pub net: Arc<ToolNet>,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.inner.metadata.name)
            .field("version", &self.inner.metadata.version)
            .field("sha256", &self.inner.sha256)
            .finish()
    }
}

/// Renders at most a few schema violations as one readable message.
fn describe_violations<'a>(
    errors: impl Iterator<Item = jsonschema::ValidationError<'a>>,
) -> String {
    const SHOWN: usize = 5;
    let mut parts = Vec::new();
    let mut total = 0;
    for e in errors {
        total += 1;
        if parts.len() < SHOWN {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() { "/" } else { &path };
            parts.push(format!("at {at}: {e}"));
        }
    }
    if total > SHOWN {
        parts.push(format!("and {} more", total - SHOWN));
    }
    parts.join("; ")
}

impl Tool {
    pub(crate) fn new(
        sha256: String,
        metadata: ToolMetadata,
        pre: ToolWorldPre<CallState>,
    ) -> Result<Tool, Error> {
        let compile = |what: String, schema: &Value| {
            jsonschema::validator_for(schema)
                .map_err(|e| Error::invalid_component(format!("{what} cannot be compiled: {e}")))
        };
        let config_validator = compile("config-schema".into(), &metadata.config_schema)?;
        let argument_validators = metadata
            .functions
            .iter()
            .map(|f| {
                let validator = compile(
                    format!("parameters of function `{}`", f.name),
                    &f.parameters,
                )?;
                Ok((f.name.clone(), validator))
            })
            .collect::<Result<_, Error>>()?;
        let secret_names = Arc::new(metadata.secrets.iter().map(|s| s.name.clone()).collect());
        let net =
            Arc::new(ToolNet::new(&metadata).map_err(|e| {
                Error::invalid_component(format!("invalid network declaration: {e}"))
            })?);
        Ok(Tool {
            inner: Arc::new(ToolInner {
                sha256,
                metadata,
                pre,
                argument_validators,
                config_validator,
                secret_names,
                net,
            }),
        })
    }

    /// The tool's validated metadata.
    pub fn metadata(&self) -> &ToolMetadata {
        &self.inner.metadata
    }

    /// Hex SHA-256 of the component's bytes: the tool's content address.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The function `name`, or `unknown_function`.
    pub fn function(&self, name: &str) -> Result<&FunctionSpec, Error> {
        self.inner.metadata.function(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .inner
                .metadata
                .functions
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            Error::host(
                ErrorKind::UnknownFunction,
                format!(
                    "the tool `{}` has no function `{name}` (it has: {})",
                    self.inner.metadata.name,
                    known.join(", ")
                ),
            )
        })
    }

    /// Checks `arguments` against the function's JSON Schema.
    pub fn validate_arguments(&self, function: &str, arguments: &Value) -> Result<(), Error> {
        self.function(function)?;
        let validator = &self.inner.argument_validators[function];
        if validator.is_valid(arguments) {
            return Ok(());
        }
        Err(Error::host(
            ErrorKind::InvalidArguments,
            format!(
                "the arguments do not match the schema of `{function}`: {}",
                describe_violations(validator.iter_errors(arguments))
            ),
        ))
    }

    /// Checks `config` against the tool's configuration schema (`null` counts
    /// as `{}`).
    pub fn validate_config(&self, config: &Value) -> Result<(), Error> {
        let empty = Value::Object(Default::default());
        let config = if config.is_null() { &empty } else { config };
        let validator = &self.inner.config_validator;
        if validator.is_valid(config) {
            return Ok(());
        }
        Err(Error::host(
            ErrorKind::NotConfigured,
            format!(
                "the configuration does not match the schema of `{}`: {}",
                self.inner.metadata.name,
                describe_violations(validator.iter_errors(config))
            ),
        ))
    }
}
