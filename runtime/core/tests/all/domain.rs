//! The catalogue, associations and the invocation pipeline.

use crate::support::{TestDb, on_both_backends};
use crate::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_core::{AgentToolInput, BundledInstall, CoreError, InvocationRequest};
use warden_sandbox::{ErrorKind, HttpGrants};
use warden_store::{InvocationFilter, NewVoiceAgent, PageRequest, VoiceAgentUpdate};
use warden_tool_artifacts as artifacts;

on_both_backends!(
    installs_are_content_addressed_and_validated,
    config_is_checked_against_the_schema_and_switches_are_enforced,
    changes_apply_to_the_very_next_invocation,
    concurrent_invocations_each_write_an_audit_row,
    refreshed_oauth_tokens_are_sealed_back,
    a_different_build_of_a_bundled_version_stays_installed,
);

fn agent(name: &str) -> NewVoiceAgent {
    NewVoiceAgent {
        name: name.into(),
        description: "Answers the phone.".into(),
        system_prompt: "Be brief.".into(),
        is_active: true,
    }
}

fn enabled(config: Value) -> AgentToolInput {
    AgentToolInput {
        config,
        is_enabled: true,
        function_enables: BTreeMap::new(),
    }
}

fn request(org: &str, agent: &str, function: &str, arguments: Value) -> InvocationRequest {
    InvocationRequest {
        organization_id: Some(org.into()),
        agent_id: agent.into(),
        function: function.into(),
        arguments,
        call_id: "call-1".into(),
        ..InvocationRequest::default()
    }
}

async fn installs_are_content_addressed_and_validated(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "acme").await;
    let catalog = core.catalog(&org);
    let echo = component(artifacts::ECHO);

    // Concurrent installs of the same bytes give one version.
    let installs = futures_join((0..4).map(|_| {
        let (core, org, bytes) = (core.clone(), org.clone(), echo.clone());
        async move { core.catalog(&org).install_tool(bytes).await.unwrap() }
    }))
    .await;
    let id = &installs[0].tool.id;
    assert!(installs.iter().all(|i| &i.tool.id == id));
    assert_eq!(installs.iter().filter(|i| i.created).count(), 1);
    let again = catalog.install_tool(echo.clone()).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.tool.sha256, hex::encode(Sha256::digest(&echo)));
    assert_eq!(again.tool.functions.len(), 2);
    assert!(!again.tool.platform);

    // Not a component, or not a valid tool: refused, nothing stored.
    let before = catalog.list_tools().await.unwrap().len();
    for bytes in [b"not wasm".to_vec(), component(artifacts::BAD_METADATA)] {
        assert!(matches!(
            catalog.install_tool(bytes).await,
            Err(CoreError::InvalidComponent(_))
        ));
    }
    assert_eq!(catalog.list_tools().await.unwrap().len(), before);

    // Platform tools are visible to every organization.
    let platform = core
        .install_platform_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap();
    assert!(platform.tool.platform);
    let other = organization(&core, "globex").await;
    let names: Vec<String> = core
        .catalog(&other)
        .list_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["business_hours"]);
}

async fn a_different_build_of_a_bundled_version_stays_installed(db: &TestDb) {
    let core = core(db);
    let shipped = component(artifacts::BUSINESS_HOURS);
    // The same tool and version built elsewhere: other bytes (here a custom
    // section, as a build path embedded in the code would be).
    let mut other_build = shipped.clone();
    let note = b"\x04note\x07rebuilt";
    other_build.push(0);
    other_build.push(note.len() as u8);
    other_build.extend_from_slice(note);
    match core
        .install_bundled_tool(other_build.clone())
        .await
        .unwrap()
    {
        BundledInstall::Installed(installed) => assert!(installed.created),
        kept => panic!("expected a first install, got {kept:?}"),
    }
    let kept = core.install_bundled_tool(shipped.clone()).await.unwrap();
    match kept {
        BundledInstall::Kept { reason } => {
            assert!(
                reason.contains("business_hours") && reason.contains("0.1.0"),
                "{reason}"
            )
        }
        installed => panic!("expected the installed build to stay, got {installed:?}"),
    }
    let org = organization(&core, "acme").await;
    let tools = core.catalog(&org).list_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].sha256, hex::encode(Sha256::digest(&other_build)));
    // Installing it again is still a no-op; a broken component still fails.
    match core.install_bundled_tool(other_build).await.unwrap() {
        BundledInstall::Installed(installed) => assert!(!installed.created),
        kept => panic!("expected the same bytes to be found, got {kept:?}"),
    }
    assert!(matches!(
        core.install_bundled_tool(b"not wasm".to_vec()).await,
        Err(CoreError::InvalidComponent(_))
    ));
}

