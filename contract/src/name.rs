//! What tools, functions and secrets may be called.

/// The longest tool, function or secret name, in bytes.
pub const MAX_NAME: usize = 64;

/// The longest LLM-facing function name, `{tool}__{function}`: the limit of
/// common function-calling APIs.
pub const MAX_QUALIFIED_NAME: usize = 64;

/// What joins a tool's name and a function's name into the name the LLM sees.
pub const QUALIFIED_SEPARATOR: &str = "__";

/// The name rule as a regular expression, for messages.
pub const NAME_RULE: &str = "^[a-z][a-z0-9_]{0,63}$";

/// Whether `name` matches `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= MAX_NAME
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("google_calendar"));
        assert!(is_valid_name("a"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("1abc"));
        assert!(!is_valid_name("Abc"));
        assert!(!is_valid_name("a-b"));
        assert!(!is_valid_name("é"));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(is_valid_name(&"a".repeat(64)));
    }
}
