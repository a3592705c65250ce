//! Dates and times as a council document writes them: "8 december 2026", "19:30".
//! Pure: the instants come in as milliseconds since the Unix epoch.
//!
//! Times are shown in Dutch time (Europe/Amsterdam: CET, and CEST from the last Sunday
//! of March to the last Sunday of October, both switches at 01:00 UTC, the rule the EU
//! has kept since 1996). The product is for Dutch councils, and a report written on a
//! server set to UTC must still say when the meeting began in the room.

use crate::wire::protocol::Lang;

/// A moment as it reads on a Dutch clock and calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Hours ahead of UTC: 1 in winter, 2 in summer.
    pub offset: i8,
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day counted from 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// The day (from 1970-01-01) of the last Sunday of `month` in `year`.
fn last_sunday(year: i64, month: u32) -> i64 {
    let last = days_from_civil(year, month, 31);
    // 1970-01-01 was a Thursday: day 3 is the first Sunday.
    last - (last - 3).rem_euclid(7)
}

/// `ms` since the epoch on a Dutch clock.
pub fn local(ms: u64) -> Local {
    let secs = (ms / 1000) as i64;
    let (year, _, _) = civil_from_days(secs.div_euclid(86_400));
    let summer_from = last_sunday(year, 3) * 86_400 + 3600;
    let summer_until = last_sunday(year, 10) * 86_400 + 3600;
    let offset: i8 = if (summer_from..summer_until).contains(&secs) {
        2
    } else {
        1
    };
    let secs = secs + i64::from(offset) * 3600;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    Local {
        year,
        month,
        day,
        hour: (of_day / 3600) as u32,
        minute: (of_day % 3600 / 60) as u32,
        second: (of_day % 60) as u32,
        offset,
    }
}

/// The month's name as a date writes it (Dutch months take no capital).
fn month_name(month: u32, lang: Lang) -> &'static str {
    const NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let names = if lang == Lang::Nl { NL } else { EN };
    names[(month.clamp(1, 12) - 1) as usize]
}

/// A date written out: "8 december 2026", "8 December 2026".
fn written(year: i64, month: u32, day: u32, lang: Lang) -> String {
    format!("{day} {} {year}", month_name(month, lang))
}

/// A meeting's date as the report writes it: an ISO date (`2026-12-08`, what the
/// console's date field gives) written out; anything else (a deck's `date: 12 maart
/// 2025`) as it was written.
pub fn written_date(date: &str, lang: Lang) -> String {
    let parts: Vec<&str> = date.trim().split('-').collect();
    if let [y, m, d] = parts[..] {
        if let (4, 2, 2, Ok(year), Ok(month), Ok(day)) = (
            y.len(),
            m.len(),
            d.len(),
            y.parse::<i64>(),
            m.parse::<u32>(),
            d.parse::<u32>(),
        ) {
            if (1..=12).contains(&month) && (1..=31).contains(&day) {
                return written(year, month, day, lang);
            }
        }
    }
    date.to_owned()
}

/// The Dutch calendar date of an instant, written out.
pub fn written_day(ms: u64, lang: Lang) -> String {
    let t = local(ms);
    written(t.year, t.month, t.day, lang)
}

/// The time of an instant on a Dutch clock: "19:30".
pub fn clock(ms: u64) -> String {
    let t = local(ms);
    format!("{:02}:{:02}", t.hour, t.minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winter_and_summer_time_switch_on_the_last_sundays_at_one_utc() {
        // 2026-03-29 00:59:59 UTC is still winter time, 01:00 is summer time.
        let switch = 1_774_746_000_000u64;
        assert_eq!(clock(switch - 1000), "01:59");
        assert_eq!(clock(switch), "03:00");
        // 2026-10-25 01:00 UTC: back to 02:00 local.
        let back = 1_792_890_000_000u64;
        assert_eq!(clock(back - 1000), "02:59");
        assert_eq!(clock(back), "02:00");
        // 2026-12-08 18:30 UTC is 19:30 in The Hague.
        let evening = 1_796_754_600_000u64;
        assert_eq!(clock(evening), "19:30");
        assert_eq!(written_day(evening, Lang::Nl), "8 december 2026");
    }

    #[test]
    fn an_iso_date_is_written_out_and_any_other_stays() {
        assert_eq!(written_date("2026-12-08", Lang::Nl), "8 december 2026");
        assert_eq!(written_date("2026-12-08", Lang::En), "8 December 2026");
        assert_eq!(written_date("12 maart 2025", Lang::Nl), "12 maart 2025");
        assert_eq!(written_date("2026-13-08", Lang::Nl), "2026-13-08");
    }
}
