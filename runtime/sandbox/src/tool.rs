//! A loaded tool: its compiled component, ready to instantiate, plus its
//! validated metadata and compiled argument schemas.

use crate::bindings::ToolPre;
use crate::error::{Error, ErrorKind};
use crate::http::ToolNet;
use crate::metadata::{FunctionSpec, ToolMetadata};
use crate::schema::{self, MAX_VALIDATION_WORK, SchemaCost, VALIDATION_TIME_BUDGET, Validation};
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
    pub pre: ToolPre,
    pub argument_validators: HashMap<String, Arc<Checked>>,
    pub config_validator: Arc<Checked>,
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

/// A compiled schema and what validating against it may cost.
pub(crate) struct Checked {
    validator: jsonschema::Validator,
    cost: SchemaCost,
}

impl Checked {
    /// Validates `instance`; a description of the violations when invalid.
    /// Cheap validations run here; costlier ones on a blocking thread under
    /// [`VALIDATION_TIME_BUDGET`], so no schema can stall the async
    /// runtime; too costly ones are refused without trying.
    async fn validate(self: &Arc<Self>, instance: &Value) -> Result<(), Refusal> {
        match Validation::plan(self.cost, instance) {
            Validation::Inline => self.validate_now(instance),
            Validation::TooCostly(work) => Err(Refusal::TooCostly(work)),
            Validation::Blocking => {
                let this = Arc::clone(self);
                let instance = instance.clone();
                let task = tokio::task::spawn_blocking(move || this.validate_now(&instance));
                match tokio::time::timeout(VALIDATION_TIME_BUDGET, task).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_panicked)) => Err(Refusal::OverBudget),
                    Err(_elapsed) => Err(Refusal::OverBudget),
                }
            }
        }
    }

    fn validate_now(&self, instance: &Value) -> Result<(), Refusal> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        Err(Refusal::Invalid(describe_violations(
            self.validator.iter_errors(instance),
        )))
    }
}

/// Why a document did not pass its schema.
enum Refusal {
    Invalid(String),
    TooCostly(u64),
    OverBudget,
}

impl Refusal {
    /// `what` is "the arguments" or "the configuration", `of` names whose
    /// schema it is.
    fn describe(self, what: &str, of: &str) -> String {
        match self {
            Refusal::Invalid(violations) => {
                let verb = if what.ends_with('s') { "do" } else { "does" };
                format!("{what} {verb} not match the schema of `{of}`: {violations}")
            }
            Refusal::TooCostly(work) => format!(
                "{what} for `{of}` are too large to validate against its schema \
                 (schema size × document size is {work}, over {MAX_VALIDATION_WORK})"
            ),
            Refusal::OverBudget => format!(
                "validating {what} for `{of}` took longer than {} ms, so they were refused",
                VALIDATION_TIME_BUDGET.as_millis()
            ),
        }
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
    /// The contract version the component was built against.
    pub fn contract_version(&self) -> crate::ContractVersion {
        self.inner.pre.version()
    }

    pub(crate) fn new(sha256: String, metadata: ToolMetadata, pre: ToolPre) -> Result<Tool, Error> {
        let compile = |what: String, schema: &Value| {
            let invalid = |e: String| Error::invalid_component(format!("{what} {e}"));
            // `ToolMetadata::from_wit` checked the schema; stored metadata
            // is checked again here, as it is read back from the database.
            let cost = schema::check(schema, schema.to_string().len()).map_err(invalid)?;
            let validator =
                schema::compile(schema).map_err(|e| invalid(format!("cannot be compiled: {e}")))?;
            Ok(Arc::new(Checked { validator, cost }))
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
                    "the tool `{}` has no function `{}` (it has: {})",
                    self.inner.metadata.name,
                    crate::metadata::shown(name),
                    known.join(", ")
                ),
            )
        })
    }

    /// Checks `arguments` against the function's JSON Schema, under the
    /// validation budget (`crate::schema`).
    pub async fn validate_arguments(&self, function: &str, arguments: &Value) -> Result<(), Error> {
        self.function(function)?;
        let checked = &self.inner.argument_validators[function];
        checked.validate(arguments).await.map_err(|refusal| {
            Error::host(
                ErrorKind::InvalidArguments,
                refusal.describe("the arguments", function),
            )
        })
    }

    /// Checks `config` against the tool's configuration schema (`null` counts
    /// as `{}`), under the validation budget (`crate::schema`).
    pub async fn validate_config(&self, config: &Value) -> Result<(), Error> {
        let empty = Value::Object(Default::default());
        let config = if config.is_null() { &empty } else { config };
        let checked = &self.inner.config_validator;
        checked.validate(config).await.map_err(|refusal| {
            Error::host(
                ErrorKind::NotConfigured,
                refusal.describe("the configuration", &self.inner.metadata.name),
            )
        })
    }
}
