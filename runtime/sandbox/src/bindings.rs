//! Host bindings for every version of the `warden:tool/tool` world Warden
//! links (`wit/{version}/`).
//!
//! The `bindgen!` output stays private to this module; the rest of the crate
//! uses only what is re-exported here. The latest version's types are the
//! crate's working form: an older version's answers are converted to it, and
//! its calls are made from it.

use crate::store::CallState;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

/// `warden:tool@0.1.0`, frozen.
pub(crate) mod v0_1 {
    mod generated {
        wasmtime::component::bindgen!({
            path: "../../wit/0.1.0",
            world: "warden:tool/tool",
            exports: { default: async },
            with: {
                "wasi:http": wasmtime_wasi_http::p2::bindings::http,
                "wasi": wasmtime_wasi::p2::bindings,
            },
        });
    }

    pub(crate) use generated::Tool as ToolWorld;
    pub(crate) use generated::ToolPre as ToolWorldPre;
    pub(crate) use generated::warden::tool::log;
    pub(crate) use generated::warden::tool::secrets;
    pub(crate) use generated::warden::tool::types::{
        CallContext, FunctionSpec, ToolError, ToolMetadata,
    };
}

/// `warden:tool@0.2.0`, the latest.
pub(crate) mod v0_2 {
    mod generated {
        wasmtime::component::bindgen!({
            path: "../../wit/0.2.0",
            world: "warden:tool/tool",
            exports: { default: async },
            with: {
                "wasi:http": wasmtime_wasi_http::p2::bindings::http,
                "wasi": wasmtime_wasi::p2::bindings,
            },
        });
    }

    pub(crate) use generated::Tool as ToolWorld;
    pub(crate) use generated::ToolPre as ToolWorldPre;
    pub(crate) use generated::warden::tool::log;
    pub(crate) use generated::warden::tool::secrets;
    pub(crate) use generated::warden::tool::types::{
        CallContext, CallDirection, Credential, FunctionSpec, Oauth2, PhoneCall, SecretSpec,
        ToolError, ToolMetadata, ToolResult,
    };
}

pub(crate) use v0_2::ToolError as WitToolError;
pub(crate) use v0_2::ToolMetadata as WitToolMetadata;

/// A 0.1.0 tool's metadata in the latest form: the effect hints it could not
/// declare are `false` and marked unknown by the caller.
pub(crate) fn metadata_from_v0_1(m: v0_1::ToolMetadata) -> WitToolMetadata {
    WitToolMetadata {
        name: m.name,
        version: m.version,
        description: m.description,
        config_schema: m.config_schema,
        secrets: m
            .secrets
            .into_iter()
            .map(|s| v0_2::SecretSpec {
                name: s.name,
                description: s.description,
                required: s.required,
            })
            .collect(),
        allowed_hosts: m.allowed_hosts,
        credentials: m
            .credentials
            .into_iter()
            .map(|c| v0_2::Credential {
                secret: c.secret,
                hosts: c.hosts,
                header: c.header,
                format: c.format,
            })
            .collect(),
        functions: m
            .functions
            .into_iter()
            .map(|f: v0_1::FunctionSpec| v0_2::FunctionSpec {
                name: f.name,
                description: f.description,
                parameters: f.parameters,
                read_only: f.read_only,
                idempotent: false,
                destructive: false,
                open_world: false,
                output_schema: None,
            })
            .collect(),
        oauth: m.oauth.map(|o| v0_2::Oauth2 {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            scopes: o.scopes,
        }),
    }
}

/// A 0.1.0 tool's error in the latest form (the cases are the same).
pub(crate) fn error_from_v0_1(e: v0_1::ToolError) -> WitToolError {
    use v0_1::ToolError as Old;
    match e {
        Old::InvalidArguments(m) => WitToolError::InvalidArguments(m),
        Old::NotConfigured(m) => WitToolError::NotConfigured(m),
        Old::Unauthorized(m) => WitToolError::Unauthorized(m),
        Old::NotFound(m) => WitToolError::NotFound(m),
        Old::RateLimited(m) => WitToolError::RateLimited(m),
        Old::Upstream(m) => WitToolError::Upstream(m),
        Old::Internal(m) => WitToolError::Internal(m),
    }
}

