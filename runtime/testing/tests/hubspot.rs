//! The HubSpot stand-in over real HTTP: what it accepts, answers and refuses.

mod common;

use common::{get_auth, send_json};
use serde_json::{Value, json};
use warden_testing::{HubSpot, HubSpotFault, NOTE_TO_CONTACT};

fn search_url(crm: &HubSpot) -> String {
    format!("{}/crm/v3/objects/contacts/search", crm.base_url())
}

fn notes_url(crm: &HubSpot) -> String {
    format!("{}/crm/v3/objects/notes", crm.base_url())
}

fn by_phone(phone: &str) -> Value {
    json!({
        "filterGroups": [
            { "filters": [{ "propertyName": "phone", "operator": "EQ", "value": phone }] },
            { "filters": [{ "propertyName": "mobilephone", "operator": "EQ", "value": phone }] },
        ],
        "properties": ["firstname", "lastname", "company"],
    })
}

fn note(contact: &str, type_id: u64) -> Value {
    json!({
        "properties": { "hs_timestamp": "2026-12-06T10:00:00Z", "hs_note_body": "Called about an invoice." },
        "associations": [{ "to": { "id": contact },
            "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }] }],
    })
}

fn assert_error(reply: &common::Reply, status: u16, category: &str) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], category);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["correlationId"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn a_contact_is_found_by_either_phone_property() {
    let crm = HubSpot::start().await;
    let token = crm.issue_token();
    let ada = crm.add_contact(
        json!({ "firstname": "Ada", "lastname": "Lovelace", "phone": "+15550100199" }),
    );
    let grace = crm.add_contact(json!({ "firstname": "Grace", "mobilephone": "+15550100199" }));
    crm.add_contact(json!({ "firstname": "Alan", "phone": "+15550100100" }));

    let reply = send_json("POST", &search_url(&crm), &token, &by_phone("+15550100199")).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["total"], 2);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["id"], ada.as_str());
    assert_eq!(results[1]["id"], grace.as_str());
    // The asked-for properties (null when unset) and the ones always returned.
    let properties = &results[0]["properties"];
    assert_eq!(properties["firstname"], "Ada");
    assert_eq!(properties["company"], Value::Null);
    assert_eq!(properties["hs_object_id"], ada.as_str());
    assert!(properties["createdate"].is_string());
    assert_eq!(results[0]["archived"], false);
    assert!(body.get("paging").is_none());

    // One result per page, and a cursor to the next.
    let mut paged = by_phone("+15550100199");
    paged["limit"] = json!(1);
    let first = send_json("POST", &search_url(&crm), &token, &paged)
        .await
        .json();
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    paged["after"] = first["paging"]["next"]["after"].clone();
    let second = send_json("POST", &search_url(&crm), &token, &paged)
        .await
        .json();
    assert_eq!(second["results"][0]["id"], grace.as_str());
    assert!(second.get("paging").is_none());

    // No match is an empty page, not an error.
    let none = send_json("POST", &search_url(&crm), &token, &by_phone("+15550000000")).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.json()["total"], 0);

    let fetched = get_auth(
        &format!("{}/crm/v3/objects/contacts/{ada}", crm.base_url()),
        &token,
    )
    .await;
    assert_eq!(fetched.json()["properties"]["lastname"], "Lovelace");
}

#[tokio::test]
async fn requests_without_a_valid_token_or_with_bad_searches_are_refused() {
    let crm = HubSpot::start().await;
    let token = crm.issue_token();
    let reply = send_json(
        "POST",
        &search_url(&crm),
        "pat-na1-unknown",
        &by_phone("+1"),
    )
    .await;
    assert_error(&reply, 401, "INVALID_AUTHENTICATION");

    let too_many = json!({ "filterGroups": vec![json!({ "filters": [] }); 6] });
    let reply = send_json("POST", &search_url(&crm), &token, &too_many).await;
    assert_error(&reply, 400, "VALIDATION_ERROR");
    let bad_operator = json!({ "filterGroups": [{ "filters": [
        { "propertyName": "phone", "operator": "LIKE", "value": "1" }] }] });
    let reply = send_json("POST", &search_url(&crm), &token, &bad_operator).await;
    assert_error(&reply, 400, "VALIDATION_ERROR");
    let reply = send_json("POST", &search_url(&crm), &token, &json!({ "limit": 201 })).await;
    assert_error(&reply, 400, "VALIDATION_ERROR");

    crm.fail_next(HubSpotFault::RateLimit);
    let reply = send_json("POST", &search_url(&crm), &token, &by_phone("+1")).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["errorType"], "RATE_LIMIT");
    crm.fail_next(HubSpotFault::Status(502));
    let reply = send_json("POST", &search_url(&crm), &token, &by_phone("+1")).await;
    assert_error(&reply, 502, "INTERNAL_ERROR");
}

#[tokio::test]
async fn notes_need_a_timestamp_and_an_existing_contact() {
    let crm = HubSpot::start().await;
    let token = crm.issue_token();
    let ada = crm.add_contact(json!({ "firstname": "Ada" }));

    let reply = send_json(
        "POST",
        &notes_url(&crm),
        &token,
        &note(&ada, NOTE_TO_CONTACT),
    )
    .await;
    assert_eq!(reply.status, 201);
    let created = reply.json();
    assert_eq!(
        created["properties"]["hs_note_body"],
        "Called about an invoice."
    );
    assert_eq!(
        created["properties"]["hs_timestamp"],
        "2026-12-06T10:00:00.000Z"
    );
    let notes = crm.notes();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].contacts, vec![ada.clone()]);
    assert_eq!(notes[0].object, created);

    let mut untimed = note(&ada, NOTE_TO_CONTACT);
    untimed["properties"]
        .as_object_mut()
        .unwrap()
        .remove("hs_timestamp");
    for refused in [
        untimed,
        note("999999", NOTE_TO_CONTACT),
        note(&ada, 1),
        json!({ "properties": { "hs_timestamp": "yesterday" } }),
    ] {
        let reply = send_json("POST", &notes_url(&crm), &token, &refused).await;
        assert_error(&reply, 400, "VALIDATION_ERROR");
    }
    assert_eq!(crm.notes().len(), 1, "a refused note is not stored");
}
