//! The key ring and sealing, without a database.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use secrecy::{ExposeSecret, SecretString};
use warden_store::{CallKey, KeyRing, KeyRingError, SealError, SecretIdentity};

use crate::support::{entry, ring};

const ID: SecretIdentity<'static> = SecretIdentity {
    organization_id: "org-1",
    tool_id: "tool-1",
    name: "token",
};

#[test]
fn seal_open_round_trip_with_fresh_nonces() {
    let keys = ring(&entry("k1", 7));
    let value = SecretString::from("s3cr3t value ✓");
    let first = keys.seal(&ID, &value).unwrap();
    let second = keys.seal(&ID, &value).unwrap();
    assert_ne!(first, second, "every seal draws a new nonce");
    assert_eq!(first.key_id(), "k1");
    // version, key id length, key id, nonce, ciphertext, tag.
    assert_eq!(first.as_bytes()[0], 1);
    assert_eq!(first.as_bytes()[1], 2);
    assert_eq!(&first.as_bytes()[2..4], b"k1");
    assert_eq!(
        first.as_bytes().len(),
        4 + 12 + value.expose_secret().len() + 16
    );
    assert_eq!(
        keys.open(&ID, &first).unwrap().expose_secret(),
        value.expose_secret()
    );
    assert_eq!(
        keys.open(&ID, &second).unwrap().expose_secret(),
        value.expose_secret()
    );
}

#[test]
fn the_associated_data_binds_every_identity_field() {
    let keys = ring(&entry("k1", 7));
    let sealed = keys.seal(&ID, &"v".into()).unwrap();
    for other in [
        SecretIdentity {
            organization_id: "org-2",
            ..ID
        },
        SecretIdentity {
            tool_id: "tool-2",
            ..ID
        },
        SecretIdentity {
            name: "other",
            ..ID
        },
        // Length-prefixed fields: moving a character across a boundary changes the AAD.
        SecretIdentity {
            organization_id: "org-1t",
            tool_id: "ool-1",
            ..ID
        },
    ] {
        assert!(matches!(
            keys.open(&other, &sealed),
            Err(SealError::OpenFailed)
        ));
    }
}

