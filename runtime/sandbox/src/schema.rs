//! JSON Schemas a tool declares, checked for shape and cost before they are
//! compiled, and validation that cannot stall the host.
//!
//! A schema is tenant input: without bounds, a few kilobytes of `$defs` that
//! each `allOf` the next twice make validation exponential. So every schema
//! passes [`check`] at load time, which enforces the rules below, and
//! validation itself runs under a budget ([`Validation`]).
//!
//! The rules (each refusal names its rule):
//! - at most [`MAX_SCHEMA_BYTES`] of JSON text and [`MAX_SCHEMA_DEPTH`] levels
//!   of nesting;
//! - `$ref` only to a JSON pointer into the same document (`#`, `#/$defs/…`),
//!   and no reference cycle (a recursive schema is refused);
//! - no dynamic or recursive references (`$dynamicRef`, `$recursiveRef`) and
//!   no `$id` / `$anchor` (which would make references ambiguous);
//! - with every reference expanded in place, at most
//!   [`MAX_EXPANDED_SCHEMA_NODES`] subschemas: this is what bounds the
//!   `allOf`/`anyOf`/`oneOf` fan-out through references;
//! - each `pattern` (and `patternProperties` key) at most
//!   [`MAX_PATTERN_BYTES`]; patterns run on the linear-time `regex` engine
//!   with a bounded program size, so no pattern backtracks.

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The largest schema, in bytes of JSON text.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// The deepest nesting of JSON values in a schema.
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// The most subschemas a schema may have with its references expanded.
pub const MAX_EXPANDED_SCHEMA_NODES: u64 = 10_000;
/// The longest `pattern`, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// The largest compiled regular expression, in bytes (the `regex` crate's
/// size limit).
const MAX_REGEX_PROGRAM_BYTES: usize = 256 * 1024;
/// Validation work, in (expanded schema nodes × instance values), done on
/// the calling thread; more goes to a blocking thread under
/// [`VALIDATION_TIME_BUDGET`].
const INLINE_VALIDATION_WORK: u64 = 1_000_000;
/// Validation work refused outright, without trying: the arguments are too
/// large for the schema.
pub const MAX_VALIDATION_WORK: u64 = 200_000_000;
/// Wall-clock time a validation on a blocking thread may take.
pub const VALIDATION_TIME_BUDGET: Duration = Duration::from_secs(1);

/// Keywords whose value is data, never a subschema.
const DATA_KEYWORDS: &[&str] = &[
    "const",
    "default",
    "enum",
    "examples",
    "required",
    "type",
    "$comment",
    "description",
    "title",
    "$schema",
];
/// Keywords whose value is an object of subschemas by name.
const SCHEMA_MAP_KEYWORDS: &[&str] = &[
    "$defs",
    "definitions",
    "dependencies",
    "dependentSchemas",
    "patternProperties",
    "properties",
];
/// Keywords that would let references leave the document or change meaning
/// at run time.
const REFUSED_KEYWORDS: &[&str] = &[
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$id",
    "$anchor",
];

/// A schema that passed [`check`]: its size with references expanded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaCost {
    pub expanded_nodes: u64,
}

/// Checks a parsed schema against the rules in the module docs.
pub(crate) fn check(schema: &Value, text_len: usize) -> Result<SchemaCost, String> {
    if text_len > MAX_SCHEMA_BYTES {
        return Err(format!(
            "is {text_len} bytes, over the limit of {MAX_SCHEMA_BYTES}"
        ));
    }
    if depth(schema) > MAX_SCHEMA_DEPTH {
        return Err(format!("nests deeper than {MAX_SCHEMA_DEPTH} levels"));
    }
    let mut walk = Walk {
        root: schema,
        memo: HashMap::new(),
        on_path: Vec::new(),
    };
    let expanded_nodes = walk.cost(schema, "#")?;
    Ok(SchemaCost { expanded_nodes })
}

