//! LiveKitConfig from the environment.

use secrecy::ExposeSecret;
use warden_livekit::{ConfigError, DEFAULT_AGENT_NAME, LiveKitConfig};

use crate::support::vars;

fn from(pairs: &[(&str, &str)]) -> Result<Option<LiveKitConfig>, ConfigError> {
    let vars = vars(pairs);
    LiveKitConfig::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn nothing_set_means_no_livekit() {
    assert!(matches!(from(&[]), Ok(None)));
    assert!(matches!(from(&[("WARDEN_LIVEKIT_URL", "")]), Ok(None)));
}

#[test]
fn all_required_set_gives_a_config_with_defaults() {
    let config = from(&[
        ("WARDEN_LIVEKIT_URL", "wss://example.livekit.cloud/"),
        ("WARDEN_LIVEKIT_API_KEY", "APIkey"),
        (
            "WARDEN_LIVEKIT_API_SECRET",
            "secret-secret-secret-secret-1234",
        ),
    ])
    .expect("valid")
    .expect("configured");
    assert_eq!(config.url, "https://example.livekit.cloud");
    assert_eq!(config.api_key, "APIkey");
    assert_eq!(
        config.api_secret.expose_secret(),
        "secret-secret-secret-secret-1234"
    );
    assert_eq!(config.agent_name, DEFAULT_AGENT_NAME);
    assert_eq!(config.agent_name, "warden-agent");
    assert_eq!(config.sip_trunk_id, None);

    let config = from(&[
        ("WARDEN_LIVEKIT_URL", "http://127.0.0.1:7880"),
        ("WARDEN_LIVEKIT_API_KEY", "APIkey"),
        ("WARDEN_LIVEKIT_API_SECRET", "s"),
        ("WARDEN_LIVEKIT_AGENT_NAME", "receptionist"),
        ("WARDEN_LIVEKIT_SIP_TRUNK_ID", "ST_abc"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(config.url, "http://127.0.0.1:7880");
    assert_eq!(config.agent_name, "receptionist");
    assert_eq!(config.sip_trunk_id.as_deref(), Some("ST_abc"));
}

#[test]
fn a_partial_config_names_the_missing_variable() {
    let error = from(&[
        ("WARDEN_LIVEKIT_URL", "https://lk.example.com"),
        ("WARDEN_LIVEKIT_API_KEY", "APIkey"),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::Missing {
            missing: "WARDEN_LIVEKIT_API_SECRET",
            set: "WARDEN_LIVEKIT_URL, WARDEN_LIVEKIT_API_KEY".to_owned()
        }
    );
    let message = error.to_string();
    assert!(
        message.starts_with("WARDEN_LIVEKIT_API_SECRET is not set"),
        "{message}"
    );

    // Only an optional variable set is still a half-configured LiveKit.
    let error = from(&[("WARDEN_LIVEKIT_SIP_TRUNK_ID", "ST_abc")]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("WARDEN_LIVEKIT_URL is not set"),
        "{error}"
    );
}

#[test]
fn a_url_that_is_not_http_or_ws_is_refused() {
    for url in [
        "example.livekit.cloud",
        "ftp://example.com",
        "https://",
        "https:///x",
    ] {
        let error = from(&[
            ("WARDEN_LIVEKIT_URL", url),
            ("WARDEN_LIVEKIT_API_KEY", "k"),
            ("WARDEN_LIVEKIT_API_SECRET", "s"),
        ])
        .unwrap_err();
        assert_eq!(error, ConfigError::InvalidUrl, "{url}");
    }
}
