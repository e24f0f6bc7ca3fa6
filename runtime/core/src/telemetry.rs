//! What the invocation pipeline tells operators: a span per tool call with
//! its identity, outcome and measurements; the call metrics; and the tool's
//! own log records as events in that span.
//!
//! Redaction is by construction: the span and the metrics take ids, names,
//! kinds and numbers only — never arguments, results, configuration or
//! secrets — and a tool's log records arrive already truncated and with the
//! call's secrets redacted by the sandbox.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use tracing::Span;
use warden_sandbox::{CallReport, ErrorKind, LogLevel, Sandbox};

/// The tool calls' instruments, from the process's meter provider (the
/// OpenTelemetry API's no-ops when none is installed).
#[derive(Clone)]
pub(crate) struct Metrics {
    calls: Counter<u64>,
    duration: Histogram<f64>,
    fuel: Histogram<u64>,
    _instances: ObservableGauge<u64>,
    _queue: ObservableGauge<u64>,
    _by_organization: ObservableGauge<u64>,
    _waiting_by_organization: ObservableGauge<u64>,
}

impl Metrics {
    pub(crate) fn new(sandbox: &Sandbox) -> Self {
        let meter = opentelemetry::global::meter("warden");
        let active = sandbox.clone();
        let queued = sandbox.clone();
        let held = sandbox.clone();
        let waiting = sandbox.clone();
        Metrics {
            calls: meter
                .u64_counter("warden.tool.calls")
                .with_description("Tool invocations that reached the sandbox")
                .build(),
            duration: meter
                .f64_histogram("warden.tool.duration")
                .with_description(
                    "Wall-clock time of tool invocations, including any wait for a slot",
                )
                .with_unit("s")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ])
                .build(),
            fuel: meter
                .u64_histogram("warden.tool.fuel")
                .with_description("Fuel tool invocations consumed")
                .with_boundaries(vec![1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10])
                .build(),
            _instances: meter
                .u64_observable_gauge("warden.sandbox.instances.active")
                .with_description("Sandbox instances that exist right now")
                .with_callback(move |gauge| gauge.observe(active.instances_active() as u64, &[]))
                .build(),
            _queue: meter
                .u64_observable_gauge("warden.sandbox.queue.depth")
                .with_description("Calls waiting for a free sandbox instance slot")
                .with_callback(move |gauge| gauge.observe(queued.queue_depth() as u64, &[]))
                .build(),
            // One series per organization with calls in flight or waiting:
            // organizations are created by operators, so the label set is
            // bounded by theirs, not by callers.
            _by_organization: meter
                .u64_observable_gauge("warden.sandbox.organization.instances")
                .with_description(
                    "Sandbox instances an organization holds right now (its share is capped)",
                )
                .with_callback(move |gauge| {
                    for load in held.instances_by_tenant() {
                        gauge.observe(
                            load.active as u64,
                            &[KeyValue::new("warden.organization_id", load.tenant)],
                        );
                    }
                })
                .build(),
            _waiting_by_organization: meter
                .u64_observable_gauge("warden.sandbox.organization.queue.depth")
                .with_description("An organization's calls waiting for a sandbox instance slot")
                .with_callback(move |gauge| {
                    for load in waiting.instances_by_tenant() {
                        gauge.observe(
                            load.waiting as u64,
                            &[KeyValue::new("warden.organization_id", load.tenant)],
                        );
                    }
                })
                .build(),
        }
    }

    /// Counts one call that reached the sandbox. `function` is the name
    /// of one of the tool's functions, or `None` for a name the tool does
    /// not have: caller-chosen text never becomes a label.
    pub(crate) fn record(
        &self,
        tool: &str,
        function: Option<&str>,
        error: Option<ErrorKind>,
        report: &CallReport,
    ) {
        let attributes = [
            KeyValue::new("warden.tool", tool.to_owned()),
            KeyValue::new(
                "warden.function",
                function.unwrap_or(UNKNOWN_FUNCTION).to_owned(),
            ),
            KeyValue::new("warden.outcome", outcome(error)),
            KeyValue::new("warden.error.kind", error.map_or("", ErrorKind::as_str)),
        ];
        self.calls.add(1, &attributes);
        self.duration
            .record(report.duration.as_secs_f64(), &attributes[..2]);
        self.fuel.record(report.fuel_consumed, &attributes[..2]);
    }
}

