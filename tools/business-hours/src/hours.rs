//! The calendar behind the tool: configuration, validation and the opening
//! periods of a business, with no I/O and no clock, so it is tested on the host.
//!
//! Opening hours are wall-clock times in the business's time zone, applied to
//! each local date. A wall time that does not exist on a date (the hour skipped
//! when clocks spring forward) means the first instant after the skipped hour;
//! a wall time that happens twice (the hour repeated when clocks fall back)
//! means the earlier of the two. Everything after that is absolute time: an
//! opening period runs from one instant to another, and slots are cut from it
//! in real minutes.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, MappedLocalTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Deserialize;

/// How far ahead the tool looks for an opening or a closing.
pub const HORIZON_DAYS: i64 = 366;

const DEFAULT_SLOT_MINUTES: u32 = 30;
const SLOT_MINUTES_RANGE: std::ops::RangeInclusive<u32> = 5..=480;
const MINUTES_PER_DAY: u32 = 24 * 60;
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The tool's configuration, as the operator writes it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The business's time zone, as an IANA name such as "America/New_York" or
    /// "Europe/Berlin". Opening hours and holidays are read in this zone, and
    /// daylight-saving changes follow its rules.
    pub time_zone: String,
    /// The regular opening hours, per day of the week, in local wall-clock
    /// time. A day that is missing or has an empty list is closed all day.
    pub weekly_hours: WeeklyHours,
    /// Dates ("YYYY-MM-DD", local to the business) on which the business is
    /// closed all day, whatever the weekly hours say.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^\d{4}-\d{2}-\d{2}$")))]
    pub holidays: Vec<String>,
    /// The length of a bookable appointment slot, in minutes (5 to 480).
    #[serde(default = "default_slot_minutes")]
    #[schemars(range(min = 5, max = 480))]
    pub slot_minutes: u32,
}

fn default_slot_minutes() -> u32 {
    DEFAULT_SLOT_MINUTES
}

/// Opening intervals for each day of the week.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    /// Monday's opening intervals.
    #[serde(default)]
    pub monday: Vec<Interval>,
    /// Tuesday's opening intervals.
    #[serde(default)]
    pub tuesday: Vec<Interval>,
    /// Wednesday's opening intervals.
    #[serde(default)]
    pub wednesday: Vec<Interval>,
    /// Thursday's opening intervals.
    #[serde(default)]
    pub thursday: Vec<Interval>,
    /// Friday's opening intervals.
    #[serde(default)]
    pub friday: Vec<Interval>,
    /// Saturday's opening intervals.
    #[serde(default)]
    pub saturday: Vec<Interval>,
    /// Sunday's opening intervals.
    #[serde(default)]
    pub sunday: Vec<Interval>,
}

impl WeeklyHours {
    /// The days in order, Monday first.
    fn days(&self) -> [&[Interval]; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }
}

/// One opening interval of a day, in local wall-clock time. Intervals of a day
/// must not overlap. To stay open past midnight, close at "24:00" and open the
/// next day at "00:00": the two are reported as one opening.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// Opening time, "HH:MM" (00:00 to 23:59).
    #[schemars(regex(pattern = r"^\d{2}:\d{2}$"))]
    pub open: String,
    /// Closing time, "HH:MM" (00:01 to 24:00), later than `open`.
    #[schemars(regex(pattern = r"^\d{2}:\d{2}$"))]
    pub close: String,
}

/// The configuration is unusable; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// An argument value could not be understood; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError(pub String);

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgumentError {}

/// A validated interval, in minutes since local midnight; `close` may be
/// 1440 (24:00, the next day's midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WallInterval {
    open: u32,
    close: u32,
}

/// A stretch of time during which the business is open, as absolute instants
/// shown in the business's zone. `start` is inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Tz>,
    pub end: DateTime<Tz>,
}

/// Whether the business is open at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Open; `closes_at` is `None` when it stays open for the whole horizon.
    Open { closes_at: Option<DateTime<Tz>> },
    /// Closed; `next_opening` is `None` when it does not open within the
    /// horizon.
    Closed { next_opening: Option<DateTime<Tz>> },
}

/// The next opening after an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    pub opens_at: DateTime<Tz>,
    /// `None` when it stays open for the whole horizon after opening.
    pub closes_at: Option<DateTime<Tz>>,
}

