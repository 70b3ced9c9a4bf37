//! Timestamps in every form the source's clients send (SPEC §2): `YYYY-MM-DD`,
//! then optionally ` ` or `T` and `HH:MM[:SS[.fraction]]`, then optionally `Z`,
//! `±HH:MM`, `±HHMM` or `±HH`. Naive values are UTC. The result is microseconds
//! since the Unix epoch, UTC (fractions beyond microseconds are truncated).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};

/// Parses one timestamp; `None` when it is not one of the accepted forms or not a
/// real calendar date/time.
pub fn parse_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let date = NaiveDate::from_ymd_opt(
        digits(b, 0, 4)? as i32,
        {
            expect(b, 4, b'-')?;
            digits(b, 5, 2)?
        },
        {
            expect(b, 7, b'-')?;
            digits(b, 8, 2)?
        },
    )?;
    let mut pos = 10;
    let mut time = NaiveTime::MIN;
    let mut offset_secs = 0i64;
    if pos < b.len() && (b[pos] == b' ' || b[pos] == b'T' || b[pos] == b't') {
        let hour = digits(b, pos + 1, 2)?;
        expect(b, pos + 3, b':')?;
        let minute = digits(b, pos + 4, 2)?;
        pos += 6;
        let mut second = 0;
        let mut micros = 0;
        if b.get(pos) == Some(&b':') {
            second = digits(b, pos + 1, 2)?;
            pos += 3;
            if matches!(b.get(pos), Some(b'.' | b',')) {
                let start = pos + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let kept = &b[start..end.min(start + 6)];
                micros =
                    kept.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')) * 10u32.pow(6 - kept.len() as u32);
                pos = end;
            }
        }
        time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
        match b.get(pos) {
            None => {}
            Some(b'Z' | b'z') => pos += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let hours = i64::from(digits(b, pos + 1, 2)?);
                pos += 3;
                let mut minutes = 0;
                if b.get(pos) == Some(&b':') {
                    minutes = i64::from(digits(b, pos + 1, 2)?);
                    pos += 3;
                } else if pos < b.len() {
                    minutes = i64::from(digits(b, pos, 2)?);
                    pos += 2;
                }
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let secs = hours * 3600 + minutes * 60;
                offset_secs = if sign == b'+' { secs } else { -secs };
            }
            Some(_) => return None,
        }
    }
    if pos != b.len() {
        return None;
    }
    let utc = NaiveDateTime::new(date, time).and_utc().timestamp_micros();
    Some(utc - offset_secs * 1_000_000)
}

/// RFC 3339 in UTC with a `Z`, fractions only when present (`pinpipe clean`'s output).
pub fn format_rfc3339(micros: i64) -> String {
    match Utc.timestamp_micros(micros).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => micros.to_string(),
    }
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    s.iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
}

fn expect(b: &[u8], at: usize, want: u8) -> Option<()> {
    (b.get(at) == Some(&want)).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_598_586_767_000_000; // 2020-08-28T03:52:47Z

    #[test]
    fn every_form_in_the_catalogue_is_the_same_instant() {
        for form in [
            "2020-08-28 03:52:47",
            "2020-08-28T03:52:47",
            "2020-08-28T03:52:47.000+0000",
            "2020-08-28T03:52:47Z",
            "2020-08-28T03:52:47+00:00",
            "2020-08-28 03:52:47.000000",
            "2020-08-28T05:52:47+02:00",
            "2020-08-28T01:52:47-0200",
            "2020-08-28T05:52:47+02",
        ] {
            assert_eq!(parse_micros(form), Some(T), "{form}");
        }
        assert_eq!(parse_micros("2018-01-31"), Some(1_517_356_800_000_000));
        assert_eq!(parse_micros("2020-08-28T03:52"), Some(T - 47_000_000));
    }

    #[test]
    fn fractions_keep_microseconds() {
        assert_eq!(parse_micros("2020-08-28 03:52:47.5"), Some(T + 500_000));
        assert_eq!(parse_micros("2020-08-28 03:52:47.123456789"), Some(T + 123_456));
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "2020",
            "2020-13-01",
            "2020-02-30",
            "2020-08-28 25:00:00",
            "2020-08-28 03:52:47 ",
            "2020-08-28X03:52:47",
            "28/08/2020",
            "2020-08-28T03:52:47.",
            "2020-08-28T03:52:47+2",
            "yesterday",
        ] {
            assert_eq!(parse_micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(format_rfc3339(T), "2020-08-28T03:52:47Z");
        assert_eq!(format_rfc3339(T + 500_000), "2020-08-28T03:52:47.500Z");
    }
}
