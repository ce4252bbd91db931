//! Dates, times, numbers and shares as each language writes them.
//!
//! Vietnamese: `05/03/2024 14:05`, `1.234`, `12,5`, `85,3%`. English:
//! `5 Mar 2024 14:05`, `1,234`, `12.5`, `85.3%`. Times are shown in the
//! policy's time zone (Asia/Ho_Chi_Minh by default), the one deadlines are
//! counted in. Month names come from the catalogue.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::web::i18n::Lang;

/// A date.
pub fn date(lang: Lang, date: NaiveDate) -> String {
    match lang {
        Lang::Vi => format!("{:02}/{:02}/{}", date.day(), date.month(), date.year()),
        Lang::En => format!(
            "{} {} {}",
            date.day(),
            month_short(lang, date.month()),
            date.year()
        ),
    }
}

/// A moment, in `tz`.
pub fn datetime(lang: Lang, tz: Tz, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} {:02}:{:02}",
        date(lang, local.date_naive()),
        local.hour(),
        local.minute()
    )
}

/// The value an `<input type="datetime-local">` takes for a moment in `tz`.
pub fn datetime_input(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// A month's short name from the catalogue (`month.3`).
pub fn month_short(lang: Lang, month: u32) -> String {
    lang.catalog().get(&format!("month.{month}")).to_owned()
}

/// A month and year (`T3/2024`, `Mar 2024`).
pub fn month_year(lang: Lang, year: i32, month: u32) -> String {
    match lang {
        Lang::Vi => format!("{}/{year}", month_short(lang, month)),
        Lang::En => format!("{} {year}", month_short(lang, month)),
    }
}

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::Vi => ('.', ','),
        Lang::En => (',', '.'),
    }
}

/// A whole number with thousands grouped.
pub fn number(lang: Lang, n: u64) -> String {
    let (group, _) = separators(lang);
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(group);
        }
        out.push(digit);
    }
    out
}

/// A number with one decimal (`12,5`; `12.5`).
pub fn decimal(lang: Lang, x: f64) -> String {
    let (_, point) = separators(lang);
    let tenths = (x * 10.0).round();
    let sign = if tenths < 0.0 { "-" } else { "" };
    let tenths = tenths.abs() as u64;
    format!("{sign}{}{point}{}", number(lang, tenths / 10), tenths % 10)
}

/// `part / whole` as a percentage with one decimal; a dash when `whole` is 0.
pub fn percent(lang: Lang, part: u64, whole: u64) -> String {
    match share(part, whole) {
        Some(share) => format!("{}%", decimal(lang, share * 100.0)),
        None => "—".to_owned(),
    }
}

/// `part / whole`, if `whole` is not 0.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A duration in hours, as hours under two days and as days from then on.
pub fn hours(lang: Lang, hours: Option<f64>) -> String {
    let catalog = lang.catalog();
    match hours {
        None => "—".to_owned(),
        Some(h) if h < 48.0 => catalog.fill("unit.hours", &[("n", &decimal(lang, h))]),
        Some(h) => catalog.fill("unit.days", &[("n", &decimal(lang, h / 24.0))]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn numbers_group_and_point_as_each_language_writes_them() {
        for (n, vi, en) in [
            (0, "0", "0"),
            (999, "999", "999"),
            (1_000, "1.000", "1,000"),
            (1_234_567, "1.234.567", "1,234,567"),
        ] {
            assert_eq!(number(Lang::Vi, n), vi);
            assert_eq!(number(Lang::En, n), en);
        }
        assert_eq!(decimal(Lang::Vi, 1234.56), "1.234,6");
        assert_eq!(decimal(Lang::En, 1234.56), "1,234.6");
        assert_eq!(decimal(Lang::Vi, 0.04), "0,0");
        assert_eq!(percent(Lang::Vi, 853, 1000), "85,3%");
        assert_eq!(percent(Lang::En, 1, 3), "33.3%");
        assert_eq!(percent(Lang::Vi, 0, 0), "—");
    }

    #[test]
    fn dates_and_times_are_local_to_the_policy_time_zone() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        // 17:30 UTC on 4 March is 00:30 on 5 March in Vietnam (UTC+7).
        let at = Utc.with_ymd_and_hms(2024, 3, 4, 17, 30, 0).unwrap();
        assert_eq!(datetime(Lang::Vi, tz, at), "05/03/2024 00:30");
        assert_eq!(datetime(Lang::En, tz, at), "5 Mar 2024 00:30");
        assert_eq!(datetime_input(tz, at), "2024-03-05T00:30");
        assert_eq!(month_year(Lang::Vi, 2024, 11), "T11/2024");
        assert_eq!(month_year(Lang::En, 2024, 11), "Nov 2024");
    }

    #[test]
    fn durations_switch_to_days_from_two_days() {
        assert_eq!(hours(Lang::Vi, Some(5.25)), "5,3 giờ");
        assert_eq!(hours(Lang::En, Some(72.0)), "3.0 days");
        assert_eq!(hours(Lang::En, None), "—");
    }
}
