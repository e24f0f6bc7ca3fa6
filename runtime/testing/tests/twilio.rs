//! The Twilio stand-in over real HTTP: what it accepts, answers and refuses.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use common::{Reply, get, send};
use serde_json::{Value, json};
use warden_testing::{Twilio, TwilioFault};

const FROM: &str = "+15005550006";
const TO: &str = "+14155552671";

fn messages_url(twilio: &Twilio) -> String {
    format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        twilio.base_url(),
        twilio.account_sid()
    )
}

fn message_url(twilio: &Twilio, sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{}/Messages/{sid}.json",
        twilio.base_url(),
        twilio.account_sid()
    )
}

fn basic(sid: &str, token: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{sid}:{token}")))
}

fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// POSTs `params` as a form with the primary account's credentials.
async fn post_form(twilio: &Twilio, params: &[(&str, &str)]) -> Reply {
    let auth = format!("Basic {}", twilio.basic_credential());
    send(
        "POST",
        &messages_url(twilio),
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form(params),
    )
    .await
}

async fn sms(twilio: &Twilio, body: &str) -> Value {
    let reply = post_form(twilio, &[("To", TO), ("From", FROM), ("Body", body)]).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

async fn get_as(url: &str, authorization: &str) -> Reply {
    get(url, &[("authorization", authorization)]).await
}

/// Form parameters, in order.
type Params<'a> = Vec<(&'a str, &'a str)>;

fn assert_error(reply: &Reply, status: u16, code: u64) -> Value {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let body = reply.json();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}

fn assert_unauthorized(reply: &Reply) {
    let body = assert_error(reply, 401, 20003);
    assert_eq!(body["message"], "Authenticate");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"Twilio API\"")
    );
}

fn is_sid(value: &Value, prefix: &str) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 34
            && s.starts_with(prefix)
            && s[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `Thu, 24 Aug 2023 05:01:45 +0000`
fn is_twilio_date(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 31 && s.ends_with(" +0000") && DateTime::parse_from_rfc2822(s).is_ok()
    })
}

#[tokio::test]
async fn a_message_is_sent_queued_and_fetched() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let account = twilio.account_sid();
    assert!(is_sid(&json!(account), "AC"));
    assert_eq!(twilio.auth_token().len(), 32);
    assert_eq!(
        STANDARD.decode(twilio.basic_credential()).unwrap(),
        format!("{account}:{}", twilio.auth_token()).into_bytes()
    );

    let reply = post_form(
        &twilio,
        &[
            ("To", TO),
            ("From", FROM),
            ("Body", "Your table is ready."),
            (
                "StatusCallback",
                "https://hooks.example.com/twilio/status?x=1",
            ),
        ],
    )
    .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        reply
            .header("twilio-request-id")
            .is_some_and(|id| id.starts_with("RQ") && id.len() == 34)
    );
    let created = reply.json();
    let sid = created["sid"].as_str().unwrap().to_owned();
    assert!(is_sid(&created["sid"], "SM"), "{created}");
    let uri = format!("/2010-04-01/Accounts/{account}/Messages/{sid}");
    assert_eq!(created["account_sid"], account.as_str());
    assert_eq!(created["to"], TO);
    assert_eq!(created["from"], FROM);
    assert_eq!(created["body"], "Your table is ready.");
    assert_eq!(created["status"], "queued");
    assert_eq!(created["num_segments"], "1");
    assert_eq!(created["num_media"], "0");
    assert_eq!(created["direction"], "outbound-api");
    assert_eq!(created["api_version"], "2010-04-01");
    assert_eq!(created["price"], Value::Null);
    assert_eq!(created["price_unit"], "USD");
    assert_eq!(created["error_code"], Value::Null);
    assert_eq!(created["error_message"], Value::Null);
    assert_eq!(created["date_sent"], Value::Null);
    assert_eq!(created["messaging_service_sid"], Value::Null);
    assert!(is_twilio_date(&created["date_created"]), "{created}");
    assert_eq!(created["date_updated"], created["date_created"]);
    assert_eq!(created["uri"], format!("{uri}.json"));
    assert_eq!(
        created["subresource_uris"]["media"],
        format!("{uri}/Media.json")
    );

    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    let stored = &messages[0];
    assert_eq!(stored.sid, sid);
    assert_eq!(stored.account_sid, account);
    assert_eq!((stored.to.as_str(), stored.from.as_str()), (TO, FROM));
    assert_eq!(stored.body, "Your table is ready.");
    assert_eq!(stored.status, "queued");
    assert_eq!(stored.num_segments, 1);
    assert_eq!(stored.error_code, None);
    assert_eq!(
        DateTime::parse_from_rfc2822(created["date_created"].as_str().unwrap()).unwrap(),
        stored.date_created
    );

    let auth = format!("Basic {}", twilio.basic_credential());
    let fetched = get_as(&message_url(&twilio, &sid), &auth).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), created);

    // What was sent is on record, as sent.
    let requests = twilio.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].path,
        format!("/2010-04-01/Accounts/{account}/Messages.json")
    );
    assert_eq!(requests[0].header("authorization"), Some(auth.as_str()));
    assert!(requests[0].body_text().contains("To=%2B14155552671"));
    assert_eq!(requests[1].method, "GET");

    // The handle's Debug output keeps the token out.
    let debug = format!("{twilio:?}");
    assert!(debug.contains(&twilio.base_url()));
    assert!(!debug.contains(&twilio.auth_token()));
    assert!(!debug.contains(&twilio.basic_credential()));
}

