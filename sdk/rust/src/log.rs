//! Logging into the call's record.
//!
//! Records are kept with the call (bounded in size and number) for operators;
//! they are never shown to the LLM. Never log a secret.
//!
//! Outside WebAssembly (a tool's host-side unit tests) there is no call
//! record: records go to stderr instead.

use crate::__private::bindings::warden::tool::log::Level;

fn emit(level: Level, message: &str) {
    #[cfg(target_family = "wasm")]
    crate::__private::bindings::warden::tool::log::log(level, message);
    #[cfg(not(target_family = "wasm"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    emit(Level::Trace, message.as_ref());
}

/// Logs at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    emit(Level::Debug, message.as_ref());
}

/// Logs at `info` level.
pub fn info(message: impl AsRef<str>) {
    emit(Level::Info, message.as_ref());
}

/// Logs at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    emit(Level::Warn, message.as_ref());
}

/// Logs at `error` level.
pub fn error(message: impl AsRef<str>) {
    emit(Level::Error, message.as_ref());
}
