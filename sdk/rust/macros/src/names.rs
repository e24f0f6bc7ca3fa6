//! The contract's name rules, checked at compile time: a tool that breaks
//! them fails to build instead of being refused when the host loads it.

use syn::{Error, Result};

/// Why `name` is not a valid tool, function or secret name (the contract's
/// rule, which the host checks again at load time), or `None` if it is.
pub(crate) fn name_problem(what: &str, name: &str) -> Option<String> {
    (!warden_contract::is_valid_name(name)).then(|| {
        format!(
            "`{name}` is not a valid {what} name: names must match `{}` \
             (a lowercase ASCII letter, then up to 63 lowercase letters, digits or `_`)",
            warden_contract::NAME_RULE
        )
    })
}

/// Why `{tool}__{function}`, the name the LLM sees, is too long, or `None`.
pub(crate) fn qualified_name_problem(tool: &str, function: &str) -> Option<String> {
    let sep = warden_contract::QUALIFIED_SEPARATOR;
    let max = warden_contract::MAX_QUALIFIED_NAME;
    (tool.len() + sep.len() + function.len() > max)
        .then(|| format!("`{tool}{sep}{function}` is longer than {max} characters"))
}

/// A compile error at `span` if `name` breaks the name rule.
pub(crate) fn check_name(what: &str, name: &str, span: proc_macro2::Span) -> Result<()> {
    match name_problem(what, name) {
        Some(problem) => Err(Error::new(span, problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract_rule() {
        assert_eq!(name_problem("tool", "google_calendar"), None);
        let problem = name_problem("function", "Get-Events").unwrap();
        assert!(
            problem.contains("`Get-Events` is not a valid function name"),
            "{problem}"
        );
        assert!(problem.contains(warden_contract::NAME_RULE), "{problem}");
        assert!(name_problem("secret", "").is_some());
        assert!(name_problem("tool", "1tool").is_some());
        assert!(name_problem("tool", &"a".repeat(65)).is_some());
    }

    #[test]
    fn qualified_names_are_bounded() {
        assert_eq!(qualified_name_problem("echo", "fail"), None);
        assert_eq!(
            qualified_name_problem(&"a".repeat(31), &"b".repeat(31)),
            None
        );
        assert!(qualified_name_problem(&"a".repeat(31), &"b".repeat(32)).is_some());
    }
}
