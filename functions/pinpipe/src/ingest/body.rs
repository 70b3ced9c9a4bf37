//! Request bodies: JSON parsed with a 400 naming the problem, and records — a JSON
//! object, or a string holding one — as the plain bytes stored on one line (a bronze
//! object holds one record per line), checked against the kind their stream or topic
//! carries.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use crate::kind::Kind;
use crate::record::clean::{QuarantineReason, clean_record};

pub(super) fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(format!("the body is not the JSON expected: {e}")))
}

/// The most one Kinesis record may hold (its own limit, checked before calling it).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The plain JSON bytes of a record sent as an object, or as a string holding one,
/// on one line (a bronze object holds one record per line).
pub(super) fn object_bytes(raw: Option<&RawValue>, field: &str) -> Result<Vec<u8>, ApiError> {
    let Some(raw) = raw else {
        return Err(ApiError::bad_field(field, format!("{field} is missing: send the record as a JSON object")));
    };
    let text = raw.get();
    let data: Vec<u8> = if text.starts_with('{') {
        // RawValue checks the syntax, not what `\u` escapes spell: a lone surrogate,
        // even in a field the cleaner ignores, makes a record no JSON reader can decode.
        if let Some(at) = lone_surrogate(text) {
            return Err(ApiError::bad_field(
                field,
                format!("{field} holds a \\u escape of a lone UTF-16 surrogate at byte {at}: not Unicode text"),
            ));
        }
        single_line(text).into_owned().into_bytes()
    } else if text.starts_with('"') {
        // serde_json's RawValue lets a lone surrogate (`"\udc00"`) through; a String does not.
        let inner: String = serde_json::from_str(text).map_err(|e| {
            ApiError::bad_field(field, format!("{field} is a string that is not valid Unicode text: {e}"))
        })?;
        match serde_json::from_str::<&RawValue>(&inner) {
            Ok(value) if value.get().starts_with('{') => single_line(value.get()).into_owned().into_bytes(),
            _ => {
                return Err(ApiError::bad_field(
                    field,
                    format!("{field} is a string, but not one holding a JSON object"),
                ));
            }
        }
    } else {
        return Err(ApiError::bad_field(field, format!("{field} must be a JSON object (or a string holding one)")));
    };
    if data.len() > MAX_RECORD_BYTES {
        return Err(ApiError::TooLarge(format!(
            "{field} is {} bytes; a record holds at most {MAX_RECORD_BYTES}",
            data.len()
        )));
    }
    Ok(data)
}

/// Where a JSON text's strings hold a `\u` escape of a lone UTF-16 surrogate (a high
/// one not followed by a low one, or a low one alone), if anywhere.
fn lone_surrogate(json: &str) -> Option<usize> {
    let bytes = json.as_bytes();
    let escape_at = |i: usize| -> Option<u16> {
        let hex = bytes.get(i..i + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (false, b'"') => in_string = true,
            (true, b'"') => in_string = false,
            (true, b'\\') => {
                match escape_at(i) {
                    Some(0xD800..=0xDBFF) => {
                        if !matches!(escape_at(i + 6), Some(0xDC00..=0xDFFF)) {
                            return Some(i);
                        }
                        i += 12;
                        continue;
                    }
                    Some(0xDC00..=0xDFFF) => return Some(i),
                    Some(_) => {
                        i += 6;
                        continue;
                    }
                    // Another escape (`\"`, `\\`, …): skip the escaped character.
                    None => i += 1,
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A JSON text on one line: unchanged when it has no line break outside its strings
/// (so the original scripts' bytes are stored byte for byte), otherwise with all
/// white space outside strings removed; bytes inside strings are never touched (a
/// line break inside a JSON string is always escaped).
pub fn single_line(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains(['\n', '\r']) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Checks that the cleaner can read `data` as the kind `name` (a stream or topic) carries.
pub(super) fn check_kind(name: &str, data: Vec<u8>, field: &str) -> Result<Vec<u8>, ApiError> {
    if let Some(kind) = Kind::from_suffix(name)
        && let Err(reason) = clean_record(kind, &data)
    {
        let named = match reason.field() {
            Some(f) => format!("{field}.{f}"),
            None => field.to_owned(),
        };
        let message = match reason {
            QuarantineReason::WrongKind { .. } => format!("{field} is {reason}"),
            _ => format!("{field} is not a {kind} record the cleaner can read: {reason}"),
        };
        return Err(ApiError::bad_field(named, message));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_found_in_any_string_and_pairs_are_not() {
        assert_eq!(lone_surrogate(r#"{"a":"\udc00"}"#), Some(6));
        assert_eq!(lone_surrogate(r#"{"a":"x\ud800y"}"#), Some(7));
        assert_eq!(lone_surrogate(r#"{"\ud800":1}"#), Some(2));
        assert_eq!(lone_surrogate(r#"{"a":"\ud83d\ude00 \u00e9 \\udc00 \""}"#), None);
        assert_eq!(lone_surrogate(r#"{"a":"\\\udc00"}"#), Some(8));
        assert_eq!(lone_surrogate(r#"{"a":1}"#), None);
    }

    #[test]
    fn values_are_stored_on_one_line_and_strings_are_untouched() {
        let compact = r#"{"index": 1, "title": "a\nb  c"}"#;
        assert!(matches!(single_line(compact), std::borrow::Cow::Borrowed(_)), "already one line: kept byte for byte");
        let pretty = "{\n  \"index\": 1,\n  \"title\": \"a\\n b \\\" \\u2028 😀 \\/\"\n}";
        assert_eq!(single_line(pretty), "{\"index\":1,\"title\":\"a\\n b \\\" \\u2028 😀 \\/\"}");
        let value: serde_json::Value = serde_json::from_str(&single_line(pretty)).unwrap();
        assert_eq!(value["title"], "a\n b \" \u{2028} 😀 /");
    }

    #[test]
    fn a_lone_surrogate_in_a_string_record_is_a_400_not_a_panic() {
        let raw: &RawValue = serde_json::from_str(r#""\udc00""#).unwrap();
        let error = object_bytes(Some(raw), "Data").unwrap_err();
        assert_eq!((error.status().as_u16(), error.field()), (400, Some("Data")));
        assert!(error.message().contains("not valid Unicode"), "{}", error.message());
    }
}
