//! A fast reader for the records as they nearly always arrive: one flat JSON object
//! whose values are strings without escapes, numbers, `true`, `false` or `null`.
//!
//! It fills the same raw structs serde fills ([`crate::record::raw`]) with the same
//! values, and gives up (`None`) on anything else — an escape, a nested value, a
//! repeated key, a syntax error — so serde then reads the record, and its errors stay
//! the quarantine reasons. Why: serde_json read each string byte by byte and went
//! through a visitor per field, ~15% of the daily job's CPU (BENCHMARKS "analytics");
//! here a string's end (a quote, or a backslash or control byte that sends the record
//! to serde) is found eight bytes at a time.

use std::borrow::Cow;

use crate::record::raw::{Field, RawGeo, RawPin, RawUser, Scalar};

/// A raw record whose fields the flat reader can fill: `slot` names the field a key
/// fills (aliases included), as serde's derive would.
pub trait FlatFields<'a>: Default {
    fn slot(&mut self, key: &str) -> Option<&mut Field<'a>>;
}

// Each raw shape's key → field map: serde's `alias`es, written out (here, not beside
// the shapes, so that raw.rs does not depend on this file). A key missing here would
// leave its field empty where serde fills it: the sample and generated-record tests
// below compare every field with serde's and fail on such a drift.
impl<'a> FlatFields<'a> for RawPin<'a> {
    fn slot(&mut self, key: &str) -> Option<&mut Field<'a>> {
        Some(match key {
            "index" | "ind" => &mut self.index,
            "unique_id" => &mut self.unique_id,
            "title" => &mut self.title,
            "description" => &mut self.description,
            "poster_name" => &mut self.poster_name,
            "follower_count" => &mut self.follower_count,
            "tag_list" => &mut self.tag_list,
            "is_image_or_video" => &mut self.is_image_or_video,
            "image_src" => &mut self.image_src,
            "save_location" => &mut self.save_location,
            "category" => &mut self.category,
            _ => return None,
        })
    }
}

impl<'a> FlatFields<'a> for RawGeo<'a> {
    fn slot(&mut self, key: &str) -> Option<&mut Field<'a>> {
        Some(match key {
            "ind" | "index" => &mut self.ind,
            "timestamp" => &mut self.timestamp,
            "latitude" => &mut self.latitude,
            "longitude" => &mut self.longitude,
            "country" => &mut self.country,
            _ => return None,
        })
    }
}

impl<'a> FlatFields<'a> for RawUser<'a> {
    fn slot(&mut self, key: &str) -> Option<&mut Field<'a>> {
        Some(match key {
            "ind" | "index" => &mut self.ind,
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "age" => &mut self.age,
            "date_joined" => &mut self.date_joined,
            _ => return None,
        })
    }
}

/// Reads `text` (a whole record) into `R`, or `None` when it is not a flat object of
/// plain values (serde decides then).
pub fn read<'a, R: FlatFields<'a>>(text: &'a str) -> Option<R> {
    let mut reader = Reader { text, bytes: text.as_bytes(), at: 0 };
    let mut record = R::default();
    reader.skip_space();
    reader.expect(b'{')?;
    reader.skip_space();
    if reader.peek()? == b'}' {
        reader.at += 1;
    } else {
        loop {
            reader.expect(b'"')?;
            let key = reader.string()?;
            reader.skip_space();
            reader.expect(b':')?;
            reader.skip_space();
            let value = reader.value()?;
            if let Some(slot) = record.slot(key) {
                if slot.is_some() {
                    // serde calls a repeated key an error: let it say so.
                    return None;
                }
                *slot = Some(value);
            }
            reader.skip_space();
            match reader.next()? {
                b',' => reader.skip_space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    reader.skip_space();
    (reader.at == reader.bytes.len()).then_some(record)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// JSON's white space: space, tab, line feed, carriage return.
    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string's text after its opening quote, up to its closing one; `None` when it
    /// holds an escape or a control byte (serde decodes or refuses those).
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at;
        let end = start + special_byte(&self.bytes[start..])?;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Both ends are ASCII quotes in valid UTF-8: char boundaries.
        self.text.get(start..end)
    }

    fn value(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                Some(Scalar::Str(Cow::Borrowed(self.string()?)))
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true", Scalar::Bool(true)),
            b'f' => self.literal("false", Scalar::Bool(false)),
            b'n' => self.literal("null", Scalar::Null),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Option<Scalar<'a>> {
        self.bytes[self.at..].starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            value
        })
    }

    /// A plain non-negative integer of up to 18 digits is read here; any other number
    /// (sign, fraction, exponent, more digits) by serde_json alone, so it reads as
    /// serde reads it in a record.
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.at += 1;
        }
        let token = &self.bytes[start..self.at];
        let plain = token.len() <= 18 && token.iter().all(u8::is_ascii_digit) && (token[0] != b'0' || token.len() == 1);
        if plain {
            return Some(Scalar::Int(token.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))));
        }
        serde_json::from_slice(token).ok()
    }
}

