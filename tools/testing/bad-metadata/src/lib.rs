//! A component whose metadata is wrong in two ways: two functions share a
//! name, and one function's parameters are not a valid JSON Schema. Warden
//! must refuse to load it as `invalid_component`, naming the duplicate.
//!
//! Written against the raw bindings because the SDK makes both mistakes
//! impossible.

use warden_sdk::__private::{
    self as w, CallContext, FunctionSpec, ToolMetadata, ToolResult, WitToolError,
};

struct BadMetadata;

fn function(name: &str, parameters: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        description: "A function.".into(),
        parameters: parameters.into(),
        read_only: true,
        idempotent: false,
        destructive: false,
        open_world: false,
        output_schema: None,
    }
}

impl w::Guest for BadMetadata {
    fn metadata() -> ToolMetadata {
        let object = r#"{"type":"object","properties":{}}"#;
        ToolMetadata {
            name: "bad_metadata".into(),
            version: "0.1.0".into(),
            description: "Declares broken metadata.".into(),
            config_schema: object.into(),
            secrets: vec![],
            allowed_hosts: vec![],
            credentials: vec![],
            functions: vec![
                function("lookup", object),
                function("lookup", object),
                function(
                    "broken",
                    r#"{"type":"object","properties":{"x":{"type":12}}}"#,
                ),
            ],
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

warden_sdk::__private::bindings::__export_tool!(BadMetadata with_types_in warden_sdk::__private::bindings);
