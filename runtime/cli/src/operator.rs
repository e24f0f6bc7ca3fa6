//! The operator commands that work on the same database as `warden serve`:
//! `warden org create`, `warden api-key revoke` and `warden worker-token
//! create|list|revoke`. Each prints JSON on stdout.

use crate::fail;
use crate::state::StateArgs;
use clap::Args;
use secrecy::ExposeSecret;
use serde_json::json;
use std::process::ExitCode;
use warden_core::CoreSettings;

#[derive(Debug, Args)]
pub(crate) struct OrgCreateArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The organization's name.
    name: String,
}

pub(crate) async fn org_create(args: OrgCreateArgs) -> ExitCode {
    let core = match args.state.open(CoreSettings::default()).await {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    match core.create_organization(&args.name).await {
        Ok((organization, key)) => {
            println!(
                "{}",
                json!({
                    "organization_id": organization.id,
                    "api_key": key.key.expose_secret(),
                    "api_key_id": key.record.id,
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct ApiKeyRevokeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The key's id (`api_key_id`), not the key itself.
    key_id: String,
}

pub(crate) async fn api_key_revoke(args: ApiKeyRevokeArgs) -> ExitCode {
    let core = match args.state.open(CoreSettings::default()).await {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    let organizations = match core.list_organizations().await {
        Ok(list) => list,
        Err(e) => return fail(&e.to_string()),
    };
    for organization in organizations {
        match core.revoke_api_key(&organization.id, &args.key_id).await {
            Ok(key) => {
                println!(
                    "{}",
                    json!({ "api_key_id": key.id, "organization_id": key.organization_id, "revoked": true })
                );
                return ExitCode::SUCCESS;
            }
            Err(warden_core::CoreError::NotFound(_)) => continue,
            Err(e) => return fail(&e.to_string()),
        }
    }
    fail(&format!("no API key with id {}", args.key_id))
}

#[derive(Debug, Args)]
pub(crate) struct WorkerTokenCreateArgs {
    #[command(flatten)]
    state: StateArgs,
    /// A label for the token.
    #[arg(long, default_value = "worker")]
    name: String,
    /// Limit the token to this organization's agents (its `organization_id`);
    /// another organization's agent is then answered as an unknown one.
    /// Without it, the token reaches every organization's agents.
    #[arg(long, value_name = "ORG_ID")]
    organization: Option<String>,
}

pub(crate) async fn worker_token_create(args: WorkerTokenCreateArgs) -> ExitCode {
    let core = match args.state.open(CoreSettings::default()).await {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    match core
        .create_scoped_worker_token(&args.name, args.organization.as_deref())
        .await
    {
        Ok(token) => {
            println!(
                "{}",
                json!({
                    "worker_token": token.token.expose_secret(),
                    "worker_token_id": token.record.id,
                    "organization_id": token.record.organization_id,
                })
            );
            ExitCode::SUCCESS
        }
        Err(warden_core::CoreError::NotFound("organization")) => fail(&format!(
            "no organization with id {}; no worker token was created",
            args.organization.as_deref().unwrap_or_default()
        )),
        Err(e) => fail(&e.to_string()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct WorkerTokenListArgs {
    #[command(flatten)]
    state: StateArgs,
}

/// Prints every worker token (revoked ones too), newest first, as one JSON
/// array: ids, labels, prefixes and scopes, never the tokens.
pub(crate) async fn worker_token_list(args: WorkerTokenListArgs) -> ExitCode {
    let core = match args.state.open(CoreSettings::default()).await {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    match core.list_worker_tokens().await {
        Ok(tokens) => {
            let listed: Vec<_> = tokens
                .iter()
                .map(|token| {
                    json!({
                        "worker_token_id": token.id,
                        "name": token.name,
                        "prefix": token.prefix,
                        "organization_id": token.organization_id,
                        "created_at": token.created_at.to_rfc3339(),
                        "last_used_at": token.last_used_at.map(|at| at.to_rfc3339()),
                        "revoked_at": token.revoked_at.map(|at| at.to_rfc3339()),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::from(listed));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct WorkerTokenRevokeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The token's id (`worker_token_id`), not the token itself.
    token_id: String,
}

pub(crate) async fn worker_token_revoke(args: WorkerTokenRevokeArgs) -> ExitCode {
    let core = match args.state.open(CoreSettings::default()).await {
        Ok(core) => core,
        Err(e) => return fail(&e),
    };
    match core.revoke_worker_token(&args.token_id).await {
        Ok(token) => {
            println!(
                "{}",
                json!({ "worker_token_id": token.id, "revoked": true })
            );
            ExitCode::SUCCESS
        }
        Err(warden_core::CoreError::NotFound(_)) => {
            fail(&format!("no worker token with id {}", args.token_id))
        }
        Err(e) => fail(&e.to_string()),
    }
}
