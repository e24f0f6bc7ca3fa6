//! The tool's configuration, set per agent by the operator.

use chrono::TimeDelta;
use chrono_tz::Tz;
use warden_sdk::http::Url;
use warden_sdk::prelude::*;

use crate::time;

/// Which calendar the agent works on and how it speaks about time. Every
/// field has a default, so an empty configuration works with the connected
/// account's main calendar in UTC.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The calendar to use: "primary" for the connected account's main
    /// calendar, or a calendar ID such as "team@group.calendar.google.com"
    /// (Google Calendar → the calendar's settings → "Integrate calendar").
    #[serde(default = "default_calendar_id")]
    #[schemars(length(min = 1))]
    pub calendar_id: String,
    /// Length in minutes of events booked without an end time or a
    /// duration.
    #[serde(default = "default_event_duration")]
    #[schemars(range(min = 5, max = 1440))]
    pub default_event_duration: u32,
    /// The IANA time zone the agent works in, e.g. "America/New_York":
    /// times given without a UTC offset are read in it, and results are
    /// written in it.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Base URL of the Google Calendar API; requests go to
    /// `{api_base}/calendar/v3/...`. Leave the default outside tests.
    #[serde(default = "default_api_base")]
    pub api_base: String,
}

fn default_calendar_id() -> String {
    "primary".into()
}

fn default_event_duration() -> u32 {
    30
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_api_base() -> String {
    "https://www.googleapis.com".into()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            calendar_id: default_calendar_id(),
            default_event_duration: default_event_duration(),
            time_zone: default_time_zone(),
            api_base: default_api_base(),
        }
    }
}

/// The configuration, checked and ready to use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub calendar_id: String,
    pub tz: Tz,
    pub default_duration: TimeDelta,
    /// Without a trailing `/`.
    pub api_base: String,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings, ToolError> {
        let calendar_id = config.calendar_id.trim();
        if calendar_id.is_empty() {
            return Err(ToolError::NotConfigured(
                "calendar_id is empty; use \"primary\" or a calendar ID".into(),
            ));
        }
        if !(5..=1440).contains(&config.default_event_duration) {
            return Err(ToolError::NotConfigured(format!(
                "default_event_duration must be from 5 to 1440 minutes; got {}",
                config.default_event_duration
            )));
        }
        let api_base = config.api_base.trim().trim_end_matches('/');
        let url = Url::parse(api_base)
            .map_err(|e| ToolError::NotConfigured(format!("api_base is not a usable URL: {e}")))?;
        if url.query().is_some() {
            return Err(ToolError::NotConfigured(
                "api_base must not have a query string".into(),
            ));
        }
        Ok(Settings {
            calendar_id: calendar_id.to_owned(),
            tz: time::zone(config.time_zone.trim())?,
            default_duration: TimeDelta::minutes(config.default_event_duration.into()),
            api_base: api_base.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: Value) -> Result<Settings, ToolError> {
        Settings::from_config(&serde_json::from_value(config).expect("config parses"))
    }

    #[test]
    fn defaults() {
        let s = settings(json!({})).unwrap();
        assert_eq!(s.calendar_id, "primary");
        assert_eq!(s.tz, chrono_tz::UTC);
        assert_eq!(s.default_duration, TimeDelta::minutes(30));
        assert_eq!(s.api_base, "https://www.googleapis.com");
    }

    #[test]
    fn checks_the_configuration() {
        let s = settings(json!({
            "calendar_id": "team@group.calendar.google.com",
            "default_event_duration": 45,
            "time_zone": "Europe/Berlin",
            "api_base": "http://127.0.0.1:8080/",
        }))
        .unwrap();
        assert_eq!(s.tz, chrono_tz::Europe::Berlin);
        assert_eq!(s.api_base, "http://127.0.0.1:8080");

        for (config, needle) in [
            (json!({ "time_zone": "Europe/Atlantis" }), "Europe/Atlantis"),
            (
                json!({ "default_event_duration": 2 }),
                "default_event_duration",
            ),
            (json!({ "calendar_id": " " }), "calendar_id"),
            (json!({ "api_base": "ftp://x.example" }), "api_base"),
            (json!({ "api_base": "https://x.example?a=b" }), "api_base"),
        ] {
            match settings(config.clone()) {
                Err(ToolError::NotConfigured(m)) => assert!(m.contains(needle), "{config}: {m}"),
                other => panic!("{config}: {other:?}"),
            }
        }
        assert!(serde_json::from_value::<Config>(json!({ "calendar": "x" })).is_err());
    }
}