fn outcome(error: Option<ErrorKind>) -> &'static str {
    if error.is_some() { "error" } else { "ok" }
}

/// The span of one invocation, from the store load to the audit row. Its
/// outcome fields are recorded by [`finish_span`] / [`reject_span`].
pub(crate) fn invocation_span(
    agent_id: Option<&str>,
    function: &str,
    call_id: &str,
    call_session_id: Option<&str>,
) -> Span {
    // The caller chose these; a span carries at most a bounded prefix.
    let function = bounded(function);
    let call_id = bounded(call_id);
    let agent_id = agent_id.map(bounded);
    let (tool, function_name) = function
        .split_once(crate::NAME_SEPARATOR)
        .unwrap_or((function, ""));
    tracing::info_span!(
        "invoke",
        otel.name = %format_args!("execute_tool {function}"),
        otel.status_code = tracing::field::Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = function,
        gen_ai.tool.call.id = call_id,
        warden.tool = tool,
        warden.tool.version = tracing::field::Empty,
        warden.function = function_name,
        warden.organization_id = tracing::field::Empty,
        warden.agent_id = agent_id,
        warden.call_session_id = call_session_id,
        warden.outcome = tracing::field::Empty,
        warden.error.kind = tracing::field::Empty,
        warden.fuel.consumed = tracing::field::Empty,
        warden.memory.peak_bytes = tracing::field::Empty,
        warden.replayed = tracing::field::Empty,
    )
}

/// The `warden.function` label of calls to a function the tool does not
/// have.
pub(crate) const UNKNOWN_FUNCTION: &str = "(unknown)";

/// Longest caller-chosen text (function name, call id, agent id) a span
/// records; real values are far shorter (function names ≤ 64 characters).
const MAX_ATTRIBUTE_BYTES: usize = 128;

pub(crate) fn bounded(text: &str) -> &str {
    if text.len() <= MAX_ATTRIBUTE_BYTES {
        return text;
    }
    let mut end = MAX_ATTRIBUTE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Records that the call never reached the sandbox (unknown agent, disabled
/// function, …) and why, as a kind.
pub(crate) fn reject_span(span: &Span, kind: &str) {
    span.record("warden.outcome", "rejected");
    span.record("warden.error.kind", kind);
    span.record("otel.status_code", "ERROR");
}

/// Records the sandbox's verdict and measurements on the call's span, and
/// the tool's log records as events in it.
pub(crate) fn finish_span(span: &Span, error: Option<ErrorKind>, report: &CallReport) {
    span.record("warden.outcome", outcome(error));
    if let Some(kind) = error {
        span.record("warden.error.kind", kind.as_str());
        span.record("otel.status_code", "ERROR");
    }
    span.record("warden.fuel.consumed", report.fuel_consumed);
    span.record("warden.memory.peak_bytes", report.peak_memory_bytes as u64);
    span.in_scope(|| tool_logs(report));
}

/// The tool's records (bounded in count and size by the sandbox), at their
/// own levels, under the `warden::tool` target.
fn tool_logs(report: &CallReport) {
    for record in &report.logs {
        let message = record.message.as_str();
        match record.level {
            LogLevel::Trace => tracing::trace!(target: "warden::tool", message),
            LogLevel::Debug => tracing::debug!(target: "warden::tool", message),
            LogLevel::Info => tracing::info!(target: "warden::tool", message),
            LogLevel::Warn => tracing::warn!(target: "warden::tool", message),
            LogLevel::Error => tracing::error!(target: "warden::tool", message),
        }
    }
    if report.logs_dropped > 0 {
        tracing::warn!(
            target: "warden::tool",
            dropped = report.logs_dropped,
            "the tool logged more records than a call may keep; the rest were dropped"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_chosen_text_is_bounded_on_a_character_boundary() {
        assert_eq!(
            bounded("google_calendar__list_events"),
            "google_calendar__list_events"
        );
        let long = "é".repeat(100);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_ATTRIBUTE_BYTES && cut.len() >= MAX_ATTRIBUTE_BYTES - 1);
        assert!(long.starts_with(cut));
    }
}
