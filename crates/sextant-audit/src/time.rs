//! UTC timestamps for audit records, written by hand: the workspace carries no date crate and the
//! log only ever needs "now" as RFC 3339 with milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch. A clock set before 1970 gives a negative value rather than
/// an error, because an audit record with an odd time is better than no audit record.
pub(crate) fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_utc_millis(unix_millis: i64) -> String {
    // Euclidean division keeps the time of day in range for instants before 1970.
    let days = unix_millis.div_euclid(MILLIS_PER_DAY);
    let ms_of_day = unix_millis.rem_euclid(MILLIS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`: shifting the year to start on 1 March puts the leap day
/// last, so every month but February has a fixed place and the 400-year era repeats exactly.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year, [0, 365]
    let mp = (5 * doy + 2) / 153; // March-based month, [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Both are small and positive by construction (d in 1..=31, m in 1..=12).
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_epoch_values() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_700_000_000_000, "2023-11-14T22:13:20.000Z"),
            (1_798_034_587_123, "2026-12-23T14:03:07.123Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
            // 2100 is not a leap year: the day after 28 February is 1 March.
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (
                4_107_542_400_000 - MILLIS_PER_DAY,
                "2100-02-28T00:00:00.000Z",
            ),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_utc_millis(ms), want, "{ms}");
        }
    }

    #[test]
    fn every_day_round_trips_through_a_simple_calendar() {
        // Walk day by day from 1900 to 2200 with a naive calendar and compare.
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mut days = -25_567; // 1900-01-01
        for y in 1900..2200 {
            for m in 1..=12u32 {
                let len = match m {
                    2 if leap(y) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for d in 1..=len {
                    assert_eq!(civil_from_days(days), (y, m, d));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_millis() > 1_577_836_800_000);
    }
}
