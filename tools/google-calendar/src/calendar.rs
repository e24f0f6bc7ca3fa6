//! The tool's functions, written against a [`Calendar`] so they run the
//! same over `wasi:http` and over a scripted Google in tests.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use warden_sdk::http::Method;
use warden_sdk::prelude::*;

use crate::availability::{self, Interval};
use crate::config::Settings;
use crate::google::{
    self, ApiRequest, Calendar, EVENT_NOT_FOUND, Event, EventList, FreeBusy, TROUBLE,
};
use crate::time::{self, parse_time, rfc3339, spoken_range, spoken_window};

/// How many items a summary sentence lists before saying "and N more".
const SPOKEN_ITEMS: usize = 5;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckAvailabilityArgs {
    /// Start of the time window to check, e.g. "2026-03-09T09:00" (local
    /// time in the calendar's time zone) or "2026-03-09T09:00:00-04:00".
    pub start: String,
    /// End of the window, in the same form; must be after `start`.
    pub end: String,
    /// If given, also list the free stretches of at least this many minutes
    /// (e.g. 30 to find room for a 30-minute appointment).
    #[schemars(range(min = 5, max = 1440))]
    pub slot_minutes: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEventsArgs {
    /// Start of the time window, e.g. "2026-03-09T00:00" (local time in the
    /// calendar's time zone) or with a UTC offset. Default: now.
    pub start: Option<String>,
    /// End of the window, in the same form. Default: 7 days after `start`.
    pub end: Option<String>,
    /// Only events whose text (title, description, location, attendees)
    /// matches these words, e.g. a caller's name.
    pub query: Option<String>,
    /// At most this many events, earliest first (default 10, at most 50).
    #[schemars(range(min = 1, max = 50))]
    pub max_results: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventArgs {
    /// The event's title, e.g. "Dental cleaning – Jane Doe".
    #[schemars(length(min = 1, max = 1024))]
    pub summary: String,
    /// When it starts, e.g. "2026-03-09T14:30" (local time in the calendar's
    /// time zone) or "2026-03-09T14:30:00-04:00".
    pub start: String,
    /// When it ends, in the same form. Give `end` or `duration_minutes`, not
    /// both; with neither, the configured default length applies.
    pub end: Option<String>,
    /// How long it lasts, in minutes, instead of `end`.
    #[schemars(range(min = 1, max = 1440))]
    pub duration_minutes: Option<u32>,
    /// E-mail addresses to invite; they receive an invitation from Google.
    pub attendees: Option<Vec<String>>,
    /// Notes for the event, e.g. the reason for the visit and a phone number.
    #[schemars(length(max = 8192))]
    pub description: Option<String>,
    /// Where it takes place (an address or a room).
    #[schemars(length(max = 1024))]
    pub location: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventArgs {
    /// The event's `id`, from `list_events` or `create_event`.
    #[schemars(length(min = 1))]
    pub event_id: String,
    /// A new title.
    #[schemars(length(min = 1, max = 1024))]
    pub summary: Option<String>,
    /// A new start time, e.g. "2026-03-10T15:00" (local time in the
    /// calendar's time zone) or with a UTC offset. Without `end` or
    /// `duration_minutes` the event keeps its length.
    pub start: Option<String>,
    /// A new end time, in the same form.
    pub end: Option<String>,
    /// A new length in minutes, counted from the (new or current) start,
    /// instead of `end`.
    #[schemars(range(min = 1, max = 1440))]
    pub duration_minutes: Option<u32>,
    /// The complete new list of invitees' e-mail addresses; it replaces the
    /// current list (people already invited keep their responses).
    pub attendees: Option<Vec<String>>,
    /// New notes; replaces the current ones.
    #[schemars(length(max = 8192))]
    pub description: Option<String>,
    /// A new location.
    #[schemars(length(max = 1024))]
    pub location: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelEventArgs {
    /// The event's `id`, from `list_events` or `create_event`.
    #[schemars(length(min = 1))]
    pub event_id: String,
}

/// The Google event id a call books under: lowercase hex of
/// SHA-256("warden:" + call id). Hex digits are valid base32hex, the
/// alphabet Google requires for client-chosen ids, and a retried call keeps
/// its call id, so it finds the event its first attempt made.
pub fn event_id(call_id: &str) -> String {
    hex::encode(Sha256::digest(format!("warden:{call_id}").as_bytes()))
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

/// `{"dateTime", "timeZone"}` for Google; `date` cleared for patches of
/// all-day events.
fn event_time(instant: &DateTime<Tz>) -> Value {
    json!({ "dateTime": rfc3339(instant), "timeZone": instant.timezone().name(), "date": null })
}

/// Trimmed, non-empty, plausible e-mail addresses, without duplicates.
fn attendee_emails(list: &[String]) -> Result<Vec<String>, ToolError> {
    let mut emails: Vec<String> = Vec::with_capacity(list.len());
    for raw in list {
        let email = raw.trim();
        let plausible = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }) && !email.contains(char::is_whitespace);
        if !plausible {
            return Err(invalid(format!(
                "{email:?} is not an e-mail address; attendees must be e-mail addresses such \
                 as \"jane@example.com\""
            )));
        }
        if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            emails.push(email.to_owned());
        }
    }
    Ok(emails)
}

fn minutes_arg(field: &str, minutes: u32) -> Result<TimeDelta, ToolError> {
    if (1..=1440).contains(&minutes) {
        Ok(TimeDelta::minutes(minutes.into()))
    } else {
        Err(invalid(format!(
            "`{field}` must be from 1 to 1440 minutes; got {minutes}"
        )))
    }
}

fn ensure_order(start: &DateTime<Tz>, end: &DateTime<Tz>) -> Result<(), ToolError> {
    if end <= start {
        return Err(invalid(format!(
            "the end ({}) must be after the start ({})",
            rfc3339(end),
            rfc3339(start)
        )));
    }
    Ok(())
}

/// "a, b, c and 2 more".
fn spoken_list(items: &[String]) -> String {
    let shown = &items[..items.len().min(SPOKEN_ITEMS)];
    let mut text = match shown {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    if items.len() > shown.len() {
        text = format!("{}; and {} more", text, items.len() - shown.len());
    }
    text
}

/// An interval for a sentence: clock times only when the window is one day.
fn spoken_interval(tz: Tz, interval: &Interval, one_day: bool) -> String {
    let (start, end) = (
        interval.start.with_timezone(&tz),
        interval.end.with_timezone(&tz),
    );
    if one_day && start.date_naive() == end.date_naive() {
        format!(
            "{} to {}",
            time::spoken_clock(&start),
            time::spoken_clock(&end)
        )
    } else {
        spoken_range(&start, &end)
    }
}

fn interval_json(tz: Tz, interval: &Interval) -> Value {
    json!({
        "start": rfc3339(&interval.start.with_timezone(&tz)),
        "end": rfc3339(&interval.end.with_timezone(&tz)),
    })
}

/// `check_availability`: busy times in a window, and optionally the free
/// stretches long enough for a slot.
pub fn check_availability(
    settings: &Settings,
    calendar: &Calendar<'_>,
    args: CheckAvailabilityArgs,
) -> Result<Value, ToolError> {
    let tz = settings.tz;
    let start = parse_time(tz, "start", &args.start)?;
    let end = parse_time(tz, "end", &args.end)?;
    ensure_order(&start, &end)?;
    let slot = args
        .slot_minutes
        .map(|m| {
            if (5..=1440).contains(&m) {
                Ok(TimeDelta::minutes(m.into()))
            } else {
                Err(invalid(format!(
                    "`slot_minutes` must be from 5 to 1440; got {m}"
                )))
            }
        })
        .transpose()?;

    let request = ApiRequest::new(Method::POST, "/freeBusy".into()).body(json!({
        "timeMin": rfc3339(&start),
        "timeMax": rfc3339(&end),
        "timeZone": tz.name(),
        "items": [{ "id": calendar.id() }],
    }));
    let answer: FreeBusy = calendar.call(&request, &calendar.calendar_not_found())?;
    let entry = match answer.calendars.get(calendar.id()) {
        Some(entry) => entry,
        None if answer.calendars.len() == 1 => answer.calendars.values().next().unwrap(),
        None => return Err(ToolError::Upstream(TROUBLE.into())),
    };
    if let Some(reason) = entry.errors.iter().find_map(|e| e.reason.as_deref()) {
        warden_sdk::log::warn(format!("freeBusy reported `{reason}` for the calendar"));
        return Err(if reason == "notFound" {
            ToolError::NotFound(calendar.calendar_not_found())
        } else {
            ToolError::Upstream(TROUBLE.into())
        });
    }
    let busy = entry
        .busy
        .iter()
        .map(|period| {
            let at = |text: &str| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ToolError::Upstream(TROUBLE.into()))
            };
            Ok(Interval {
                start: at(&period.start)?,
                end: at(&period.end)?,
            })
        })
        .collect::<Result<Vec<_>, ToolError>>()?;

    let window = Interval {
        start: start.with_timezone(&Utc),
        end: end.with_timezone(&Utc),
    };
    let merged = availability::merge_busy(window, &busy);
    let one_day = start.date_naive() == end.date_naive();
    let window_text = spoken_window(&start, &end);
    let mut result = json!({
        "start": rfc3339(&start),
        "end": rfc3339(&end),
        "time_zone": tz.name(),
        "is_free": merged.is_empty(),
        "busy": merged.iter().map(|b| interval_json(tz, b)).collect::<Vec<_>>(),
    });
    let mut message = if merged.is_empty() {
        format!("The calendar is free the whole time {window_text}.")
    } else {
        let spans: Vec<String> = merged
            .iter()
            .map(|b| spoken_interval(tz, b, one_day))
            .collect();
        format!(
            "The calendar is busy {window_text}: {}.",
            spoken_list(&spans)
        )
    };
    if let Some(slot) = slot {
        let free = availability::free_slots(window, &busy, slot);
        let length = time::spoken_duration(slot);
        if free.is_empty() {
            message.push_str(&format!(" There is no free stretch of {length} or more."));
        } else if !merged.is_empty() {
            let spans: Vec<String> = free
                .iter()
                .map(|f| spoken_interval(tz, f, one_day))
                .collect();
            message.push_str(&format!(
                " Free for {length} or more: {}.",
                spoken_list(&spans)
            ));
        }
        result["free_slots"] = free
            .iter()
            .map(|f| {
                let mut slot = interval_json(tz, f);
                slot["minutes"] = json!(f.duration().num_minutes());
                slot
            })
            .collect();
    }
    result["message"] = json!(message);
    Ok(result)
}

/// `list_events`: events in a window, earliest first.
pub fn list_events(
    settings: &Settings,
    calendar: &Calendar<'_>,
    args: ListEventsArgs,
    now: DateTime<Utc>,
) -> Result<Value, ToolError> {
    let tz = settings.tz;
    let start = match &args.start {
        Some(text) => parse_time(tz, "start", text)?,
        None => now.with_timezone(&tz),
    };
    let end = match &args.end {
        Some(text) => parse_time(tz, "end", text)?,
        None => start + TimeDelta::days(7),
    };
    ensure_order(&start, &end)?;
    let max_results = args.max_results.unwrap_or(10);
    if !(1..=50).contains(&max_results) {
        return Err(invalid(format!(
            "`max_results` must be from 1 to 50; got {max_results}"
        )));
    }
    let mut request = ApiRequest::new(Method::GET, calendar.events_path())
        .query("singleEvents", "true")
        .query("orderBy", "startTime")
        .query("timeMin", rfc3339(&start))
        .query("timeMax", rfc3339(&end))
        .query("maxResults", max_results.to_string())
        .query("timeZone", tz.name());
    if let Some(query) = args
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        request = request.query("q", query);
    }
    let list: EventList = calendar.call(&request, &calendar.calendar_not_found())?;
    let events: Vec<&Event> = list
        .items
        .iter()
        .filter(|e| e.status.as_deref() != Some("cancelled"))
        .collect();
    let has_more = list.next_page_token.is_some();
    let window_text = spoken_window(&start, &end);
    let mut message = match events.len() {
        0 => format!("No events {window_text}."),
        1 => format!("1 event {window_text}: "),
        n => format!("{n} events {window_text}: "),
    };
    if !events.is_empty() {
        let spoken: Vec<String> = events.iter().map(|e| e.spoken(tz)).collect();
        message.push_str(&spoken_list(&spoken));
        message.push('.');
    }
    if has_more {
        message.push_str(" There are more; ask for a shorter time range to see them.");
    }
    Ok(json!({
        "start": rfc3339(&start),
        "end": rfc3339(&end),
        "time_zone": tz.name(),
        "count": events.len(),
        "has_more": has_more,
        "events": events.iter().map(|e| e.to_json(tz)).collect::<Vec<_>>(),
        "message": message,
    }))
}

