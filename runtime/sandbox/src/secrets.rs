//! Per-call secrets and the host side of the `secrets` import.

use crate::bindings::secrets::{Host, SecretError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;

/// The secrets available to one call, by name. Values are `secrecy` strings:
/// redacted in `Debug`, zeroized on drop.
#[derive(Default, Clone)]
pub struct SecretMap {
    values: HashMap<String, SecretString>,
    /// Values with no name (tokens the host obtained during the call) that
    /// are redacted like the others.
    unnamed: Vec<SecretString>,
}

impl SecretMap {
    /// An empty map.
    pub fn new() -> Self {
        SecretMap::default()
    }

    /// Adds (or replaces) the secret `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        self.values.insert(name.into(), value);
    }

    /// Whether `name` has a value.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Whether there are no secrets.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.unnamed.is_empty()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&SecretString> {
        self.values.get(name)
    }

    /// Adds a value to redact that no name resolves to.
    pub(crate) fn insert_redaction(&mut self, value: SecretString) {
        self.unnamed.push(value);
    }

    fn all_values(&self) -> impl Iterator<Item = &str> {
        self.values
            .values()
            .chain(&self.unnamed)
            .map(|v| v.expose_secret())
    }

    /// Replaces every occurrence of a secret value in `text` with `[REDACTED]`.
    ///
    /// Very short values (under 4 bytes) are not searched for: they would
    /// redact ordinary text and are no meaningful secret anyway.
    /// Takes the text by value so that the common case, nothing to redact,
    /// costs no copy.
    pub fn redact(&self, text: String) -> String {
        let mut out = text;
        for value in self.all_values() {
            if value.len() >= 4 && out.contains(value) {
                out = out.replace(value, "[REDACTED]");
            }
        }
        out
    }

    /// [`SecretMap::redact`] for text that was `cut` short of what the tool
    /// wrote (a bounded capture): a secret value whose beginning (4 bytes or
    /// more) ends the text, its rest lost beyond the cut, is redacted too.
    pub fn redact_cut(&self, text: String, cut: bool) -> String {
        let mut out = self.redact(text);
        if !cut {
            return out;
        }
        for value in self.all_values() {
            let value = value.as_bytes();
            let partial = (4..value.len())
                .rev()
                .find(|&len| out.as_bytes().ends_with(&value[..len]));
            if let Some(len) = partial {
                // The value's first byte starts a character, so the cut is on a
                // character boundary of `out` too.
                out.truncate(out.len() - len);
                out.push_str("[REDACTED]");
                break;
            }
        }
        out
    }

    /// Whether `text` contains any secret value (see [`SecretMap::redact`]).
    pub fn leaks_into(&self, text: &str) -> bool {
        self.all_values().any(|v| v.len() >= 4 && text.contains(v))
    }
}

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl FromIterator<(String, SecretString)> for SecretMap {
    fn from_iter<I: IntoIterator<Item = (String, SecretString)>>(iter: I) -> Self {
        SecretMap {
            values: iter.into_iter().collect(),
            unnamed: Vec::new(),
        }
    }
}

impl Host for crate::store::CallState {
    fn get(&mut self, name: String) -> Result<String, SecretError> {
        if !self.declared_secrets.contains(&name) {
            return Err(SecretError::NotDeclared);
        }
        let host_only = self
            .host_only_secrets
            .as_ref()
            .is_some_and(|net| net.host_only.contains(&name));
        match self.secrets.get(&name) {
            Some(_) if host_only => Err(SecretError::HostOnly),
            Some(value) => Ok(value.expose_secret().to_owned()),
            None => Err(SecretError::NotSet),
        }
    }
}
