//! The phone call an invocation is made during, as the host hands it to a
//! tool (`call-context.call`, contract 0.2.0 and later).

use std::fmt;

/// Which way a phone call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// Someone called the agent.
    Inbound,
    /// The agent called someone.
    Outbound,
}

/// The phone call an invocation is made during. The numbers are personal
/// data: its `Debug` leaves them out, and they belong in no log record.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneCall {
    /// Warden's id of the call session.
    pub session_id: String,
    /// Who called whom.
    pub direction: CallDirection,
    /// The number of the person on the phone (who called, or who was
    /// called), E.164, when known: e.g. to look them up in a CRM.
    pub caller_number: Option<String>,
    /// The agent's own number, E.164, when known.
    pub agent_number: Option<String>,
    /// The LiveKit room, when there is one.
    pub room: Option<String>,
}

impl fmt::Debug for PhoneCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneCall")
            .field("session_id", &self.session_id)
            .field("direction", &self.direction)
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_numbers_out() {
        let call = PhoneCall {
            session_id: "s-1".into(),
            direction: CallDirection::Inbound,
            caller_number: Some("+15551234567".into()),
            agent_number: Some("+15557654321".into()),
            room: Some("room-1".into()),
        };
        let shown = format!("{call:?}");
        assert!(
            shown.contains("s-1") && shown.contains("Inbound"),
            "{shown}"
        );
        assert!(!shown.contains("555"), "{shown}");
    }
}
