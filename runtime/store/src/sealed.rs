//! Sealed secrets: AES-256-GCM records bound to the row they belong to, and the key ring.
//!
//! # Record format (version 1)
//!
//! ```text
//! offset   size     field
//! 0        1        format version, 0x01
//! 1        1        L, length of the key id (1..=64)
//! 2        L        key id, ASCII [A-Za-z0-9._-]
//! 2+L      12       nonce, random for every seal
//! 14+L     n + 16   AES-256-GCM ciphertext of the UTF-8 value, then the 16-byte tag
//! ```
//!
//! # Associated data
//!
//! The AAD binds the record to its row and key, so a record copied to another row (another
//! organization, tool or secret name), relabelled with another key id, or changed in any
//! bit fails to open:
//!
//! ```text
//! "warden:sealed-secret" ‖ 0x01 ‖ for each of organization id, tool id, secret name, key id:
//!                                    u32 big-endian byte length ‖ bytes
//! ```
//!
//! A call's recorded outcome (exactly-once calls) is sealed in the same format, bound to
//! its call under its own label, so that neither kind of record opens as the other:
//!
//! ```text
//! "warden:call-outcome" ‖ 0x01 ‖ for each of organization id, agent id, function, call id,
//!                                   key id: u32 big-endian byte length ‖ bytes
//! ```
//!
//! # Key ring
//!
//! Entries `key-id:base64-of-32-bytes`, separated by commas (in `WARDEN_SECRET_KEYS`) or
//! lines (in a key file, where blank lines and `#` comments are ignored). The first entry is
//! the primary key, which seals; every entry opens. A key file must not be accessible to
//! group or others (mode 0600 or stricter).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, Zeroizing};

/// The current record format.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of a nonce (96 bits).
pub const NONCE_LEN: usize = 12;
/// Bytes of a GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes of a key (AES-256).
pub const KEY_LEN: usize = 32;
/// Longest key id.
pub const MAX_KEY_ID_LEN: usize = 64;

/// The environment variable that holds the key ring.
pub const KEYS_ENV: &str = "WARDEN_SECRET_KEYS";
/// The environment variable that names a key file.
pub const KEY_FILE_ENV: &str = "WARDEN_SECRET_KEY_FILE";

const AAD_LABEL: &[u8] = b"warden:sealed-secret";
const OUTCOME_AAD_LABEL: &[u8] = b"warden:call-outcome";

/// The row a secret belongs to; bound into the record's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretIdentity<'a> {
    /// The organization that owns the secret.
    pub organization_id: &'a str,
    /// The tool the secret is for.
    pub tool_id: &'a str,
    /// The secret's name, as the tool declares it.
    pub name: &'a str,
}

impl SecretIdentity<'_> {
    fn fields(&self) -> [&str; 3] {
        [self.organization_id, self.tool_id, self.name]
    }
}

/// One exactly-once call: the key of its row in `call_outcomes`, and what its recorded
/// outcome is sealed for ([`KeyRing::seal_outcome`], bound into the associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallKey<'a> {
    /// The organization the call runs for (the agent's).
    pub organization_id: &'a str,
    /// The agent making the call.
    pub agent_id: &'a str,
    /// `{tool}__{function}`.
    pub function: &'a str,
    /// The caller's call id.
    pub call_id: &'a str,
}

impl CallKey<'_> {
    fn fields(&self) -> [&str; 4] {
        [
            self.organization_id,
            self.agent_id,
            self.function,
            self.call_id,
        ]
    }
}

/// Why a record could not be sealed or opened. Never carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The bytes are not a sealed record this version understands.
    #[error("malformed sealed record: {0}")]
    Malformed(&'static str),
    /// The record is sealed under a key the ring does not hold.
    #[error("sealed record uses key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    /// Authentication failed: the record was tampered with, belongs to another row, or the
    /// key with its id is not the one that sealed it.
    #[error("sealed record failed to open (tampered with, moved from another row, or wrong key)")]
    OpenFailed,
    /// The opened value is not UTF-8.
    #[error("sealed record holds a value that is not UTF-8")]
    NotUtf8,
    /// Encryption failed.
    #[error("failed to seal the value")]
    SealFailed,
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(getrandom::Error),
}

/// Why a key ring could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// Neither `WARDEN_SECRET_KEYS` nor `WARDEN_SECRET_KEY_FILE` is set.
    #[error("no secret keys configured: set {KEYS_ENV} or {KEY_FILE_ENV}")]
    Missing,
    /// The specification holds no key.
    #[error("the key ring is empty")]
    Empty,
    /// An entry is malformed.
    #[error("key ring entry {entry}: {reason}")]
    Invalid {
        /// 1-based position of the entry.
        entry: usize,
        /// What is wrong (never the entry itself).
        reason: &'static str,
    },
    /// Two entries have the same key id.
    #[error("key id {0:?} appears more than once in the key ring")]
    DuplicateKeyId(String),
    /// The key file could not be read.
    #[error("failed to read key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The key file is accessible to group or others.
    #[error(
        "key file {path} is accessible by group or others (mode {mode:04o}); \
         restrict it with `chmod 600 {path}`",
        path = path.display()
    )]
    InsecureFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// A sealed record: opaque bytes in the format above. Its `Debug` shows the key id and
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    bytes: Vec<u8>,
    key_id_len: usize,
}

