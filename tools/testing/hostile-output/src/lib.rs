//! Returns what no client should receive: whatever JSON text it is given
//! (100,000-deep arrays, `1e400`, lone surrogate escapes), tool-error
//! messages of any size, and floods of huge log records. Warden must hand
//! back only JSON that standard parsers accept, cut error messages and log
//! records to their limits, and keep only the bytes it keeps.
//!
//! Written against the raw bindings: the SDK would only ever return valid
//! JSON.

use warden_sdk::__private::{
    self as w, CallContext, FunctionSpec, ToolMetadata, ToolResult, WitToolError,
};

struct HostileOutput;

fn function(name: &str, description: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        description: description.into(),
        parameters: r#"{"type":"object","properties":{"json":{"type":"string"},"bytes":{"type":"integer","minimum":0},"records":{"type":"integer","minimum":0},"depth":{"type":"integer","minimum":0}}}"#.into(),
        read_only: true,
        idempotent: false,
        destructive: false,
        open_world: false,
        output_schema: None,
    }
}

fn number(arguments: &str, key: &str) -> usize {
    // A tiny hand parse: the host validated the arguments against the
    // schema, and this fixture has no JSON library.
    let Some(start) = arguments.find(&format!("\"{key}\":")) else {
        return 0;
    };
    arguments[start + key.len() + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

impl w::Guest for HostileOutput {
    fn metadata() -> ToolMetadata {
        ToolMetadata {
            name: "hostile_output".into(),
            version: "0.1.0".into(),
            description: "Returns hostile outputs.".into(),
            config_schema: r#"{"type":"object","properties":{}}"#.into(),
            secrets: vec![],
            allowed_hosts: vec![],
            credentials: vec![],
            functions: vec![
                function("deep", "Returns an array nested `depth` levels deep."),
                function("huge_number", "Returns 1e400."),
                function("lone_surrogate", "Returns a lone surrogate escape."),
                function("duplicate_keys", "Returns an object with a key twice."),
                function("long_error", "Fails with a message of `bytes` bytes."),
                function("log_flood", "Logs `records` records of `bytes` bytes each."),
            ],
            oauth: None,
        }
    }

    fn invoke(
        _: CallContext,
        function: String,
        arguments: String,
    ) -> Result<ToolResult, WitToolError> {
        let json = match function.as_str() {
            "deep" => {
                let depth = number(&arguments, "depth");
                Ok(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
            }
            "huge_number" => Ok(r#"{"n":1e400}"#.into()),
            "lone_surrogate" => Ok(r#"{"s":"\ud800"}"#.into()),
            "duplicate_keys" => Ok(r#"{"a":1,"a":2}"#.into()),
            "long_error" => Err(WitToolError::Upstream(
                "e".repeat(number(&arguments, "bytes")),
            )),
            "log_flood" => {
                let message = "l".repeat(number(&arguments, "bytes"));
                for _ in 0..number(&arguments, "records") {
                    w::bindings::warden::tool::log::log(
                        w::bindings::warden::tool::log::Level::Info,
                        &message,
                    );
                }
                Ok("{\"logged\":true}".into())
            }
            other => Err(WitToolError::InvalidArguments(format!(
                "no function {other}"
            ))),
        }?;
        Ok(ToolResult { json, spoken: None })
    }

    fn test(_: CallContext) -> Result<String, WitToolError> {
        Ok("null".into())
    }
}

warden_sdk::__private::bindings::__export_tool!(HostileOutput with_types_in warden_sdk::__private::bindings);