/// A validated configuration: the business's calendar.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: Tz,
    /// Sorted, non-overlapping intervals per weekday, Monday first.
    week: [Vec<WallInterval>; 7],
    holidays: BTreeSet<NaiveDate>,
    slot: TimeDelta,
}

impl Schedule {
    /// Validates `config`. Every function of the tool goes through here, so a
    /// mistake in the configuration is reported the same way everywhere.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let tz: Tz = config.time_zone.parse().map_err(|_| {
            ConfigError(format!(
                "time_zone: {:?} is not a known IANA time zone; use a name such as \
                 \"America/New_York\" or \"Europe/Berlin\"",
                config.time_zone
            ))
        })?;

        let mut week: [Vec<WallInterval>; 7] = Default::default();
        for ((day, intervals), validated) in DAY_NAMES
            .iter()
            .zip(config.weekly_hours.days())
            .zip(&mut week)
        {
            *validated = validate_day(day, intervals)?;
        }

        let holidays = config
            .holidays
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_date(text).ok_or_else(|| {
                    ConfigError(format!(
                        "holidays[{i}]: {text:?} is not a date in YYYY-MM-DD form"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;

        if !SLOT_MINUTES_RANGE.contains(&config.slot_minutes) {
            return Err(ConfigError(format!(
                "slot_minutes: {} is out of range; use {} to {}",
                config.slot_minutes,
                SLOT_MINUTES_RANGE.start(),
                SLOT_MINUTES_RANGE.end()
            )));
        }

        Ok(Schedule {
            tz,
            week,
            holidays,
            slot: TimeDelta::minutes(config.slot_minutes.into()),
        })
    }

    /// The business's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The names of the weekdays with opening hours, Monday first.
    pub fn open_days(&self) -> Vec<&'static str> {
        DAY_NAMES
            .iter()
            .zip(&self.week)
            .filter(|(_, intervals)| !intervals.is_empty())
            .map(|(day, _)| *day)
            .collect()
    }

    /// How many distinct holidays are configured.
    pub fn holiday_count(&self) -> usize {
        self.holidays.len()
    }

    /// The slot length in minutes.
    pub fn slot_minutes(&self) -> i64 {
        self.slot.num_minutes()
    }

    /// Whether `date` is a configured holiday.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    /// `instant` in the business's zone.
    pub fn local(&self, instant: DateTime<Utc>) -> DateTime<Tz> {
        instant.with_timezone(&self.tz)
    }

    /// Whether the business is open at `at`: opening instants count as open,
    /// closing instants as closed.
    pub fn status(&self, at: DateTime<Utc>) -> Status {
        let horizon = at + TimeDelta::days(HORIZON_DAYS);
        // Start two days back: an opening of an earlier date that runs to
        // 24:00 joins the one at hand, and its end is what `closes_at` needs.
        let first = self.local(at).date_naive() - Days::new(2);
        // Three days more than the horizon, so that a closing at the horizon
        // is not mistaken for the end of the dates looked at.
        let last = first + Days::new(HORIZON_DAYS as u64 + 3);
        let Some(period) = self.periods(first, last).find(|p| p.end > at) else {
            return Status::Closed { next_opening: None };
        };
        if period.start <= at {
            Status::Open {
                closes_at: Some(period.end).filter(|end| *end <= horizon),
            }
        } else {
            Status::Closed {
                next_opening: Some(period.start).filter(|start| *start <= horizon),
            }
        }
    }

    /// The first opening that starts strictly after `after`, within the
    /// horizon. When the business is open at `after`, that is the opening
    /// after the current one closes.
    pub fn next_opening(&self, after: DateTime<Utc>) -> Option<Opening> {
        let horizon = after + TimeDelta::days(HORIZON_DAYS);
        let first = self.local(after).date_naive() - Days::new(2);
        // Far enough to see the end of an opening that starts at the horizon.
        let last = first + Days::new(2 * HORIZON_DAYS as u64 + 4);
        let period = self
            .periods(first, last)
            .find(|p| p.start > after)
            .filter(|p| p.start <= horizon)?;
        Some(Opening {
            opens_at: period.start,
            closes_at: Some(period.end)
                .filter(|end| *end <= period.start + TimeDelta::days(HORIZON_DAYS)),
        })
    }

    /// The bookable slots of local date `date`: back-to-back slots of the
    /// configured length from the start of each opening of that date, in real
    /// time, dropping a last slot that would run past the closing.
    pub fn slots(&self, date: NaiveDate) -> Vec<Period> {
        merge_touching(self.date_periods(date).into_iter())
            .flat_map(|period| {
                let mut start = period.start;
                std::iter::from_fn(move || {
                    let end = start + self.slot;
                    (end <= period.end).then(|| {
                        let slot = Period { start, end };
                        start = end;
                        slot
                    })
                })
            })
            .collect()
    }

    /// The opening periods of the local dates `first..=last`, in order, with
    /// periods that touch (one closes when the next opens) merged into one.
    fn periods(&self, first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = Period> + '_ {
        let dates = first.iter_days().take_while(move |d| *d <= last);
        merge_touching(dates.flat_map(|date| self.date_periods(date)))
    }

    /// The opening intervals of one local date as instants; none on a
    /// holiday. An interval squeezed to nothing by a clock change is dropped.
    fn date_periods(&self, date: NaiveDate) -> Vec<Period> {
        if self.is_holiday(date) {
            return Vec::new();
        }
        self.week[date.weekday().num_days_from_monday() as usize]
            .iter()
            .map(|interval| Period {
                start: self.wall_time(date, interval.open),
                end: self.wall_time(date, interval.close),
            })
            .filter(|period| period.start < period.end)
            .collect()
    }

    /// The instant of `minutes` past local midnight of `date`.
    fn wall_time(&self, date: NaiveDate, minutes: u32) -> DateTime<Tz> {
        let naive = date.and_time(chrono::NaiveTime::MIN) + TimeDelta::minutes(minutes.into());
        self.resolve_local(naive)
    }

    /// The instant of local wall-clock time `naive`: the earlier one when the
    /// time happens twice, the first instant after the gap when it does not
    /// happen at all.
    pub fn resolve_local(&self, naive: NaiveDateTime) -> DateTime<Tz> {
        match self.tz.from_local_datetime(&naive) {
            MappedLocalTime::Single(instant) => instant,
            MappedLocalTime::Ambiguous(earlier, _later) => earlier,
            MappedLocalTime::None => self.end_of_gap(naive),
        }
    }

    /// The first instant whose local time is later than `naive`, a wall time
    /// that a clock change skips. Across the gap the local time jumps from
    /// before `naive` to after it, so a binary search over the seconds around
    /// it finds the instant of the jump.
    fn end_of_gap(&self, naive: NaiveDateTime) -> DateTime<Tz> {
        // UTC offsets stay well within ±36 hours, so local time is before
        // `naive` at `lo` and after it at `hi`.
        const WINDOW: i64 = 36 * 3600;
        let guess = naive.and_utc().timestamp();
        let (mut lo, mut hi) = (guess - WINDOW, guess + WINDOW);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.at_timestamp(mid).naive_local() > naive {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        self.at_timestamp(hi)
    }

    fn at_timestamp(&self, seconds: i64) -> DateTime<Tz> {
        let instant = DateTime::from_timestamp(seconds, 0)
            .expect("wall times come from four-digit years, well inside chrono's range");
        self.local(instant)
    }
}

/// Merges consecutive periods where one starts no later than the previous
/// one ends. `periods` must be sorted by start.
fn merge_touching(periods: impl Iterator<Item = Period>) -> impl Iterator<Item = Period> {
    let mut periods = periods.peekable();
    std::iter::from_fn(move || {
        let mut current = periods.next()?;
        while let Some(next) = periods.next_if(|p| p.start <= current.end) {
            current.end = current.end.max(next.end);
        }
        Some(current)
    })
}

/// Checks one day's intervals and returns them sorted.
fn validate_day(day: &str, intervals: &[Interval]) -> Result<Vec<WallInterval>, ConfigError> {
    let mut parsed = Vec::with_capacity(intervals.len());
    for (i, interval) in intervals.iter().enumerate() {
        let at = |field: &str| format!("weekly_hours.{day}[{i}].{field}");
        let open = parse_wall_time(&interval.open)
            .filter(|m| *m < MINUTES_PER_DAY)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{}: {:?} is not a time in HH:MM form between 00:00 and 23:59",
                    at("open"),
                    interval.open
                ))
            })?;
        let close = parse_wall_time(&interval.close).ok_or_else(|| {
            ConfigError(format!(
                "{}: {:?} is not a time in HH:MM form between 00:00 and 24:00",
                at("close"),
                interval.close
            ))
        })?;
        if open >= close {
            return Err(ConfigError(format!(
                "weekly_hours.{day}[{i}]: opens at {} but closes at {}; the closing time must be \
                 later than the opening time (to stay open past midnight, close at 24:00 and \
                 open the next day at 00:00)",
                interval.open, interval.close
            )));
        }
        parsed.push(WallInterval { open, close });
    }
    parsed.sort_by_key(|interval| interval.open);
    if let Some(pair) = parsed.windows(2).find(|pair| pair[1].open < pair[0].close) {
        return Err(ConfigError(format!(
            "weekly_hours.{day}: the intervals {}–{} and {}–{} overlap",
            format_wall_time(pair[0].open),
            format_wall_time(pair[0].close),
            format_wall_time(pair[1].open),
            format_wall_time(pair[1].close),
        )));
    }
    Ok(parsed)
}

