//! Shared set-up: a stand-in, a client configured for it, signed tokens.

use std::collections::HashMap;

use livekit_api::access_token::{AccessToken, Claims};
use secrecy::SecretString;
use warden_livekit::{LiveKit, LiveKitConfig};
use warden_testing::LiveKitServer;

/// A configuration for `server` with its key and secret, the default agent name
/// overridden, and the stand-in's trunk.
pub fn config_for(server: &LiveKitServer) -> LiveKitConfig {
    LiveKitConfig {
        url: server.url(),
        api_key: LiveKitServer::API_KEY.to_owned(),
        api_secret: SecretString::from(LiveKitServer::API_SECRET),
        agent_name: "front-desk".to_owned(),
        sip_trunk_id: Some(LiveKitServer::SIP_TRUNK_ID.to_owned()),
    }
}

pub fn client_for(server: &LiveKitServer) -> LiveKit {
    LiveKit::new(config_for(server)).expect("client")
}

/// Variables for `LiveKitConfig::from_lookup`.
pub fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `claims` signed HS256 with `secret`, as they are (including an `exp` in
/// the past), through jsonwebtoken with the HMAC provider livekit-api
/// installs on its first signature.
pub fn sign_claims(claims: &Claims, secret: &str) -> String {
    // Installs livekit-api's process-wide HMAC provider for jsonwebtoken.
    AccessToken::with_api_key("k", "s").to_jwt().expect("sign");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign claims")
}

/// Seconds since the Unix epoch.
pub fn now() -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as usize
}

/// A reqwest client for the plain-HTTP stand-in (reqwest is built without a
/// default TLS provider here, so it is given one, trusting nothing).
pub fn http_client() -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}
