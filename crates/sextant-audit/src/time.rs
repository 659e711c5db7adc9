//! UTC timestamps for audit records: "now" as RFC 3339 with milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};
use time::macros::format_description;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch. A clock set before 1970 gives a negative value rather than
/// an error, because an audit record with an odd time is better than no audit record.
pub(crate) fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). An instant
/// outside years 1-9999 (a clock gone badly wrong) is written as the epoch rather than lost.
pub fn format_utc_millis(unix_millis: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
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
            (4_107_542_400_000 - 86_400_000, "2100-02-28T00:00:00.000Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_utc_millis(ms), want, "{ms}");
        }
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_millis() > 1_577_836_800_000);
    }
}
