//! The bundled `business_hours` tool, run as a user would, around DST changes.

use crate::*;

fn new_york(sunday: &str, slot_minutes: u32) -> String {
    json!({
        "time_zone": "America/New_York",
        "weekly_hours": {
            "monday": [{ "open": "09:00", "close": "17:00" }],
            "tuesday": [{ "open": "09:00", "close": "17:00" }],
            "wednesday": [{ "open": "09:00", "close": "17:00" }],
            "thursday": [{ "open": "09:00", "close": "17:00" }],
            "friday": [{ "open": "09:00", "close": "17:00" }],
            "sunday": [serde_json::from_str::<Value>(sunday).unwrap()],
        },
        "holidays": ["2026-11-26"],
        "slot_minutes": slot_minutes,
    })
    .to_string()
}

fn call(config: &str, function: &str, args: Value) -> Value {
    let args = args.to_string();
    let run = warden(&[
        "tool",
        "call",
        artifacts::BUSINESS_HOURS,
        function,
        "--config",
        config,
        "--args",
        &args,
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

fn slots(result: &Value) -> Vec<(String, String)> {
    result["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn spring_forward_day_has_two_real_hours_of_slots() {
    let config = new_york(r#"{"open":"01:00","close":"04:00"}"#, 30);
    let result = call(&config, "available_slots", json!({ "date": "2026-03-08" }));
    assert_eq!(
        slots(&result),
        pairs(&[
            ("2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00"),
            ("2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"),
            ("2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"),
            ("2026-03-08T03:30:00-04:00", "2026-03-08T04:00:00-04:00"),
        ])
    );
}

#[test]
fn fall_back_day_has_three_real_hours_of_slots() {
    let config = new_york(r#"{"open":"01:00","close":"03:00"}"#, 60);
    let result = call(&config, "available_slots", json!({ "date": "2026-11-01" }));
    assert_eq!(
        slots(&result),
        pairs(&[
            ("2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"),
            ("2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"),
            ("2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"),
        ])
    );
}

#[test]
fn an_opening_inside_the_skipped_hour_starts_when_the_clock_resumes() {
    let config = new_york(r#"{"open":"02:30","close":"05:00"}"#, 30);
    let before = call(&config, "is_open", json!({ "at": "2026-03-08T06:59:59Z" }));
    assert_eq!(before["open"], false);
    assert_eq!(before["next_opening"], "2026-03-08T03:00:00-04:00");
    let after = call(&config, "is_open", json!({ "at": "2026-03-08T07:00:00Z" }));
    assert_eq!(after["open"], true);
    assert_eq!(after["closes_at"], "2026-03-08T05:00:00-04:00");
}

#[test]
fn opening_is_inclusive_and_closing_exclusive() {
    let config = new_york(r#"{"open":"01:00","close":"04:00"}"#, 60);
    let at_open = call(
        &config,
        "is_open",
        json!({ "at": "2026-03-09T09:00:00-04:00" }),
    );
    assert_eq!(
        at_open,
        json!({
            "open": true,
            "at": "2026-03-09T09:00:00-04:00",
            "time_zone": "America/New_York",
            "closes_at": "2026-03-09T17:00:00-04:00",
            "holiday": false,
        })
    );
    let at_close = call(
        &config,
        "is_open",
        json!({ "at": "2026-03-09T17:00:00-04:00" }),
    );
    assert_eq!(at_close["open"], false);
    assert_eq!(at_close["next_opening"], "2026-03-10T09:00:00-04:00");
}

#[test]
fn holidays_are_closed_and_skipped() {
    let config = new_york(r#"{"open":"01:00","close":"04:00"}"#, 60);
    let result = call(&config, "is_open", json!({ "at": "2026-11-26T15:00:00Z" }));
    assert_eq!(
        result,
        json!({
            "open": false,
            "at": "2026-11-26T10:00:00-05:00",
            "time_zone": "America/New_York",
            "next_opening": "2026-11-27T09:00:00-05:00",
            "holiday": true,
        })
    );
    let slots = call(&config, "available_slots", json!({ "date": "2026-11-26" }));
    assert_eq!(slots["slots"], json!([]));
}

#[test]
fn next_opening_crosses_the_weekend_into_the_spring_forward_sunday() {
    let config = new_york(r#"{"open":"01:00","close":"04:00"}"#, 60);
    let result = call(
        &config,
        "next_opening",
        json!({ "after": "2026-03-07T12:00:00Z" }),
    );
    assert_eq!(
        result,
        json!({
            "opens_at": "2026-03-08T01:00:00-05:00",
            "closes_at": "2026-03-08T04:00:00-04:00",
            "time_zone": "America/New_York",
        })
    );
}

#[test]
fn berlin_fall_back_repeats_the_two_oclock_hour() {
    let config = json!({
        "time_zone": "Europe/Berlin",
        "weekly_hours": { "sunday": [{ "open": "02:00", "close": "04:00" }] },
        "slot_minutes": 60,
    })
    .to_string();
    let result = call(&config, "available_slots", json!({ "date": "2026-10-25" }));
    assert_eq!(
        slots(&result),
        pairs(&[
            ("2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"),
            ("2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"),
            ("2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
        ])
    );
}

#[test]
fn bad_configuration_is_not_configured() {
    let unknown_zone = json!({ "time_zone": "America/NewYork", "weekly_hours": {} }).to_string();
    let run = warden(&[
        "tool",
        "call",
        artifacts::BUSINESS_HOURS,
        "is_open",
        "--config",
        &unknown_zone,
    ]);
    assert_eq!(run.error_kind(), "not_configured");
    assert!(run.stdout.contains("America/NewYork"), "{}", run.stdout);

    // Unknown keys never reach the tool: the host checks the config schema.
    let unknown_key =
        json!({ "time_zone": "UTC", "weekly_hours": {}, "colour": "blue" }).to_string();
    let run = warden(&[
        "tool",
        "call",
        artifacts::BUSINESS_HOURS,
        "is_open",
        "--config",
        &unknown_key,
    ]);
    assert_eq!(run.error_kind(), "not_configured");
}

#[test]
fn bad_arguments_are_invalid_arguments() {
    let config = new_york(r#"{"open":"01:00","close":"04:00"}"#, 60);
    let run = warden(&[
        "tool",
        "call",
        artifacts::BUSINESS_HOURS,
        "available_slots",
        "--config",
        &config,
        "--args",
        r#"{"date":"next tuesday"}"#,
    ]);
    assert_eq!(run.error_kind(), "invalid_arguments");
}
