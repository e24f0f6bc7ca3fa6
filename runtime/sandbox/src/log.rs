//! Host side of the `log` import: records kept with the call, bounded.

use crate::bindings::{v0_1, v0_2};
use serde::{Deserialize, Serialize};
use v0_2::log::{Host, Level};

/// Severity of a tool's log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Informational.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// One record a tool logged during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The message, truncated to the per-record limit and with the call's
    /// secrets redacted.
    pub message: String,
}

/// The records of one call, each with whether its message was cut to the
/// limit (redaction then also looks at the cut).
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    pub records: Vec<(LogRecord, bool)>,
    pub dropped: usize,
    pub max_records: usize,
    pub max_message_bytes: usize,
}

impl LogBuffer {
    pub fn new(max_records: usize, max_message_bytes: usize) -> Self {
        LogBuffer {
            records: Vec::new(),
            dropped: 0,
            max_records,
            max_message_bytes,
        }
    }

    fn is_full(&self) -> bool {
        self.records.len() >= self.max_records
    }

    fn push(&mut self, level: LogLevel, message: String, cut: bool) {
        if self.is_full() {
            self.dropped += 1;
            return;
        }
        self.records.push((LogRecord { level, message }, cut));
    }
}

/// Truncates `s` to at most `max` bytes without splitting a character;
/// whether anything was cut. A cut string gives back the memory it no
/// longer uses: a guest must not make the host keep 4 MiB for 4 KiB of text.
pub(crate) fn truncate_at_char_boundary(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.shrink_to_fit();
    true
}

impl Host for crate::store::CallState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        if self.logs.is_full() {
            self.logs.dropped += 1;
            return;
        }
        let (message, cut) = self
            .secrets
            .redact_bounded(message, self.logs.max_message_bytes);
        self.logs.push(level, message, cut);
    }
}

/// 0.1.0's `log.log`, recorded as the latest (the levels are the same).
impl v0_1::log::Host for crate::store::CallState {
    fn log(&mut self, level: v0_1::log::Level, message: String) {
        use v0_1::log::Level as Old;
        let level = match level {
            Old::Trace => Level::Trace,
            Old::Debug => Level::Debug,
            Old::Info => Level::Info,
            Old::Warn => Level::Warn,
            Old::Error => Level::Error,
        };
        Host::log(self, level, message);
    }
}