#[tokio::test]
async fn segments_are_counted_as_twilio_counts_them() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let cases: Vec<(String, &str)> = vec![
        ("a".repeat(160), "1"),
        ("a".repeat(161), "2"),
        ("a".repeat(306), "2"),
        ("a".repeat(307), "3"),
        // GSM-7 letters beyond ASCII still take one septet each.
        ("é".repeat(160), "1"),
        // Extension characters take two septets.
        ("€".repeat(80), "1"),
        ("€".repeat(81), "2"),
        // One character outside GSM-7 makes the whole message UCS-2.
        ("ж".repeat(70), "1"),
        (format!("{}ж", "a".repeat(70)), "2"),
        // An emoji is two UTF-16 units: 71 characters, 72 units.
        (format!("{}😀", "a".repeat(70)), "2"),
        (format!("{}😀", "a".repeat(69)), "2"),
        (format!("{}😀", "a".repeat(68)), "1"),
        ("😀".repeat(35), "1"),
        ("😀".repeat(36), "2"),
        // A part never ends in half a surrogate pair: 66 + 2 units do not fit
        // in 67, so the emoji opens the second part and the last ж a third.
        (format!("{}😀{}", "ж".repeat(66), "ж".repeat(66)), "3"),
        ("ж".repeat(134), "2"),
        ("ж".repeat(135), "3"),
    ];
    for (body, segments) in &cases {
        let created = sms(&twilio, body).await;
        assert_eq!(
            created["num_segments"],
            *segments,
            "{} chars: {body}",
            body.chars().count()
        );
    }
    let counted: Vec<u32> = twilio.messages().iter().map(|m| m.num_segments).collect();
    let expected: Vec<u32> = cases.iter().map(|(_, s)| s.parse().unwrap()).collect();
    assert_eq!(counted, expected);
    // 1600 characters is the most Twilio takes.
    let longest = sms(&twilio, &"a".repeat(1600)).await;
    assert_eq!(longest["num_segments"], "11");
}

