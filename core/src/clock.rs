//! Wall-clock instants as the cores see them: read once at the edge, passed in as `now`.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time. Only the HTTP edge and background tasks call this; cores take `now`.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// A time in RFC 3339 (`2014-01-01T00:00:00.000Z`, any offset), to the millisecond;
    /// `None` when the text is not one or it is out of range.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }

    /// Okta's wire format: `2015-11-03T10:15:57.000Z`.
    pub fn iso8601(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        match time::OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                ms
            ),
            Err(_) => "9999-12-31T23:59:59.999Z".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_okta() {
        assert_eq!(
            Timestamp::from_millis(1_446_545_757_000).iso8601(),
            "2015-11-03T10:15:57.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_446_545_757_042).iso8601(),
            "2015-11-03T10:15:57.042Z"
        );
    }

    #[test]
    fn plus_adds_duration() {
        let t = Timestamp::from_millis(1000).plus(Duration::from_secs(300));
        assert_eq!(t.millis(), 301_000);
    }
}