impl SealedSecret {
    /// Checks the header of `bytes` (version, key id, minimum length) and wraps them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SealError> {
        let (&version, rest) = bytes.split_first().ok_or(SealError::Malformed("empty"))?;
        if version != FORMAT_VERSION {
            return Err(SealError::Malformed("unknown format version"));
        }
        let (&key_id_len, rest) = rest
            .split_first()
            .ok_or(SealError::Malformed("truncated header"))?;
        let key_id_len = usize::from(key_id_len);
        if rest.len() < key_id_len + NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed("truncated record"));
        }
        validate_key_id(&rest[..key_id_len]).map_err(SealError::Malformed)?;
        Ok(Self { bytes, key_id_len })
    }

    /// The id of the key the record is sealed under.
    pub fn key_id(&self) -> &str {
        // Checked to be ASCII in `from_bytes` / `seal`.
        std::str::from_utf8(&self.bytes[2..2 + self.key_id_len]).unwrap_or_default()
    }

    /// The record's bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The record's bytes, as stored.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn nonce(&self) -> &[u8] {
        let start = 2 + self.key_id_len;
        &self.bytes[start..start + NONCE_LEN]
    }

    fn ciphertext(&self) -> &[u8] {
        &self.bytes[2 + self.key_id_len + NONCE_LEN..]
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id())
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// A newly generated key ring entry (`warden keys generate`).
pub struct GeneratedKey {
    /// The new key's id.
    pub id: String,
    /// The whole entry, `id:base64key`, ready for `WARDEN_SECRET_KEYS` or a key file.
    pub entry: SecretString,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("id", &self.id)
            .field("entry", &"[REDACTED]")
            .finish()
    }
}

struct RingKey {
    id: String,
    // With `aes`'s `zeroize` feature the expanded key is wiped when the cipher is dropped.
    cipher: Aes256Gcm,
}

/// The keys that seal and open secrets: the primary key seals, every key opens.
///
/// Its `Debug` lists key ids only.
pub struct KeyRing {
    keys: Vec<RingKey>,
    /// HMAC-SHA256(primary key, [`ARTIFACT_KEY_LABEL`]), wiped on drop.
    artifact_key: zeroize::Zeroizing<[u8; 32]>,
}

