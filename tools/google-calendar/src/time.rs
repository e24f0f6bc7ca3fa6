//! Times as the tool reads and writes them: arguments in RFC 3339 or as
//! local wall-clock time in the configured zone, results in RFC 3339 in that
//! zone, and short sentences an agent can read out.

use chrono::{
    DateTime, Datelike, MappedLocalTime, NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use warden_sdk::ToolError;

/// Parses the configured IANA time zone name.
pub fn zone(name: &str) -> Result<Tz, ToolError> {
    name.parse().map_err(|_| {
        ToolError::NotConfigured(format!(
            "time_zone: {name:?} is not a known IANA time zone; use a name such as \
             \"America/New_York\", \"Europe/Berlin\" or \"UTC\""
        ))
    })
}

/// Parses a time argument: RFC 3339 with an offset
/// (`2026-03-09T14:30:00-04:00`, `2026-03-09T18:30:00Z`), or a local date and
/// time without one (`2026-03-09T14:30`, `2026-03-09T14:30:00`) read as
/// wall-clock time in `tz` (see [`resolve_local`] for daylight-saving
/// changes). Fractions of a second are dropped.
pub fn parse_time(tz: Tz, field: &str, text: &str) -> Result<DateTime<Tz>, ToolError> {
    let text = text.trim();
    let instant = if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        Some(instant.with_timezone(&tz))
    } else {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .filter(|naive| (1..=9999).contains(&naive.year()))
            .map(|naive| resolve_local(tz, naive))
    };
    instant
        .map(|instant| instant.with_nanosecond(0).unwrap_or(instant))
        .ok_or_else(|| {
            ToolError::InvalidArguments(format!(
                "`{field}` must be a date and time such as \"2026-03-09T14:30\" (local time in \
                 {tz}) or \"2026-03-09T14:30:00-04:00\" (with a UTC offset); got {text:?}"
            ))
        })
}

/// The instant of local wall-clock time `naive` in `tz`, the way calendars
/// (RFC 5545) read it: a time that happens twice when clocks go back is the
/// first one; a time skipped when clocks go forward is read with the offset
/// before the change, so it lands as far after the change as it was meant
/// to be after its start (02:30 on a night that jumps from 02:00 to 03:00
/// is 03:30).
pub fn resolve_local(tz: Tz, naive: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&naive) {
        MappedLocalTime::Single(instant) => instant,
        MappedLocalTime::Ambiguous(earlier, _) => earlier,
        MappedLocalTime::None => {
            // Step back until the wall time exists: its offset is the one
            // before the gap. Gaps are at most a day long (Samoa, 2011).
            let offset = (1..=96)
                .map(|quarters| naive - TimeDelta::minutes(15 * quarters))
                .find_map(|before| match tz.from_local_datetime(&before) {
                    MappedLocalTime::Single(instant) => Some(instant.offset().fix()),
                    MappedLocalTime::Ambiguous(_, later) => Some(later.offset().fix()),
                    MappedLocalTime::None => None,
                })
                .unwrap_or_else(|| Utc.fix());
            let utc = naive - TimeDelta::seconds(offset.local_minus_utc().into());
            Utc.from_utc_datetime(&utc).with_timezone(&tz)
        }
    }
}