/// Parses "HH:MM" (00:00 to 24:00) into minutes since midnight.
fn parse_wall_time(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

fn format_wall_time(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses a strict "YYYY-MM-DD" date.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shape_ok
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// Parses a `date` argument, "YYYY-MM-DD".
pub fn parse_date_argument(name: &str, text: &str) -> Result<NaiveDate, ArgumentError> {
    parse_date(text.trim()).ok_or_else(|| {
        ArgumentError(format!(
            "`{name}` must be a calendar date in YYYY-MM-DD form, such as \"2026-03-09\"; got \
             {text:?}"
        ))
    })
}

/// Parses an instant argument: RFC 3339 with an offset ("2026-03-09T14:30:00-04:00",
/// "2026-03-09T18:30:00Z"), or a local date and time without an offset
/// ("2026-03-09T14:30" or "2026-03-09T14:30:00"), read as wall-clock time in
/// the business's zone. Fractions of a second are dropped.
pub fn parse_instant_argument(
    schedule: &Schedule,
    name: &str,
    text: &str,
) -> Result<DateTime<Utc>, ArgumentError> {
    let text = text.trim();
    let instant = if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        Some(instant.with_timezone(&Utc))
    } else {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .filter(|naive| (1..=9999).contains(&naive.year()))
            .map(|naive| schedule.resolve_local(naive).with_timezone(&Utc))
    };
    instant
        .map(|instant| instant.with_nanosecond(0).unwrap_or(instant))
        .ok_or_else(|| {
            ArgumentError(format!(
                "`{name}` must be a date and time in RFC 3339 form, such as \
                 \"2026-03-09T14:30:00-04:00\" or \"2026-03-09T18:30:00Z\", or a local time in \
                 the business's time zone such as \"2026-03-09T14:30\"; got {text:?}"
            ))
        })
}

/// `instant` as RFC 3339 with its offset, to the second.
pub fn rfc3339(instant: &DateTime<Tz>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(config: serde_json::Value) -> Schedule {
        let config: Config = serde_json::from_value(config).expect("config parses");
        Schedule::from_config(&config).expect("config is valid")
    }

    fn config_error(config: serde_json::Value) -> String {
        let config: Config = serde_json::from_value(config).expect("config parses");
        Schedule::from_config(&config)
            .expect_err("config is invalid")
            .to_string()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        parse_date(text).expect("test date")
    }

    fn slot_strings(schedule: &Schedule, day: &str) -> Vec<(String, String)> {
        schedule
            .slots(date(day))
            .iter()
            .map(|s| (rfc3339(&s.start), rfc3339(&s.end)))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// A dentist in New York: weekdays 9–17 with a lunch break, Saturday
    /// mornings, and a Sunday night shift straddling the DST changes.
    fn new_york() -> Schedule {
        let weekday = json!([
            { "open": "09:00", "close": "12:00" },
            { "open": "13:00", "close": "17:00" }
        ]);
        schedule(json!({
            "time_zone": "America/New_York",
            "weekly_hours": {
                "monday": weekday, "tuesday": weekday, "wednesday": weekday,
                "thursday": weekday, "friday": weekday,
                "saturday": [{ "open": "10:00", "close": "14:00" }],
                "sunday": [{ "open": "01:00", "close": "04:00" }]
            },
            "holidays": ["2026-12-25", "2026-07-03"]
        }))
    }

    fn berlin() -> Schedule {
        schedule(json!({
            "time_zone": "Europe/Berlin",
            "weekly_hours": {
                "sunday": [{ "open": "02:00", "close": "04:00" }],
                "monday": [{ "open": "02:30", "close": "10:00" }]
            },
            "slot_minutes": 60
        }))
    }

    #[test]
    fn spring_forward_in_new_york_gives_two_real_hours() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        assert_eq!(
            slot_strings(&new_york(), "2026-03-08"),
            pairs(&[
                ("2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00"),
                ("2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"),
                ("2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"),
                ("2026-03-08T03:30:00-04:00", "2026-03-08T04:00:00-04:00"),
            ])
        );
    }

    #[test]
    fn fall_back_in_new_york_gives_four_real_hours() {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00–04:00 local is
        // 05:00Z–09:00Z, and 01:00–02:00 local happens twice.
        let slots = slot_strings(&new_york(), "2026-11-01");
        assert_eq!(slots.len(), 8);
        assert_eq!(
            slots[..4],
            pairs(&[
                ("2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00"),
                ("2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00"),
                ("2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00"),
                ("2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"),
            ])[..]
        );
        assert_eq!(
            slots[7],
            (
                "2026-11-01T03:30:00-05:00".to_string(),
                "2026-11-01T04:00:00-05:00".to_string()
            )
        );
    }

    #[test]
    fn fall_back_one_to_three_gives_three_real_hours() {
        let s = schedule(json!({
            "time_zone": "America/New_York",
            "weekly_hours": { "sunday": [{ "open": "01:00", "close": "03:00" }] },
            "slot_minutes": 60
        }));
        assert_eq!(
            slot_strings(&s, "2026-11-01"),
            pairs(&[
                ("2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"),
                ("2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"),
                ("2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"),
            ])
        );
    }

    #[test]
    fn opening_inside_the_gap_starts_when_the_gap_ends() {
        let s = schedule(json!({
            "time_zone": "America/New_York",
            "weekly_hours": { "sunday": [{ "open": "02:30", "close": "05:00" }] },
            "slot_minutes": 60
        }));
        assert_eq!(
            slot_strings(&s, "2026-03-08"),
            pairs(&[
                ("2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"),
                ("2026-03-08T04:00:00-04:00", "2026-03-08T05:00:00-04:00"),
            ])
        );
        assert_eq!(
            s.status(utc("2026-03-08T06:59:59Z")),
            Status::Closed {
                next_opening: Some(s.local(utc("2026-03-08T07:00:00Z")))
            }
        );
        assert_eq!(
            s.status(utc("2026-03-08T07:00:00Z")),
            Status::Open {
                closes_at: Some(s.local(utc("2026-03-08T09:00:00Z")))
            }
        );
    }

    #[test]
    fn an_interval_inside_the_gap_is_empty() {
        let s = schedule(json!({
            "time_zone": "America/New_York",
            "weekly_hours": {
                "sunday": [
                    { "open": "02:10", "close": "02:50" },
                    { "open": "10:00", "close": "11:00" }
                ]
            }
        }));
        assert_eq!(
            slot_strings(&s, "2026-03-08"),
            pairs(&[
                ("2026-03-08T10:00:00-04:00", "2026-03-08T10:30:00-04:00"),
                ("2026-03-08T10:30:00-04:00", "2026-03-08T11:00:00-04:00"),
            ])
        );
        // A week later the early interval exists again.
        assert_eq!(slot_strings(&s, "2026-03-15").len(), 3);
    }

    #[test]
    fn berlin_spring_forward() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:00 opens at 03:00.
        assert_eq!(
            slot_strings(&berlin(), "2026-03-29"),
            pairs(&[("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00")])
        );
        assert_eq!(
            berlin().next_opening(utc("2026-03-28T12:00:00Z")),
            Some(Opening {
                opens_at: berlin().local(utc("2026-03-29T01:00:00Z")),
                closes_at: Some(berlin().local(utc("2026-03-29T02:00:00Z"))),
            })
        );
    }

    #[test]
    fn berlin_fall_back() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00 is the earlier one.
        assert_eq!(
            slot_strings(&berlin(), "2026-10-25"),
            pairs(&[
                ("2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"),
                ("2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"),
                ("2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
            ])
        );
        let s = berlin();
        // 02:30 CET, the second pass through 02:30, is still open.
        assert_eq!(
            s.status(utc("2026-10-25T01:30:00Z")),
            Status::Open {
                closes_at: Some(s.local(utc("2026-10-25T03:00:00Z")))
            }
        );
    }

    #[test]
    fn offsets_in_output_are_local() {
        let s = berlin();
        assert_eq!(
            rfc3339(&s.local(utc("2026-07-01T12:00:00Z"))),
            "2026-07-01T14:00:00+02:00"
        );
        let utc_zone = schedule(json!({ "time_zone": "UTC", "weekly_hours": {} }));
        assert_eq!(
            rfc3339(&utc_zone.local(utc("2026-07-01T12:00:00Z"))),
            "2026-07-01T12:00:00+00:00"
        );
    }

    #[test]
    fn open_is_inclusive_and_close_exclusive() {
        let s = new_york();
        // Monday 2026-03-09, first day of EDT: 09:00 local is 13:00Z.
        assert_eq!(
            s.status(utc("2026-03-09T12:59:59Z")),
            Status::Closed {
                next_opening: Some(s.local(utc("2026-03-09T13:00:00Z")))
            }
        );
        assert_eq!(
            s.status(utc("2026-03-09T13:00:00Z")),
            Status::Open {
                closes_at: Some(s.local(utc("2026-03-09T16:00:00Z")))
            }
        );
        // 12:00 local: the lunch break starts.
        assert_eq!(
            s.status(utc("2026-03-09T16:00:00Z")),
            Status::Closed {
                next_opening: Some(s.local(utc("2026-03-09T17:00:00Z")))
            }
        );
        assert_eq!(
            s.status(utc("2026-03-09T15:59:59Z")),
            Status::Open {
                closes_at: Some(s.local(utc("2026-03-09T16:00:00Z")))
            }
        );
    }

    #[test]
    fn holidays_close_the_whole_day() {
        let s = new_york();
        // Friday 2026-07-03 is a holiday.
        assert!(s.is_holiday(date("2026-07-03")));
        assert!(s.slots(date("2026-07-03")).is_empty());
        assert_eq!(
            s.status(utc("2026-07-03T15:00:00Z")),
            Status::Closed {
                next_opening: Some(
                    s.resolve_local(date("2026-07-04").and_hms_opt(10, 0, 0).unwrap())
                )
            }
        );
        assert_eq!(slot_strings(&s, "2026-07-02").len(), 14);
    }

    #[test]
    fn next_opening_across_a_weekend() {
        let s = schedule(json!({
            "time_zone": "America/Chicago",
            "weekly_hours": {
                "monday": [{ "open": "08:00", "close": "18:00" }],
                "friday": [{ "open": "08:00", "close": "18:00" }]
            }
        }));
        // Friday 2026-03-06 at 18:00 CST, right at closing.
        let opening = s.next_opening(utc("2026-03-07T00:00:00Z")).unwrap();
        assert_eq!(rfc3339(&opening.opens_at), "2026-03-09T08:00:00-05:00");
        assert_eq!(
            opening.closes_at.map(|t| rfc3339(&t)).as_deref(),
            Some("2026-03-09T18:00:00-05:00")
        );
        // While open, the next opening is the one after this one closes.
        let opening = s.next_opening(utc("2026-03-06T15:00:00Z")).unwrap();
        assert_eq!(rfc3339(&opening.opens_at), "2026-03-09T08:00:00-05:00");
        // Exactly at an opening, "strictly after" skips it.
        let opening = s.next_opening(utc("2026-03-09T13:00:00Z")).unwrap();
        assert_eq!(rfc3339(&opening.opens_at), "2026-03-13T08:00:00-05:00");
    }

    #[test]
    fn next_opening_skips_a_holiday() {
        let s = new_york();
        // Thursday 2026-12-24 after closing; Friday 25th is a holiday.
        let opening = s.next_opening(utc("2026-12-24T23:00:00Z")).unwrap();
        assert_eq!(rfc3339(&opening.opens_at), "2026-12-26T10:00:00-05:00");
        assert_eq!(
            opening.closes_at.map(|t| rfc3339(&t)).as_deref(),
            Some("2026-12-26T14:00:00-05:00")
        );
    }

    #[test]
    fn touching_intervals_across_midnight_are_one_opening() {
        let s = schedule(json!({
            "time_zone": "Europe/London",
            "weekly_hours": {
                "friday": [{ "open": "18:00", "close": "24:00" }],
                "saturday": [{ "open": "00:00", "close": "02:00" }, { "open": "02:00", "close": "03:00" }]
            },
            "slot_minutes": 120
        }));
        // Friday 2026-06-05 23:00 BST.
        assert_eq!(
            s.status(utc("2026-06-05T22:00:00Z")),
            Status::Open {
                closes_at: Some(s.local(utc("2026-06-06T02:00:00Z")))
            }
        );
        assert_eq!(
            rfc3339(
                &s.next_opening(utc("2026-06-05T12:00:00Z"))
                    .unwrap()
                    .opens_at
            ),
            "2026-06-05T18:00:00+01:00"
        );
        // Slots are per date: Saturday 00:00–03:00 holds one 2-hour slot.
        assert_eq!(
            slot_strings(&s, "2026-06-06"),
            pairs(&[("2026-06-06T00:00:00+01:00", "2026-06-06T02:00:00+01:00")])
        );
    }

    #[test]
    fn always_open_and_never_open() {
        let all_day = json!([{ "open": "00:00", "close": "24:00" }]);
        let s = schedule(json!({
            "time_zone": "Asia/Tokyo",
            "weekly_hours": {
                "monday": all_day, "tuesday": all_day, "wednesday": all_day, "thursday": all_day,
                "friday": all_day, "saturday": all_day, "sunday": all_day
            }
        }));
        let now = utc("2026-05-01T00:00:00Z");
        assert_eq!(s.status(now), Status::Open { closes_at: None });
        assert_eq!(s.next_opening(now), None);

        let closed = schedule(json!({ "time_zone": "Asia/Tokyo", "weekly_hours": {} }));
        assert_eq!(closed.status(now), Status::Closed { next_opening: None });
        assert_eq!(closed.next_opening(now), None);
        assert!(closed.open_days().is_empty());
    }

    #[test]
    fn trailing_partial_slot_is_dropped() {
        let s = schedule(json!({
            "time_zone": "Europe/Berlin",
            "weekly_hours": { "tuesday": [{ "open": "09:00", "close": "10:40" }] },
            "slot_minutes": 45
        }));
        assert_eq!(
            slot_strings(&s, "2026-06-02"),
            pairs(&[
                ("2026-06-02T09:00:00+02:00", "2026-06-02T09:45:00+02:00"),
                ("2026-06-02T09:45:00+02:00", "2026-06-02T10:30:00+02:00"),
            ])
        );
    }

    #[test]
    fn summary_helpers() {
        let s = new_york();
        assert_eq!(
            s.open_days(),
            [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday"
            ]
        );
        assert_eq!(s.holiday_count(), 2);
        assert_eq!(s.slot_minutes(), 30);
        assert_eq!(s.time_zone().name(), "America/New_York");
    }

    #[test]
    fn config_errors_say_what_is_wrong() {
        assert_eq!(
            config_error(json!({ "time_zone": "America/NewYork", "weekly_hours": {} })),
            "invalid configuration: time_zone: \"America/NewYork\" is not a known IANA time \
             zone; use a name such as \"America/New_York\" or \"Europe/Berlin\""
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "monday": [{ "open": "9:00", "close": "17:00" }] }
            })),
            "invalid configuration: weekly_hours.monday[0].open: \"9:00\" is not a time in \
             HH:MM form between 00:00 and 23:59"
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "monday": [{ "open": "24:00", "close": "24:00" }] }
            })),
            "invalid configuration: weekly_hours.monday[0].open: \"24:00\" is not a time in \
             HH:MM form between 00:00 and 23:59"
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "friday": [{ "open": "09:00", "close": "24:30" }] }
            })),
            "invalid configuration: weekly_hours.friday[0].close: \"24:30\" is not a time in \
             HH:MM form between 00:00 and 24:00"
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "tuesday": [{ "open": "17:00", "close": "09:00" }] }
            })),
            "invalid configuration: weekly_hours.tuesday[0]: opens at 17:00 but closes at \
             09:00; the closing time must be later than the opening time (to stay open past \
             midnight, close at 24:00 and open the next day at 00:00)"
        );
        assert!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "tuesday": [{ "open": "09:00", "close": "09:00" }] }
            }))
            .contains("weekly_hours.tuesday[0]: opens at 09:00 but closes at 09:00")
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC",
                "weekly_hours": { "wednesday": [
                    { "open": "13:00", "close": "17:00" },
                    { "open": "09:00", "close": "13:30" }
                ] }
            })),
            "invalid configuration: weekly_hours.wednesday: the intervals 09:00–13:30 and \
             13:00–17:00 overlap"
        );
        assert_eq!(
            config_error(json!({
                "time_zone": "UTC", "weekly_hours": {}, "holidays": ["2026-12-25", "2026-02-30"]
            })),
            "invalid configuration: holidays[1]: \"2026-02-30\" is not a date in YYYY-MM-DD form"
        );
        assert_eq!(
            config_error(json!({ "time_zone": "UTC", "weekly_hours": {}, "slot_minutes": 4 })),
            "invalid configuration: slot_minutes: 4 is out of range; use 5 to 480"
        );
        assert!(
            config_error(json!({ "time_zone": "UTC", "weekly_hours": {}, "slot_minutes": 481 }))
                .contains("481 is out of range")
        );
    }

    #[test]
    fn config_shape_is_strict() {
        let unknown_day = serde_json::from_value::<Config>(json!({
            "time_zone": "UTC", "weekly_hours": { "mon": [] }
        }));
        assert!(
            unknown_day
                .unwrap_err()
                .to_string()
                .contains("unknown field `mon`")
        );
        let unknown_key = serde_json::from_value::<Config>(json!({
            "time_zone": "UTC", "weekly_hours": {}, "timezone": "UTC"
        }));
        assert!(unknown_key.is_err());
        let defaults: Config =
            serde_json::from_value(json!({ "time_zone": "UTC", "weekly_hours": {} })).unwrap();
        assert_eq!(defaults.slot_minutes, 30);
        assert!(defaults.holidays.is_empty());
    }

    #[test]
    fn touching_intervals_in_a_day_are_allowed() {
        let s = schedule(json!({
            "time_zone": "UTC",
            "weekly_hours": { "monday": [
                { "open": "09:00", "close": "10:00" },
                { "open": "10:00", "close": "11:30" }
            ] },
            "slot_minutes": 45
        }));
        // One continuous opening of 2.5 hours: three 45-minute slots.
        assert_eq!(slot_strings(&s, "2026-06-01").len(), 3);
    }

    #[test]
    fn wall_time_parsing() {
        assert_eq!(parse_wall_time("00:00"), Some(0));
        assert_eq!(parse_wall_time("09:05"), Some(545));
        assert_eq!(parse_wall_time("24:00"), Some(1440));
        for bad in [
            "24:01", "9:00", "09:60", "0900", "09:00:00", "ab:cd", "+9:00", "",
        ] {
            assert_eq!(parse_wall_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn argument_parsing() {
        let s = new_york();
        let parse = |text| parse_instant_argument(&s, "at", text);
        assert_eq!(
            parse("2026-03-09T09:00:00-04:00"),
            Ok(utc("2026-03-09T13:00:00Z"))
        );
        assert_eq!(
            parse("2026-03-09T13:00:00Z"),
            Ok(utc("2026-03-09T13:00:00Z"))
        );
        assert_eq!(
            parse("2026-03-09T13:00:00.999Z"),
            Ok(utc("2026-03-09T13:00:00Z"))
        );
        // Without an offset: wall-clock time in the business's zone.
        assert_eq!(parse("2026-03-09T09:00"), Ok(utc("2026-03-09T13:00:00Z")));
        assert_eq!(
            parse("2026-01-09T09:00:00"),
            Ok(utc("2026-01-09T14:00:00Z"))
        );
        assert_eq!(parse("2026-03-08T02:30"), Ok(utc("2026-03-08T07:00:00Z")));
        assert_eq!(parse("2026-11-01T01:30"), Ok(utc("2026-11-01T05:30:00Z")));
        for bad in [
            "tomorrow",
            "2026-03-09",
            "09:00",
            "2026-02-30T10:00:00Z",
            "",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.0.starts_with("`at` must be a date and time"), "{bad}");
        }
        assert_eq!(
            parse_date_argument("date", "2026-03-08"),
            Ok(date("2026-03-08"))
        );
        for bad in ["2026-3-8", "2026-02-29", "08/03/2026", "2026-03-08T00:00"] {
            let error = parse_date_argument("date", bad).unwrap_err();
            assert!(error.0.contains("YYYY-MM-DD"), "{bad}");
        }
    }
}
