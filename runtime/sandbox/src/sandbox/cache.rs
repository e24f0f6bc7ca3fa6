//! The on-disk artifact cache of compiled components, and where a compiled
//! component came from.

use super::engine::compatibility_key;
use crate::compile::ArtifactKey;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A compiled component, and where it came from.
pub(super) struct Compiled {
    pub(super) component: Component,
    pub(super) source: Source,
}

/// Where a compiled component came from, which decides what the cache
/// gets once the component passed every check.
pub(super) enum Source {
    /// The artifact cache: nothing to write.
    Cache,
    /// A compile child, which handed over the serialized artifact.
    Child(Vec<u8>),
    /// This process: serialized only if it is cached.
    InProcess,
}

/// The on-disk artifact cache: one file per component hash, each with a MAC
/// ([`ArtifactKey`]) so that only artifacts Warden wrote are deserialized.
#[derive(Clone)]
pub(super) struct ArtifactCache {
    dir: PathBuf,
    key: ArtifactKey,
}

impl ArtifactCache {
    /// The cache under `root`, in a directory named after the engine's
    /// compatibility key (created if missing). Without a `key`, the one kept
    /// in `root` is used ([`ArtifactKey::from_dir`]).
    pub(super) fn open(
        root: &Path,
        engine: &Engine,
        key: Option<&ArtifactKey>,
    ) -> anyhow::Result<ArtifactCache> {
        let dir = root.join(compatibility_key(engine));
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!(
                "failed to create the cache directory {}: {e}",
                dir.display()
            )
        })?;
        let key = match key {
            Some(key) => key.clone(),
            None => ArtifactKey::from_dir(root).map_err(|e| {
                anyhow::anyhow!(
                    "failed to read or create the artifact key in {}: {e}",
                    root.display()
                )
            })?,
        };
        Ok(ArtifactCache { dir, key })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// The cached component, if its file is there and authentic.
    pub(super) fn read(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // Read into memory rather than mmap the file: an artifact replaced
        // or truncated on disk must not affect components already loaded.
        let stored = std::fs::read(&path).ok()?;
        let Some(artifact) = self.key.open(sha256, &stored) else {
            tracing::warn!(path = %path.display(), "discarding a cached artifact that fails its integrity check; compiling again");
            let _ = std::fs::remove_file(&path);
            return None;
        };
        // SAFETY: the MAC proves Warden wrote this artifact for this
        // component, under a key only it holds; the directory's name is the
        // engine's compatibility key, and wasmtime checks the header too.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {e:#}");
                None
            }
        }
    }

    pub(super) fn write(&self, sha256: &str, artifact: Vec<u8>) -> anyhow::Result<()> {
        let sealed = self.key.seal(sha256, artifact);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::io::Write::write_all(&mut tmp, &sealed)?;
        tmp.persist(self.path(sha256))?;
        Ok(())
    }
}