#[tokio::test]
async fn delivery_outcomes_show_on_fetch() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let auth = format!("Basic {}", twilio.basic_credential());
    let delivered = sms(&twilio, "first").await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let lost = sms(&twilio, "second").await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = sms(&twilio, "third").await["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    twilio.set_status(&delivered, "sent", None);
    let sent = get_as(&message_url(&twilio, &delivered), &auth)
        .await
        .json();
    assert_eq!(sent["status"], "sent");
    assert!(is_twilio_date(&sent["date_sent"]), "{sent}");
    twilio.set_status(&delivered, "delivered", None);
    let body = get_as(&message_url(&twilio, &delivered), &auth)
        .await
        .json();
    assert_eq!(body["status"], "delivered");
    assert_eq!(body["error_code"], Value::Null);
    assert_eq!(body["error_message"], Value::Null);
    assert_eq!(body["date_sent"], sent["date_sent"]);

    twilio.set_status(&lost, "undelivered", Some(30003));
    let body = get_as(&message_url(&twilio, &lost), &auth).await.json();
    assert_eq!(body["status"], "undelivered");
    assert_eq!(body["error_code"], 30003);
    assert!(body["error_code"].is_u64(), "an integer, not a string");
    assert_eq!(body["error_message"], "Unreachable destination handset");
    assert!(is_twilio_date(&body["date_sent"]));

    twilio.set_status(&refused, "failed", Some(30007));
    let body = get_as(&message_url(&twilio, &refused), &auth).await.json();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error_code"], 30007);
    assert_eq!(body["error_message"], "Message filtered");
    assert_eq!(
        body["date_sent"],
        Value::Null,
        "a failed message never left"
    );

    let outcomes: Vec<(String, Option<u32>)> = twilio
        .messages()
        .into_iter()
        .map(|m| (m.status, m.error_code))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("delivered".to_owned(), None),
            ("undelivered".to_owned(), Some(30003)),
            ("failed".to_owned(), Some(30007)),
        ]
    );
}

#[tokio::test]
#[should_panic(expected = "no message")]
async fn setting_the_status_of_an_unknown_message_panics() {
    let twilio = Twilio::start().await;
    twilio.set_status("SM00000000000000000000000000000000", "delivered", None);
}

