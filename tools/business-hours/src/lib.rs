//! `business_hours`: tells a receptionist voice agent whether the business is
//! open, when it opens next, and which appointment slots a day has, with
//! daylight-saving changes handled in the business's own time zone.
//!
//! The calendar logic lives in [`hours`]; this file turns it into the tool's
//! functions and their JSON results.

pub mod hours;

use chrono::Utc;
use warden_sdk::prelude::*;

use hours::{ArgumentError, Config, ConfigError, Schedule, Status, rfc3339};

impl From<ConfigError> for ToolError {
    fn from(e: ConfigError) -> Self {
        ToolError::NotConfigured(e.to_string())
    }
}

impl From<ArgumentError> for ToolError {
    fn from(e: ArgumentError) -> Self {
        ToolError::InvalidArguments(e.to_string())
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct IsOpenArgs {
    /// The moment to check, e.g. "2026-03-09T14:30:00-04:00" or
    /// "2026-03-09T18:30:00Z"; a date and time without an offset, e.g.
    /// "2026-03-09T14:30", is read as the business's local time. Leave it out
    /// to check right now.
    at: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NextOpeningArgs {
    /// Look for the first opening that starts strictly after this moment,
    /// e.g. "2026-03-09T14:30:00-04:00" or "2026-03-09T18:30:00Z"; a date and
    /// time without an offset, e.g. "2026-03-09T14:30", is read as the
    /// business's local time. Leave it out to start from now.
    after: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AvailableSlotsArgs {
    /// The calendar day in the business's time zone, "YYYY-MM-DD", e.g.
    /// "2026-03-09".
    date: String,
}

/// The tool; its configuration is [`Config`].
struct BusinessHours;

/// Opening hours of the business the agent answers for. Use it to tell a
/// caller whether the business is open, when it opens next, and which
/// appointment times a day offers. All times in results are the business's
/// local time, written as RFC 3339 with the UTC offset (e.g.
/// "2026-03-09T09:00:00-04:00"); read them to the caller as local times.
/// Daylight-saving changes and holidays are already taken into account, so
/// never adjust the times yourself.
#[tool(name = "business_hours", config = Config)]
impl BusinessHours {
    /// Says whether the business is open at a moment (default: now).
    /// Returns `open`, the moment checked as local time (`at`), `time_zone`,
    /// and `holiday` (whether that local day is a holiday closure). When open,
    /// `closes_at` is when the current opening ends (null if it does not close
    /// within a year). When closed, `next_opening` is when it opens next (null
    /// if not within a year).
    #[warden(read_only)]
    fn is_open(ctx: &Context<Config>, args: IsOpenArgs) -> Result<Value, ToolError> {
        let schedule = Schedule::from_config(&ctx.config)?;
        let instant = match &args.at {
            Some(text) => hours::parse_instant_argument(&schedule, "at", text)?,
            None => now(),
        };
        let local = schedule.local(instant);
        let (at, time_zone) = (rfc3339(&local), schedule.time_zone().name());
        let holiday = schedule.is_holiday(local.date_naive());
        Ok(match schedule.status(instant) {
            Status::Open { closes_at } => json!({
                "open": true,
                "at": at,
                "time_zone": time_zone,
                "closes_at": closes_at.as_ref().map(rfc3339),
                "holiday": holiday,
            }),
            Status::Closed { next_opening } => json!({
                "open": false,
                "at": at,
                "time_zone": time_zone,
                "next_opening": next_opening.as_ref().map(rfc3339),
                "holiday": holiday,
            }),
        })
    }

    /// Finds when the business next opens: the first opening that starts
    /// strictly after `after` (default: now). If the business is open at that
    /// moment, this is the opening after the current one closes. Returns
    /// `opens_at` and `closes_at` (null if it stays open for over a year) as
    /// local times, and `time_zone`. If it does not open within a year,
    /// `opens_at` and `closes_at` are null and `message` explains.
    #[warden(read_only)]
    fn next_opening(ctx: &Context<Config>, args: NextOpeningArgs) -> Result<Value, ToolError> {
        let schedule = Schedule::from_config(&ctx.config)?;
        let after = match &args.after {
            Some(text) => hours::parse_instant_argument(&schedule, "after", text)?,
            None => now(),
        };
        let time_zone = schedule.time_zone().name();
        Ok(match schedule.next_opening(after) {
            Some(opening) => json!({
                "opens_at": rfc3339(&opening.opens_at),
                "closes_at": opening.closes_at.as_ref().map(rfc3339),
                "time_zone": time_zone,
            }),
            None => json!({
                "opens_at": null,
                "closes_at": null,
                "time_zone": time_zone,
                "message": format!(
                    "The business has no opening within {} days after {}.",
                    hours::HORIZON_DAYS,
                    rfc3339(&schedule.local(after)),
                ),
            }),
        })
    }

    /// Lists the bookable appointment slots of one local calendar day:
    /// consecutive slots of the configured length filling each opening of
    /// that day (a shorter leftover at the end of an opening is not offered).
    /// Slots already in the past are included; compare with the current time
    /// if it matters. Returns `date`, `time_zone`, `holiday` (true means
    /// closed all day) and `slots`, a list of `{start, end}` local times; an
    /// empty list means the business is closed that day. This does not know
    /// which slots are already booked.
    #[warden(read_only)]
    fn available_slots(
        ctx: &Context<Config>,
        args: AvailableSlotsArgs,
    ) -> Result<Value, ToolError> {
        let schedule = Schedule::from_config(&ctx.config)?;
        let date = hours::parse_date_argument("date", &args.date)?;
        let slots: Vec<Value> = schedule
            .slots(date)
            .iter()
            .map(|slot| json!({ "start": rfc3339(&slot.start), "end": rfc3339(&slot.end) }))
            .collect();
        Ok(json!({
            "date": date.format("%Y-%m-%d").to_string(),
            "time_zone": schedule.time_zone().name(),
            "holiday": schedule.is_holiday(date),
            "slots": slots,
        }))
    }

    /// Checks the configuration and summarizes it.
    fn test(ctx: &Context<Config>) -> Result<Value, ToolError> {
        let schedule = Schedule::from_config(&ctx.config)?;
        Ok(json!({
            "ok": true,
            "time_zone": schedule.time_zone().name(),
            "open_days": schedule.open_days(),
            "holiday_count": schedule.holiday_count(),
            "slot_minutes": schedule.slot_minutes(),
        }))
    }
}

/// The current instant, to the second (the tool's results have no fractions).
fn now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(0)
}

#[cfg(test)]
mod tests {
    //! The tool as the host sees it: JSON in, JSON out, through the exports.

    use super::*;
    use warden_sdk::__private::{CallContext, Guest, WitToolError};

    fn context(config: &Value) -> CallContext {
        CallContext {
            call_id: "call-1".into(),
            organization_id: "org-1".into(),
            agent_id: None,
            config: config.to_string(),
            call: None,
            remaining_ms: 10_000,
        }
    }

    fn invoke(config: &Value, function: &str, args: Value) -> Result<Value, WitToolError> {
        <BusinessHours as Guest>::invoke(context(config), function.into(), args.to_string())
            .map(|result| serde_json::from_str(&result.json).expect("results are JSON"))
    }

    fn dentist() -> Value {
        let weekday = json!([{ "open": "09:00", "close": "17:00" }]);
        json!({
            "time_zone": "America/New_York",
            "weekly_hours": {
                "monday": weekday, "tuesday": weekday, "wednesday": weekday,
                "thursday": weekday, "friday": weekday,
                "sunday": [{ "open": "01:00", "close": "04:00" }]
            },
            "holidays": ["2026-11-26"],
            "slot_minutes": 60
        })
    }

    #[test]
    fn metadata_describes_the_tool() {
        let metadata = <BusinessHours as Guest>::metadata();
        assert_eq!(metadata.name, "business_hours");
        assert!(
            metadata
                .description
                .starts_with("Opening hours of the business")
        );
        let names: Vec<_> = metadata.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["is_open", "next_opening", "available_slots"]);
        assert!(metadata.functions.iter().all(|f| f.read_only));
        let schema: Value = serde_json::from_str(&metadata.config_schema).unwrap();
        assert_eq!(schema["required"], json!(["time_zone", "weekly_hours"]));
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn is_open_results() {
        assert_eq!(
            invoke(
                &dentist(),
                "is_open",
                json!({ "at": "2026-03-09T09:00:00-04:00" })
            )
            .unwrap(),
            json!({
                "open": true,
                "at": "2026-03-09T09:00:00-04:00",
                "time_zone": "America/New_York",
                "closes_at": "2026-03-09T17:00:00-04:00",
                "holiday": false
            })
        );
        assert_eq!(
            invoke(
                &dentist(),
                "is_open",
                json!({ "at": "2026-11-26T15:00:00Z" })
            )
            .unwrap(),
            json!({
                "open": false,
                "at": "2026-11-26T10:00:00-05:00",
                "time_zone": "America/New_York",
                "next_opening": "2026-11-27T09:00:00-05:00",
                "holiday": true
            })
        );
        // Without an argument it answers for now.
        let now = invoke(&dentist(), "is_open", json!({})).unwrap();
        assert!(now["open"].is_boolean());
    }

    #[test]
    fn next_opening_results() {
        assert_eq!(
            invoke(
                &dentist(),
                "next_opening",
                json!({ "after": "2026-03-07T12:00:00Z" })
            )
            .unwrap(),
            json!({
                "opens_at": "2026-03-08T01:00:00-05:00",
                "closes_at": "2026-03-08T04:00:00-04:00",
                "time_zone": "America/New_York"
            })
        );
        let closed = json!({ "time_zone": "Europe/Berlin", "weekly_hours": {} });
        assert_eq!(
            invoke(
                &closed,
                "next_opening",
                json!({ "after": "2026-03-07T12:00:00Z" })
            )
            .unwrap(),
            json!({
                "opens_at": null,
                "closes_at": null,
                "time_zone": "Europe/Berlin",
                "message": "The business has no opening within 366 days after \
                            2026-03-07T13:00:00+01:00."
            })
        );
    }

    #[test]
    fn available_slots_results() {
        assert_eq!(
            invoke(
                &dentist(),
                "available_slots",
                json!({ "date": "2026-11-01" })
            )
            .unwrap(),
            json!({
                "date": "2026-11-01",
                "time_zone": "America/New_York",
                "holiday": false,
                "slots": [
                    { "start": "2026-11-01T01:00:00-04:00", "end": "2026-11-01T01:00:00-05:00" },
                    { "start": "2026-11-01T01:00:00-05:00", "end": "2026-11-01T02:00:00-05:00" },
                    { "start": "2026-11-01T02:00:00-05:00", "end": "2026-11-01T03:00:00-05:00" },
                    { "start": "2026-11-01T03:00:00-05:00", "end": "2026-11-01T04:00:00-05:00" }
                ]
            })
        );
        assert_eq!(
            invoke(
                &dentist(),
                "available_slots",
                json!({ "date": "2026-11-26" })
            )
            .unwrap(),
            json!({
                "date": "2026-11-26",
                "time_zone": "America/New_York",
                "holiday": true,
                "slots": []
            })
        );
    }

    #[test]
    fn bad_arguments_and_config() {
        let error = invoke(&dentist(), "is_open", json!({ "at": "next tuesday" })).unwrap_err();
        assert!(
            matches!(&error, WitToolError::InvalidArguments(m) if m.contains("RFC 3339")),
            "{error:?}"
        );
        let error = invoke(
            &dentist(),
            "available_slots",
            json!({ "date": "11/01/2026" }),
        );
        assert!(
            matches!(error, Err(WitToolError::InvalidArguments(m)) if m.contains("YYYY-MM-DD"))
        );

        let mut bad = dentist();
        bad["weekly_hours"]["monday"] = json!([{ "open": "18:00", "close": "09:00" }]);
        for function in ["is_open", "next_opening"] {
            let error = invoke(&bad, function, json!({})).unwrap_err();
            assert!(
                matches!(&error, WitToolError::NotConfigured(m)
                    if m.starts_with("invalid configuration: weekly_hours.monday[0]: opens at 18:00")),
                "{error:?}"
            );
        }
        let error = <BusinessHours as Guest>::test(context(&bad)).unwrap_err();
        assert!(matches!(error, WitToolError::NotConfigured(_)));
    }

    #[test]
    fn test_summarizes_the_config() {
        let summary: Value =
            serde_json::from_str(&<BusinessHours as Guest>::test(context(&dentist())).unwrap())
                .unwrap();
        assert_eq!(
            summary,
            json!({
                "ok": true,
                "time_zone": "America/New_York",
                "open_days": ["monday", "tuesday", "wednesday", "thursday", "friday", "sunday"],
                "holiday_count": 1,
                "slot_minutes": 60
            })
        );
    }
}
