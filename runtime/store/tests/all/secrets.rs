//! Sealed secrets in the database: round trips, binding to the row, rotation, no plaintext
//! at rest.

use secrecy::{ExposeSecret, SecretString};
use warden_store::{Backend, SealError, SealedSecret, StoreError};

use crate::support::{TestDb, component, entry, on_both_backends, private_component, ring};

on_both_backends!(
    secret_round_trip_and_listing,
    secrets_are_scoped_to_their_organization,
    a_record_copied_to_another_row_fails_to_open,
    a_tampered_record_fails_to_open,
    rotation_and_rewrap,
    no_plaintext_secret_at_rest,
);

const CANARY: &str = "canary-5f1c2e9a-do-not-leak-7b3d";

async fn secret_round_trip_and_listing(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&entry("k1", 1));
    let org = store.create_organization("acme", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;

    let set = store
        .put_secret(&keys, &org.id, &tool.id, "refresh_token", &"rt-1".into())
        .await
        .unwrap();
    assert_eq!(set.name, "refresh_token");
    store
        .put_secret(&keys, &org.id, &tool.id, "access_token", &"at-1".into())
        .await
        .unwrap();
    let value = store
        .open_secret(&keys, &org.id, &tool.id, "refresh_token")
        .await
        .unwrap();
    assert_eq!(value.expose_secret(), "rt-1");

    // Replacing a value keeps one row, with a later updated_at and a fresh record.
    let before = store
        .sealed_secret(&org.id, &tool.id, "refresh_token")
        .await
        .unwrap();
    let replaced = store
        .put_secret(&keys, &org.id, &tool.id, "refresh_token", &"rt-2".into())
        .await
        .unwrap();
    assert!(replaced.updated_at >= set.updated_at);
    let after = store
        .sealed_secret(&org.id, &tool.id, "refresh_token")
        .await
        .unwrap();
    assert_eq!(after.id, before.id);
    assert_ne!(after.sealed, before.sealed);
    assert_eq!(after.sealed.key_id(), "k1");

    let opened = store.open_secrets(&keys, &org.id, &tool.id).await.unwrap();
    let opened: Vec<_> = opened
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose_secret()))
        .collect();
    assert_eq!(
        opened,
        [("access_token", "at-1"), ("refresh_token", "rt-2")]
    );

    let listed: Vec<_> = store
        .list_secrets(&org.id, &tool.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(listed, ["access_token", "refresh_token"]);

    // Debug output of rows shows neither value nor ciphertext.
    let debug = format!("{after:?}");
    assert!(!debug.contains("rt-2"));
    assert!(debug.contains("key_id"));

    store
        .delete_secret(&org.id, &tool.id, "access_token")
        .await
        .unwrap();
    assert!(matches!(
        store
            .open_secret(&keys, &org.id, &tool.id, "access_token")
            .await,
        Err(StoreError::NotFound("secret"))
    ));
    assert!(matches!(
        store.delete_secret(&org.id, &tool.id, "access_token").await,
        Err(StoreError::NotFound(_))
    ));

    // Deleting the tool deletes its secrets.
    store.delete_tool(None, &tool.id).await.unwrap();
    assert!(
        store
            .list_secrets(&org.id, &tool.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn secrets_are_scoped_to_their_organization(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&entry("k1", 1));
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let shared = store
        .install_tool_version(&component("shared", "1.0.0", b"shared"))
        .await
        .unwrap()
        .tool;
    let a_private = store
        .install_tool_version(&private_component(&a.id, "a-only", "1.0.0", b"a-only"))
        .await
        .unwrap()
        .tool;
    store
        .put_secret(&keys, &a.id, &shared.id, "token", &"a-token".into())
        .await
        .unwrap();

    assert!(matches!(
        store.sealed_secret(&b.id, &shared.id, "token").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.open_secret(&keys, &b.id, &shared.id, "token").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .sealed_secrets(&b.id, &shared.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .open_secrets(&keys, &b.id, &shared.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_secrets(&b.id, &shared.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_secret(&b.id, &shared.id, "token").await,
        Err(StoreError::NotFound(_))
    ));

    // B setting its own value for the same tool and name does not touch A's.
    store
        .put_secret(&keys, &b.id, &shared.id, "token", &"b-token".into())
        .await
        .unwrap();
    let a_value = store
        .open_secret(&keys, &a.id, &shared.id, "token")
        .await
        .unwrap();
    assert_eq!(a_value.expose_secret(), "a-token");

    // B cannot store secrets for A's private tool.
    assert!(matches!(
        store
            .put_secret(&keys, &b.id, &a_private.id, "token", &"x".into())
            .await,
        Err(StoreError::NotFound("tool"))
    ));
}

async fn a_record_copied_to_another_row_fails_to_open(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&entry("k1", 1));
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let calendar = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let crm = store
        .install_tool_version(&component("crm", "1.0.0", b"crm"))
        .await
        .unwrap()
        .tool;
    store
        .put_secret(
            &keys,
            &a.id,
            &calendar.id,
            "token",
            &"a-calendar-token".into(),
        )
        .await
        .unwrap();
    let original = store
        .sealed_secret(&a.id, &calendar.id, "token")
        .await
        .unwrap();

    // Copy the record, byte for byte, to another organization, tool and name.
    for (org, tool, name) in [
        (&b.id, &calendar.id, "token"),
        (&a.id, &crm.id, "token"),
        (&a.id, &calendar.id, "other_name"),
    ] {
        store
            .upsert_sealed_secret(org, tool, name, &original.sealed)
            .await
            .unwrap();
        let error = store.open_secret(&keys, org, tool, name).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Seal(SealError::OpenFailed)),
            "copy to ({org}, {tool}, {name}): {error:?}"
        );
        assert!(!error.to_string().contains("a-calendar-token"));
    }
    // The original still opens.
    let value = store
        .open_secret(&keys, &a.id, &calendar.id, "token")
        .await
        .unwrap();
    assert_eq!(value.expose_secret(), "a-calendar-token");
}

async fn a_tampered_record_fails_to_open(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&format!("{},{}", entry("k1", 1), entry("k2", 2)));
    let org = store.create_organization("acme", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    store
        .put_secret(&keys, &org.id, &tool.id, "token", &"tamper-me".into())
        .await
        .unwrap();
    let original = store
        .sealed_secret(&org.id, &tool.id, "token")
        .await
        .unwrap();
    let bytes = original.sealed.as_bytes().to_vec();

    // Flip one bit in the key id, the nonce, the ciphertext and the tag in turn.
    let key_id_len = usize::from(bytes[1]);
    let nonce_at = 2 + key_id_len;
    let positions = [
        2 + key_id_len - 1, // last key id character: "k1" -> "k0", not in the ring
        nonce_at,
        nonce_at + 12,
        bytes.len() - 1,
    ];
    for position in positions {
        let mut flipped = bytes.clone();
        flipped[position] ^= 0x01;
        let sealed = SealedSecret::from_bytes(flipped).unwrap();
        store
            .upsert_sealed_secret(&org.id, &tool.id, "token", &sealed)
            .await
            .unwrap();
        let error = store
            .open_secret(&keys, &org.id, &tool.id, "token")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Seal(SealError::OpenFailed | SealError::UnknownKey(_))
            ),
            "bit flipped at {position}: {error:?}"
        );
    }
    // Relabelling the record with the ring's other key id fails too.
    let mut relabelled = bytes.clone();
    relabelled[2 + key_id_len - 1] = b'2';
    let sealed = SealedSecret::from_bytes(relabelled).unwrap();
    assert_eq!(sealed.key_id(), "k2");
    store
        .upsert_sealed_secret(&org.id, &tool.id, "token", &sealed)
        .await
        .unwrap();
    assert!(matches!(
        store.open_secret(&keys, &org.id, &tool.id, "token").await,
        Err(StoreError::Seal(SealError::OpenFailed))
    ));
    // A bad version byte is not a record at all.
    let mut versioned = bytes.clone();
    versioned[0] = 2;
    assert!(matches!(
        SealedSecret::from_bytes(versioned),
        Err(SealError::Malformed(_))
    ));
}

