//! The one cleaning implementation (SPEC §3), used by both pipelines.
//!
//! Cleaning is a pure function of a record's bytes: the same input always gives
//! the same row or the same [`QuarantineReason`]. Rows serialise (serde) as
//! `pinpipe clean` prints them; [`crate::record::columnar`] turns them into Arrow batches.
//!
//! Long (some 530 lines before its tests) because it is the whole of SPEC §3, field by
//! field for three kinds; split, one kind's rules would sit apart from the shared ones.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

use crate::kind::Kind;
use crate::record::catalogue::{COUNT_SUFFIXES, SAVE_LOCATION_PREFIX, is_placeholder};
use crate::record::flat::{self, FlatFields};
use crate::record::raw::{Field, RawGeo, RawPin, RawUser, Scalar, json_type_name};
use crate::record::timestamp;

/// Why a record could not be cleaned. Stable `code`s for machines, messages for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuarantineReason {
    #[error("not valid JSON: {detail}")]
    NotJson { detail: String },
    #[error("expected a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("malformed record: {detail}")]
    Malformed { detail: String },
    #[error("missing required field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}`: expected {expected}, found {found}")]
    WrongType { field: &'static str, expected: &'static str, found: String },
    /// The record lacks keys every record of its kind carries (SPEC §5): most often a
    /// record of another kind sent to the wrong stream or topic.
    #[error("not a {kind} record: it lacks {}{}", list(missing), looks_like.map_or(String::new(), |k| format!("; it looks like a {k} record")))]
    WrongKind { kind: Kind, missing: Vec<&'static str>, looks_like: Option<Kind> },
}

fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl QuarantineReason {
    /// The field at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            QuarantineReason::MissingField { field } | QuarantineReason::WrongType { field, .. } => Some(field),
            QuarantineReason::WrongKind { missing, .. } => missing.first().copied(),
            _ => None,
        }
    }

    /// The stable machine-readable code (`not_json`, `wrong_type`, …).
    pub fn code(&self) -> &'static str {
        match self {
            QuarantineReason::NotJson { .. } => "not_json",
            QuarantineReason::NotAnObject { .. } => "not_an_object",
            QuarantineReason::Malformed { .. } => "malformed",
            QuarantineReason::MissingField { .. } => "missing_field",
            QuarantineReason::WrongType { .. } => "wrong_type",
            QuarantineReason::WrongKind { .. } => "wrong_kind",
        }
    }
}

/// Text of a cleaned row: borrowed from the record's bytes unless cleaning changed it
/// (an escape, a joined name), so cleaning a batch allocates little.
pub type Text<'a> = Option<Cow<'a, str>>;

/// A cleaned pin: SPEC §3's columns in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinRow<'a> {
    pub ind: i64,
    pub unique_id: Text<'a>,
    pub title: Text<'a>,
    pub description: Text<'a>,
    pub follower_count: Option<i64>,
    pub poster_name: Text<'a>,
    pub tag_list: Text<'a>,
    pub is_image_or_video: Text<'a>,
    pub image_src: Text<'a>,
    pub save_location: Text<'a>,
    pub category: Text<'a>,
}

/// A cleaned geo record: SPEC §3's columns in order; `coordinates` is `[lat, lon]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeoRow<'a> {
    pub ind: i64,
    pub country: Text<'a>,
    pub coordinates: Option<[Option<f64>; 2]>,
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: Option<i64>,
}

/// A cleaned user record: SPEC §3's columns in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRow<'a> {
    pub ind: i64,
    pub user_name: Text<'a>,
    pub age: Option<i64>,
    #[serde(serialize_with = "rfc3339")]
    pub date_joined: Option<i64>,
}

impl PinRow<'_> {
    /// The row holding its own text.
    pub fn into_owned(self) -> PinRow<'static> {
        PinRow {
            ind: self.ind,
            unique_id: owned(self.unique_id),
            title: owned(self.title),
            description: owned(self.description),
            follower_count: self.follower_count,
            poster_name: owned(self.poster_name),
            tag_list: owned(self.tag_list),
            is_image_or_video: owned(self.is_image_or_video),
            image_src: owned(self.image_src),
            save_location: owned(self.save_location),
            category: owned(self.category),
        }
    }
}

