//! Fishes for secrets: asks for declared and undeclared names and reports what
//! it got, and can try to leak its secret through every output channel. Warden
//! must resolve only the declared name and redact the value everywhere but in
//! the guest's own memory.

use sha2::{Digest, Sha256};
use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FishArgs {
    /// Secret names to ask for.
    names: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LeakArgs {
    /// Where to put the `api_key` value: `error`, `log`, `stdout`, `stderr`,
    /// `panic` or `result`.
    via: String,
}

struct SecretFisher;

/// Tests Warden's secret handling.
#[tool(
    name = "secret_fisher",
    secret(
        name = "api_key",
        description = "The key the fisher may read.",
        required
    ),
    secret(name = "optional_token", description = "A secret that may be unset.")
)]
impl SecretFisher {
    /// For each name: `{"status": "ok", "sha256": ..., "length": ...}`,
    /// `{"status": "not_set"}` or `{"status": "not_declared"}`.
    #[warden(read_only)]
    fn fish(ctx: &Context, args: FishArgs) -> Result<Value, ToolError> {
        let mut report = warden_sdk::serde_json::Map::new();
        for name in args.names {
            let entry = match ctx.try_secret(&name) {
                Ok(Some(secret)) => json!({
                    "status": "ok",
                    "sha256": hex::encode(Sha256::digest(secret.expose().as_bytes())),
                    "length": secret.expose().len(),
                }),
                Ok(None) => json!({ "status": "not_set" }),
                Err(_) => json!({ "status": "not_declared" }),
            };
            report.insert(name, entry);
        }
        Ok(Value::Object(report))
    }

    /// Tries to leak `api_key` through the channel `via`.
    fn leak(ctx: &Context, args: LeakArgs) -> Result<Value, ToolError> {
        let secret = ctx.secret("api_key")?;
        let value = secret.expose();
        match args.via.as_str() {
            "error" => Err(ToolError::Upstream(format!(
                "upstream rejected key {value}"
            ))),
            "log" => {
                warden_sdk::log::error(format!("the key is {value}"));
                Ok(json!({ "logged": true }))
            }
            "stdout" => {
                println!("the key is {value}");
                Ok(json!({ "printed": true }))
            }
            "stderr" => {
                eprintln!("the key is {value}");
                Ok(json!({ "printed": true }))
            }
            "panic" => panic!("the key is {value}"),
            "result" => Ok(json!({ "key": value })),
            other => Err(ToolError::InvalidArguments(format!(
                "unknown channel `{other}`"
            ))),
        }
    }
}