async fn rotation_and_rewrap(db: &TestDb) {
    let store = &db.store;
    let old = ring(&entry("old", 1));
    let a = store.create_organization("a", false).await.unwrap();
    let b = store.create_organization("b", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let values = [
        (&a.id, "access_token", "a-access"),
        (&a.id, "refresh_token", "a-refresh"),
        (&b.id, "access_token", "b-access"),
    ];
    for (org, name, value) in values {
        store
            .put_secret(&old, org, &tool.id, name, &value.into())
            .await
            .unwrap();
    }

    // Rotate: a new primary, the old key still listed. Everything still opens.
    let rotated = ring(&format!("{},{}", entry("new", 2), entry("old", 1)));
    for (org, name, value) in values {
        let opened = store
            .open_secret(&rotated, org, &tool.id, name)
            .await
            .unwrap();
        assert_eq!(opened.expose_secret(), value);
    }
    // New values are sealed under the new primary.
    store
        .put_secret(
            &rotated,
            &b.id,
            &tool.id,
            "refresh_token",
            &"b-refresh".into(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .sealed_secret(&b.id, &tool.id, "refresh_token")
            .await
            .unwrap()
            .sealed
            .key_id(),
        "new"
    );

    // A ring without the old key cannot rewrap: nothing changes.
    let only_new = ring(&entry("new", 2));
    assert!(matches!(
        store.rewrap_secrets(&only_new).await,
        Err(StoreError::Seal(SealError::UnknownKey(_)))
    ));

    let before = store
        .sealed_secret(&a.id, &tool.id, "access_token")
        .await
        .unwrap();
    assert_eq!(store.rewrap_secrets(&rotated).await.unwrap(), 3);
    assert_eq!(store.rewrap_secrets(&rotated).await.unwrap(), 0);
    let after = store
        .sealed_secret(&a.id, &tool.id, "access_token")
        .await
        .unwrap();
    assert_eq!(
        after.updated_at, before.updated_at,
        "rewrap does not change the value"
    );

    // Every row is under the new key, and opens without the old one.
    for org in [&a.id, &b.id] {
        for row in store.sealed_secrets(org, &tool.id).await.unwrap() {
            assert_eq!(row.sealed.key_id(), "new");
        }
    }
    for (org, name, value) in values {
        let opened = store
            .open_secret(&only_new, org, &tool.id, name)
            .await
            .unwrap();
        assert_eq!(opened.expose_secret(), value);
    }
}

async fn no_plaintext_secret_at_rest(db: &TestDb) {
    let store = &db.store;
    let keys = ring(&entry("k1", 1));
    let org = store.create_organization("acme", false).await.unwrap();
    let tool = store
        .install_tool_version(&component("calendar", "1.0.0", b"cal"))
        .await
        .unwrap()
        .tool;
    let canary = SecretString::from(CANARY);
    store
        .put_secret(&keys, &org.id, &tool.id, "refresh_token", &canary)
        .await
        .unwrap();
    // Rewrapped copies too.
    let rotated = ring(&format!("{},{}", entry("k2", 2), entry("k1", 1)));
    store
        .put_secret(&keys, &org.id, &tool.id, "access_token", &canary)
        .await
        .unwrap();
    assert_eq!(store.rewrap_secrets(&rotated).await.unwrap(), 2);
    assert_eq!(
        store
            .open_secret(&rotated, &org.id, &tool.id, "refresh_token")
            .await
            .unwrap()
            .expose_secret(),
        CANARY
    );

    match db.backend() {
        Backend::Sqlite => {
            let path = db.sqlite_path();
            let mut checked = 0;
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                if let Ok(bytes) = std::fs::read(&file) {
                    checked += bytes.len();
                    assert!(
                        !contains(&bytes, CANARY.as_bytes()),
                        "{file} holds the secret in plain text"
                    );
                }
            }
            assert!(checked > 0);
        }
        Backend::Postgres => {
            let dump = std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg("--dbname")
                .arg(&db.url)
                .output();
            match dump {
                Ok(output) if output.status.success() => {
                    assert!(
                        contains(&output.stdout, b"tool_sensitive_configs"),
                        "the dump has the secrets table"
                    );
                    assert!(
                        !contains(&output.stdout, CANARY.as_bytes()),
                        "pg_dump output holds the secret in plain text"
                    );
                }
                _ => eprintln!("pg_dump unavailable: checking the columns only"),
            }
            // And, with or without pg_dump, every text and bytea column directly.
            every_column_lacks_canary(db).await;
        }
    }
}

/// Reads every text and bytea column of every table and looks for the canary.
async fn every_column_lacks_canary(db: &TestDb) {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND data_type IN ('text', 'bytea')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!columns.is_empty());
    for column in columns {
        let table: String = column.get(0);
        let name: String = column.get(1);
        let data_type: String = column.get(2);
        // Raw bytes for bytea (its text form is hex), UTF-8 bytes for text.
        let select = if data_type == "bytea" {
            format!("SELECT COALESCE(\"{name}\", ''::bytea) FROM \"{table}\"")
        } else {
            format!("SELECT convert_to(COALESCE(\"{name}\", ''), 'UTF8') FROM \"{table}\"")
        };
        let values = sqlx::query(&select).fetch_all(&mut conn).await.unwrap();
        for value in values {
            let bytes: Vec<u8> = value.get(0);
            assert!(
                !contains(&bytes, CANARY.as_bytes()),
                "{table}.{name} holds the secret in plain text"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
