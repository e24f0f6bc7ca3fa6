//! Keeping secrets, tokens and metadata out of error messages.

const REDACTED: &str = "[redacted]";

/// `text` with every occurrence of a non-empty `sensitive` string, and every
/// JWT-looking run (`eyJ…` followed by base64url and dots), replaced by
/// `[redacted]`.
pub(crate) fn redact(text: &str, sensitive: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in sensitive.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, REDACTED);
    }
    redact_jwts(&out)
}

/// Replaces runs that start with `eyJ` (base64url of `{"`, how every JWT header
/// begins) and continue over base64url characters and dots.
fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
            .unwrap_or(tail.len());
        out.push_str(REDACTED);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_secrets_metadata_and_tokens() {
        let text =
            "invalid token: eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJrIn0.c2ln, error: s3cr3t {\"a\":1}";
        let out = redact(text, &["s3cr3t", "{\"a\":1}", ""]);
        assert_eq!(
            out,
            "invalid token: [redacted], error: [redacted] [redacted]"
        );
    }
}
