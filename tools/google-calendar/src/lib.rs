//! `google_calendar`: lets a voice agent check availability on a Google
//! Calendar and book, move and cancel events during a call.
//!
//! The host holds the OAuth2 grant: it adds the access token to requests for
//! `www.googleapis.com`, refreshes it when it expires, and the tool never
//! sees it. The calendar logic lives in [`calendar`], Google's API and
//! errors in [`google`], times in [`time`] and free/busy arithmetic in
//! [`availability`]; this file declares the tool.

pub mod availability;
pub mod calendar;
pub mod config;
pub mod google;
pub mod time;

use chrono::{SubsecRound, Utc};
use warden_sdk::prelude::*;

use calendar::{
    CancelEventArgs, CheckAvailabilityArgs, CreateEventArgs, ListEventsArgs, UpdateEventArgs,
};
use config::{Config, Settings};
use google::{Calendar, Http};

/// Runs `f` against the configured calendar over `wasi:http`.
fn with_calendar<R>(
    ctx: &Context<Config>,
    f: impl FnOnce(&Settings, &Calendar<'_>) -> Result<R, ToolError>,
) -> Result<R, ToolError> {
    let settings = Settings::from_config(&ctx.config)?;
    let transport = Http {
        api_base: &settings.api_base,
    };
    let calendar = Calendar::new(&transport, &settings.calendar_id);
    f(&settings, &calendar)
}

/// The tool; its configuration is [`Config`].
pub struct GoogleCalendar;

/// The business's Google Calendar. Use it to check when there is free time,
/// to look up existing appointments, and to book, move or cancel them while
/// talking to a caller. Times you pass may be local times in the calendar's
/// time zone without an offset (e.g. "2026-03-09T14:30") or RFC 3339 with an
/// offset (e.g. "2026-03-09T14:30:00-04:00"). Results give times as RFC 3339
/// in the calendar's time zone, plus a `message` you can read out to the
/// caller. Daylight-saving changes are handled; never adjust times yourself.
/// Confirm the details with the caller before booking, moving or cancelling.
#[tool(
    name = "google_calendar",
    config = Config,
    allowed_host = "https://www.googleapis.com",
    credential(
        secret = "access_token",
        header = "authorization",
        format = "Bearer {}",
        hosts = ["https://www.googleapis.com"]
    ),
    oauth2(
        authorize_url = "https://accounts.google.com/o/oauth2/v2/auth",
        token_url = "https://oauth2.googleapis.com/token",
        scopes = ["https://www.googleapis.com/auth/calendar"]
    )
)]
impl GoogleCalendar {
    /// Checks whether the calendar is free between `start` and `end`, e.g.
    /// before offering or booking a time. Returns `is_free` (nothing booked
    /// in the whole window), `busy` (the booked stretches, overlapping ones
    /// merged, as `{start, end}`), and with `slot_minutes` also `free_slots`:
    /// every free stretch of at least that many minutes, each as one
    /// `{start, end, minutes}` from where the free time begins to where it
    /// ends (a 2-hour gap is one entry, not four 30-minute ones; any start
    /// time inside it that leaves room for the slot works). Does not know
    /// opening hours: check those separately if the business has them.
    #[warden(read_only)]
    fn check_availability(
        ctx: &Context<Config>,
        args: CheckAvailabilityArgs,
    ) -> Result<Value, ToolError> {
        with_calendar(ctx, |settings, cal| {
            calendar::check_availability(settings, cal, args)
        })
    }

    /// Lists the events between `start` and `end` (default: the next 7
    /// days), earliest first, optionally only those matching `query` (e.g.
    /// the caller's name, to find their appointment). Each event has `id`
    /// (needed to move or cancel it), `summary` (its title), `start`, `end`,
    /// `all_day` (then `start` and `end` are dates, `end` exclusive),
    /// `status`, and when set `location` and `attendees` (`email`,
    /// `response`). `has_more` means more events matched than were returned.
    #[warden(read_only)]
    fn list_events(ctx: &Context<Config>, args: ListEventsArgs) -> Result<Value, ToolError> {
        with_calendar(ctx, |settings, cal| {
            calendar::list_events(settings, cal, args, Utc::now().trunc_subsecs(0))
        })
    }

    /// Books an event from `start` to `end` (or for `duration_minutes`, or
    /// for the configured default length). Check availability first: this
    /// does not refuse overlapping bookings. Invitees in `attendees` get an
    /// e-mail invitation. Safe to retry: repeating the same call returns the
    /// event already booked, with `already_existed: true`, instead of
    /// booking twice. Returns the event (`id`, `summary`, `start`, `end`,
    /// `status`, …) and a `message` confirming it.
    #[warden(idempotent)]
    fn create_event(ctx: &Context<Config>, args: CreateEventArgs) -> Result<Value, ToolError> {
        with_calendar(ctx, |settings, cal| {
            calendar::create_event(settings, cal, &ctx.call_id, args)
        })
    }

    /// Changes an existing event: only the fields given change. Moving
    /// `start` without `end` or `duration_minutes` keeps the event's length.
    /// `attendees` replaces the whole guest list. Guests are notified of the
    /// change. Returns the updated event and a `message` describing it.
    #[warden(idempotent, destructive)]
    fn update_event(ctx: &Context<Config>, args: UpdateEventArgs) -> Result<Value, ToolError> {
        with_calendar(ctx, |settings, cal| {
            calendar::update_event(settings, cal, args)
        })
    }

    /// Cancels (deletes) an event by its `id`; guests are notified. Returns
    /// `{"cancelled": true, "event_id"}`. An event that does not exist or was
    /// already cancelled gives a `not_found` error.
    #[warden(destructive)]
    fn cancel_event(ctx: &Context<Config>, args: CancelEventArgs) -> Result<Value, ToolError> {
        with_calendar(ctx, |_, cal| calendar::cancel_event(cal, args))
    }

    /// Reads one event to prove the calendar and the Google grant work.
    fn test(ctx: &Context<Config>) -> Result<Value, ToolError> {
        with_calendar(ctx, calendar::test)
    }
}

#[cfg(test)]
mod tests;