impl GeoRow<'_> {
    /// The row holding its own text.
    pub fn into_owned(self) -> GeoRow<'static> {
        GeoRow { country: owned(self.country), ..self }
    }
}

impl UserRow<'_> {
    /// The row holding its own text.
    pub fn into_owned(self) -> UserRow<'static> {
        UserRow { user_name: owned(self.user_name), ..self }
    }
}

/// A cleaned record of any kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CleanRow<'a> {
    Pin(PinRow<'a>),
    Geo(GeoRow<'a>),
    User(UserRow<'a>),
}

impl CleanRow<'_> {
    /// The post the row belongs to.
    pub fn ind(&self) -> i64 {
        match self {
            CleanRow::Pin(row) => row.ind,
            CleanRow::Geo(row) => row.ind,
            CleanRow::User(row) => row.ind,
        }
    }
}

/// Cleans one raw record of the given kind: the bytes as they arrived (a JSON
/// object, or a JSON string holding one).
pub fn clean_record(kind: Kind, bytes: &[u8]) -> Result<CleanRow<'_>, QuarantineReason> {
    match kind {
        Kind::Pin => clean_pin(bytes).map(CleanRow::Pin),
        Kind::Geo => clean_geo(bytes).map(CleanRow::Geo),
        Kind::User => clean_user(bytes).map(CleanRow::User),
    }
}

/// A record must carry its kind's own keys (a present key may hold null or a
/// placeholder); `present` pairs each of [`Kind::own_keys`] with whether it is there.
fn check_keys(kind: Kind, present: &[(&'static str, bool)]) -> Result<(), QuarantineReason> {
    let missing: Vec<&'static str> = present
        .iter()
        .filter(|(key, there)| !there && !kind.optional_keys().contains(key))
        .map(|(key, _)| *key)
        .collect();
    if missing.is_empty() { Ok(()) } else { Err(QuarantineReason::WrongKind { kind, missing, looks_like: None }) }
}

/// For a record that is not of `kind`: the other kind whose keys it carries, if one.
fn looks_like(kind: Kind, bytes: &[u8]) -> Option<Kind> {
    let keys: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(serde_json::Value::String(inner)) => serde_json::from_str(&inner).ok()?,
        _ => return None,
    };
    Kind::ALL
        .into_iter()
        .filter(|other| *other != kind)
        .find(|other| other.own_keys().iter().all(|key| keys.contains_key(*key) || other.optional_keys().contains(key)))
}

pub fn clean_pin(bytes: &[u8]) -> Result<PinRow<'_>, QuarantineReason> {
    decode::<PinShape>(bytes).map_err(|r| with_looks_like(r, bytes))
}

pub fn clean_geo(bytes: &[u8]) -> Result<GeoRow<'_>, QuarantineReason> {
    decode::<GeoShape>(bytes).map_err(|r| with_looks_like(r, bytes))
}

pub fn clean_user(bytes: &[u8]) -> Result<UserRow<'_>, QuarantineReason> {
    decode::<UserShape>(bytes).map_err(|r| with_looks_like(r, bytes))
}

fn with_looks_like(reason: QuarantineReason, bytes: &[u8]) -> QuarantineReason {
    match reason {
        QuarantineReason::WrongKind { kind, missing, .. } => {
            QuarantineReason::WrongKind { kind, missing, looks_like: looks_like(kind, bytes) }
        }
        other => other,
    }
}

/// A raw record shape and its cleaning rule; the raw type borrows from the input.
trait Shape {
    type Raw<'a>: serde::Deserialize<'a> + FlatFields<'a>;
    type Row<'a>;
    fn clean<'a>(raw: Self::Raw<'a>) -> Result<Self::Row<'a>, QuarantineReason>;
    /// The row holding its own text (for a record unwrapped from a JSON string), so of
    /// any lifetime (a GAT is not known to be covariant, so each kind says it).
    fn into_owned<'a>(row: Self::Row<'_>) -> Self::Row<'a>;
}