/// The nesting depth of a JSON value (a scalar is 1).
pub(crate) fn depth(value: &Value) -> usize {
    // Iterative, so a deep value cannot overflow the host's stack.
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// The number of values in a JSON document.
pub(crate) fn size(value: &Value) -> u64 {
    let mut count = 0u64;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        count += 1;
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

struct Walk<'a> {
    root: &'a Value,
    /// Expanded cost of each reference target already walked.
    memo: HashMap<String, u64>,
    /// References being expanded, to find cycles.
    on_path: Vec<String>,
}

impl<'a> Walk<'a> {
    /// The number of subschemas under `node` with references expanded.
    /// Recursion depth is bounded by the document's depth (checked first)
    /// plus the reference chain, which has no cycles.
    fn cost(&mut self, node: &'a Value, at: &str) -> Result<u64, String> {
        let map = match node {
            Value::Object(map) => map,
            Value::Array(items) => {
                let mut total = 0u64;
                for (i, item) in items.iter().enumerate() {
                    total = total.saturating_add(self.cost(item, &format!("{at}/{i}"))?);
                }
                return Ok(total);
            }
            // `true` / `false` schemas, and scalars in keyword lists.
            _ => return Ok(1),
        };
        for keyword in REFUSED_KEYWORDS {
            if map.contains_key(*keyword) {
                return Err(format!(
                    "uses `{keyword}` at {at}, which Warden does not support"
                ));
            }
        }
        let mut total = 1u64;
        if let Some(reference) = map.get("$ref") {
            let Some(reference) = reference.as_str() else {
                return Err(format!("has a `$ref` that is not a string at {at}"));
            };
            total = total.saturating_add(self.reference(reference, at)?);
        }
        for (pattern_at, pattern) in map
            .get("pattern")
            .and_then(Value::as_str)
            .into_iter()
            .chain(
                map.get("patternProperties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|m| m.keys().map(String::as_str)),
            )
            .map(|p| (at, p))
        {
            if pattern.len() > MAX_PATTERN_BYTES {
                return Err(format!(
                    "has a pattern of {} bytes at {pattern_at}, over the limit of {MAX_PATTERN_BYTES}",
                    pattern.len()
                ));
            }
        }
        // Any other keyword's object or array is walked as subschemas:
        // counting too much is safe, missing a subschema is not.
        for (keyword, value) in map {
            let keyword = keyword.as_str();
            if DATA_KEYWORDS.contains(&keyword) || keyword == "$ref" {
                continue;
            }
            let child_at = format!("{at}/{}", escape(keyword));
            if SCHEMA_MAP_KEYWORDS.contains(&keyword)
                && let Value::Object(entries) = value
            {
                // Definitions count where they are referenced, not where
                // they are written; they are still checked here.
                let counts = !matches!(keyword, "$defs" | "definitions");
                for (name, item) in entries {
                    let cost = self.cost(item, &format!("{child_at}/{}", escape(name)))?;
                    if counts {
                        total = total.saturating_add(cost);
                    }
                }
            } else if value.is_object() || value.is_array() {
                total = total.saturating_add(self.cost(value, &child_at)?);
            }
            if total > MAX_EXPANDED_SCHEMA_NODES {
                return Err(format!(
                    "expands to more than {MAX_EXPANDED_SCHEMA_NODES} subschemas with its \
                     references followed (at {at}): too costly to validate"
                ));
            }
        }
        Ok(total)
    }

    fn reference(&mut self, reference: &str, at: &str) -> Result<u64, String> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!(
                "has `$ref` `{}` at {at}: only references within the schema (`#/…`) are allowed",
                crate::metadata::shown(reference)
            ));
        };
        if let Some(&cost) = self.memo.get(pointer) {
            return Ok(cost);
        }
        if self.on_path.iter().any(|p| p == pointer) {
            return Err(format!(
                "has a reference cycle through `#{}` at {at}: recursive schemas are not allowed",
                crate::metadata::shown(pointer)
            ));
        }
        let Some(target) = self.root.pointer(pointer) else {
            return Err(format!(
                "has `$ref` `#{}` at {at}, which points nowhere",
                crate::metadata::shown(pointer)
            ));
        };
        self.on_path.push(pointer.to_owned());
        let cost = self.cost(target, &format!("#{pointer}"));
        self.on_path.pop();
        let cost = cost?;
        self.memo.insert(pointer.to_owned(), cost);
        Ok(cost)
    }
}

/// A JSON pointer token for `name`.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Compiles a checked schema with Warden's validation options: patterns on
/// the linear-time `regex` engine with a bounded program size.
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_pattern_options(
            jsonschema::PatternOptions::regex()
                .size_limit(MAX_REGEX_PROGRAM_BYTES)
                .dfa_size_limit(MAX_REGEX_PROGRAM_BYTES),
        )
        .build(schema)
        .map_err(|e| e.to_string())
}

/// How a validation of `instance` against a schema of `cost` is run.
pub(crate) enum Validation {
    /// Cheap enough to run on the calling thread.
    Inline,
    /// Run on a blocking thread under [`VALIDATION_TIME_BUDGET`].
    Blocking,
    /// Refused without trying: the work would be this much.
    TooCostly(u64),
}

