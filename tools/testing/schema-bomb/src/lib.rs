//! A 3 KB component whose configuration schema and function parameters are
//! `$defs` chains where each definition `allOf`s the next twice: validating
//! against them takes 2^40 steps. Warden must refuse it at load time
//! (`invalid_component`, naming the rule), never try to validate with it.

use warden_sdk::__private::{
    self as w, CallContext, FunctionSpec, ToolMetadata, ToolResult, WitToolError,
};

struct SchemaBomb;

fn doubling_chain(links: usize) -> String {
    let mut defs = Vec::new();
    for i in 0..links {
        defs.push(format!(
            r##""d{i}":{{"allOf":[{{"$ref":"#/$defs/d{n}"}},{{"$ref":"#/$defs/d{n}"}}]}}"##,
            n = i + 1
        ));
    }
    defs.push(format!(r#""d{links}":{{"type":"string"}}"#));
    format!(
        r##"{{"type":"object","properties":{{"x":{{"$ref":"#/$defs/d0"}}}},"$defs":{{{}}}}}"##,
        defs.join(",")
    )
}

impl w::Guest for SchemaBomb {
    fn metadata() -> ToolMetadata {
        ToolMetadata {
            name: "schema_bomb".into(),
            version: "0.1.0".into(),
            description: "Declares exponential schemas.".into(),
            config_schema: doubling_chain(40),
            secrets: vec![],
            allowed_hosts: vec![],
            credentials: vec![],
            functions: vec![FunctionSpec {
                name: "run".into(),
                description: "Runs.".into(),
                parameters: doubling_chain(40),
                read_only: true,
                idempotent: false,
                destructive: false,
                open_world: false,
                output_schema: None,
            }],
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

warden_sdk::__private::bindings::__export_tool!(SchemaBomb with_types_in warden_sdk::__private::bindings);
