//! Where Warden keeps its state (the data directory, the database, the key
//! ring), shared by `warden serve` and the operator commands.

use clap::Args;
use secrecy::ExposeSecret;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use warden_core::{Core, CoreSettings};
use warden_sandbox::{ArtifactKey, Sandbox, SandboxConfig};
use warden_store::{KeyRing, Store};

/// Where Warden keeps its state, shared by `serve` and the operator commands.
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// Directory for the embedded database, the generated key ring, the
    /// compiled-component cache and `bootstrap.json`.
    #[arg(
        long,
        env = "WARDEN_DATA_DIR",
        default_value = ".warden",
        value_name = "DIR"
    )]
    pub(crate) data_dir: PathBuf,
    /// The database; defaults to a SQLite file in the data directory.
    /// `postgres://…` to share one database between replicas.
    #[arg(long, env = "WARDEN_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    #[command(flatten)]
    compile: crate::compile::CompileArgs,
}

const KEY_FILE: &str = "secret-keys";
pub(crate) const BOOTSTRAP_FILE: &str = "bootstrap.json";

/// Writes `contents` to a new file only its owner can read.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

impl StateArgs {
    /// Creates the data directory (0700) and makes everything Warden
    /// creates from here on private to its user, whatever the directory's
    /// own mode: the database holds sealed secrets and token hashes.
    fn prepare_dir(&self) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        // SAFETY: umask only changes this process's file-creation mask.
        unsafe { libc::umask(0o077) };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", self.data_dir.display()))?;
        // Files an earlier version created with the default mask.
        for name in [
            "warden.db",
            "warden.db-wal",
            "warden.db-shm",
            KEY_FILE,
            BOOTSTRAP_FILE,
        ] {
            let path = self.data_dir.join(name);
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
            }
        }
        Ok(())
    }

    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("warden.db").display()))
    }

    /// The key ring: from the environment, else the data directory's key
    /// file, which is generated (0600) on first start.
    fn key_ring(&self) -> Result<KeyRing, String> {
        if std::env::var_os(warden_store::sealed::KEYS_ENV).is_some()
            || std::env::var_os(warden_store::sealed::KEY_FILE_ENV).is_some()
        {
            return KeyRing::from_env().map_err(|e| format!("cannot load the key ring: {e}"));
        }
        let path = self.data_dir.join(KEY_FILE);
        if !path.exists() {
            let key = KeyRing::generate_key().map_err(|e| e.to_string())?;
            write_private(&path, &format!("{}\n", key.entry.expose_secret()))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "warden: generated a new key ring at {} (mode 0600). Back it up: \
                 without it, stored secrets cannot be opened.",
                path.display()
            );
        }
        KeyRing::from_file(&path).map_err(|e| format!("cannot load the key ring: {e}"))
    }

    pub(crate) async fn open(&self, settings: CoreSettings) -> Result<Core, String> {
        let per_tenant = SandboxConfig::default().max_instances_per_tenant;
        self.open_with(settings, per_tenant).await
    }

    pub(crate) async fn open_with(
        &self,
        settings: CoreSettings,
        max_instances_per_organization: u32,
    ) -> Result<Core, String> {
        self.prepare_dir()?;
        let keys = self.key_ring()?;
        let store = Store::connect(&self.database_url())
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: Some(self.data_dir.join("cache")),
            // Tenants upload components: compile each in a limited child,
            // and trust cached artifacts only under the key ring's MAC key.
            compiler: Some(self.compile.compiler()?),
            artifact_key: Some(ArtifactKey::new(keys.artifact_key())),
            max_instances_per_tenant: max_instances_per_organization,
            // Room for the largest memory the operator granted a tool.
            max_memory_bytes: settings
                .tool_memory
                .values()
                .copied()
                .fold(SandboxConfig::default().max_memory_bytes, usize::max),
            ..SandboxConfig::default()
        })
        .map_err(|e| format!("cannot start the sandbox: {e:#}"))?;
        Ok(Core::new(store, sandbox, keys, settings))
    }
}
