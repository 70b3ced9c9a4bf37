//! Raw records as the source emits them (SPEC §2).
//!
//! Every field is read as a [`Scalar`], which accepts any JSON value, so decoding
//! never fails on a type: coercion happens in [`crate::record::clean`], where a bad value
//! becomes a quarantine reason that names its field. Unknown fields are ignored,
//! `index` and `ind` are the same field, and strings borrow from the input.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Any JSON value of a field, kept only as far as cleaning needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// A non-negative integer above `i64::MAX`.
    BigUint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Scalar<'_> {
    /// How the value reads in an error message: the value itself for scalars
    /// (shortened), the type for containers.
    pub fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::BigUint(u) => u.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) => {
                const MAX: usize = 40;
                match s.char_indices().nth(MAX) {
                    Some((cut, _)) => format!("{:?}…", &s[..cut]),
                    None => format!("{s:?}"),
                }
            }
            Scalar::Array => "an array".into(),
            Scalar::Object => "an object".into(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Scalar::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Scalar::BigUint(v), Scalar::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// A field as read: `None` when the key is absent, `Some(Scalar::Null)` when it is
/// present as `null`. Cleaning treats both as null; the kind check (does the record
/// carry its kind's keys?) tells them apart.
pub type Field<'a> = Option<Scalar<'a>>;

/// Deserializes a present key, `null` included, as `Some` (absent keys get `None`
/// from `#[serde(default)]`).
fn present<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Field<'a>, D::Error> {
    Scalar::deserialize(deserializer).map(Some)
}

/// `pinterest_data` (SPEC §2). `downloaded` is read by no one: the cleaned table omits it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RawPin<'a> {
    #[serde(borrow, default, alias = "ind", deserialize_with = "present")]
    pub index: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub unique_id: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub title: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub description: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub poster_name: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub follower_count: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub tag_list: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub is_image_or_video: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub image_src: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub save_location: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub category: Field<'a>,
}

/// `geolocation_data` (SPEC §2).
#[derive(Debug, Default, serde::Deserialize)]
pub struct RawGeo<'a> {
    #[serde(borrow, default, alias = "index", deserialize_with = "present")]
    pub ind: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub timestamp: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub latitude: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub longitude: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub country: Field<'a>,
}

/// `user_data` (SPEC §2).
#[derive(Debug, Default, serde::Deserialize)]
pub struct RawUser<'a> {
    #[serde(borrow, default, alias = "index", deserialize_with = "present")]
    pub ind: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub first_name: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub last_name: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub age: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub date_joined: Field<'a>,
}

/// What the first byte of a payload says it is.
pub(crate) fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_type_reads_as_a_scalar() {
        let raw: RawGeo = serde_json::from_str(
            r#"{"ind": 18446744073709551615, "timestamp": [1, {"a": 2}], "latitude": 1.5,
                "longitude": "-2", "country": {"x": [null]}, "extra": true}"#,
        )
        .unwrap();
        assert_eq!(raw.ind, Some(Scalar::BigUint(u64::MAX)));
        assert_eq!(raw.timestamp, Some(Scalar::Array));
        assert_eq!(raw.latitude, Some(Scalar::Float(1.5)));
        assert_eq!(raw.longitude, Some(Scalar::Str(Cow::Borrowed("-2"))));
        assert_eq!(raw.country, Some(Scalar::Object));
    }

    #[test]
    fn ind_and_index_are_one_field_and_null_is_present_but_null() {
        let pin: RawPin = serde_json::from_str(r#"{"ind": 3, "title": null}"#).unwrap();
        assert_eq!(pin.index, Some(Scalar::Int(3)));
        assert_eq!(pin.title, Some(Scalar::Null));
        assert_eq!(pin.category, None);
        let user: RawUser = serde_json::from_str(r#"{"index": "4"}"#).unwrap();
        assert_eq!(user.ind, Some(Scalar::Str(Cow::Borrowed("4"))));
    }

    #[test]
    fn escaped_strings_are_owned_plain_ones_borrowed() {
        let pin: RawPin = serde_json::from_str(r#"{"title": "a\nb", "category": "art"}"#).unwrap();
        assert!(matches!(pin.title, Some(Scalar::Str(Cow::Owned(ref s))) if s == "a\nb"));
        assert!(matches!(pin.category, Some(Scalar::Str(Cow::Borrowed("art")))));
    }
}
