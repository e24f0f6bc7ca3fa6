//! What a run amounts to: wasmtime errors classified as host verdicts, tool
//! errors mapped, the result checked and every text redacted.

use super::call::{CallOutcome, CallReport, MAX_SPOKEN_BYTES, Run, ToolReturn};
use crate::bindings::WitToolError;
use crate::error::{Error, ErrorKind, MAX_ERROR_MESSAGE_BYTES};
use crate::limits::Limits;
use crate::secrets::SecretMap;
use crate::store::CallState;
use serde_json::Value;
use serde_json::value::RawValue;
use std::time::Instant;
use wasmtime::Trap;

pub(super) fn timeout_error(limits: &Limits) -> Error {
    Error::host(
        ErrorKind::Timeout,
        format!(
            "the tool did not finish within its deadline ({} ms)",
            limits.timeout.as_millis()
        ),
    )
}

/// Turns a wasmtime error from instantiation or a call into a host verdict.
pub(super) fn classify(e: &wasmtime::Error, state: &CallState, limits: &Limits) -> Error {
    let memory_limit = || {
        Error::host(
            ErrorKind::MemoryLimit,
            format!(
                "the tool tried to use more than its {} MiB of memory",
                limits.memory_bytes / Limits::MIB
            ),
        )
    };
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Error::host(
            ErrorKind::FuelExhausted,
            format!("the tool used up its fuel ({} units)", limits.fuel),
        ),
        Some(Trap::Interrupt) => timeout_error(limits),
        Some(Trap::StackOverflow) => {
            Error::host(ErrorKind::StackOverflow, "the tool overflowed its stack")
        }
        _ if state.limiter.memory_denied => memory_limit(),
        Some(trap) => Error::host(ErrorKind::Trap, format!("the tool crashed: {trap}")),
        None => Error::host(ErrorKind::Trap, format!("the tool failed: {e}")),
    }
}

/// The panic message a Rust guest printed to stderr, if any.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let mut message: String = stderr[start..]
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    crate::log::truncate_at_char_boundary(&mut message, 512);
    Some(message)
}

fn tool_error(e: WitToolError) -> Error {
    let (kind, message) = match e {
        WitToolError::InvalidArguments(m) => (ErrorKind::InvalidArguments, m),
        WitToolError::NotConfigured(m) => (ErrorKind::NotConfigured, m),
        WitToolError::Unauthorized(m) => (ErrorKind::Unauthorized, m),
        WitToolError::NotFound(m) => (ErrorKind::NotFound, m),
        WitToolError::RateLimited(m) => (ErrorKind::RateLimited, m),
        WitToolError::Upstream(m) => (ErrorKind::Upstream, m),
        WitToolError::Internal(m) => (ErrorKind::Internal, m),
    };
    Error::tool(kind, message)
}

/// Replaces secret values inside every string of a JSON document.
fn redact_json(value: &mut Value, secrets: &SecretMap) {
    match value {
        Value::String(s) => *s = secrets.redact(std::mem::take(s)),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            *map = entries
                .into_iter()
                .map(|(k, mut v)| {
                    redact_json(&mut v, secrets);
                    (secrets.redact(k), v)
                })
                .collect();
        }
        _ => {}
    }
}

/// Checks and redacts a successful JSON result.
fn accept_result(
    json: String,
    limits: &Limits,
    secrets: &SecretMap,
) -> Result<Box<RawValue>, Error> {
    if json.len() > limits.max_result_bytes {
        return Err(Error::host(
            ErrorKind::OutputTooLarge,
            format!(
                "the tool's result is {} bytes, over the {} byte limit",
                json.len(),
                limits.max_result_bytes
            ),
        ));
    }
    let invalid = |e: serde_json::Error| {
        Error::host(
            ErrorKind::Internal,
            format!("the tool returned invalid JSON: {e}"),
        )
    };
    // Parsed and written again, so what leaves the sandbox is JSON every
    // client parses: at most 128 levels deep (serde_json's limit), finite
    // numbers, no lone surrogate escapes, no duplicate keys; and secrets are
    // redacted in string values as a client decodes them, not only in the
    // escaped text.
    let mut value: Value = serde_json::from_str(&json).map_err(invalid)?;
    drop(json);
    if !secrets.is_empty() {
        redact_json(&mut value, secrets);
    }
    serde_json::value::to_raw_value(&value).map_err(invalid)
}

/// Builds the outcome of a run of `invoke` or `test`: classifies, redacts,
/// collects the report.
pub(super) fn finish(run: Run<ToolReturn>, limits: &Limits, started: Instant) -> CallOutcome {
    let Run {
        returned,
        mut state,
        captures,
        fuel_consumed,
    } = run;
    let mut policy = state.policy.report();
    for token in std::mem::take(&mut policy.new_secrets) {
        state.secrets.insert_redaction(token);
    }
    let secrets = &state.secrets;
    for denied in &mut policy.denied {
        *denied = secrets.redact(std::mem::take(denied));
        tracing::debug!(%denied, "outbound request denied by policy");
    }
    let (stdout, stdout_dropped) = captures.stdout.contents();
    let (stderr, stderr_dropped) = captures.stderr.contents();
    let stdout = secrets.redact_cut(stdout, stdout_dropped > 0);
    let stderr = secrets.redact_cut(stderr, stderr_dropped > 0);

    let mut spoken = None;
    let result = match returned {
        Ok(Ok(returned)) => {
            spoken = returned.spoken;
            accept_result(returned.json, limits, secrets)
        }
        Ok(Err(e)) => Err(tool_error(e)),
        Err(mut e) => {
            if e.kind == ErrorKind::Trap
                && let Some(panic) = panic_message(&stderr)
            {
                e.message = format!("{} ({panic})", e.message);
            }
            Err(e)
        }
    };
    // A host verdict (such as a revoked OAuth2 grant) ends the call whatever
    // the tool made of it; a tool failure after the policy refused a request
    // is the policy's doing.
    let result = match policy.verdict {
        Some(verdict) => Err(verdict),
        None => result,
    };
    let result = result.map_err(|mut e| {
        if let Some(denied) = policy.denied.first()
            && matches!(e.origin, crate::Origin::Tool)
        {
            e = Error::host(
                ErrorKind::HostDenied,
                format!("the tool may not reach {denied}"),
            );
        }
        (e.message, _) =
            secrets.redact_bounded(std::mem::take(&mut e.message), MAX_ERROR_MESSAGE_BYTES);
        e
    });

    let logs = state
        .logs
        .records
        .into_iter()
        .map(|(mut r, cut)| {
            r.message = secrets.redact_cut(std::mem::take(&mut r.message), cut);
            r
        })
        .collect();
    // A line to speak goes with a result only, redacted like one and cut to
    // its bound.
    let spoken = spoken
        .filter(|_| result.is_ok())
        .map(|line| secrets.redact_bounded(line, MAX_SPOKEN_BYTES).0);
    CallOutcome {
        result,
        spoken,
        report: CallReport {
            duration: started.elapsed(),
            fuel_consumed,
            peak_memory_bytes: state.limiter.peak_memory_bytes,
            logs,
            logs_dropped: state.logs.dropped,
            stdout,
            stderr,
            denied_requests: policy.denied,
        },
    }
}