fn owned(text: Text<'_>) -> Text<'static> {
    text.map(|t| Cow::Owned(t.into_owned()))
}

struct PinShape;
struct GeoShape;
struct UserShape;

impl Shape for PinShape {
    type Raw<'a> = RawPin<'a>;
    type Row<'a> = PinRow<'a>;
    fn into_owned<'a>(row: PinRow<'_>) -> PinRow<'a> {
        row.into_owned()
    }
    fn clean<'a>(raw: Self::Raw<'a>) -> Result<Self::Row<'a>, QuarantineReason> {
        let ind = required_int("index", raw.index)?;
        check_keys(
            Kind::Pin,
            &[
                ("unique_id", raw.unique_id.is_some()),
                ("title", raw.title.is_some()),
                ("description", raw.description.is_some()),
                ("poster_name", raw.poster_name.is_some()),
                ("follower_count", raw.follower_count.is_some()),
                ("tag_list", raw.tag_list.is_some()),
                ("is_image_or_video", raw.is_image_or_video.is_some()),
                ("image_src", raw.image_src.is_some()),
                ("save_location", raw.save_location.is_some()),
                ("category", raw.category.is_some()),
            ],
        )?;
        Ok(PinRow {
            ind,
            unique_id: text("unique_id", raw.unique_id)?,
            title: text("title", raw.title)?,
            description: text("description", raw.description)?,
            follower_count: follower_count(raw.follower_count)?,
            poster_name: text("poster_name", raw.poster_name)?,
            tag_list: text("tag_list", raw.tag_list)?,
            is_image_or_video: text("is_image_or_video", raw.is_image_or_video)?,
            image_src: text("image_src", raw.image_src)?,
            save_location: text("save_location", raw.save_location)?.map(save_location_path),
            category: text("category", raw.category)?,
        })
    }
}

impl Shape for GeoShape {
    type Raw<'a> = RawGeo<'a>;
    type Row<'a> = GeoRow<'a>;
    fn into_owned<'a>(row: GeoRow<'_>) -> GeoRow<'a> {
        row.into_owned()
    }
    fn clean<'a>(raw: Self::Raw<'a>) -> Result<Self::Row<'a>, QuarantineReason> {
        let ind = required_int("ind", raw.ind)?;
        check_keys(
            Kind::Geo,
            &[
                ("timestamp", raw.timestamp.is_some()),
                ("latitude", raw.latitude.is_some()),
                ("longitude", raw.longitude.is_some()),
                ("country", raw.country.is_some()),
            ],
        )?;
        let latitude = float("latitude", raw.latitude)?;
        let longitude = float("longitude", raw.longitude)?;
        Ok(GeoRow {
            ind,
            country: text("country", raw.country)?,
            coordinates: (latitude.is_some() || longitude.is_some()).then_some([latitude, longitude]),
            timestamp: time("timestamp", raw.timestamp)?,
        })
    }
}

impl Shape for UserShape {
    type Raw<'a> = RawUser<'a>;
    type Row<'a> = UserRow<'a>;
    fn into_owned<'a>(row: UserRow<'_>) -> UserRow<'a> {
        row.into_owned()
    }
    fn clean<'a>(raw: Self::Raw<'a>) -> Result<Self::Row<'a>, QuarantineReason> {
        let ind = required_int("ind", raw.ind)?;
        check_keys(
            Kind::User,
            &[
                ("first_name", raw.first_name.is_some()),
                ("last_name", raw.last_name.is_some()),
                ("age", raw.age.is_some()),
                ("date_joined", raw.date_joined.is_some()),
            ],
        )?;
        let first = text("first_name", raw.first_name)?;
        let last = text("last_name", raw.last_name)?;
        Ok(UserRow {
            ind,
            // SPEC §3: first_name + " " + last_name; a lone part stands alone.
            user_name: match (first, last) {
                (Some(f), Some(l)) => Some(Cow::Owned(format!("{f} {l}"))),
                (one, other) => one.or(other),
            },
            age: int("age", raw.age)?,
            date_joined: time("date_joined", raw.date_joined)?,
        })
    }
}