/// The position of the first byte that ends a plain string: a quote, a backslash or
/// a control byte (below 0x20, which JSON forbids raw), eight bytes at a time (SWAR:
/// a byte's high bit is set where it matches; the lowest set bit is exact).
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word;
    let mut words = bytes.chunks_exact(8);
    for (index, chunk) in words.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let found = (quote | backslash | control) & HIGHS;
        if found != 0 {
            return Some(index * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let rest = words.remainder();
    let tail = bytes.len() - rest.len();
    rest.iter().position(|b| matches!(b, b'"' | b'\\' | 0..0x20)).map(|p| tail + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat reader either gives up or agrees with serde, field by field.
    fn agrees<'a, R: FlatFields<'a> + serde::Deserialize<'a> + std::fmt::Debug>(text: &'a str) -> Option<R> {
        let fast = read::<R>(text);
        if let Some(fast) = &fast {
            let slow: R = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: serde refused ({e})"));
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
        }
        fast
    }

    #[test]
    fn plain_records_read_as_serde_reads_them() {
        let pin = r#" {"index":7,"unique_id":"u","title":"  a title ","description":"d","poster_name":null,"follower_count":"7k","tag_list":"x,y","is_image_or_video":"image","image_src":"s","downloaded":1,"save_location":"Local save in /data/art","category":"art"} "#;
        let read: RawPin = agrees(pin).expect("a plain record is read");
        assert_eq!(read.index, Some(Scalar::Int(7)));
        assert_eq!(read.poster_name, Some(Scalar::Null));
        assert_eq!(read.title, Some(Scalar::Str(Cow::Borrowed("  a title "))));
        let geo =
            r#"{"ind": 1, "timestamp":"2020-01-01 00:00:00", "latitude": -12.5, "longitude": 1e3, "country": "Chad"}"#;
        let read: RawGeo = agrees(geo).expect("a plain record is read");
        assert_eq!(read.latitude, Some(Scalar::Float(-12.5)));
        assert_eq!(read.longitude, Some(Scalar::Float(1000.0)));
        let user = r#"{"index":"4","first_name":"A","last_name":"B","age":-0,"date_joined":true,"extra":"x"}"#;
        let read: RawUser = agrees(user).expect("a plain record is read");
        assert_eq!(read.ind, Some(Scalar::Str(Cow::Borrowed("4"))));
        assert_eq!(read.age, Some(Scalar::Float(-0.0)));
        assert_eq!(read.date_joined, Some(Scalar::Bool(true)));
        assert!(agrees::<RawGeo>("{}").is_some());
    }

    #[test]
    fn a_plain_string_ends_at_its_first_quote_backslash_or_control_byte() {
        let plain = "caf\u{e9} \u{a0}~\u{7f}".repeat(5);
        for special in ["\"", "\\\\", "\u{0}", "\u{1f}"] {
            for at in 0..plain.len() {
                if !plain.is_char_boundary(at) {
                    continue;
                }
                let text = format!("{}{special}{}\"", &plain[..at], &plain[at..]);
                assert_eq!(special_byte(text.as_bytes()), Some(at), "{special:?} at {at}");
            }
        }
        assert_eq!(special_byte(plain.as_bytes()), None);
    }

    #[test]
    fn numbers_at_the_edges_read_as_serde_reads_them() {
        for number in [
            "0",
            "123456789012345678",
            "1234567890123456789",
            "9223372036854775808",
            "18446744073709551616",
            "-9223372036854775808",
            "-1",
            "0.1",
            "1.5e-3",
            "2E+2",
        ] {
            let text = format!(r#"{{"ind":{number}}}"#);
            assert!(agrees::<RawGeo>(&text).is_some(), "{number} is a number");
        }
        for not_a_number in ["01", "1.", "-", "1e", "+1", ".5", "1-2", "--1"] {
            let text = format!(r#"{{"ind":{not_a_number}}}"#);
            assert!(read::<RawGeo>(&text).is_none(), "{not_a_number} is left to serde");
            assert!(serde_json::from_str::<RawGeo>(&text).is_err(), "{not_a_number}: serde refuses it");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        for text in [
            r#"{"title":"a\nb"}"#,
            "{\"title\":\"a\u{1}b\"}",
            r#"{"ti\"tle":"x"}"#,
            r#"{"index":1,"ind":2}"#,
            r#"{"title":"a","title":"b"}"#,
            r#"{"title":["a"]}"#,
            r#"{"other":{"a":1}}"#,
            r#"{"title":"a"} x"#,
            r#"{"title":"a",}"#,
            r#"{"title":"a""#,
            r#"{"title":nul}"#,
            r#"{"title":nullx}"#,
            r#"{"title" "a"}"#,
            r#""{\"title\":\"a\"}""#,
            "[1]",
            "",
        ] {
            assert!(read::<RawPin>(text).is_none(), "{text}");
        }
    }

    #[test]
    fn the_real_sample_reads_as_serde_reads_it() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        let lines = |file: &str| {
            let text = std::fs::read_to_string(data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>()
        };
        let (pins, geos, users) = (lines("sample_pin.jsonl"), lines("sample_geo.jsonl"), lines("sample_user.jsonl"));
        let fast = pins.iter().filter(|l| agrees::<RawPin>(l).is_some()).count()
            + geos.iter().filter(|l| agrees::<RawGeo>(l).is_some()).count()
            + users.iter().filter(|l| agrees::<RawUser>(l).is_some()).count();
        let all = pins.len() + geos.len() + users.len();
        // Nearly every real record is plain; the rest (escapes) go to serde.
        assert!(fast * 10 >= all * 9, "{fast} of {all} real records read by the flat reader");
    }

    #[test]
    fn generated_records_with_their_oddities_read_as_serde_reads_them() {
        use crate::record::generate::{GenerateOptions, Generator};
        let generator = Generator::new(GenerateOptions { posts: 3_000, ..Default::default() });
        let mut fast = 0;
        for post in generator.posts() {
            fast += usize::from(agrees::<RawPin>(&post.pin).is_some());
            fast += usize::from(agrees::<RawGeo>(&post.geo).is_some());
            fast += usize::from(agrees::<RawUser>(&post.user).is_some());
        }
        assert!(fast * 10 >= 9 * 9_000, "{fast} of 9000 generated records read by the flat reader");
    }

    proptest::proptest! {
        /// Records pieced from keys, tricky values and stray bytes, then cut anywhere:
        /// the flat reader gives up or agrees with serde.
        #[test]
        fn pieced_and_cut_records_are_read_as_serde_reads_them_or_left(
            pieces in proptest::collection::vec((0usize..8, 0usize..14, 0usize..6), 0..8),
            cut in proptest::option::of(0usize..200),
        ) {
            const KEYS: [&str; 8] = ["ind", "index", "title", "category", "downloaded", "ti\\u0074le", "", "follower_count"];
            const VALUES: [&str; 14] = ["1", "-3", "0.5", "1e400", "007", "\"x\"", "\" 7k \"", "null", "true",
                "\"a\\\"b\"", "[1]", "{}", "\"\u{a0}\u{e9}\"", "nul"];
            const GAPS: [&str; 6] = ["", " ", "\n\t", ",", "}", "\u{1}"];
            let mut text = String::from("{");
            for (i, (key, value, gap)) in pieces.iter().enumerate() {
                if i > 0 { text.push(','); }
                text.push_str(&format!("\"{}\":{}{}", KEYS[*key], VALUES[*value], GAPS[*gap]));
            }
            text.push('}');
            if let Some(cut) = cut {
                let mut at = cut.min(text.len());
                while !text.is_char_boundary(at) { at -= 1; }
                text.truncate(at);
            }
            agrees::<RawPin>(&text);
        }
    }
}
