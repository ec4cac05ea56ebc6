//! How the pages show amounts, times and states, and how they read an amount a person typed.
use crate::domain::money::minor_unit_digits;

/// `amount` (minor units) in major units with the currency's own digits: `EUR 1,234.50`,
/// `JPY 1,500`, `KWD 1.250`.
pub fn money(amount: u64, currency: &str) -> String {
    let digits = minor_unit_digits(currency);
    let scale = 10u64.pow(digits);
    let (major, minor) = (amount / scale, amount % scale);
    let major = major.to_string();
    let mut grouped = String::with_capacity(major.len() + major.len() / 3);
    for (i, c) in major.chars().enumerate() {
        if i > 0 && (major.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if digits == 0 {
        format!("{currency} {grouped}")
    } else {
        format!("{currency} {grouped}.{minor:0width$}", width = digits as usize)
    }
}

/// What a person typed in major units (`12.5`, `12.50`, `1,200.00`) as minor units of
/// `currency`; `None` for anything else. A comma is only a thousands separator between groups of
/// three digits: `1,50` (a decimal comma) is refused, never read as 150.
pub fn parse_amount(input: &str, currency: &str) -> Option<u64> {
    let digits = minor_unit_digits(currency) as usize;
    let input = input.trim();
    let (major, minor) = input.split_once('.').unwrap_or((input, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let groups: Vec<&str> = major.split(',').collect();
    let grouped = groups.len() == 1 || (1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3);
    let major: String = groups.concat();
    if major.is_empty() && minor.is_empty()
        || !grouped
        || !all_digits(&major)
        || !all_digits(minor)
        || minor.len() > digits
    {
        return None;
    }
    let major: u64 = if major.is_empty() { 0 } else { major.parse().ok()? };
    let minor: u64 = if minor.is_empty() { 0 } else { format!("{minor:0<digits$}").parse().ok()? };
    major.checked_mul(10u64.pow(digits as u32))?.checked_add(minor).filter(|v| *v > 0)
}

/// `ms` since the epoch as `2026-12-03 13:05:12 UTC`.
pub fn time(ms: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// The start of `date` (`YYYY-MM-DD`, UTC) in ms since the epoch, `days_after` days later.
pub fn date_ms(date: &str, days_after: i64) -> Option<u64> {
    let date = date.trim();
    if date.len() != 10 || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (parts.next()?.parse().ok()?, parts.next()?.parse::<u8>().ok()?, parts.next()?.parse().ok()?);
    let day = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    let at = day.midnight().assume_utc() + time::Duration::days(days_after);
    u64::try_from(at.unix_timestamp()).ok()?.checked_mul(1000)
}

/// A state as a person reads it: `PROCESSING` is "Processing".
pub fn state(status: &str) -> String {
    let lower = status.to_ascii_lowercase().replace('_', " ");
    let mut chars = lower.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The CSS class of a state's badge.
pub fn state_class(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" => "badge ok",
        "DECLINED" | "FAILED" | "CANCELED" => "badge bad",
        "AUTHORIZED" => "badge held",
        _ => "badge busy",
    }
}

/// Whether a payment, refund or capture in `status` will not change any more.
pub fn is_final(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "DECLINED" | "FAILED" | "CANCELED")
}

/// An id from a URL that can be one of the API's (letters, digits, `-` and `_`): anything else is
/// not found without asking the API.
pub fn plausible_id(id: &str) -> bool {
    (1..=100).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_shown_with_the_currency_s_own_digits() {
        assert_eq!(money(123_450, "EUR"), "EUR 1,234.50");
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(1500, "JPY"), "JPY 1,500");
        assert_eq!(money(1250, "KWD"), "KWD 1.250");
        assert_eq!(money(100_000_000, "USD"), "USD 1,000,000.00");
    }

    #[test]
    fn typed_amounts_are_read_in_major_units() {
        assert_eq!(parse_amount("12.5", "EUR"), Some(1250));
        assert_eq!(parse_amount(" 1,200.05 ", "EUR"), Some(120_005));
        assert_eq!(parse_amount(".5", "EUR"), Some(50));
        assert_eq!(parse_amount("1500", "JPY"), Some(1500));
        assert_eq!(parse_amount("1.5", "JPY"), None, "JPY has no minor unit");
        assert_eq!(parse_amount("1.005", "EUR"), None);
        assert_eq!(parse_amount("1,50", "EUR"), None, "a decimal comma is refused, not read as 150");
        assert_eq!(parse_amount("1,234,567", "JPY"), Some(1_234_567));
        for bad in ["", "0", "-1", "1e3", "abc", "1.2.3", ".", "1 000", ",100", "1,0000", "12,34.5"] {
            assert_eq!(parse_amount(bad, "EUR"), None, "{bad}");
        }
        assert_eq!(parse_amount("99999999999999999999", "EUR"), None, "overflow");
    }

    #[test]
    fn times_dates_and_states() {
        assert_eq!(time(1_764_767_112_000), "2025-12-03 13:05:12 UTC");
        assert_eq!(date_ms("2025-12-03", 0), Some(1_764_720_000_000));
        assert_eq!(date_ms("2025-12-03", 1), Some(1_764_806_400_000));
        assert_eq!(date_ms("2025-02-30", 0), None);
        assert_eq!(date_ms("2025-1-3", 0), None, "only what a date field sends");
        assert_eq!(state("PENDING"), "Pending");
        assert!(plausible_id("evt_0b6f_3") && !plausible_id("../x") && !plausible_id(""));
    }
}