/// `instant` as RFC 3339 with its offset, to the second.
pub fn rfc3339(instant: &DateTime<Tz>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// "2:30 PM", "2 PM" on the hour, "noon" and "midnight".
pub fn spoken_clock(instant: &DateTime<Tz>) -> String {
    if (instant.hour(), instant.minute()) == (0, 0) {
        "midnight".into()
    } else if (instant.hour(), instant.minute()) == (12, 0) {
        "noon".into()
    } else if instant.minute() == 0 {
        instant.format("%-I %p").to_string()
    } else {
        instant.format("%-I:%M %p").to_string()
    }
}

/// "Monday, March 9, 2026".
pub fn spoken_date(instant: &DateTime<Tz>) -> String {
    instant.format("%A, %B %-d, %Y").to_string()
}

/// "Monday, March 9, 2026 at 2:30 PM".
pub fn spoken(instant: &DateTime<Tz>) -> String {
    format!("{} at {}", spoken_date(instant), spoken_clock(instant))
}

/// "Monday, March 9, 2026 from 2:30 PM to 3 PM", or with both dates when
/// the range crosses midnight.
pub fn spoken_range(start: &DateTime<Tz>, end: &DateTime<Tz>) -> String {
    if start.date_naive() == end.date_naive() {
        format!(
            "{} from {} to {}",
            spoken_date(start),
            spoken_clock(start),
            spoken_clock(end)
        )
    } else {
        format!("{} to {}", spoken(start), spoken(end))
    }
}

/// A window as a phrase that can follow a noun: "on Monday, March 9, 2026"
/// for a whole day, "on Monday, March 9, 2026 between 9 AM and 5 PM" within
/// one, "between Monday, March 9, 2026 at 9 AM and Tuesday, March 10, 2026
/// at noon" across days.
pub fn spoken_window(start: &DateTime<Tz>, end: &DateTime<Tz>) -> String {
    let midnight = |t: &DateTime<Tz>| (t.hour(), t.minute(), t.second()) == (0, 0, 0);
    if midnight(start) && midnight(end) && start.date_naive().succ_opt() == Some(end.date_naive()) {
        format!("on {}", spoken_date(start))
    } else if start.date_naive() == end.date_naive() {
        format!(
            "on {} between {} and {}",
            spoken_date(start),
            spoken_clock(start),
            spoken_clock(end)
        )
    } else {
        format!("between {} and {}", spoken(start), spoken(end))
    }
}

/// "45 minutes", "1 hour", "1 hour 30 minutes".
pub fn spoken_duration(duration: TimeDelta) -> String {
    let minutes = duration.num_minutes();
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (hours, minutes) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Tz {
        zone("America/New_York").unwrap()
    }

    fn parsed(tz: Tz, text: &str) -> String {
        rfc3339(&parse_time(tz, "start", text).unwrap())
    }

    #[test]
    fn parses_offsets_and_local_times() {
        let tz = ny();
        assert_eq!(
            parsed(tz, "2026-03-09T18:30:00Z"),
            "2026-03-09T14:30:00-04:00"
        );
        assert_eq!(
            parsed(tz, "2026-03-09T14:30:00+01:00"),
            "2026-03-09T09:30:00-04:00"
        );
        assert_eq!(parsed(tz, "2026-03-09T14:30"), "2026-03-09T14:30:00-04:00");
        assert_eq!(
            parsed(tz, " 2026-01-15T09:05:07.250 "),
            "2026-01-15T09:05:07-05:00"
        );
        assert_eq!(
            parsed(zone("UTC").unwrap(), "2026-03-09T14:30"),
            "2026-03-09T14:30:00+00:00"
        );
    }

    #[test]
    fn daylight_saving_changes() {
        let tz = ny();
        // Spring forward: 02:00 jumps to 03:00 on 2026-03-08.
        assert_eq!(parsed(tz, "2026-03-08T01:59"), "2026-03-08T01:59:00-05:00");
        assert_eq!(parsed(tz, "2026-03-08T02:30"), "2026-03-08T03:30:00-04:00");
        assert_eq!(parsed(tz, "2026-03-08T03:00"), "2026-03-08T03:00:00-04:00");
        // Fall back: 01:00-02:00 happens twice on 2026-11-01; the first counts.
        assert_eq!(parsed(tz, "2026-11-01T01:30"), "2026-11-01T01:30:00-04:00");
        assert_eq!(parsed(tz, "2026-11-01T02:30"), "2026-11-01T02:30:00-05:00");
        // Southern hemisphere, half-hour zone, and a skipped day.
        let adelaide = zone("Australia/Adelaide").unwrap();
        assert_eq!(
            parsed(adelaide, "2026-10-04T02:15"),
            "2026-10-04T03:15:00+10:30"
        );
        let apia = zone("Pacific/Apia").unwrap();
        assert_eq!(
            parsed(apia, "2011-12-30T10:00"),
            "2011-12-31T10:00:00+14:00"
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for text in [
            "tomorrow at 3",
            "2026-03-09",
            "2026-13-01T10:00",
            "14:30",
            "",
        ] {
            let e = parse_time(ny(), "start", text).unwrap_err();
            assert!(
                matches!(&e, ToolError::InvalidArguments(m) if m.contains("`start`") && m.contains("America/New_York")),
                "{text}: {e:?}"
            );
        }
        assert!(matches!(
            zone("Mars/Olympus_Mons"),
            Err(ToolError::NotConfigured(m)) if m.contains("Mars/Olympus_Mons")
        ));
    }

    #[test]
    fn speaks_times() {
        let tz = ny();
        let start = parse_time(tz, "start", "2026-03-09T14:30").unwrap();
        let end = parse_time(tz, "end", "2026-03-09T15:00").unwrap();
        assert_eq!(
            spoken_range(&start, &end),
            "Monday, March 9, 2026 from 2:30 PM to 3 PM"
        );
        let late = parse_time(tz, "end", "2026-03-10T09:15").unwrap();
        assert_eq!(
            spoken_range(&start, &late),
            "Monday, March 9, 2026 at 2:30 PM to Tuesday, March 10, 2026 at 9:15 AM"
        );
        assert_eq!(
            spoken_window(&start, &end),
            "on Monday, March 9, 2026 between 2:30 PM and 3 PM"
        );
        assert_eq!(
            spoken_window(&start, &late),
            "between Monday, March 9, 2026 at 2:30 PM and Tuesday, March 10, 2026 at 9:15 AM"
        );
        let midnight = parse_time(tz, "start", "2026-03-09T00:00").unwrap();
        let next = parse_time(tz, "end", "2026-03-10T00:00").unwrap();
        assert_eq!(spoken_window(&midnight, &next), "on Monday, March 9, 2026");
        let noon = parse_time(tz, "end", "2026-03-09T12:00").unwrap();
        assert_eq!(
            spoken_range(&midnight, &noon),
            "Monday, March 9, 2026 from midnight to noon"
        );
        assert_eq!(spoken_duration(TimeDelta::minutes(45)), "45 minutes");
        assert_eq!(spoken_duration(TimeDelta::minutes(60)), "1 hour");
        assert_eq!(
            spoken_duration(TimeDelta::minutes(150)),
            "2 hours 30 minutes"
        );
        assert_eq!(spoken_duration(TimeDelta::minutes(61)), "1 hour 1 minute");
    }
}
