//! The spellings of a secret that redaction and response scrubbing look
//! for: the value itself and its common encodings.
//!
//! A secret embedded in a longer text that is then encoded does not encode
//! to one fixed string (base64 depends on where in a 3-byte group it
//! starts), so each encoding contributes the part that is the same wherever
//! the secret sits. What is listed here is the line Warden holds; a guest
//! that computes its own transformation (reversal, XOR, splitting) of a
//! secret it was *allowed to read* cannot be stopped by pattern matching,
//! which is why credentials are injected by the host and scrubbed from
//! responses before the guest sees them (SECURITY.md).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Values shorter than this are not searched for: they would match
/// ordinary text and are no meaningful secret.
pub(crate) const MIN_SECRET_BYTES: usize = 4;
/// Encoded forms shorter than this are dropped (a short base64 fragment
/// would match unrelated base64 text).
const MIN_ENCODED_BYTES: usize = 6;

/// The value and its encoded forms, longest-lived in zeroized memory.
pub(crate) fn forms(value: &str) -> Vec<Zeroizing<String>> {
    let mut out: Vec<Zeroizing<String>> = Vec::new();
    if value.len() < MIN_SECRET_BYTES {
        return out;
    }
    let mut add = |form: String| {
        let form = Zeroizing::new(form);
        if (form.len() >= MIN_ENCODED_BYTES || *form == value) && !out.iter().any(|f| **f == *form)
        {
            out.push(form);
        }
    };
    add(value.to_owned());
    let bytes = value.as_bytes();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            add(base64_core(engine, bytes, offset));
        }
    }
    add(hex::encode(bytes));
    add(hex::encode_upper(bytes));
    // Percent-encoding as URLs and forms write it, and of every byte.
    add(percent(bytes, false, true));
    add(percent(bytes, false, false));
    add(percent(bytes, true, true));
    add(percent(bytes, true, false));
    // JSON string escapes: `\/`, and every character as `\uXXXX`.
    if value.contains('/') {
        add(value.replace('/', "\\/"));
    }
    add(unicode_escaped(value, true));
    add(unicode_escaped(value, false));
    out
}

/// The base64 characters that depend only on `bytes` when they start
/// `offset` bytes into a 3-byte group: the same inside any longer encoded
/// text.
fn base64_core(engine: &base64::engine::GeneralPurpose, bytes: &[u8], offset: usize) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(bytes);
    let encoded = engine.encode(&padded);
    let first = (8 * offset).div_ceil(6);
    let last = (8 * padded.len()) / 6;
    if first >= last {
        return String::new();
    }
    encoded[first..last].to_owned()
}

fn percent(bytes: &[u8], every_byte: bool, upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved && !every_byte {
            out.push(b as char);
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn unicode_escaped(value: &str, lower: bool) -> String {
    let mut out = String::with_capacity(value.len() * 6);
    for unit in value.encode_utf16() {
        if lower {
            out.push_str(&format!("\\u{unit:04x}"));
        } else {
            out.push_str(&format!("\\u{unit:04X}"));
        }
    }
    out
}

/// Every spelling of `value` that redaction and response scrubbing look
/// for, e.g. to search outputs for a planted canary in tests.
pub fn redacted_spellings(value: &str) -> Vec<String> {
    forms(value).iter().map(|f| f.to_string()).collect()
}

/// Finds every encoded form of a set of secrets in byte streams and
/// overwrites it in place with `*`, keeping lengths (so a response's
/// `content-length` stays true).
pub(crate) struct Scrubber {
    matcher: aho_corasick::AhoCorasick,
    longest: usize,
}

impl Scrubber {
    /// A scrubber for `values`; `None` when there is nothing to look for.
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Scrubber> {
        let patterns: Vec<Zeroizing<String>> = values.into_iter().flat_map(forms).collect();
        if patterns.is_empty() {
            return None;
        }
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let matcher = aho_corasick::AhoCorasick::new(patterns.iter().map(|p| p.as_bytes()))
            .expect("a handful of short patterns always builds");
        Some(Scrubber { matcher, longest })
    }

    /// Bytes a stream must hold back so that a form split across two chunks
    /// is still found whole.
    pub(crate) fn overlap(&self) -> usize {
        self.longest.saturating_sub(1)
    }

    /// Overwrites every occurrence (overlapping ones too) in `bytes`.
    pub(crate) fn scrub(&self, bytes: &mut [u8]) -> bool {
        let mut found = false;
        let spans: Vec<_> = self
            .matcher
            .find_overlapping_iter(&*bytes)
            .map(|m| m.range())
            .collect();
        for range in spans {
            bytes[range].fill(b'*');
            found = true;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains_form(text: &str, secret: &str) -> bool {
        forms(secret).iter().any(|f| text.contains(f.as_str()))
    }

    #[test]
    fn every_listed_encoding_of_an_embedded_secret_is_found() {
        let secret = "sk_live/Canary+42";
        for prefix in ["", "B", "Be", "Bearer "] {
            let embedded = format!("{prefix}{secret} and more");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&embedded);
            let b64url = base64::engine::general_purpose::URL_SAFE.encode(&embedded);
            assert!(contains_form(&b64, secret), "{prefix:?}: {b64}");
            assert!(contains_form(&b64url, secret), "{prefix:?}: {b64url}");
            assert!(contains_form(&hex::encode(&embedded), secret));
            assert!(contains_form(&hex::encode_upper(&embedded), secret));
        }
        let json = serde_json::to_string(&secret).unwrap();
        assert!(contains_form(&json, secret));
        let escaped: String = secret
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        assert!(contains_form(&escaped, secret));
        assert!(contains_form("sk_live%2FCanary%2B42", secret));
        assert!(contains_form("token=sk_live%2fCanary%2b42", secret));
        assert!(contains_form("sk_live\\/Canary+42", secret));
        assert!(!contains_form("nothing to see here", secret));
    }

    #[test]
    fn scrubbing_keeps_length_and_catches_overlaps() {
        let scrubber = Scrubber::new(["abcdefgh"]).unwrap();
        let mut text = b"x abcdefgh 6162636465666768 y".to_vec();
        let len = text.len();
        assert!(scrubber.scrub(&mut text));
        assert_eq!(text.len(), len);
        assert_eq!(&text, b"x ******** **************** y");
        assert!(Scrubber::new(["abc"]).is_none(), "too short to look for");
    }
}
