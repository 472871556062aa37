//! Times as the UI shows them, in the browser's time zone.

use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};

use crate::i18n::Strings;

/// The list's short time: "teraz", "5 min", "14:05" (today), "wczoraj",
/// "12.03" (this year), "12.03.2024".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>, t: &Strings) -> String {
    relative_in(&Local, at, now, t)
}

fn relative_in<Tz: TimeZone>(
    zone: &Tz,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    t: &Strings,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let minutes = (now - at).num_minutes();
    if minutes < 1 {
        return t.time_now.to_owned();
    }
    if minutes < 60 {
        return Strings::fill(t.time_minutes, "n", &minutes.to_string());
    }
    let local = at.with_timezone(zone);
    let today = now.with_timezone(zone).date_naive();
    let day = local.date_naive();
    if day == today {
        local.format("%H:%M").to_string()
    } else if today.pred_opt() == Some(day) {
        t.time_yesterday.to_owned()
    } else if day.format("%Y").to_string() == today.format("%Y").to_string() {
        local.format(t.short_date_format).to_string()
    } else {
        local.format(t.date_format).to_string()
    }
}

/// How long ago someone was last online: "przed chwilą", "5 min temu",
/// "3 godz. temu", then the list's short date ("wczoraj", "12.03").
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>, t: &Strings) -> String {
    let minutes = (now - at).num_minutes();
    if minutes < 1 {
        t.just_now.to_owned()
    } else if minutes < 60 {
        Strings::fill(t.minutes_ago, "n", &minutes.to_string())
    } else if minutes < 24 * 60 {
        Strings::fill(t.hours_ago, "n", &(minutes / 60).to_string())
    } else {
        relative(at, now, t)
    }
}

/// The calendar day of a moment, locally (for date separators).
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Local).date_naive()
}

/// A date separator: "Dzisiaj", "Wczoraj" or the date.
pub fn day_label(day: NaiveDate, now: DateTime<Utc>, t: &Strings) -> String {
    let today = local_day(now);
    if day == today {
        t.day_today.to_owned()
    } else if today.pred_opt() == Some(day) {
        t.day_yesterday.to_owned()
    } else {
        day.format(t.date_format).to_string()
    }
}

/// "14:05", locally.
pub fn clock(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%H:%M").to_string()
}

/// The full local date and time, for `title` tooltips.
pub fn full(at: DateTime<Utc>, t: &Strings) -> String {
    let local = at.with_timezone(&Local);
    format!("{} {}", local.format(t.date_format), local.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, FixedOffset};

    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn polish_relative_times() {
        let t = Lang::Pl.strings();
        let zone = FixedOffset::east_opt(3600).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 3, 12, 12, 0, 0).unwrap();
        let rel = |d: Duration| relative_in(&zone, now - d, now, t);
        assert_eq!(rel(Duration::seconds(20)), "teraz");
        assert_eq!(rel(Duration::minutes(5)), "5 min");
        assert_eq!(rel(Duration::hours(2)), "11:00");
        assert_eq!(rel(Duration::hours(24)), "wczoraj");
        assert_eq!(rel(Duration::days(3)), "09.03");
        assert_eq!(rel(Duration::days(400)), "06.02.2024");
        assert_eq!(ago(now - Duration::seconds(10), now, t), "przed chwilą");
        assert_eq!(ago(now - Duration::minutes(5), now, t), "5 min temu");
        assert_eq!(ago(now - Duration::minutes(185), now, t), "3 godz. temu");
    }
}
