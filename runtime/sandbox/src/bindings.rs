//! Host bindings for the `warden:tool/tool` world.
//!
//! The `bindgen!` output stays private to this module; the rest of the crate
//! uses only what is re-exported here.

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
    CallContext as WitCallContext, ToolError as WitToolError, ToolMetadata as WitToolMetadata,
};
