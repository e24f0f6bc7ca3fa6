//! Room names (`agent-{agent_id}-{phone}`) and E.164 phone numbers.

use std::fmt;

/// The prefix of every room Warden creates.
const PREFIX: &str = "agent-";
/// E.164 allows at most 15 digits after the `+`.
const E164_MAX_DIGITS: usize = 15;
/// A country code and at least one more digit.
const E164_MIN_DIGITS: usize = 2;

/// The room of a call of agent `agent_id` with `phone`: exactly
/// `agent-{agent_id}-{phone}`.
///
/// [`parse_room_name`] gives both parts back when `phone` is an E.164 number
/// ([`validate_e164`]) and `agent_id` is not empty; agent ids may contain
/// hyphens (UUIDs do), phone numbers never do.
pub fn room_name(agent_id: impl fmt::Display, phone: &str) -> String {
    format!("{PREFIX}{agent_id}-{phone}")
}

/// The parts of a room name made by [`room_name`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomName {
    /// The agent's id, e.g. a hyphenated UUID.
    pub agent_id: String,
    /// The called or calling number, E.164 (`+14155550123`).
    pub phone: String,
}

/// Splits `agent-{agent_id}-{phone}` back into its parts; `None` for any other
/// name (another prefix, no agent id, or a last part that is not E.164).
pub fn parse_room_name(name: &str) -> Option<RoomName> {
    let rest = name.strip_prefix(PREFIX)?;
    // The phone number has no hyphen, so it is everything after the last one.
    let (agent_id, phone) = rest.rsplit_once('-')?;
    if agent_id.is_empty() || validate_e164(phone).is_err() {
        return None;
    }
    Some(RoomName {
        agent_id: agent_id.to_owned(),
        phone: phone.to_owned(),
    })
}

/// Why a phone number is not E.164. The messages describe the problem without
/// repeating the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum E164Error {
    /// Empty input.
    #[error("the phone number is empty; expected E.164, e.g. +14155550123")]
    Empty,
    /// No leading `+`.
    #[error("the phone number must start with '+' and the country code (E.164, e.g. +14155550123)")]
    MissingPlus,
    /// Something other than a digit after the `+` (spaces, hyphens, letters…).
    #[error(
        "the phone number may contain only digits after the '+' (E.164, e.g. +14155550123): \
         no spaces, hyphens or parentheses"
    )]
    NotDigits,
    /// A country code cannot start with 0.
    #[error("the phone number's country code cannot start with 0 (E.164, e.g. +14155550123)")]
    LeadingZero,
    /// Fewer than 2 or more than 15 digits.
    #[error("the phone number has {digits} digits; E.164 allows 2 to 15 after the '+'")]
    Length {
        /// How many digits the number has.
        digits: usize,
    },
}

/// Checks that `phone` is an E.164 number: `+`, a country code not starting
/// with 0, and 2 to 15 digits in all, nothing else.
pub fn validate_e164(phone: &str) -> Result<(), E164Error> {
    if phone.is_empty() {
        return Err(E164Error::Empty);
    }
    let digits = phone.strip_prefix('+').ok_or(E164Error::MissingPlus)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(E164Error::NotDigits);
    }
    if !(E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&digits.len()) {
        return Err(E164Error::Length {
            digits: digits.len(),
        });
    }
    if digits.starts_with('0') {
        return Err(E164Error::LeadingZero);
    }
    Ok(())
}
