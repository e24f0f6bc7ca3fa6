//! Webhook verification with tokens signed the way LiveKit server signs them.

use std::time::Duration;

use base64::Engine as _;
use livekit_api::access_token::{AccessToken, Claims};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use warden_livekit::{WEBHOOK_TOKEN_LEEWAY_SECS, WebhookError, WebhookVerifier};

use crate::support::{now, sign_claims};

pub const KEY: &str = "APIwebhookKey";
pub const SECRET: &str = "webhook-secret-webhook-secret-0123";

pub const ROOM_FINISHED: &str = r#"{"event":"room_finished","room":{"sid":"RM_hycBMAjmt6Ub","name":"agent-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-+14155550123","emptyTimeout":300,"creationTime":"1692627281","numParticipants":0},"id":"EV_eRxZMn2shxcE","createdAt":"1692985556"}"#;

pub fn body_sha256(body: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()))
}

/// The Authorization header LiveKit server sends: a bare token valid for 5
/// minutes whose `sha256` claim is the body's hash.
fn signed(body: &str, key: &str, secret: &str) -> String {
    AccessToken::with_api_key(key, secret)
        .with_ttl(Duration::from_secs(300))
        .with_sha256(&body_sha256(body))
        .to_jwt()
        .unwrap()
}

pub fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(KEY, &SecretString::from(SECRET))
}

#[test]
fn a_signed_room_finished_event_is_accepted() {
    let event = verifier()
        .verify(ROOM_FINISHED, &signed(ROOM_FINISHED, KEY, SECRET))
        .expect("valid webhook");
    assert_eq!(event.event, "room_finished");
    assert_eq!(event.id, "EV_eRxZMn2shxcE");
    assert_eq!(event.created_at, 1692985556);
    assert_eq!(
        event.room_name.as_deref(),
        Some("agent-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-+14155550123")
    );
    assert_eq!(event.room_sid.as_deref(), Some("RM_hycBMAjmt6Ub"));
    assert_eq!(event.participant_identity, None);
    // A Bearer prefix is tolerated.
    let bearer = format!("Bearer {}", signed(ROOM_FINISHED, KEY, SECRET));
    assert!(verifier().verify(ROOM_FINISHED, &bearer).is_ok());
}

#[test]
fn participant_events_carry_the_participant() {
    let body = r#"{"event":"participant_joined","room":{"sid":"RM_1","name":"r"},"participant":{"sid":"PA_1","identity":"callee","state":"ACTIVE"},"id":"EV_2","createdAt":"1700000000"}"#;
    let event = verifier().verify(body, &signed(body, KEY, SECRET)).unwrap();
    assert_eq!(event.participant_identity.as_deref(), Some("callee"));
    assert_eq!(event.participant_sid.as_deref(), Some("PA_1"));
}

/// A SIP caller's participant_joined, as LiveKit server sends it for an
/// inbound call through a dispatch rule.
pub const SIP_JOINED: &str = r#"{"event":"participant_joined","room":{"sid":"RM_s1","name":"call-_+14155550123_x7Ka"},"participant":{"sid":"PA_s1","identity":"sip_+14155550123","state":"JOINED","name":"Phone +14155550123","kind":"SIP","attributes":{"sip.callID":"SCL_a1","sip.callStatus":"active","sip.phoneNumber":"+14155550123","sip.trunkPhoneNumber":"+18005550199","sip.trunkID":"ST_t1","sip.ruleID":"SDR_r1"}},"id":"EV_s1","createdAt":"1700000000"}"#;