/// `create_event`: books an event, once per call id.
pub fn create_event(
    settings: &Settings,
    calendar: &Calendar<'_>,
    call_id: &str,
    args: CreateEventArgs,
) -> Result<Value, ToolError> {
    let tz = settings.tz;
    let summary = args.summary.trim();
    if summary.is_empty() {
        return Err(invalid("`summary` must not be empty"));
    }
    let start = parse_time(tz, "start", &args.start)?;
    let end = match (&args.end, args.duration_minutes) {
        (Some(_), Some(_)) => {
            return Err(invalid("give either `end` or `duration_minutes`, not both"));
        }
        (Some(end), None) => parse_time(tz, "end", end)?,
        (None, Some(minutes)) => start + minutes_arg("duration_minutes", minutes)?,
        (None, None) => start + settings.default_duration,
    };
    ensure_order(&start, &end)?;
    let attendees = attendee_emails(args.attendees.as_deref().unwrap_or_default())?;

    let id = event_id(call_id);
    let mut body = json!({
        "id": id,
        "summary": summary,
        "start": { "dateTime": rfc3339(&start), "timeZone": tz.name() },
        "end": { "dateTime": rfc3339(&end), "timeZone": tz.name() },
    });
    if let Some(description) = args.description.as_deref().filter(|d| !d.trim().is_empty()) {
        body["description"] = json!(description);
    }
    if let Some(location) = args.location.as_deref().filter(|l| !l.trim().is_empty()) {
        body["location"] = json!(location.trim());
    }
    if !attendees.is_empty() {
        body["attendees"] = attendees.iter().map(|e| json!({ "email": e })).collect();
    }
    let mut request = ApiRequest::new(Method::POST, calendar.events_path()).body(body);
    if !attendees.is_empty() {
        request = request.query("sendUpdates", "all");
    }

    let response = calendar.send(&request)?;
    let (event, already_existed) = if response.status == 409 {
        // This call id booked before: a retry of the same LLM call.
        warden_sdk::log::info("the event already exists; returning it");
        (calendar.get_event(&id)?, true)
    } else {
        google::expect_success(&request, &response, &calendar.calendar_not_found())?;
        (google::parse::<Event>(&response.body)?, false)
    };

    let mut result = event.to_json(tz);
    result["already_existed"] = json!(already_existed);
    let mut message = if already_existed {
        format!(
            "This booking was already made by an earlier attempt of the same request: {}.",
            event.spoken(tz)
        )
    } else {
        format!("Booked {}.", event.spoken(tz))
    };
    if event.status.as_deref() == Some("cancelled") {
        message.push_str(" It has since been cancelled.");
    }
    let invited = event.attendee_emails();
    if !invited.is_empty() && !already_existed {
        let invited: Vec<String> = invited.iter().map(|e| e.to_string()).collect();
        message.push_str(&format!(" Invitations went to {}.", spoken_list(&invited)));
    }
    result["message"] = json!(message);
    Ok(result)
}

