//! Declares 20,000 functions and a 2 MB description. Warden must refuse it
//! at load time, naming the caps it breaks, without storing any of it.

use warden_sdk::__private::{
    self as w, CallContext, FunctionSpec, ToolMetadata, ToolResult, WitToolError,
};

struct MetadataBomb;

impl w::Guest for MetadataBomb {
    fn metadata() -> ToolMetadata {
        ToolMetadata {
            name: "metadata_bomb".into(),
            version: "0.1.0".into(),
            description: "d".repeat(2 << 20),
            config_schema: r#"{"type":"object","properties":{}}"#.into(),
            secrets: vec![],
            allowed_hosts: vec![],
            credentials: vec![],
            functions: (0..20_000)
                .map(|i| FunctionSpec {
                    name: format!("f{i}"),
                    description: "A function.".into(),
                    parameters: r#"{"type":"object","properties":{}}"#.into(),
                    read_only: true,
                    idempotent: false,
                    destructive: false,
                    open_world: false,
                    output_schema: None,
                })
                .collect(),
            oauth: None,
        }
    }

    fn invoke(_: CallContext, _: String, _: String) -> Result<ToolResult, WitToolError> {
        Ok(ToolResult {
            json: "null".into(),
            spoken: None,
        })
    }

    fn test(_: CallContext) -> Result<String, WitToolError> {
        Ok("null".into())
    }
}

warden_sdk::__private::bindings::__export_tool!(MetadataBomb with_types_in warden_sdk::__private::bindings);
