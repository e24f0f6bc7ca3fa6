//! What the domain services fail with.

use warden_store::StoreError;

/// A domain error: precise enough for the API to pick a status, never
/// carrying secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The thing does not exist, or belongs to another organization (the two
    /// are deliberately indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A name is taken, a version exists with other bytes, …
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is malformed (an unknown secret or function name, a
    /// bad cursor, an empty name, …).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The request is well-formed but asks for something that cannot be (a
    /// room name that is not Warden's, conflicting fields, …).
    #[error("{0}")]
    Unprocessable(String),
    /// A name the thing does not have (a secret the tool does not declare):
    /// answered like a missing resource, with a message that lists the names
    /// there are.
    #[error("{0}")]
    UnknownName(String),
    /// An agent–tool configuration does not match the tool's config schema.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The component is not a valid Warden tool.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// The agent, the association or the function is switched off.
    #[error("{0}")]
    Disabled(String),
    /// The credential presented is unknown or revoked.
    #[error("invalid or revoked credentials")]
    Unauthenticated,
    /// The call-session token presented is unknown, ended, revoked or
    /// expired (deliberately indistinguishable), or is not a session token.
    #[error("invalid or expired session token")]
    InvalidSession,
    /// The key ring cannot open a stored secret (a missing or wrong key).
    #[error("a stored secret cannot be opened: {0}")]
    Sealed(String),
    /// A feature needs configuration the operator has not given.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// LiveKit refused or failed a call; the message is safe to show.
    #[error(transparent)]
    LiveKit(#[from] warden_livekit::LiveKitError),
    /// A LiveKit webhook whose signature or body does not check out.
    #[error("webhook refused: {0}")]
    Webhook(#[from] warden_livekit::WebhookError),
    /// The call was refused before it ran, as the tool would refuse it (an
    /// unknown function): answered like the tool's own error of that kind,
    /// with no audit row.
    #[error("{}", .0.message)]
    Refused(warden_sandbox::Error),
    /// Too much of something is in progress for this organization (e.g.
    /// uploads); the request may be repeated later.
    #[error("{0}")]
    Busy(String),
    /// A call with the same call id is still running (exactly-once calls); the
    /// request may be repeated shortly for its outcome.
    #[error("{0}")]
    InProgress(String),
    /// The call id was used before for a call with other arguments
    /// (exactly-once calls).
    #[error("{0}")]
    CallIdReused(String),
    /// A service outside Warden (an OAuth2 provider) failed or refused; the
    /// request may be repeated.
    #[error("{0}")]
    Provider(String),
    /// The store failed.
    #[error("storage failure: {0}")]
    Store(StoreError),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => CoreError::NotFound(what),
            StoreError::Conflict(message) => CoreError::Conflict(message),
            StoreError::Invalid(message) => CoreError::Invalid(message),
            StoreError::Seal(e) => CoreError::Sealed(e.to_string()),
            other => CoreError::Store(other),
        }
    }
}

impl CoreError {
    /// A short, stable name for the kind of failure (for telemetry).
    pub fn kind(&self) -> &'static str {
        match self {
            CoreError::NotFound(_) => "not_found",
            CoreError::Conflict(_) => "conflict",
            CoreError::Invalid(_) => "invalid_request",
            CoreError::Unprocessable(_) => "invalid_body",
            CoreError::UnknownName(_) => "not_found",
            CoreError::InvalidConfig(_) => "invalid_config",
            CoreError::InvalidComponent(_) => "invalid_component",
            CoreError::Disabled(_) => "disabled",
            CoreError::Unauthenticated => "unauthenticated",
            CoreError::InvalidSession => "invalid_session",
            CoreError::Sealed(_) => "sealed",
            CoreError::NotConfigured(_) => "not_configured",
            CoreError::LiveKit(_) => "livekit",
            CoreError::Webhook(_) => "webhook_refused",
            CoreError::Refused(e) => e.kind.as_str(),
            CoreError::Busy(_) => "busy",
            CoreError::InProgress(_) => "in_progress",
            CoreError::CallIdReused(_) => "call_id_reused",
            CoreError::Provider(_) => "upstream",
            CoreError::Store(_) => "store",
        }
    }
}

/// Shorthand for the domain's results.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
