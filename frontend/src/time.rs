//! Times as the UI shows them, in the browser's time zone.
//!
//! The local calendar fields come from the browser (`Date`'s local getters,
//! which know the user's zone and its daylight-saving rules); the texts are
//! put together here. chrono's `strftime` formatting is deliberately not
//! used: it is a large part of the wasm for a handful of patterns.

use chrono::{DateTime, Utc};

use crate::i18n::{Lang, Strings};

const ENGLISH_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar day in the browser's zone, as days since 1970-01-01 (so the
/// day before is `day - 1`).
pub type Day = i64;

/// A moment's local calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Local {
    day: Day,
    hour: u32,
    minute: u32,
}

/// Now, from the browser's clock.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

fn local(at: DateTime<Utc>) -> Local {
    let date = js_sys::Date::new(&(at.timestamp_millis() as f64).into());
    Local {
        day: days_from_civil(
            i64::from(date.get_full_year()),
            date.get_month() + 1,
            date.get_date(),
        ),
        hour: date.get_hours(),
        minute: date.get_minutes(),
    }
}

/// The list's short time: "teraz", "5 min", "14:05" (today), "wczoraj",
/// "12.03" (this year), "12.03.2024".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>, t: &Strings) -> String {
    relative_at(local(at), local(now).day, (now - at).num_minutes(), t)
}

fn relative_at(at: Local, today: Day, minutes: i64, t: &Strings) -> String {
    if minutes < 1 {
        return t.time_now.to_owned();
    }
    if minutes < 60 {
        return Strings::fill(t.time_minutes, "n", &minutes.to_string());
    }
    if at.day == today {
        clock_of(at)
    } else if at.day == today - 1 {
        t.time_yesterday.to_owned()
    } else {
        date_text(
            at.day,
            civil_from_days(at.day).0 != civil_from_days(today).0,
            t,
        )
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
pub fn local_day(at: DateTime<Utc>) -> Day {
    local(at).day
}

/// A date separator: "Dzisiaj", "Wczoraj" or the date.
pub fn day_label(day: Day, now: DateTime<Utc>, t: &Strings) -> String {
    let today = local_day(now);
    if day == today {
        t.day_today.to_owned()
    } else if day == today - 1 {
        t.day_yesterday.to_owned()
    } else {
        date_text(day, true, t)
    }
}

/// "14:05", locally.
pub fn clock(at: DateTime<Utc>) -> String {
    clock_of(local(at))
}

/// The full local date and time, for `title` tooltips.
pub fn full(at: DateTime<Utc>, t: &Strings) -> String {
    let at = local(at);
    format!("{} {}", date_text(at.day, true, t), clock_of(at))
}

fn clock_of(at: Local) -> String {
    format!("{:02}:{:02}", at.hour, at.minute)
}

/// "12.03.2024" / "Mar 12, 2024"; without the year "12.03" / "Mar 12".
fn date_text(day: Day, with_year: bool, t: &Strings) -> String {
    let (year, month, date) = civil_from_days(day);
    match (t.lang, with_year) {
        (Lang::Pl, true) => format!("{date:02}.{month:02}.{year}"),
        (Lang::Pl, false) => format!("{date:02}.{month:02}"),
        (Lang::En, with_year) => {
            let name = ENGLISH_MONTHS[(month as usize - 1) % 12];
            if with_year {
                format!("{name} {date}, {year}")
            } else {
                format!("{name} {date}")
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number: (year, month 1–12, day 1–31).
fn civil_from_days(days: Day) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        assert_eq!(civil_from_days(days_from_civil(2025, 3, 12)), (2025, 3, 12));
        assert_eq!(
            civil_from_days(days_from_civil(1999, 12, 31) + 1),
            (2000, 1, 1)
        );
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn polish_and_english_relative_times() {
        let pl = Lang::Pl.strings();
        let en = Lang::En.strings();
        let today = days_from_civil(2025, 3, 12);
        let at = |day: Day, hour: u32| Local {
            day,
            hour,
            minute: 5,
        };
        assert_eq!(relative_at(at(today, 12), today, 0, pl), "teraz");
        assert_eq!(relative_at(at(today, 11), today, 5, pl), "5 min");
        assert_eq!(relative_at(at(today, 9), today, 120, pl), "09:05");
        assert_eq!(relative_at(at(today - 1, 9), today, 1_500, pl), "wczoraj");
        assert_eq!(relative_at(at(today - 3, 9), today, 5_000, pl), "09.03");
        assert_eq!(relative_at(at(today - 3, 9), today, 5_000, en), "Mar 9");
        let long_ago = days_from_civil(2024, 2, 6);
        assert_eq!(
            relative_at(at(long_ago, 9), today, 600_000, pl),
            "06.02.2024"
        );
        assert_eq!(
            relative_at(at(long_ago, 9), today, 600_000, en),
            "Feb 6, 2024"
        );
    }
}