#[test]
fn outcome_records_bind_their_call_and_never_open_as_secrets() {
    let keys = ring(&entry("k1", 7));
    let call = CallKey {
        organization_id: "org-1",
        agent_id: "agent-1",
        function: "calendar__book",
        call_id: "call-1",
    };
    let outcome = keys.seal_outcome(&call, br#"{"result":1}"#).unwrap();
    assert_eq!(
        &keys.open_outcome(&call, &outcome).unwrap()[..],
        br#"{"result":1}"#
    );
    for other in [
        CallKey {
            organization_id: "org-2",
            ..call
        },
        CallKey {
            agent_id: "agent-2",
            ..call
        },
        CallKey {
            function: "calendar__cancel",
            ..call
        },
        CallKey {
            call_id: "call-2",
            ..call
        },
    ] {
        assert!(matches!(
            keys.open_outcome(&other, &outcome),
            Err(SealError::OpenFailed)
        ));
    }
    // The labels differ: a secret whose fields spell the same text does not
    // open as an outcome, nor an outcome as a secret.
    let secret = keys
        .seal(
            &SecretIdentity {
                organization_id: "org-1",
                tool_id: "agent-1",
                name: "calendar__book",
            },
            &"v".into(),
        )
        .unwrap();
    let as_call = CallKey {
        call_id: "",
        ..call
    };
    assert!(keys.open_outcome(&as_call, &secret).is_err());
    let as_secret = SecretIdentity {
        organization_id: "org-1",
        tool_id: "agent-1",
        name: "calendar__book",
    };
    assert!(keys.open(&as_secret, &outcome).is_err());
}

#[test]
fn a_key_with_the_same_id_but_other_bytes_fails() {
    let sealed = ring(&entry("k1", 7)).seal(&ID, &"v".into()).unwrap();
    assert!(matches!(
        ring(&entry("k1", 8)).open(&ID, &sealed),
        Err(SealError::OpenFailed)
    ));
    assert!(matches!(
        ring(&entry("k2", 7)).open(&ID, &sealed),
        Err(SealError::UnknownKey(id)) if id == "k1"
    ));
}

#[test]
fn the_first_key_is_primary_and_every_key_opens() {
    let old = ring(&entry("old", 1));
    let sealed = old.seal(&ID, &"v".into()).unwrap();
    let rotated = ring(&format!("{}, {}", entry("new", 2), entry("old", 1)));
    assert_eq!(rotated.primary_key_id(), "new");
    assert_eq!(rotated.key_ids().collect::<Vec<_>>(), ["new", "old"]);
    assert_eq!(rotated.open(&ID, &sealed).unwrap().expose_secret(), "v");
    assert_eq!(rotated.seal(&ID, &"v".into()).unwrap().key_id(), "new");
}

#[test]
fn malformed_rings_are_refused_without_echoing_keys() {
    let key = entry("k1", 9);
    let b64 = key.split_once(':').unwrap().1.to_owned();
    type Expected = fn(&KeyRingError) -> bool;
    let cases: Vec<(String, Expected)> = vec![
        (String::new(), |e| matches!(e, KeyRingError::Empty)),
        (" , ,".into(), |e| matches!(e, KeyRingError::Empty)),
        (b64.clone(), |e| {
            matches!(e, KeyRingError::Invalid { entry: 1, .. })
        }),
        (format!("bad id!:{b64}"), |e| {
            matches!(e, KeyRingError::Invalid { .. })
        }),
        (format!("k1:{}", &b64[..20]), |e| {
            matches!(e, KeyRingError::Invalid { .. })
        }),
        (
            format!("{key},{key}"),
            |e| matches!(e, KeyRingError::DuplicateKeyId(id) if id == "k1"),
        ),
    ];
    for (spec, expected) in cases {
        let error = KeyRing::parse(&spec.clone().into()).unwrap_err();
        assert!(expected(&error), "{spec:?}: {error:?}");
        let message = format!("{error} {error:?}");
        assert!(!message.contains(&b64[..20]), "key material in {message}");
    }
}

#[test]
fn debug_shows_key_ids_only() {
    let key = entry("k1", 3);
    let b64 = key.split_once(':').unwrap().1.to_owned();
    let keys = ring(&key);
    let debug = format!("{keys:?}");
    assert!(debug.contains("k1"));
    assert!(!debug.contains(&b64));

    let generated = KeyRing::generate_key().unwrap();
    let debug = format!("{generated:?}");
    assert!(!debug.contains(generated.entry.expose_secret().split_once(':').unwrap().1));
    let sealed = keys.seal(&ID, &"plain-value".into()).unwrap();
    assert!(!format!("{sealed:?}").contains("plain-value"));
}

#[test]
fn generated_keys_parse_and_differ() {
    let one = KeyRing::generate_key().unwrap();
    let two = KeyRing::generate_key().unwrap();
    assert_ne!(one.id, two.id);
    assert_ne!(one.entry.expose_secret(), two.entry.expose_secret());
    assert!(
        one.entry
            .expose_secret()
            .starts_with(&format!("{}:", one.id))
    );
    let keys = KeyRing::parse(
        &format!(
            "{},{}",
            one.entry.expose_secret(),
            two.entry.expose_secret()
        )
        .into(),
    )
    .unwrap();
    assert_eq!(keys.primary_key_id(), one.id);
    let sealed = keys.seal(&ID, &"v".into()).unwrap();
    assert_eq!(keys.open(&ID, &sealed).unwrap().expose_secret(), "v");
}

#[test]
fn key_file_with_comments_loads_when_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(
        file,
        "# primary first\n{}\n\n{}",
        entry("k2", 2),
        entry("k1", 1)
    )
    .unwrap();
    drop(file);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let keys = KeyRing::from_file(&path).unwrap();
    assert_eq!(keys.key_ids().collect::<Vec<_>>(), ["k2", "k1"]);
}

#[test]
fn world_readable_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, entry("k1", 1)).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = KeyRing::from_file(&path).unwrap_err();
        assert!(
            matches!(error, KeyRingError::InsecureFile { mode: m, .. } if m == mode),
            "{mode:o}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains(&format!("{mode:04o}")), "{message}");
    }
    let missing = KeyRing::from_file(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(missing, KeyRingError::Io { .. }));
}