/// The label from which [`KeyRing::artifact_key`] is derived.
const ARTIFACT_KEY_LABEL: &[u8] = b"warden compiled-artifact cache MAC key v1";

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("primary", &self.primary_key_id())
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// Parses entries `id:base64key`, separated by commas or newlines; the first is the
    /// primary. Blank entries and lines starting with `#` are ignored.
    pub fn parse(spec: &SecretString) -> Result<Self, KeyRingError> {
        let mut keys: Vec<RingKey> = Vec::new();
        let mut artifact_key = zeroize::Zeroizing::new([0u8; 32]);
        let entries = spec
            .expose_secret()
            .split([',', '\n'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty() && !entry.starts_with('#'));
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let invalid = |reason| KeyRingError::Invalid {
                entry: position,
                reason,
            };
            let (id, key) = entry
                .split_once(':')
                .ok_or(invalid("expected `key-id:base64key`"))?;
            let id = id.trim();
            validate_key_id(id.as_bytes()).map_err(invalid)?;
            if keys.iter().any(|existing| existing.id == id) {
                return Err(KeyRingError::DuplicateKeyId(id.to_owned()));
            }
            let key = decode_key(key.trim()).ok_or(invalid(
                "the key must be 32 bytes, base64-encoded (`warden keys generate` makes one)",
            ))?;
            let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice()));
            if keys.is_empty() {
                use hmac::Mac as _;
                let mut mac =
                    <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key.as_slice())
                        .expect("HMAC takes any key length");
                mac.update(ARTIFACT_KEY_LABEL);
                artifact_key.copy_from_slice(&mac.finalize().into_bytes());
            }
            keys.push(RingKey {
                id: id.to_owned(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        Ok(Self { keys, artifact_key })
    }

    /// A key for authenticating compiled artifacts on disk, derived from the
    /// primary key: whoever cannot read the key ring cannot forge an
    /// artifact Warden will load. It changes when the primary key does
    /// (cached artifacts are then compiled again).
    pub fn artifact_key(&self) -> [u8; 32] {
        *self.artifact_key
    }

    /// Loads the ring from `WARDEN_SECRET_KEYS`, or else from the file named by
    /// `WARDEN_SECRET_KEY_FILE`.
    pub fn from_env() -> Result<Self, KeyRingError> {
        if let Some(spec) = std::env::var_os(KEYS_ENV) {
            let spec = SecretString::from(spec.into_string().map_err(|raw| {
                #[cfg(unix)]
                std::os::unix::ffi::OsStringExt::into_vec(raw).zeroize();
                #[cfg(not(unix))]
                drop(raw);
                KeyRingError::Invalid {
                    entry: 1,
                    reason: "the key ring is not valid UTF-8",
                }
            })?);
            return Self::parse(&spec);
        }
        if let Some(path) = std::env::var_os(KEY_FILE_ENV) {
            return Self::from_file(Path::new(&path));
        }
        Err(KeyRingError::Missing)
    }

    /// Loads the ring from a key file (one entry per line). Refuses a file that group or
    /// others may access.
    pub fn from_file(path: &Path) -> Result<Self, KeyRingError> {
        let io = |source| KeyRingError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        // The permissions of the file that was opened, not of whatever the path names now.
        let metadata = file.metadata().map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(KeyRingError::InsecureFile {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        // Sized up front so that growing the buffer leaves no stray copies of the keys.
        let capacity = usize::try_from(metadata.len())
            .unwrap_or(0)
            .saturating_add(1);
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.read_to_string(&mut text).map_err(io)?;
        Self::parse(&SecretString::from(std::mem::take(&mut *text)))
    }

    /// Makes a new random key with a fresh id, as a ring entry.
    pub fn generate_key() -> Result<GeneratedKey, SealError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(key.as_mut_slice()).map_err(SealError::Random)?;
        let mut id_bytes = [0u8; 6];
        getrandom::fill(&mut id_bytes).map_err(SealError::Random)?;
        let id = format!("k{}", hex::encode(id_bytes));
        let encoded = Zeroizing::new(STANDARD.encode(key.as_slice()));
        let entry = SecretString::from(format!("{id}:{}", encoded.as_str()));
        Ok(GeneratedKey { id, entry })
    }

    /// The id of the key that seals.
    pub fn primary_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Every key id, primary first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }

    /// Seals `value` for the row `identity` under the primary key, with a fresh nonce.
    pub fn seal(
        &self,
        identity: &SecretIdentity<'_>,
        value: &SecretString,
    ) -> Result<SealedSecret, SealError> {
        self.seal_record(
            AAD_LABEL,
            &identity.fields(),
            value.expose_secret().as_bytes(),
        )
    }

    /// Opens a record sealed for the row `identity`, with whichever key of the ring sealed it.
    pub fn open(
        &self,
        identity: &SecretIdentity<'_>,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SealError> {
        let plaintext = self.open_record(AAD_LABEL, &identity.fields(), sealed)?;
        match String::from_utf8(plaintext) {
            Ok(value) => Ok(SecretString::from(value)),
            Err(error) => {
                error.into_bytes().zeroize();
                Err(SealError::NotUtf8)
            }
        }
    }

    /// Seals a call's recorded outcome for the call `identity` under the primary key.
    /// Its associated data has its own label, so an outcome record never opens as a
    /// secret, nor a secret as an outcome.
    pub fn seal_outcome(
        &self,
        identity: &CallKey<'_>,
        value: &[u8],
    ) -> Result<SealedSecret, SealError> {
        self.seal_record(OUTCOME_AAD_LABEL, &identity.fields(), value)
    }

    /// Opens an outcome sealed for the call `identity`.
    pub fn open_outcome(
        &self,
        identity: &CallKey<'_>,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        self.open_record(OUTCOME_AAD_LABEL, &identity.fields(), sealed)
            .map(Zeroizing::new)
    }

    fn seal_record(
        &self,
        label: &[u8],
        fields: &[&str],
        value: &[u8],
    ) -> Result<SealedSecret, SealError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(SealError::Random)?;
        let aad = associated_data(label, fields, &key.id);
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::SealFailed)?;
        let key_id_len = key.id.len();
        let mut bytes = Vec::with_capacity(2 + key_id_len + NONCE_LEN + ciphertext.len());
        bytes.push(FORMAT_VERSION);
        bytes.push(u8::try_from(key_id_len).map_err(|_| SealError::SealFailed)?);
        bytes.extend_from_slice(key.id.as_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Ok(SealedSecret { bytes, key_id_len })
    }

    fn open_record(
        &self,
        label: &[u8],
        fields: &[&str],
        sealed: &SealedSecret,
    ) -> Result<Vec<u8>, SealError> {
        let key_id = sealed.key_id();
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let aad = associated_data(label, fields, key_id);
        key.cipher
            .decrypt(
                Nonce::from_slice(sealed.nonce()),
                Payload {
                    msg: sealed.ciphertext(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::OpenFailed)
    }
}

fn associated_data(label: &[u8], fields: &[&str], key_id: &str) -> Vec<u8> {
    let len =
        label.len() + 1 + fields.iter().map(|f| 4 + f.len()).sum::<usize>() + 4 + key_id.len();
    let mut aad = Vec::with_capacity(len);
    aad.extend_from_slice(label);
    aad.push(FORMAT_VERSION);
    for field in fields.iter().chain([&key_id]) {
        // Ids and names are far below 4 GiB; saturate rather than panic.
        let field_len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&field_len.to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

fn validate_key_id(id: &[u8]) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN {
        return Err("a key id must be 1 to 64 characters");
    }
    if !id
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("a key id may contain only letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

fn decode_key(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok().map(Zeroizing::new))
        .filter(|key| key.len() == KEY_LEN)
}