/// `update_event`: changes only the fields given.
pub fn update_event(
    settings: &Settings,
    calendar: &Calendar<'_>,
    args: UpdateEventArgs,
) -> Result<Value, ToolError> {
    let tz = settings.tz;
    let event_id = args.event_id.trim();
    if event_id.is_empty() {
        return Err(invalid("`event_id` must not be empty"));
    }
    if args.summary.is_none()
        && args.start.is_none()
        && args.end.is_none()
        && args.duration_minutes.is_none()
        && args.attendees.is_none()
        && args.description.is_none()
        && args.location.is_none()
    {
        return Err(invalid(
            "nothing to change: give at least one of summary, start, end, duration_minutes, \
             attendees, description or location",
        ));
    }
    if args.end.is_some() && args.duration_minutes.is_some() {
        return Err(invalid("give either `end` or `duration_minutes`, not both"));
    }
    let new_start = args
        .start
        .as_deref()
        .map(|s| parse_time(tz, "start", s))
        .transpose()?;
    let new_end = args
        .end
        .as_deref()
        .map(|s| parse_time(tz, "end", s))
        .transpose()?;
    let duration = args
        .duration_minutes
        .map(|m| minutes_arg("duration_minutes", m))
        .transpose()?;
    let attendees = args.attendees.as_deref().map(attendee_emails).transpose()?;

    // The current event is needed to keep a length, or attendees' answers.
    let needs_current = (new_start.is_some() && new_end.is_none())
        || (new_start.is_none() && duration.is_some())
        || attendees.is_some();
    let current = if needs_current {
        Some(calendar.get_event(event_id)?)
    } else {
        None
    };
    let current_span = || {
        let event = current.as_ref()?;
        event.span(tz)
    };
    let all_day = || {
        invalid(
            "that is an all-day event; give both `start` and `end` (or `duration_minutes`) to \
             give it times",
        )
    };
    let (start, end) = match (new_start, new_end, duration) {
        (Some(start), Some(end), _) => (Some(start), Some(end)),
        (Some(start), None, Some(duration)) => (Some(start), Some(start + duration)),
        (Some(start), None, None) => {
            let (old_start, old_end) = current_span().ok_or_else(all_day)?;
            (Some(start), Some(start + (old_end - old_start)))
        }
        (None, Some(end), _) => (None, Some(end)),
        (None, None, Some(duration)) => {
            let (old_start, _) = current_span().ok_or_else(all_day)?;
            (None, Some(old_start + duration))
        }
        (None, None, None) => (None, None),
    };
    if let (Some(start), Some(end)) = (&start, &end) {
        ensure_order(start, end)?;
    }

    let mut patch = json!({});
    if let Some(summary) = &args.summary {
        let summary = summary.trim();
        if summary.is_empty() {
            return Err(invalid("`summary` must not be empty"));
        }
        patch["summary"] = json!(summary);
    }
    if let Some(start) = &start {
        patch["start"] = event_time(start);
    }
    if let Some(end) = &end {
        patch["end"] = event_time(end);
    }
    if let Some(description) = &args.description {
        patch["description"] = json!(description);
    }
    if let Some(location) = &args.location {
        patch["location"] = json!(location.trim());
    }
    if let Some(emails) = &attendees {
        let existing = current.as_ref().map_or(&[][..], |e| &e.attendees[..]);
        patch["attendees"] = emails
            .iter()
            .map(|email| {
                existing
                    .iter()
                    .find(|a| {
                        a["email"]
                            .as_str()
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .cloned()
                    .unwrap_or_else(|| json!({ "email": email }))
            })
            .collect();
    }
    let request = ApiRequest::new(Method::PATCH, calendar.event_path(event_id))
        .query("sendUpdates", "all")
        .body(patch);
    let event: Event = calendar.call(&request, EVENT_NOT_FOUND)?;
    let mut result = event.to_json(tz);
    result["message"] = json!(format!("Updated: {}.", event.spoken(tz)));
    Ok(result)
}

/// `cancel_event`: deletes an event, notifying its guests.
pub fn cancel_event(calendar: &Calendar<'_>, args: CancelEventArgs) -> Result<Value, ToolError> {
    let event_id = args.event_id.trim();
    if event_id.is_empty() {
        return Err(invalid("`event_id` must not be empty"));
    }
    let request =
        ApiRequest::new(Method::DELETE, calendar.event_path(event_id)).query("sendUpdates", "all");
    let response = calendar.send(&request)?;
    google::expect_success(&request, &response, EVENT_NOT_FOUND)?;
    Ok(json!({
        "cancelled": true,
        "event_id": event_id,
        "message": "The event was cancelled; anyone invited is notified by Google.",
    }))
}

/// The `test` export: one cheap read proves the calendar and the grant work.
pub fn test(settings: &Settings, calendar: &Calendar<'_>) -> Result<Value, ToolError> {
    let request = ApiRequest::new(Method::GET, calendar.events_path()).query("maxResults", "1");
    let _: EventList = calendar.call(&request, &calendar.calendar_not_found())?;
    Ok(json!({
        "ok": true,
        "calendar_id": settings.calendar_id,
        "time_zone": settings.tz.name(),
    }))
}
