//! Per-call secrets and the host side of the `secrets` import.

use crate::bindings::{v0_1, v0_2};
use crate::encodings;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;
use v0_2::secrets::{Host, SecretError};
use zeroize::Zeroizing;

/// The secrets available to one call, by name. Values are `secrecy` strings:
/// redacted in `Debug`, zeroized on drop.
#[derive(Default, Clone)]
pub struct SecretMap {
    values: HashMap<String, SecretString>,
    /// Values with no name (tokens the host obtained during the call) that
    /// are redacted like the others.
    unnamed: Vec<SecretString>,
    /// Every value's spellings (`crate::encodings`), computed once.
    forms: OnceLock<Vec<Zeroizing<String>>>,
}

impl SecretMap {
    /// An empty map.
    pub fn new() -> Self {
        SecretMap::default()
    }

    /// Adds (or replaces) the secret `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        self.values.insert(name.into(), value);
        self.forms = OnceLock::new();
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
        self.forms = OnceLock::new();
    }

    /// Every spelling of every value that redaction looks for, longest
    /// first (so a longer form is replaced before a shorter one inside it).
    fn forms(&self) -> &[Zeroizing<String>] {
        self.forms.get_or_init(|| {
            let mut forms: Vec<Zeroizing<String>> =
                self.all_values().flat_map(encodings::forms).collect();
            forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
            forms
        })
    }

    fn all_values(&self) -> impl Iterator<Item = &str> {
        self.values
            .values()
            .chain(&self.unnamed)
            .map(|v| v.expose_secret())
    }

    /// Replaces every occurrence of a secret value in `text`, in any of the
    /// spellings `crate::encodings` lists (base64, hex, percent-encoding,
    /// JSON escapes), with `[REDACTED]`.
    ///
    /// Very short values (under 4 bytes) are not searched for: they would
    /// redact ordinary text and are no meaningful secret anyway.
    /// Takes the text by value so that the common case, nothing to redact,
    /// costs no copy.
    pub fn redact(&self, text: String) -> String {
        let mut out = text;
        for form in self.forms() {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "[REDACTED]");
            }
        }
        out
    }

    /// [`SecretMap::redact`] for text that was `cut` short of what the tool
    /// wrote (a bounded capture): a secret whose beginning (4 bytes or more,
    /// in any spelling) ends the text, its rest lost beyond the cut, is
    /// redacted too.
    pub fn redact_cut(&self, text: String, cut: bool) -> String {
        let mut out = self.redact(text);
        if !cut {
            return out;
        }
        for form in self.forms() {
            let form = form.as_bytes();
            let partial = (encodings::MIN_SECRET_BYTES..form.len())
                .rev()
                .find(|&len| out.as_bytes().ends_with(&form[..len]));
            if let Some(len) = partial {
                // Every spelling starts with an ASCII byte or the value's
                // first character, so the cut is on a character boundary.
                if out.is_char_boundary(out.len() - len) {
                    out.truncate(out.len() - len);
                    out.push_str("[REDACTED]");
                    break;
                }
            }
        }
        out
    }

    /// Redacts `text` and cuts it to at most `max` bytes; whether it was
    /// cut. The work is bounded by `max`, however long `text` is: the text
    /// is first cut to a window that still holds whole any secret that
    /// straddles the final cut, so redacting before cutting leaves no part
    /// of a secret behind.
    pub fn redact_bounded(&self, mut text: String, max: usize) -> (String, bool) {
        let longest = self.forms().first().map_or(0, |f| f.len());
        let windowed =
            crate::log::truncate_at_char_boundary(&mut text, max.saturating_add(longest));
        let mut text = self.redact(text);
        let cut = crate::log::truncate_at_char_boundary(&mut text, max) || windowed;
        (self.redact_cut(text, cut), cut)
    }

    /// Whether `text` contains any secret value (see [`SecretMap::redact`]).
    pub fn leaks_into(&self, text: &str) -> bool {
        self.forms().iter().any(|f| text.contains(f.as_str()))
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
            forms: OnceLock::new(),
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

/// 0.1.0's `secrets.get`, answered as the latest (the errors are the same).
impl v0_1::secrets::Host for crate::store::CallState {
    fn get(&mut self, name: String) -> Result<String, v0_1::secrets::SecretError> {
        use v0_1::secrets::SecretError as Old;
        Host::get(self, name).map_err(|e| match e {
            SecretError::NotDeclared => Old::NotDeclared,
            SecretError::NotSet => Old::NotSet,
            SecretError::HostOnly => Old::HostOnly,
        })
    }
}
