//! Busy and free time within a window.

use chrono::{DateTime, TimeDelta, Utc};

/// A half-open stretch of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }
}

/// `busy` clipped to the window `[start, end)`, sorted, with overlapping and
/// touching intervals merged and empty ones dropped.
pub fn merge_busy(window: Interval, busy: &[Interval]) -> Vec<Interval> {
    let mut clipped: Vec<Interval> = busy
        .iter()
        .map(|b| Interval {
            start: b.start.max(window.start),
            end: b.end.min(window.end),
        })
        .filter(|b| b.start < b.end)
        .collect();
    clipped.sort_by_key(|b| b.start);
    let mut merged: Vec<Interval> = Vec::with_capacity(clipped.len());
    for b in clipped {
        match merged.last_mut() {
            Some(last) if b.start <= last.end => last.end = last.end.max(b.end),
            _ => merged.push(b),
        }
    }
    merged
}

/// The free stretches of the window at least `min_len` long: each maximal
/// gap between merged busy intervals (and the window's edges), whole, not
/// cut into slot-sized pieces.
pub fn free_slots(window: Interval, busy: &[Interval], min_len: TimeDelta) -> Vec<Interval> {
    let mut free = Vec::new();
    let mut cursor = window.start;
    for b in merge_busy(window, busy) {
        if b.start > cursor {
            free.push(Interval {
                start: cursor,
                end: b.start,
            });
        }
        cursor = cursor.max(b.end);
    }
    if cursor < window.end {
        free.push(Interval {
            start: cursor,
            end: window.end,
        });
    }
    free.retain(|f| f.duration() >= min_len);
    free
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-09T{hhmm}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn iv(start: &str, end: &str) -> Interval {
        Interval {
            start: at(start),
            end: at(end),
        }
    }

    #[test]
    fn merges_overlapping_and_touching_busy_time() {
        let window = iv("09:00", "17:00");
        let busy = [
            iv("13:00", "14:00"),
            iv("08:00", "09:30"), // starts before the window
            iv("09:15", "10:00"), // overlaps the previous
            iv("10:00", "10:30"), // touches it
            iv("16:30", "18:00"), // ends after the window
            iv("18:00", "19:00"), // outside
            iv("12:00", "12:00"), // empty
            iv("13:15", "13:45"), // inside another
        ];
        assert_eq!(
            merge_busy(window, &busy),
            [
                iv("09:00", "10:30"),
                iv("13:00", "14:00"),
                iv("16:30", "17:00")
            ]
        );
    }

    #[test]
    fn free_slots_are_the_long_enough_gaps() {
        let window = iv("09:00", "17:00");
        let busy = [
            iv("09:00", "10:30"),
            iv("11:00", "12:00"),
            iv("13:00", "14:00"),
            iv("14:20", "16:30"),
        ];
        let minutes = TimeDelta::minutes;
        assert_eq!(
            free_slots(window, &busy, minutes(30)),
            [
                iv("10:30", "11:00"),
                iv("12:00", "13:00"),
                iv("16:30", "17:00")
            ]
        );
        assert_eq!(
            free_slots(window, &busy, minutes(45)),
            [iv("12:00", "13:00")]
        );
        assert_eq!(
            free_slots(window, &busy, minutes(15)),
            [
                iv("10:30", "11:00"),
                iv("12:00", "13:00"),
                iv("14:00", "14:20"),
                iv("16:30", "17:00")
            ]
        );
        assert_eq!(free_slots(window, &busy, minutes(61)), []);
        // Nothing busy: the whole window; all busy: nothing.
        assert_eq!(free_slots(window, &[], minutes(30)), [window]);
        assert_eq!(free_slots(window, &[iv("08:00", "18:00")], minutes(5)), []);
    }
}