async fn futures_join<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn config_is_checked_against_the_schema_and_switches_are_enforced(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "acme").await;
    let catalog = core.catalog(&org);
    let tool = catalog
        .install_tool(component(artifacts::ECHO))
        .await
        .unwrap()
        .tool;
    let a = catalog.create_agent(agent("front desk")).await.unwrap();

    let e = catalog
        .set_agent_tool(&a.id, &tool.id, enabled(json!({ "unexpected": 1 })))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CoreError::InvalidConfig(m) if m.contains("does not match the schema of `echo`")),
        "{e}"
    );
    let e = catalog
        .set_agent_tool(
            &a.id,
            &tool.id,
            AgentToolInput {
                function_enables: BTreeMap::from([("nope".into(), false)]),
                ..enabled(json!({}))
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, CoreError::Invalid(_)), "{e}");
    assert!(catalog.agent_tools(&a.id).await.unwrap().is_empty());

    catalog
        .set_agent_tool(
            &a.id,
            &tool.id,
            AgentToolInput {
                function_enables: BTreeMap::from([("fail".into(), false)]),
                ..enabled(json!({}))
            },
        )
        .await
        .unwrap();
    let toolset = core.toolset(&org.organization_id, &a.id).await.unwrap();
    let names: Vec<&str> = toolset.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["echo__echo"]);

    let ok = core
        .invoke(request(
            &org.organization_id,
            &a.id,
            "echo__echo",
            json!({ "message": "hi" }),
        ))
        .await
        .unwrap();
    assert_eq!(
        ok.result.unwrap().get(),
        r#"{"call_id":"call-1","message":"hi"}"#
    );
    let disabled = core
        .invoke(request(
            &org.organization_id,
            &a.id,
            "echo__fail",
            json!({ "kind": "internal", "message": "x" }),
        ))
        .await;
    assert!(
        matches!(disabled, Err(CoreError::Disabled(_))),
        "{disabled:?}"
    );

    // The whole association switched off.
    catalog
        .set_agent_tool(
            &a.id,
            &tool.id,
            AgentToolInput {
                is_enabled: false,
                ..enabled(json!({}))
            },
        )
        .await
        .unwrap();
    let off = core
        .invoke(request(
            &org.organization_id,
            &a.id,
            "echo__echo",
            json!({ "message": "hi" }),
        ))
        .await;
    assert!(matches!(off, Err(CoreError::Disabled(_))), "{off:?}");
    assert!(
        core.toolset(&org.organization_id, &a.id)
            .await
            .unwrap()
            .functions
            .is_empty()
    );

    // An inactive agent takes no calls.
    catalog
        .set_agent_tool(&a.id, &tool.id, enabled(json!({})))
        .await
        .unwrap();
    catalog
        .update_agent(
            &a.id,
            VoiceAgentUpdate {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let inactive = core
        .invoke(request(
            &org.organization_id,
            &a.id,
            "echo__echo",
            json!({ "message": "hi" }),
        ))
        .await;
    assert!(
        matches!(inactive, Err(CoreError::Disabled(_))),
        "{inactive:?}"
    );

    // Schema-invalid arguments reach the sandbox's check and are audited.
    catalog
        .update_agent(
            &a.id,
            VoiceAgentUpdate {
                is_active: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bad = core
        .invoke(request(
            &org.organization_id,
            &a.id,
            "echo__echo",
            json!({ "message": 7 }),
        ))
        .await
        .unwrap();
    assert_eq!(bad.result.unwrap_err().kind, ErrorKind::InvalidArguments);
}

async fn changes_apply_to_the_very_next_invocation(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "acme").await;
    let catalog = core.catalog(&org);
    let a = catalog.create_agent(agent("front desk")).await.unwrap();

    // Config: business_hours answers in its configured time zone.
    let hours = catalog
        .install_tool(component(artifacts::BUSINESS_HOURS))
        .await
        .unwrap()
        .tool;
    let config = |tz: &str| json!({ "time_zone": tz, "weekly_hours": {} });
    // A schema violation names where it is.
    let e = catalog
        .set_agent_tool(
            &a.id,
            &hours.id,
            enabled(json!({ "time_zone": "UTC", "weekly_hours": {}, "slot_minutes": "soon" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CoreError::InvalidConfig(m) if m.contains("/slot_minutes")),
        "{e}"
    );
    catalog
        .set_agent_tool(&a.id, &hours.id, enabled(config("UTC")))
        .await
        .unwrap();
    let is_open = || {
        core.invoke(request(
            &org.organization_id,
            &a.id,
            "business_hours__is_open",
            json!({}),
        ))
    };
    let zone = |invoked: warden_core::Invoked| -> String {
        let v: Value = serde_json::from_str(invoked.result.unwrap().get()).unwrap();
        v["time_zone"].as_str().unwrap().to_owned()
    };
    assert_eq!(zone(is_open().await.unwrap()), "UTC");
    catalog
        .set_agent_tool(&a.id, &hours.id, enabled(config("Europe/Berlin")))
        .await
        .unwrap();
    assert_eq!(zone(is_open().await.unwrap()), "Europe/Berlin");

    // Secrets: the fisher reports a hash of what it read.
    let fisher = catalog
        .install_tool(component(artifacts::SECRET_FISHER))
        .await
        .unwrap()
        .tool;
    catalog
        .set_agent_tool(&a.id, &fisher.id, enabled(json!({})))
        .await
        .unwrap();
    let fish = || {
        core.invoke(request(
            &org.organization_id,
            &a.id,
            "secret_fisher__fish",
            json!({ "names": ["api_key"] }),
        ))
    };
    let hash_of = |invoked: warden_core::Invoked| -> Value {
        let v: Value = serde_json::from_str(invoked.result.unwrap().get()).unwrap();
        v["api_key"].clone()
    };
    assert_eq!(hash_of(fish().await.unwrap())["status"], "not_set");
    for value in ["first-secret-value", "second-secret-value"] {
        let status = catalog
            .set_secret(&fisher.id, "api_key", SecretString::from(value))
            .await
            .unwrap();
        assert!(status.is_set);
        assert_eq!(
            hash_of(fish().await.unwrap())["sha256"],
            hex::encode(Sha256::digest(value.as_bytes()))
        );
    }
    let listed = catalog.list_secrets(&fisher.id).await.unwrap();
    let api_key = listed.iter().find(|s| s.name == "api_key").unwrap();
    assert!(api_key.is_set && api_key.updated_at.is_some());
    assert!(!format!("{listed:?}").contains("secret-value"));
    // Only declared names can be set.
    assert!(matches!(
        catalog
            .set_secret(&fisher.id, "undeclared", SecretString::from("x"))
            .await,
        Err(CoreError::UnknownName(_))
    ));
    catalog.delete_secret(&fisher.id, "api_key").await.unwrap();
    assert_eq!(hash_of(fish().await.unwrap())["status"], "not_set");
}

async fn concurrent_invocations_each_write_an_audit_row(db: &TestDb) {
    let core = core(db);
    let org = organization(&core, "acme").await;
    let catalog = core.catalog(&org);
    let tool = catalog
        .install_tool(component(artifacts::ECHO))
        .await
        .unwrap()
        .tool;
    let a = catalog.create_agent(agent("busy line")).await.unwrap();
    catalog
        .set_agent_tool(&a.id, &tool.id, enabled(json!({})))
        .await
        .unwrap();

    let results = futures_join((0..200).map(|i| {
        let core = core.clone();
        let mut r = request(
            &org.organization_id,
            &a.id,
            "echo__echo",
            json!({ "message": format!("call {i}") }),
        );
        r.call_id = format!("call-{i}");
        async move { core.invoke(r).await }
    }))
    .await;
    for r in &results {
        assert!(r.as_ref().unwrap().result.is_ok(), "{r:?}");
    }

    let mut rows = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let listed = catalog
            .list_invocations(
                &InvocationFilter {
                    agent_id: Some(a.id.clone()),
                    ..InvocationFilter::default()
                },
                &page,
            )
            .await
            .unwrap();
        rows.extend(listed.items);
        match listed.next_cursor {
            Some(cursor) => page = PageRequest::after(100, cursor),
            None => break,
        }
    }
    assert_eq!(rows.len(), 200);
    let mut call_ids: Vec<&str> = rows.iter().map(|r| r.call_id.as_str()).collect();
    call_ids.sort_unstable();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 200);
    assert!(
        rows.iter()
            .all(|r| r.function == "echo" && r.fuel_consumed > 0)
    );
    // Argument values are never audited; keys only when the org opts in.
    assert!(rows.iter().all(|r| r.argument_keys.is_none()));
}

async fn refreshed_oauth_tokens_are_sealed_back(db: &TestDb) {
    let google = warden_testing::GoogleCalendar::start().await;
    let origin: warden_sandbox::HostPattern = google.origin().parse().unwrap();
    let core = core_with(
        db,
        CoreSettings {
            http: HttpGrants {
                allow_hosts: vec![origin.clone()],
                credential_hosts: vec![("access_token".into(), origin)],
                allow_private_network: true,
                oauth_token_url: Some(google.token_url()),
                ..HttpGrants::default()
            },
            // The organization installs the tool itself: the stand-in's
            // grants must reach organizations' tools.
            organization_grants: warden_core::OrganizationGrants::All,
            ..CoreSettings::default()
        },
    );
    let org = organization(&core, "acme").await;
    let catalog = core.catalog(&org);
    let tool = catalog
        .install_tool(component(artifacts::GOOGLE_CALENDAR))
        .await
        .unwrap()
        .tool;
    let a = catalog.create_agent(agent("scheduler")).await.unwrap();
    catalog
        .set_agent_tool(
            &a.id,
            &tool.id,
            enabled(json!({ "api_base": google.base_url() })),
        )
        .await
        .unwrap();
    let expired = SystemTime::now() - Duration::from_secs(60);
    for (name, value) in [
        ("access_token", google.issue_access_token(Duration::ZERO)),
        ("refresh_token", google.issue_refresh_token()),
        (
            "client_id",
            warden_testing::GoogleCalendar::CLIENT_ID.to_owned(),
        ),
        (
            "client_secret",
            warden_testing::GoogleCalendar::CLIENT_SECRET.to_owned(),
        ),
        (
            "access_token_expires_at",
            expired
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string(),
        ),
    ] {
        catalog
            .set_secret(&tool.id, name, SecretString::from(value))
            .await
            .unwrap();
    }

    let list = || {
        core.invoke(request(
            &org.organization_id,
            &a.id,
            "google_calendar__list_events",
            json!({}),
        ))
    };
    assert!(list().await.unwrap().result.is_ok());
    let issued = google.refreshed_access_tokens();
    assert_eq!(issued.len(), 1);
    let stored = db
        .store
        .open_secret(&keys(), &org.organization_id, &tool.id, "access_token")
        .await
        .unwrap();
    assert_eq!(stored.expose_secret(), issued[0]);

    // The next call starts from the stored token: no second refresh.
    assert!(list().await.unwrap().result.is_ok());
    assert_eq!(google.refreshed_access_tokens().len(), 1);
}