/// The call context in 0.1.0's form: the call record and the time left are
/// not part of it.
pub(crate) fn context_to_v0_1(ctx: &v0_2::CallContext) -> v0_1::CallContext {
    v0_1::CallContext {
        call_id: ctx.call_id.clone(),
        organization_id: ctx.organization_id.clone(),
        agent_id: ctx.agent_id.clone(),
        config: ctx.config.clone(),
    }
}

/// The contract versions Warden links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractVersion {
    /// `warden:tool@0.1.0`.
    V0_1,
    /// `warden:tool@0.2.0`.
    V0_2,
}

impl ContractVersion {
    /// The package version, e.g. `0.2.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "0.1.0",
            ContractVersion::V0_2 => "0.2.0",
        }
    }

    /// The version whose interfaces `component` imports; `None` when it
    /// imports none of Warden's (then its exports decide).
    fn imported_by(component: &Component, engine: &Engine) -> Option<ContractVersion> {
        component
            .component_type()
            .imports(engine)
            .find_map(|(name, _)| {
                let (_, version) = name.strip_prefix("warden:tool/")?.split_once('@')?;
                match version {
                    "0.1.0" => Some(ContractVersion::V0_1),
                    "0.2.0" => Some(ContractVersion::V0_2),
                    _ => None,
                }
            })
    }
}

/// A component linked and checked against the contract version it targets.
pub(crate) enum ToolPre {
    V0_1(v0_1::ToolWorldPre<CallState>),
    V0_2(v0_2::ToolWorldPre<CallState>),
}

/// An instance of a tool, of its contract version.
pub(crate) enum ToolInstance {
    V0_1(v0_1::ToolWorld),
    V0_2(v0_2::ToolWorld),
}

impl ToolPre {
    /// Checks `pre`'s exports against the version its imports name (or, when
    /// they name none, against each version, latest first).
    pub(crate) fn new(pre: InstancePre<CallState>, engine: &Engine) -> Result<ToolPre, String> {
        let v0_1 = |pre| v0_1::ToolWorldPre::new(pre).map(ToolPre::V0_1);
        let v0_2 = |pre| v0_2::ToolWorldPre::new(pre).map(ToolPre::V0_2);
        let checked = match ContractVersion::imported_by(pre.component(), engine) {
            Some(ContractVersion::V0_1) => v0_1(pre),
            Some(ContractVersion::V0_2) => v0_2(pre),
            None => v0_2(pre.clone()).or_else(|_| v0_1(pre)),
        };
        checked.map_err(|e| format!("{e:#}"))
    }

    /// The contract version the component targets.
    pub(crate) fn version(&self) -> ContractVersion {
        match self {
            ToolPre::V0_1(_) => ContractVersion::V0_1,
            ToolPre::V0_2(_) => ContractVersion::V0_2,
        }
    }

    pub(crate) fn instance_pre(&self) -> &InstancePre<CallState> {
        match self {
            ToolPre::V0_1(pre) => pre.instance_pre(),
            ToolPre::V0_2(pre) => pre.instance_pre(),
        }
    }

    /// Instantiates from the pre-instantiated component (the pooled path).
    pub(crate) async fn instantiate_async(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<ToolInstance> {
        Ok(match self {
            ToolPre::V0_1(pre) => ToolInstance::V0_1(pre.instantiate_async(store).await?),
            ToolPre::V0_2(pre) => ToolInstance::V0_2(pre.instantiate_async(store).await?),
        })
    }

    /// Instantiates through `linker` from scratch (the naive baseline).
    pub(crate) async fn instantiate_naive(
        &self,
        store: &mut Store<CallState>,
        linker: &Linker<CallState>,
    ) -> wasmtime::Result<ToolInstance> {
        let component = self.instance_pre().component();
        Ok(match self {
            ToolPre::V0_1(_) => ToolInstance::V0_1(
                v0_1::ToolWorld::instantiate_async(store, component, linker).await?,
            ),
            ToolPre::V0_2(_) => ToolInstance::V0_2(
                v0_2::ToolWorld::instantiate_async(store, component, linker).await?,
            ),
        })
    }
}
