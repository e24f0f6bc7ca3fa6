//! A canary secret never shows in Debug output or error messages.

use secrecy::SecretString;
use warden_livekit::{LiveKit, LiveKitConfig, WebhookVerifier};
use warden_testing::LiveKitServer;

use crate::support::config_for;

const CANARY: &str = "canary-secret-9c1f4e2a7b3d5e6f8a0b";
const METADATA_CANARY: &str = "wmcp_canary_dispatch_token_31415";

#[tokio::test]
async fn the_secret_and_dispatch_metadata_appear_in_no_debug_or_error() {
    let server = LiveKitServer::start().await;
    let mut config = config_for(&server);
    config.api_secret = SecretString::from(CANARY);
    let livekit = LiveKit::new(config.clone()).unwrap();
    let metadata = format!(r#"{{"token":"{METADATA_CANARY}"}}"#);

    let mut texts = vec![
        format!("{config:?}"),
        format!("{livekit:?}"),
        format!("{:?}", WebhookVerifier::from_config(&config)),
    ];
    // The stand-in refuses the canary secret: its 401 body repeats the token.
    for error in [
        livekit.create_room("r", &metadata).await.unwrap_err(),
        livekit.dispatch_agent("r", &metadata).await.unwrap_err(),
        livekit
            .dial("r", "+14155550123", "callee")
            .await
            .unwrap_err(),
    ] {
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
    }
    // A LiveKit that is gone, and a config that is half set.
    drop(server);
    let mut gone = config.clone();
    gone.url = "http://127.0.0.1:9".to_owned();
    let error = LiveKit::new(gone)
        .unwrap()
        .dispatch_agent("r", &metadata)
        .await
        .unwrap_err();
    texts.push(error.to_string());
    texts.push(format!("{error:?}"));
    let partial = LiveKitConfig::from_lookup(|name| {
        (name == "WARDEN_LIVEKIT_API_SECRET").then(|| CANARY.to_owned())
    })
    .unwrap_err();
    texts.push(partial.to_string());
    texts.push(format!("{partial:?}"));

    for text in &texts {
        assert!(!text.contains(CANARY), "secret leaked: {text}");
        assert!(!text.contains(METADATA_CANARY), "metadata leaked: {text}");
        assert!(!text.contains("eyJ"), "token leaked: {text}");
    }
}
