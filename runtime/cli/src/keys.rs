//! `warden keys …`: the key ring that seals stored secrets.

use clap::Subcommand;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::process::ExitCode;
use warden_store::{KeyRing, Store};

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Print a new random key as a key ring entry (`id:base64key`).
    ///
    /// Put it first in `WARDEN_SECRET_KEYS` (or the key file) to make it the
    /// primary key, keep the old keys after it so existing secrets still
    /// open, then run `warden keys rewrap`.
    Generate,
    /// Re-seal every stored secret under the key ring's primary key and
    /// report how many records changed.
    Rewrap {
        /// The database, e.g. `sqlite://.warden/warden.db` or `postgres://…`.
        #[arg(long, env = "WARDEN_DATABASE_URL", value_name = "URL")]
        database_url: String,
        /// A key file (one `id:base64key` per line, mode 0600); otherwise
        /// `WARDEN_SECRET_KEYS` or `WARDEN_SECRET_KEY_FILE` is read.
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
    },
}

pub(crate) async fn run(command: KeysCommand) -> ExitCode {
    match command {
        KeysCommand::Generate => match KeyRing::generate_key() {
            Ok(key) => {
                println!("{}", key.entry.expose_secret());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        KeysCommand::Rewrap {
            database_url,
            key_file,
        } => {
            let keys = match &key_file {
                Some(path) => KeyRing::from_file(path),
                None => KeyRing::from_env(),
            };
            let keys = match keys {
                Ok(keys) => keys,
                Err(e) => {
                    eprintln!("error: cannot load the key ring: {e}");
                    return ExitCode::from(2);
                }
            };
            let store = match Store::connect(&database_url).await {
                Ok(store) => store,
                Err(e) => {
                    eprintln!("error: cannot open the database: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match store.rewrap_secrets(&keys).await {
                Ok(count) => {
                    println!(
                        "{}",
                        serde_json::json!({
                            "rewrapped": count,
                            "primary_key_id": keys.primary_key_id(),
                        })
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: rewrap failed, nothing was changed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