/// Decodes a raw record — an object, or a string holding one (the original
/// streaming script's `json.dumps`) — and cleans it.
fn decode<S: Shape>(bytes: &[u8]) -> Result<S::Row<'_>, QuarantineReason> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => S::clean(parse_object::<S::Raw<'_>>(bytes)?),
        Some(b'"') => {
            let inner: String = serde_json::from_slice(bytes).map_err(not_json)?;
            match inner.trim_start().as_bytes().first() {
                Some(b'{') => S::clean(parse_object::<S::Raw<'_>>(inner.as_bytes())?).map(S::into_owned),
                _ => Err(QuarantineReason::NotAnObject { found: "a string" }),
            }
        }
        _ => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(value) => Err(QuarantineReason::NotAnObject { found: json_type_name(&value) }),
            Err(e) => Err(not_json(e)),
        },
    }
}

fn parse_object<'a, R: serde::Deserialize<'a> + FlatFields<'a>>(bytes: &'a [u8]) -> Result<R, QuarantineReason> {
    // The record's UTF-8 checked once, with SIMD, lets serde_json borrow each string
    // unchecked (it checked every string alone: a quarter of parsing, measured).
    // Invalid UTF-8 goes the byte way, for serde_json's own error. A plain record is
    // read by the flat reader, which agrees with serde or leaves the record to it.
    let parsed = match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => match flat::read(text) {
            Some(record) => return Ok(record),
            None => serde_json::from_str(text),
        },
        Err(_) => serde_json::from_slice(bytes),
    };
    parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => QuarantineReason::Malformed { detail: e.to_string() },
        _ => not_json(e),
    })
}

fn not_json(e: serde_json::Error) -> QuarantineReason {
    QuarantineReason::NotJson { detail: e.to_string() }
}

fn wrong(field: &'static str, expected: &'static str, value: &Scalar) -> QuarantineReason {
    QuarantineReason::WrongType { field, expected, found: value.describe() }
}

/// Trimmed text (white space includes U+00A0), `None` for a placeholder; numbers
/// keep their JSON spelling; booleans and containers cannot be text.
fn text<'a>(field: &'static str, value: Field<'a>) -> Result<Text<'a>, QuarantineReason> {
    Ok(match value {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Str(Cow::Borrowed(s))) => {
            let t = s.trim();
            (!is_placeholder(t)).then_some(Cow::Borrowed(t))
        }
        Some(Scalar::Str(Cow::Owned(s))) => {
            let t = s.trim();
            (!is_placeholder(t)).then(|| Cow::Owned(t.to_owned()))
        }
        Some(Scalar::Int(i)) => Some(Cow::Owned(i.to_string())),
        Some(Scalar::BigUint(u)) => Some(Cow::Owned(u.to_string())),
        Some(Scalar::Float(f)) => Some(Cow::Owned(f.to_string())),
        Some(other) => return Err(wrong(field, "a string", &other)),
    })
}

/// Placeholder-or-text for the numeric columns: `Ok(None)` is null, `Ok(Some(t))` trimmed text to parse.
fn numeric_text<'v>(value: &'v Scalar) -> Option<&'v str> {
    match value {
        Scalar::Str(s) => Some(s.trim()),
        _ => None,
    }
}

const INTEGER: &str = "an integer";

fn int(field: &'static str, value: Field) -> Result<Option<i64>, QuarantineReason> {
    let Some(value) = value else { return Ok(None) };
    match &value {
        Scalar::Null => Ok(None),
        Scalar::Int(i) => Ok(Some(*i)),
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(*f as i64)),
        Scalar::Str(_) => {
            let t = numeric_text(&value).unwrap_or_default();
            if is_placeholder(t) {
                return Ok(None);
            }
            t.parse::<i64>().map(Some).map_err(|_| wrong(field, INTEGER, &value))
        }
        _ => Err(wrong(field, INTEGER, &value)),
    }
}

fn required_int(field: &'static str, value: Field) -> Result<i64, QuarantineReason> {
    int(field, value)?.ok_or(QuarantineReason::MissingField { field })
}