#[tokio::test]
async fn invalid_messages_get_twilio_error_codes() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let too_long = "a".repeat(1601);
    let cases: Vec<(Params, u64, String)> = vec![
        (
            vec![("From", FROM), ("Body", "hi")],
            21604,
            "A 'To' phone number is required.".into(),
        ),
        (
            vec![("To", ""), ("From", FROM), ("Body", "hi")],
            21604,
            "A 'To' phone number is required.".into(),
        ),
        (
            vec![("To", "4155552671"), ("From", FROM), ("Body", "hi")],
            21211,
            "Invalid 'To' Phone Number: 4155552671".into(),
        ),
        (
            vec![("To", "+04155552671"), ("From", FROM), ("Body", "hi")],
            21211,
            "Invalid 'To' Phone Number: +04155552671".into(),
        ),
        (
            vec![("To", "+1415555267100000"), ("From", FROM), ("Body", "hi")],
            21211,
            "Invalid 'To' Phone Number: +1415555267100000".into(),
        ),
        (
            vec![("To", TO), ("Body", "hi")],
            21603,
            "A 'From' phone number is required.".into(),
        ),
        (
            vec![("To", TO), ("From", "+15005550001"), ("Body", "hi")],
            21606,
            "The From phone number +15005550001 is not a valid, SMS-capable inbound phone \
             number or short code for your account."
                .into(),
        ),
        (
            vec![("To", TO), ("From", FROM)],
            21602,
            "Message body is required.".into(),
        ),
        (
            vec![("To", TO), ("From", FROM), ("Body", "")],
            21602,
            "Message body is required.".into(),
        ),
        (
            vec![("To", TO), ("From", FROM), ("Body", &too_long)],
            21617,
            "The concatenated message body exceeds the 1600 character limit.".into(),
        ),
        (
            vec![("To", FROM), ("From", FROM), ("Body", "hi")],
            21266,
            format!("'To' and 'From' number cannot be the same: {FROM}"),
        ),
    ];
    for (params, code, message) in &cases {
        let reply = post_form(&twilio, params).await;
        let body = assert_error(&reply, 400, *code);
        assert_eq!(body["message"], message.as_str(), "{params:?}");
    }

    // No Messaging Services here: every MessagingServiceSid is unknown.
    let reply = post_form(
        &twilio,
        &[
            ("To", TO),
            ("MessagingServiceSid", "MG00000000000000000000000000000000"),
            ("Body", "hi"),
        ],
    )
    .await;
    let body = assert_error(&reply, 400, 21701);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("MG00000000000000000000000000000000")
    );
    for callback in [
        "not a url",
        "ftp://hooks.example.com/status",
        "https://",
        "https://bad_host.example.com/status",
    ] {
        let reply = post_form(
            &twilio,
            &[
                ("To", TO),
                ("From", FROM),
                ("Body", "hi"),
                ("StatusCallback", callback),
            ],
        )
        .await;
        assert_error(&reply, 400, 21609);
    }

    // A number belongs to one account: another account cannot send from it.
    let (other, other_token) = twilio.add_account();
    let reply = send(
        "POST",
        &format!(
            "{}/2010-04-01/Accounts/{other}/Messages.json",
            twilio.base_url()
        ),
        &[
            ("authorization", &basic(&other, &other_token)),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form(&[("To", TO), ("From", FROM), ("Body", "hi")]),
    )
    .await;
    assert_error(&reply, 400, 21606);

    assert!(
        twilio.messages().is_empty(),
        "a refused message is not stored"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_not_read() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let auth = format!("Basic {}", twilio.basic_credential());
    let wanted = json!({ "To": TO, "From": FROM, "Body": "hi" });
    let reply = send(
        "POST",
        &messages_url(&twilio),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        wanted.to_string(),
    )
    .await;
    let body = assert_error(&reply, 400, 21604);
    assert_eq!(body["message"], "A 'To' phone number is required.");
    // A form body without its content type is not read either.
    let reply = send(
        "POST",
        &messages_url(&twilio),
        &[("authorization", &auth)],
        form(&[("To", TO), ("From", FROM), ("Body", "hi")]),
    )
    .await;
    assert_error(&reply, 400, 21604);
    assert!(twilio.messages().is_empty());

    // With a charset parameter it is a form.
    let reply = send(
        "POST",
        &messages_url(&twilio),
        &[
            ("authorization", &auth),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ],
        form(&[("To", TO), ("From", FROM), ("Body", "hi")]),
    )
    .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn requests_need_the_account_credentials() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let account = twilio.account_sid();
    let token = twilio.auth_token();
    let sent = sms(&twilio, "hi").await;
    let url = message_url(&twilio, sent["sid"].as_str().unwrap());

    assert_unauthorized(&get(&url, &[]).await);
    for authorization in [
        basic(&account, &"0".repeat(32)),
        basic(&account, ""),
        basic(&format!("AC{}", "0".repeat(32)), &token),
        format!("Bearer {token}"),
        "Basic not-base64!".to_owned(),
        format!("Basic {}", STANDARD.encode(format!("{account}{token}"))),
    ] {
        assert_unauthorized(&get_as(&url, &authorization).await);
    }
    let reply = send(
        "POST",
        &messages_url(&twilio),
        &[("content-type", "application/x-www-form-urlencoded")],
        form(&[("To", TO), ("From", FROM), ("Body", "no credentials")]),
    )
    .await;
    assert_unauthorized(&reply);
    assert_eq!(
        twilio.messages().len(),
        1,
        "nothing sent without credentials"
    );

    // The scheme name is case-insensitive (RFC 7617).
    let lower = format!(
        "basic {}",
        STANDARD.encode(format!("{account}:{}", twilio.auth_token()))
    );
    assert_eq!(get_as(&url, &lower).await.status, 200);
}

#[tokio::test]
async fn one_account_cannot_see_another_accounts_messages() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let sid = sms(&twilio, "for the primary account only").await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (other, other_token) = twilio.add_account();
    assert_ne!(other, twilio.account_sid());
    let other_auth = basic(&other, &other_token);

    // Under its own account, the message is not found.
    let path = format!("/2010-04-01/Accounts/{other}/Messages/{sid}.json");
    let reply = get_as(&format!("{}{path}", twilio.base_url()), &other_auth).await;
    let body = assert_error(&reply, 404, 20404);
    assert_eq!(
        body["message"],
        format!("The requested resource {path} was not found")
    );
    // Under the owner's account, its credentials are refused (20003).
    assert_unauthorized(&get_as(&message_url(&twilio, &sid), &other_auth).await);
    let reply = send(
        "POST",
        &messages_url(&twilio),
        &[
            ("authorization", &other_auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form(&[("To", TO), ("From", FROM), ("Body", "hi")]),
    )
    .await;
    assert_unauthorized(&reply);

    // Unknown messages and paths are 404 too.
    let auth = format!("Basic {}", twilio.basic_credential());
    let unknown = message_url(&twilio, &format!("SM{}", "0".repeat(32)));
    assert_error(&get_as(&unknown, &auth).await, 404, 20404);
    for path in [
        format!("/2010-04-01/Accounts/{}/Calls.json", twilio.account_sid()),
        format!("/2010-04-01/Accounts/{}/Messages", twilio.account_sid()),
        "/2010-04-01/Accounts.json".to_owned(),
        "/v1/Services".to_owned(),
    ] {
        let reply = get_as(&format!("{}{path}", twilio.base_url()), &auth).await;
        let body = assert_error(&reply, 404, 20404);
        assert_eq!(
            body["message"],
            format!("The requested resource {path} was not found")
        );
    }
    let reply = send(
        "DELETE",
        &message_url(&twilio, &sid),
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_error(&reply, 404, 20404);
    assert_eq!(twilio.messages().len(), 1);
}

#[tokio::test]
async fn the_account_is_fetched() {
    let twilio = Twilio::start().await;
    let account = twilio.account_sid();
    let url = format!("{}/2010-04-01/Accounts/{account}.json", twilio.base_url());
    let auth = format!("Basic {}", twilio.basic_credential());
    let reply = get_as(&url, &auth).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["sid"], account.as_str());
    assert_eq!(body["owner_account_sid"], account.as_str());
    assert_eq!(body["status"], "active");
    assert_eq!(body["type"], "Full");
    assert_eq!(body["auth_token"], twilio.auth_token());
    assert!(
        body["friendly_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert!(is_twilio_date(&body["date_created"]));
    assert!(is_twilio_date(&body["date_updated"]));
    assert_eq!(body["uri"], format!("/2010-04-01/Accounts/{account}.json"));
    assert_eq!(
        body["subresource_uris"]["messages"],
        format!("/2010-04-01/Accounts/{account}/Messages.json")
    );

    // Another account's resource is refused; its own is served.
    let (other, other_token) = twilio.add_account();
    let other_url = format!("{}/2010-04-01/Accounts/{other}.json", twilio.base_url());
    assert_unauthorized(&get_as(&other_url, &auth).await);
    let reply = get_as(&other_url, &basic(&other, &other_token)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sid"], other.as_str());
    assert_unauthorized(&get_as(&url, &basic(&other, &other_token)).await);
}

#[tokio::test]
async fn faults_come_before_authentication_with_twilio_bodies() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    twilio.fail_next(TwilioFault::RateLimit);
    twilio.fail_next(TwilioFault::Status(500));
    twilio.fail_next(TwilioFault::Status(503));

    // No credentials at all: the fault still wins.
    let reply = get(&messages_url(&twilio), &[]).await;
    let body = assert_error(&reply, 429, 20429);
    assert_eq!(body["message"], "Too Many Requests");
    let reply = post_form(&twilio, &[("To", TO), ("From", FROM), ("Body", "hi")]).await;
    let body = assert_error(&reply, 500, 20500);
    assert_eq!(body["message"], "Internal Server Error");
    let reply = post_form(&twilio, &[("To", TO), ("From", FROM), ("Body", "hi")]).await;
    assert_error(&reply, 503, 20503);
    assert!(
        twilio.messages().is_empty(),
        "a faulted request sends nothing"
    );

    // The queue is drained: the next request is served.
    let reply = post_form(&twilio, &[("To", TO), ("From", FROM), ("Body", "hi")]).await;
    assert_eq!(reply.status, 201);
    assert_eq!(twilio.requests().len(), 4, "faulted requests are recorded");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let twilio = Twilio::start().await;
    twilio.add_number(FROM);
    let auth = format!("Basic {}", twilio.basic_credential());
    // Unknown parameters are ignored, so padding makes a body of exact size.
    let sized = |size: usize| {
        let base = form(&[("To", TO), ("From", FROM), ("Body", "hi"), ("Pad", "")]);
        format!("{base}{}", "a".repeat(size - base.len()))
    };
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];

    let reply = send(
        "POST",
        &messages_url(&twilio),
        &headers,
        sized(64 * 1024 + 1),
    )
    .await;
    assert_error(&reply, 413, 20413);
    assert!(twilio.messages().is_empty());

    let reply = send("POST", &messages_url(&twilio), &headers, sized(64 * 1024)).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(twilio.messages().len(), 1);
}
