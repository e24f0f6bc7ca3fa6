//! `LiveKitConfig`: where LiveKit is and how Warden signs in, from the environment.

use std::fmt;

use secrecy::SecretString;

/// `WARDEN_LIVEKIT_URL`: the LiveKit server (`https://…`, `wss://…`, `http://…`
/// or `ws://…`; websocket schemes are used as their HTTP equivalents).
pub const URL_VAR: &str = "WARDEN_LIVEKIT_URL";
/// `WARDEN_LIVEKIT_API_KEY`.
pub const API_KEY_VAR: &str = "WARDEN_LIVEKIT_API_KEY";
/// `WARDEN_LIVEKIT_API_SECRET`.
pub const API_SECRET_VAR: &str = "WARDEN_LIVEKIT_API_SECRET";
/// `WARDEN_LIVEKIT_AGENT_NAME`: optional, [`DEFAULT_AGENT_NAME`] when unset.
pub const AGENT_NAME_VAR: &str = "WARDEN_LIVEKIT_AGENT_NAME";
/// `WARDEN_LIVEKIT_SIP_TRUNK_ID`: optional; without it Warden cannot dial out.
pub const SIP_TRUNK_ID_VAR: &str = "WARDEN_LIVEKIT_SIP_TRUNK_ID";

/// The agent name Warden dispatches when `WARDEN_LIVEKIT_AGENT_NAME` is unset:
/// the LiveKit Agents worker must register with
/// `WorkerOptions(agent_name="warden-agent")` (explicit dispatch only reaches
/// workers registered under a name).
pub const DEFAULT_AGENT_NAME: &str = "warden-agent";

/// Every variable this configuration reads.
const ALL: [&str; 5] = [
    URL_VAR,
    API_KEY_VAR,
    API_SECRET_VAR,
    AGENT_NAME_VAR,
    SIP_TRUNK_ID_VAR,
];

/// Where LiveKit is, the API key and secret Warden signs its requests with,
/// the agent it dispatches and the outbound SIP trunk it dials through.
///
/// `Debug` shows everything but the secret.
#[derive(Clone)]
pub struct LiveKitConfig {
    /// Base URL of the LiveKit server, `http(s)://host[:port]` (a `ws(s)://`
    /// URL is accepted and used as `http(s)://`).
    pub url: String,
    /// The API key (the tokens' issuer).
    pub api_key: String,
    /// The API secret the tokens are signed with.
    pub api_secret: SecretString,
    /// The agent name the worker registered with (explicit dispatch).
    pub agent_name: String,
    /// The outbound SIP trunk (`ST_…`) calls are dialled through, if any.
    pub sip_trunk_id: Option<String>,
}

impl fmt::Debug for LiveKitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKitConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"[redacted]")
            .field("agent_name", &self.agent_name)
            .field("sip_trunk_id", &self.sip_trunk_id)
            .finish()
    }
}

/// Why the LiveKit configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Some LiveKit variables are set, but not every required one.
    #[error(
        "{missing} is not set, but {set} is: LiveKit needs WARDEN_LIVEKIT_URL, \
         WARDEN_LIVEKIT_API_KEY and WARDEN_LIVEKIT_API_SECRET together (or none of \
         the WARDEN_LIVEKIT_* variables, to run without calls)"
    )]
    Missing {
        /// The first required variable that is unset.
        missing: &'static str,
        /// The variables that are set, comma-separated.
        set: String,
    },
    /// `WARDEN_LIVEKIT_URL` is not an http(s) or ws(s) URL.
    #[error(
        "WARDEN_LIVEKIT_URL must start with https://, http://, wss:// or ws:// and name a \
         host (e.g. wss://example.livekit.cloud)"
    )]
    InvalidUrl,
    /// The HTTPS client could not be set up (TLS configuration).
    #[error("cannot set up the HTTPS client for LiveKit: {reason}")]
    HttpClient {
        /// What failed.
        reason: String,
    },
}

impl LiveKitConfig {
    /// Reads the `WARDEN_LIVEKIT_*` variables. `Ok(None)` when none of them is
    /// set (calls are off); an error naming the missing variable when only some
    /// of the required ones are. Empty values count as unset.
    pub fn from_env() -> Result<Option<LiveKitConfig>, ConfigError> {
        LiveKitConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables (tests,
    /// config files): `lookup(name)` gives a variable's value.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LiveKitConfig>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let set: Vec<&'static str> = ALL.into_iter().filter(|name| get(name).is_some()).collect();
        if set.is_empty() {
            return Ok(None);
        }
        let require = |missing: &'static str| {
            get(missing).ok_or_else(|| ConfigError::Missing {
                missing,
                set: set.join(", "),
            })
        };
        let url = require(URL_VAR)?;
        let api_key = require(API_KEY_VAR)?;
        let api_secret = require(API_SECRET_VAR)?;
        Ok(Some(LiveKitConfig {
            url: http_url(url.trim())?,
            api_key: api_key.trim().to_owned(),
            api_secret: SecretString::from(api_secret),
            agent_name: get(AGENT_NAME_VAR)
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|| DEFAULT_AGENT_NAME.to_owned()),
            sip_trunk_id: get(SIP_TRUNK_ID_VAR).map(|id| id.trim().to_owned()),
        }))
    }
}

/// `url` with a websocket scheme replaced by its HTTP equivalent and no
/// trailing slash.
pub(crate) fn http_url(url: &str) -> Result<String, ConfigError> {
    let (scheme, rest) = url.split_once("://").ok_or(ConfigError::InvalidUrl)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "https",
        "http" | "ws" => "http",
        _ => return Err(ConfigError::InvalidUrl),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::InvalidUrl);
    }
    Ok(format!("{scheme}://{rest}"))
}