fn float(field: &'static str, value: Field) -> Result<Option<f64>, QuarantineReason> {
    const NUMBER: &str = "a number";
    let Some(value) = value else { return Ok(None) };
    match &value {
        Scalar::Null => Ok(None),
        Scalar::Int(i) => Ok(Some(*i as f64)),
        Scalar::BigUint(u) => Ok(Some(*u as f64)),
        Scalar::Float(f) => Ok(Some(*f)),
        Scalar::Str(_) => {
            let t = numeric_text(&value).unwrap_or_default();
            if is_placeholder(t) {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(wrong(field, NUMBER, &value)),
            }
        }
        _ => Err(wrong(field, NUMBER, &value)),
    }
}

fn time(field: &'static str, value: Field) -> Result<Option<i64>, QuarantineReason> {
    const TIMESTAMP: &str = "a timestamp like \"2020-08-28 03:52:47\"";
    let Some(value) = value else { return Ok(None) };
    match &value {
        Scalar::Null => Ok(None),
        Scalar::Str(s) => {
            let t = s.trim();
            if is_placeholder(t) {
                return Ok(None);
            }
            timestamp::parse_micros(t).map(Some).ok_or_else(|| wrong(field, TIMESTAMP, &value))
        }
        _ => Err(wrong(field, TIMESTAMP, &value)),
    }
}