impl Validation {
    pub(crate) fn plan(cost: SchemaCost, instance: &Value) -> Validation {
        let work = cost.expanded_nodes.saturating_mul(size(instance));
        if work <= INLINE_VALIDATION_WORK {
            Validation::Inline
        } else if work <= MAX_VALIDATION_WORK {
            Validation::Blocking
        } else {
            Validation::TooCostly(work)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_value(schema: &Value) -> Result<SchemaCost, String> {
        check(schema, schema.to_string().len())
    }

    /// `$defs` d0..dN where each `allOf`s the next twice: 2^N subschemas.
    fn doubling_chain(n: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..n {
            let next = format!("#/$defs/d{}", i + 1);
            defs.insert(
                format!("d{i}"),
                json!({"allOf": [{"$ref": next}, {"$ref": next}]}),
            );
        }
        defs.insert(format!("d{n}"), json!({"type": "string"}));
        json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}})
    }

    #[test]
    fn doubling_reference_chain_is_refused() {
        // Small chains are fine: 2^5 subschemas.
        check_value(&doubling_chain(5)).expect("a short chain passes");
        let err = check_value(&doubling_chain(40)).unwrap_err();
        assert!(
            err.contains("expands to more than 10000 subschemas"),
            "{err}"
        );
    }

    #[test]
    fn cycles_remote_and_dangling_references_are_refused() {
        let cycle = json!({"type": "object", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}});
        assert!(check_value(&cycle).unwrap_err().contains("reference cycle"));
        let direct = json!({"type": "object", "properties": {"x": {"$ref": "#"}}});
        assert!(
            check_value(&direct)
                .unwrap_err()
                .contains("reference cycle")
        );
        let remote =
            json!({"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}});
        assert!(
            check_value(&remote)
                .unwrap_err()
                .contains("only references within")
        );
        let dangling = json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/nope"}}});
        assert!(
            check_value(&dangling)
                .unwrap_err()
                .contains("points nowhere")
        );
        let dynamic = json!({"type": "object", "$dynamicAnchor": "a"});
        assert!(
            check_value(&dynamic)
                .unwrap_err()
                .contains("$dynamicAnchor")
        );
    }

    #[test]
    fn size_depth_and_patterns_are_bounded() {
        let mut deep = json!({"type": "string"});
        for _ in 0..40 {
            deep = json!({"type": "object", "properties": {"x": deep}});
        }
        assert!(
            check_value(&deep)
                .unwrap_err()
                .contains("nests deeper than 32")
        );
        let big = json!({"type": "object", "description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(
            check_value(&big)
                .unwrap_err()
                .contains("over the limit of 65536")
        );
        let long = json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "a".repeat(2000)}}});
        assert!(
            check_value(&long)
                .unwrap_err()
                .contains("pattern of 2000 bytes")
        );
    }

    #[test]
    fn patterns_run_in_linear_time() {
        // Catastrophic for a backtracking engine: (a+)+$ on "aaaa…!".
        let schema = json!({"type": "string", "pattern": "^(a+)+$"});
        let validator = compile(&schema).expect("compiles");
        let input = Value::String(format!("{}!", "a".repeat(100_000)));
        let started = std::time::Instant::now();
        assert!(!validator.is_valid(&input));
        // Not a timing assertion on speed, a guard against a hang: a
        // backtracking engine would take longer than the universe exists.
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn ordinary_schemas_pass() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "when": {"$ref": "#/$defs/Time"},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
                "kind": {"anyOf": [{"const": "a"}, {"const": "b"}]}
            },
            "$defs": {"Time": {"type": "string", "format": "date-time"}},
            "required": ["when"]
        });
        let cost = check_value(&schema).expect("passes");
        assert!(cost.expanded_nodes < 20, "{cost:?}");
        compile(&schema).expect("compiles");
    }

    #[test]
    fn work_is_planned_by_schema_and_instance_size() {
        let cost = SchemaCost { expanded_nodes: 10 };
        assert!(matches!(
            Validation::plan(cost, &json!({"a": 1})),
            Validation::Inline
        ));
        let big = Value::Array(vec![json!(1); 200_000]);
        assert!(matches!(Validation::plan(cost, &big), Validation::Blocking));
        let cost = SchemaCost {
            expanded_nodes: 10_000,
        };
        assert!(matches!(
            Validation::plan(cost, &big),
            Validation::TooCostly(_)
        ));
    }
}
