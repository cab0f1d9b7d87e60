//! Wall-clock time as the protocol carries it.

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH-MM` in UTC for a Unix time in seconds (the minute stamp some agents put in file
/// names).
pub fn utc_minute_stamp(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let seconds_of_day = unix_seconds % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}-{:02}", seconds_of_day / 3600, seconds_of_day % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::utc_minute_stamp;

    #[test]
    fn minute_stamps_match_the_calendar() {
        assert_eq!(utc_minute_stamp(0), "1970-01-01T00-00");
        assert_eq!(utc_minute_stamp(951_782_400 + 3_661), "2000-02-29T01-01");
        assert_eq!(utc_minute_stamp(1_795_237_245), "2026-11-21T05-00");
    }
}