#[test]
fn a_sip_participant_carries_its_numbers_and_no_other_kind_does() {
    let event = verifier()
        .verify(SIP_JOINED, &signed(SIP_JOINED, KEY, SECRET))
        .unwrap();
    let sip = event.sip.expect("a SIP participant");
    assert_eq!(sip.phone_number.as_deref(), Some("+14155550123"));
    assert_eq!(sip.trunk_phone_number.as_deref(), Some("+18005550199"));
    // The numbers are personal data: not in Debug.
    assert!(!format!("{sip:?}").contains("555"));

    // A client participant may set attributes of its own: they are not read.
    let client = SIP_JOINED.replace(r#""kind":"SIP""#, r#""kind":"STANDARD""#);
    let event = verifier()
        .verify(&client, &signed(&client, KEY, SECRET))
        .unwrap();
    assert_eq!(event.sip, None);

    // A number that is not E.164 is left out.
    let odd = SIP_JOINED.replace(
        r#""sip.phoneNumber":"+14155550123""#,
        r#""sip.phoneNumber":"anonymous""#,
    );
    let event = verifier().verify(&odd, &signed(&odd, KEY, SECRET)).unwrap();
    let sip = event.sip.unwrap();
    assert_eq!(sip.phone_number, None);
    assert_eq!(sip.trunk_phone_number.as_deref(), Some("+18005550199"));
}

#[test]
fn a_changed_body_is_rejected() {
    let token = signed(ROOM_FINISHED, KEY, SECRET);
    let tampered = ROOM_FINISHED.replace("room_finished", "room_finishee");
    assert!(matches!(
        verifier().verify(&tampered, &token),
        Err(WebhookError::BodyMismatch)
    ));
}

#[test]
fn unsigned_foreign_and_expired_tokens_are_rejected() {
    let verifier = verifier();
    assert!(matches!(
        verifier.verify(ROOM_FINISHED, ""),
        Err(WebhookError::MissingAuthorization)
    ));
    assert!(matches!(
        verifier.verify(ROOM_FINISHED, "not a token"),
        Err(WebhookError::MalformedToken)
    ));
    assert!(matches!(
        verifier.verify(
            ROOM_FINISHED,
            &signed(ROOM_FINISHED, KEY, "another-secret-another-secret-00")
        ),
        Err(WebhookError::BadSignature)
    ));
    assert!(matches!(
        verifier.verify(ROOM_FINISHED, &signed(ROOM_FINISHED, "APIother", SECRET)),
        Err(WebhookError::WrongApiKey)
    ));
    // A valid token that signs no body.
    let unsigned = AccessToken::with_api_key(KEY, SECRET).to_jwt().unwrap();
    assert!(matches!(
        verifier.verify(ROOM_FINISHED, &unsigned),
        Err(WebhookError::BodyMismatch)
    ));
    let expired = sign_claims(
        &Claims {
            iss: KEY.to_owned(),
            exp: now() - 600,
            nbf: now() - 900,
            sha256: body_sha256(ROOM_FINISHED),
            ..Default::default()
        },
        SECRET,
    );
    assert!(matches!(
        verifier.verify(ROOM_FINISHED, &expired),
        Err(WebhookError::Expired)
    ));
}

fn claims_expiring(exp: usize, body: &str) -> Claims {
    Claims {
        iss: KEY.to_owned(),
        exp,
        nbf: exp.saturating_sub(300),
        sha256: body_sha256(body),
        ..Default::default()
    }
}

#[test]
fn a_request_is_replayable_until_its_token_expires_plus_the_leeway() {
    // The same request verifies again (the verifier keeps no state): the
    // caller applies each event id once, for as long as replayable_until says.
    let token = signed(ROOM_FINISHED, KEY, SECRET);
    let first = verifier().verify(ROOM_FINISHED, &token).unwrap();
    let again = verifier().verify(ROOM_FINISHED, &token).unwrap();
    assert_eq!(first, again);
    assert_eq!(first.id, "EV_eRxZMn2shxcE");
    let exp = Claims::from_unverified(&token).unwrap().exp;
    assert_eq!(
        first.replayable_until,
        i64::try_from(exp).unwrap() + WEBHOOK_TOKEN_LEEWAY_SECS
    );
    assert_eq!(WEBHOOK_TOKEN_LEEWAY_SECS, 60);

    // Expired, but within the leeway: accepted, replayable for the rest of it.
    let lenient = sign_claims(&claims_expiring(now() - 30, ROOM_FINISHED), SECRET);
    let event = verifier().verify(ROOM_FINISHED, &lenient).unwrap();
    assert!(event.replayable_until >= i64::try_from(now()).unwrap());
    // Past the leeway: refused.
    let late = sign_claims(&claims_expiring(now() - 90, ROOM_FINISHED), SECRET);
    assert!(matches!(
        verifier().verify(ROOM_FINISHED, &late),
        Err(WebhookError::Expired)
    ));
    // An exp of 0 (what a missing exp would decode to): refused as expired.
    let zero = sign_claims(&claims_expiring(0, ROOM_FINISHED), SECRET);
    assert!(matches!(
        verifier().verify(ROOM_FINISHED, &zero),
        Err(WebhookError::Expired)
    ));
}

#[test]
fn an_event_without_an_id_verifies_with_an_empty_id() {
    // Refusing it is the caller's decision (Warden's core answers 400).
    let body =
        r#"{"event":"room_finished","room":{"sid":"RM_1","name":"r"},"createdAt":"1700000000"}"#;
    let event = verifier().verify(body, &signed(body, KEY, SECRET)).unwrap();
    assert_eq!(event.id, "");
}