/// SPEC §3: "7k" → 7000, "1.2k" → 1200, "1M" → 1000000, "523" → 523; a placeholder → null.
fn follower_count(value: Field) -> Result<Option<i64>, QuarantineReason> {
    const FIELD: &str = "follower_count";
    const COUNT: &str = "a count like \"7k\", \"1.2M\" or \"523\"";
    let Some(value) = value else { return Ok(None) };
    match &value {
        Scalar::Str(s) => {
            let t = s.trim();
            if is_placeholder(t) {
                return Ok(None);
            }
            parse_count(t).map(Some).ok_or_else(|| wrong(FIELD, COUNT, &value))
        }
        Scalar::Int(i) if *i >= 0 => Ok(Some(*i)),
        Scalar::Float(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15 => Ok(Some(*f as i64)),
        Scalar::Null => Ok(None),
        _ => Err(wrong(FIELD, COUNT, &value)),
    }
}

/// Exact decimal arithmetic: "1.2k" is 1200, never 1199.
pub fn parse_count(text: &str) -> Option<i64> {
    let (number, multiplier) = match text.chars().last()? {
        c if c.is_ascii_digit() => (text, 1),
        c => {
            let &(_, m) = COUNT_SUFFIXES.iter().find(|(s, _)| *s == c)?;
            (text[..text.len() - c.len_utf8()].trim_end(), m)
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || (number.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let mut value = whole.parse::<i64>().ok()?.checked_mul(multiplier)?;
    let mut scale = multiplier;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            // More decimals than the multiplier resolves ("1.25k" is fine, "1.2345k" is 1234).
            break;
        }
        value = value.checked_add(i64::from(digit - b'0') * scale)?;
    }
    Some(value)
}

/// SPEC §3: "Local save in /data/x" → "/data/x"; a bare path stays as it is.
fn save_location_path(location: Cow<'_, str>) -> Cow<'_, str> {
    match location {
        Cow::Borrowed(l) => Cow::Borrowed(l.strip_prefix(SAVE_LOCATION_PREFIX).map_or(l, str::trim)),
        Cow::Owned(l) => match l.strip_prefix(SAVE_LOCATION_PREFIX) {
            Some(path) => Cow::Owned(path.trim().to_owned()),
            None => Cow::Owned(l),
        },
    }
}

fn rfc3339<S: Serializer>(micros: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match micros {
        Some(m) => serializer.serialize_str(&timestamp::format_rfc3339(*m)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` with `kind`'s own keys it lacks added as null, so a test can name only
    /// the fields it is about (the key check has its own test).
    fn with_keys(kind: Kind, json: &str) -> String {
        let Some(rest) = json.trim_start().strip_prefix('{') else { return json.to_owned() };
        let missing: Vec<String> = kind
            .own_keys()
            .iter()
            .filter(|k| !json.contains(&format!("\"{k}\"")))
            .map(|k| format!("\"{k}\":null"))
            .collect();
        if missing.is_empty() {
            return json.to_owned();
        }
        let separator = if rest.trim_start().starts_with('}') { "" } else { "," };
        format!("{{{}{separator}{rest}", missing.join(","))
    }

    fn pin(json: &str) -> Result<PinRow<'static>, QuarantineReason> {
        clean_pin(with_keys(Kind::Pin, json).as_bytes()).map(PinShape::into_owned)
    }

    fn geo(json: &str) -> Result<GeoRow<'static>, QuarantineReason> {
        clean_geo(with_keys(Kind::Geo, json).as_bytes()).map(GeoShape::into_owned)
    }

    fn user(json: &str) -> Result<UserRow<'static>, QuarantineReason> {
        clean_user(with_keys(Kind::User, json).as_bytes()).map(UserShape::into_owned)
    }

    #[test]
    fn a_record_must_carry_its_kinds_keys() {
        let real_pin = r#"{"index": 1, "unique_id": "u", "title": "t", "description": "d", "poster_name": "p", "follower_count": "7k", "tag_list": "a,b", "is_image_or_video": "image", "image_src": "x", "downloaded": 1, "save_location": "Local save in /data/art", "category": "art"}"#;
        let real_geo =
            r#"{"ind": 1, "timestamp": "2021-09-26 19:49:23", "latitude": 1.0, "longitude": 2.0, "country": "Chad"}"#;
        let real_user =
            r#"{"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 20, "date_joined": "2015-10-21 21:26:45"}"#;
        assert!(clean_pin(real_pin.as_bytes()).is_ok());
        // A pin sent as a geo record: every geo key missing, and it says what it is.
        let err = clean_geo(real_pin.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            QuarantineReason::WrongKind {
                kind: Kind::Geo,
                missing: vec!["timestamp", "latitude", "longitude", "country"],
                looks_like: Some(Kind::Pin)
            }
        );
        assert_eq!(err.code(), "wrong_kind");
        assert_eq!(err.field(), Some("timestamp"));
        assert_eq!(
            err.to_string(),
            "not a geo record: it lacks `timestamp`, `latitude`, `longitude` and `country`; it looks like a pin record"
        );
        assert_eq!(
            clean_user(real_geo.as_bytes()).unwrap_err().to_string(),
            "not a user record: it lacks `first_name`, `last_name`, `age` and `date_joined`; it looks like a geo record"
        );
        assert!(matches!(
            clean_pin(real_user.as_bytes()),
            Err(QuarantineReason::WrongKind { looks_like: Some(Kind::User), .. })
        ));
        // Present as null or a placeholder is fine; the older pin without a poster is a pin.
        assert!(
            clean_geo(br#"{"ind": 1, "timestamp": null, "latitude": "", "longitude": null, "country": "No data"}"#)
                .is_ok()
        );
        let older = real_pin.replace(r#""poster_name": "p", "follower_count": "7k", "#, "");
        assert_eq!(clean_pin(older.as_bytes()).unwrap().poster_name, None);
        // One key short is still wrong, and it names the key; no other kind fits.
        let err = clean_geo(br#"{"ind": 1, "timestamp": null, "latitude": 1, "longitude": 2}"#).unwrap_err();
        assert_eq!(err, QuarantineReason::WrongKind { kind: Kind::Geo, missing: vec!["country"], looks_like: None });
        // A string holding a record of another kind says so too.
        let wrapped = serde_json::to_string(real_user).unwrap();
        assert!(matches!(
            clean_geo(wrapped.as_bytes()),
            Err(QuarantineReason::WrongKind { looks_like: Some(Kind::User), .. })
        ));
    }

    #[test]
    fn follower_counts() {
        for (raw, want) in [
            ("7k", 7_000),
            ("1.2k", 1_200),
            ("1M", 1_000_000),
            ("15M", 15_000_000),
            ("1.5M", 1_500_000),
            ("523", 523),
            ("0", 0),
            ("2B", 2_000_000_000),
            ("1.25k", 1_250),
            ("999K", 999_000),
        ] {
            assert_eq!(parse_count(raw), Some(want), "{raw}");
        }
        for bad in ["", "k", "1.k", ".5k", "1,2k", "-5", "12x", "1.2.3k", "9999999999999999999M"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
        assert_eq!(pin(r#"{"index":1,"follower_count":"User Info Error"}"#).unwrap().follower_count, None);
        assert_eq!(pin(r#"{"index":1,"follower_count":523}"#).unwrap().follower_count, Some(523));
        assert_eq!(pin(r#"{"index":1,"follower_count":" 7k\u00a0"}"#).unwrap().follower_count, Some(7_000));
        let err = pin(r#"{"index":1,"follower_count":"lots"}"#).unwrap_err();
        assert_eq!(err.field(), Some("follower_count"));
        assert_eq!(err.code(), "wrong_type");
    }

    #[test]
    fn text_is_trimmed_nbsp_too_inner_text_kept() {
        let row =
            pin("{\"index\":1,\"title\":\"\u{a0} TIE DYE\u{a0}\\n\u{a0}T-SHIRTS \\n\",\"description\":\"cut…\u{a0}\"}")
                .unwrap();
        assert_eq!(row.title.as_deref(), Some("TIE DYE\u{a0}\n\u{a0}T-SHIRTS"));
        assert_eq!(row.description.as_deref(), Some("cut…"));
    }

    #[test]
    fn placeholders_are_null_in_every_string_column() {
        for placeholder in crate::record::catalogue::PLACEHOLDERS.iter().map(|p| p.value).chain([""]) {
            let quoted = serde_json::to_string(&format!(" {placeholder}\u{a0}")).unwrap();
            let row = pin(&format!(
                r#"{{"index":1,"unique_id":{quoted},"title":{quoted},"description":{quoted},"poster_name":{quoted},
                    "tag_list":{quoted},"is_image_or_video":{quoted},"image_src":{quoted},"save_location":{quoted},
                    "category":{quoted}}}"#
            ))
            .unwrap();
            assert_eq!(
                row,
                PinRow {
                    ind: 1,
                    unique_id: None,
                    title: None,
                    description: None,
                    follower_count: None,
                    poster_name: None,
                    tag_list: None,
                    is_image_or_video: None,
                    image_src: None,
                    save_location: None,
                    category: None
                },
                "{placeholder:?}"
            );
            let geo = geo(&format!(r#"{{"ind":1,"country":{quoted},"timestamp":{quoted}}}"#)).unwrap();
            assert_eq!((geo.country, geo.timestamp), (None, None));
        }
        assert_eq!(pin(r#"{"index":1,"title":"Untitled: Photo"}"#).unwrap().title.as_deref(), Some("Untitled: Photo"));
    }

    #[test]
    fn save_location_keeps_only_the_path() {
        let row = pin(r#"{"index":1,"save_location":"Local save in /data/mens-fashion"}"#).unwrap();
        assert_eq!(row.save_location.as_deref(), Some("/data/mens-fashion"));
        let row = pin(r#"{"index":1,"save_location":"/data/art"}"#).unwrap();
        assert_eq!(row.save_location.as_deref(), Some("/data/art"));
    }

    #[test]
    fn ids_as_numbers_or_strings_under_either_name() {
        for json in [r#"{"index":7}"#, r#"{"ind":7}"#, r#"{"index":"7"}"#, r#"{"index":7.0}"#, r#"{"index":" 7 "}"#] {
            assert_eq!(pin(json).unwrap().ind, 7, "{json}");
        }
        assert_eq!(pin(r#"{"title":"x"}"#).unwrap_err(), QuarantineReason::MissingField { field: "index" });
        assert_eq!(pin(r#"{"index":null}"#).unwrap_err(), QuarantineReason::MissingField { field: "index" });
        assert_eq!(user("{}").unwrap_err(), QuarantineReason::MissingField { field: "ind" });
        for bad in [r#"{"index":"seven"}"#, r#"{"index":7.5}"#, r#"{"index":true}"#, r#"{"index":[7]}"#] {
            assert_eq!(pin(bad).unwrap_err().field(), Some("index"), "{bad}");
        }
        assert_eq!(pin(r#"{"index":1,"ind":1}"#).unwrap_err().code(), "malformed");
    }

    #[test]
    fn a_string_holding_an_object_is_the_object() {
        let inner = r#"{"ind": 4, "first_name": "Adam", "last_name": "Acosta", "age": "20", "date_joined": "2015-10-21 21:26:45"}"#;
        let wrapped = serde_json::to_string(inner).unwrap();
        let direct = clean_user(inner.as_bytes()).unwrap();
        assert_eq!(clean_user(wrapped.as_bytes()).unwrap(), direct);
        assert_eq!(direct.user_name.as_deref(), Some("Adam Acosta"));
        assert_eq!(direct.age, Some(20));
        // Only one level: a string holding a string holding an object is not a record.
        let twice = serde_json::to_string(&wrapped).unwrap();
        assert_eq!(clean_user(twice.as_bytes()).unwrap_err(), QuarantineReason::NotAnObject { found: "a string" });
    }

    #[test]
    fn what_is_not_a_record_is_quarantined_with_its_reason() {
        assert_eq!(clean_geo(b"[1,2]").unwrap_err(), QuarantineReason::NotAnObject { found: "an array" });
        assert_eq!(clean_geo(b"42").unwrap_err(), QuarantineReason::NotAnObject { found: "a number" });
        assert_eq!(clean_geo(b"null").unwrap_err(), QuarantineReason::NotAnObject { found: "null" });
        for bad in [&b"{"[..], b"", b"{\"ind\":1}x", b"\xff\xfe", b"{'ind': 1}"] {
            assert_eq!(clean_geo(bad).unwrap_err().code(), "not_json", "{bad:?}");
        }
        // Invalid UTF-8 in an object's string: not JSON, with serde_json's own message.
        let err = clean_geo(b"{\"ind\":1,\"country\":\"Chad\xff\"}").unwrap_err();
        assert_eq!(err.code(), "not_json");
        assert!(err.to_string().contains("invalid unicode code point"), "{err}");
        let err = geo(r#"{"ind":1,"latitude":"north"}"#).unwrap_err();
        assert_eq!(err.to_string(), r#"field `latitude`: expected a number, found "north""#);
        let err = geo(r#"{"ind":1,"timestamp":"28/08/2020"}"#).unwrap_err();
        assert_eq!(err.field(), Some("timestamp"));
        assert_eq!(pin(r#"{"index":1,"title":{"a":1}}"#).unwrap_err().field(), Some("title"));
    }

    #[test]
    fn geo_coordinates_and_timestamp() {
        let row = clean_geo(
            br#"{"ind": 1, "timestamp": "2021-09-26 19:49:23", "latitude": -88.8298, "longitude": "-170.188", "country": "Albania"}"#,
        )
        .unwrap();
        assert_eq!(row.coordinates, Some([Some(-88.8298), Some(-170.188)]));
        assert_eq!(row.timestamp, Some(1_632_685_763_000_000));
        assert_eq!(geo(r#"{"ind":1}"#).unwrap().coordinates, None);
        assert_eq!(geo(r#"{"ind":1,"longitude":3}"#).unwrap().coordinates, Some([None, Some(3.0)]));
    }

    #[test]
    fn user_name_joins_what_is_there() {
        let name = |json: &str| user(json).unwrap().user_name;
        assert_eq!(name(r#"{"ind":1,"first_name":" Ann ","last_name":"Lee"}"#).as_deref(), Some("Ann Lee"));
        assert_eq!(name(r#"{"ind":1,"first_name":"Ann"}"#).as_deref(), Some("Ann"));
        assert_eq!(name(r#"{"ind":1,"last_name":"User Info Error"}"#), None);
    }

    #[test]
    fn reasons_serialise_with_a_code() {
        let reason = QuarantineReason::WrongType { field: "age", expected: "an integer", found: "\"x\"".into() };
        let json = serde_json::to_value(&reason).unwrap();
        assert_eq!(json["code"], "wrong_type");
        assert_eq!(json["field"], "age");
    }
}
