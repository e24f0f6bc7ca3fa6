//! `warden tool new`: a tool project that builds and answers `warden tool
//! call` as generated, in Rust, Python or TypeScript.

use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Create a tool project that builds and passes `warden tool call` as
/// generated.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The tool's name (`^[a-z][a-z0-9_]{0,63}$`), e.g. `order_status`.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// Where to create the project [default: the name, with `-` for `_`].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The SDK to depend on [default: this checkout's `sdk/rust`,
    /// `sdk/python` or `sdk/js`].
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Python,
    /// TypeScript, with `sdk/js` and componentize-js.
    #[value(alias = "ts", alias = "typescript")]
    Js,
}

/// The SDKs of the checkout this binary was built from.
fn default_sdk(lang: Lang) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sdk = root.join(match lang {
        Lang::Rust => "sdk/rust",
        Lang::Python => "sdk/python",
        Lang::Js => "sdk/js",
    });
    sdk.canonicalize().unwrap_or(sdk)
}

pub(crate) fn run(args: NewArgs) -> ExitCode {
    match create(&args) {
        Ok(dir) => {
            let next = match args.lang {
                Lang::Rust => format!(
                    "cd {dir}\ncargo build --release --target wasm32-wasip2\n\
                     warden tool call target/wasm32-wasip2/release/{name}.wasm hello --args '{{\"name\":\"Ada\"}}'",
                    dir = dir.display(),
                    name = args.name,
                ),
                Lang::Python => format!(
                    "cd {dir}\npython -m warden_tool build app.py -o {name}.wasm\n\
                     warden tool call {name}.wasm hello --args '{{\"name\":\"Ada\"}}'",
                    dir = dir.display(),
                    name = args.name,
                ),
                Lang::Js => format!(
                    "cd {dir}\nnpm install\nnpm run build\n\
                     warden tool call {name}.wasm hello --args '{{\"name\":\"Ada\"}}'",
                    dir = dir.display(),
                    name = args.name,
                ),
            };
            eprintln!("created {}; next:\n{next}", dir.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("warden: {message}");
            ExitCode::FAILURE
        }
    }
}

fn create(args: &NewArgs) -> Result<PathBuf, String> {
    if !warden_sandbox::is_valid_name(&args.name) {
        return Err(format!(
            "`{}` cannot be a tool's name: names match ^[a-z][a-z0-9_]{{0,63}}$",
            args.name
        ));
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(args.name.replace('_', "-")));
    if dir.exists() {
        return Err(format!(
            "{} already exists; nothing was written",
            dir.display()
        ));
    }
    let sdk = args.sdk.clone().unwrap_or_else(|| default_sdk(args.lang));
    let files = match args.lang {
        Lang::Rust => rust(&args.name, &sdk),
        Lang::Python => python(&args.name, &sdk),
        Lang::Js => js(&args.name, &sdk),
    };
    write_all(&dir, &files).inspect_err(|_| {
        // Nothing half-written is left behind.
        let _ = std::fs::remove_dir_all(&dir);
    })?;
    Ok(dir)
}

fn write_all(dir: &Path, files: &[(&str, String)]) -> Result<(), String> {
    for (path, contents) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The greeting every template's `hello` returns, for the tests to check.
const GREETING: &str = "Hello";

fn rust(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let package = name.replace('_', "-");
    let cargo = format!(
        r#"[package]
name = "{package}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]          # a component, not a Rust library
# The component is named after the tool: target/wasm32-wasip2/release/{name}.wasm
name = "{name}"

[dependencies]
warden-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}
schemars = "1"

[profile.release]
opt-level = "s"
lto = true
panic = "abort"
strip = true
"#,
        sdk = sdk.display(),
    );
    let lib = format!(
        r#"use warden_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HelloArgs {{
    /// Who to greet.
    name: String,
}}

struct Tool;

/// Greets callers by name. (Say here what the tool is for: operators and
/// LLMs read it.)
#[tool(name = "{name}")]
impl Tool {{
    /// Returns a greeting for `name`.
    #[warden(read_only)]
    fn hello(_ctx: &Context, args: HelloArgs) -> Result<Value, ToolError> {{
        Ok(json!({{ "greeting": format!("{GREETING}, {{}}!", args.name) }}))
    }}
}}
"#
    );
    // The compiler Warden's SDK is built with, and the component target,
    // which rustup then installs on first use.
    let toolchain =
        "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"wasm32-wasip2\"]\nprofile = \"minimal\"\n";
    vec![
        ("Cargo.toml", cargo),
        ("rust-toolchain.toml", toolchain.to_owned()),
        ("src/lib.rs", lib),
        ("README.md", readme(name, Lang::Rust)),
        (".gitignore", "/target\n".to_owned()),
    ]
}

fn python(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let app = format!(
        r#"from warden_tool import Context, Tool, function


class App(Tool):
    """Greets callers by name. (Say here what the tool is for: operators and
    LLMs read it.)"""

    name = "{name}"
    version = "0.1.0"

    @function(read_only=True)
    def hello(self, ctx: Context, name: str) -> dict:
        """Returns a greeting for `name`.

        Args:
            name: Who to greet.
        """
        return {{"greeting": f"{GREETING}, {{name}}!"}}
"#
    );
    let test = format!(
        r#"import unittest

from app import App
from warden_tool.testing import ToolRunner


class AppTest(unittest.TestCase):
    def test_hello(self) -> None:
        runner = ToolRunner(App)
        self.assertEqual(runner.call("hello", {{"name": "Ada"}}), {{"greeting": "{GREETING}, Ada!"}})


if __name__ == "__main__":
    unittest.main()
"#
    );
    let requirements = format!("{}[build]\n", sdk.display());
    vec![
        ("app.py", app),
        ("test_app.py", test),
        ("requirements.txt", requirements),
        ("README.md", readme(name, Lang::Python)),
        (".gitignore", "*.wasm\n__pycache__/\n.venv/\n".to_owned()),
    ]
}

fn js(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let package = name.replace('_', "-");
    // The SDK is installed as a copy with its own dependencies
    // (`install-links`), as a package from a registry would be.
    let manifest = json!({
        "name": package,
        "version": "0.1.0",
        "private": true,
        "type": "module",
        "scripts": {
            "build": format!("warden-tool build src/index.ts -o {name}.wasm"),
            "check": "tsc --noEmit",
            "test": "node --import tsx --test tests/*.test.ts",
        },
        "dependencies": { "warden-tool": format!("file:{}", sdk.display()) },
        "devDependencies": {
            "@types/node": "20.19.43",
            "tsx": "4.23.15",
            "typescript": "6.0.3",
        },
    });
    let index = format!(
        r#"import {{ defineTool, z }} from "warden-tool";

export default defineTool({{
  name: "{name}",
  version: "0.1.0",
  // Say here what the tool is for: operators and LLMs read it.
  description: "Greets callers by name.",
  functions: {{
    hello: {{
      description: "Returns a greeting for `name`.",
      parameters: z.object({{ name: z.string().describe("Who to greet.") }}),
      readOnly: true,
      run: ({{ name }}) => ({{ greeting: `{GREETING}, ${{name}}!` }}),
    }},
  }},
}});
"#
    );
    let test = format!(
        r#"import assert from "node:assert/strict";
import {{ test }} from "node:test";

import {{ ToolRunner }} from "warden-tool/testing";
import tool from "../src/index";

test("hello greets by name", async () => {{
  const runner = new ToolRunner(tool);
  assert.deepEqual(await runner.call("hello", {{ name: "Ada" }}), {{ greeting: "{GREETING}, Ada!" }});
}});
"#
    );
    let tsconfig = r#"{
  "compilerOptions": {
    "target": "es2022",
    "lib": ["es2022"],
    "module": "esnext",
    "moduleResolution": "bundler",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": true,
    "types": ["node"]
  },
  "include": ["src", "tests"]
}
"#;
    vec![
        (
            "package.json",
            serde_json::to_string_pretty(&manifest).expect("a JSON value") + "\n",
        ),
        (".npmrc", "install-links=true\n".to_owned()),
        ("tsconfig.json", tsconfig.to_owned()),
        ("src/index.ts", index),
        ("tests/index.test.ts", test),
        ("README.md", readme(name, Lang::Js)),
        (".gitignore", "node_modules/\n*.wasm\n".to_owned()),
    ]
}

fn readme(name: &str, lang: Lang) -> String {
    let steps = match lang {
        Lang::Rust => format!(
            "```sh\ncargo build --release --target wasm32-wasip2\n\
             warden tool call target/wasm32-wasip2/release/{name}.wasm hello --args '{{\"name\":\"Ada\"}}'\n```\n\n\
             The SDK's guide: `sdk/rust/README.md` in the Warden repository.\n"
        ),
        Lang::Python => format!(
            "```sh\npython3 -m venv .venv && . .venv/bin/activate\n\
             pip install -r requirements.txt      # the SDK and componentize-py\n\
             python -m unittest                    # the tool in plain Python\n\
             python -m warden_tool build app.py -o {name}.wasm\n\
             warden tool call {name}.wasm hello --args '{{\"name\":\"Ada\"}}'\n```\n\n\
             The SDK's guide: `sdk/python/README.md` in the Warden repository.\n"
        ),
        Lang::Js => format!(
            "```sh\nnpm install                           # the SDK, componentize-js, TypeScript\n\
             npm test                              # the tool in Node\n\
             npm run build                         # {name}.wasm\n\
             warden tool call {name}.wasm hello --args '{{\"name\":\"Ada\"}}'\n```\n\n\
             The SDK's guide: `sdk/js/README.md` in the Warden repository.\n"
        ),
    };
    format!(
        "# {name}\n\nA Warden tool. Build it and call it:\n\n{steps}\n\
         Install it with `POST /v1/tools` (`Content-Type: application/wasm`, the\n\
         component as the body) under an organization's API key.\n"
    )
}
