//! The three record kinds of a post.

use std::fmt;
use std::str::FromStr;

/// One of the three related records every post arrives as (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The post itself (`pinterest_data`).
    Pin,
    /// Where and when it was posted (`geolocation_data`).
    Geo,
    /// Who posted it (`user_data`).
    User,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Pin, Kind::Geo, Kind::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pin => "pin",
            Kind::Geo => "geo",
            Kind::User => "user",
        }
    }

    /// The keys a record of this kind carries besides its id (SPEC §2), whatever
    /// their values: what tells a pin from a geo from a user record.
    pub fn own_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Pin => &[
                "unique_id",
                "title",
                "description",
                "poster_name",
                "follower_count",
                "tag_list",
                "is_image_or_video",
                "image_src",
                "save_location",
                "category",
            ],
            Kind::Geo => &["timestamp", "latitude", "longitude", "country"],
            Kind::User => &["first_name", "last_name", "age", "date_joined"],
        }
    }

    /// Which of [`Kind::own_keys`] a record may lack and still be of this kind: an
    /// older pin variant has no poster (`poster_name`, `follower_count`).
    pub fn optional_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Pin => &["poster_name", "follower_count"],
            Kind::Geo | Kind::User => &[],
        }
    }

    /// The kind a stream or topic carries, from its name's suffix
    /// (`streaming-<id>-pin`, `<id>.geo`, `…_user_table`).
    pub fn from_suffix(name: &str) -> Option<Kind> {
        let tail = name.rsplit(['-', '.', '_']).next()?;
        tail.parse().ok().or_else(|| {
            // `<id>_pin_table`: the kind is the second-to-last segment.
            let stem = name.strip_suffix("_table")?;
            stem.rsplit('_').next()?.parse().ok()
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown record kind `{0}`: expected pin, geo or user")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pin" => Ok(Kind::Pin),
            "geo" => Ok(Kind::Geo),
            "user" => Ok(Kind::User),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_stream_topic_and_table_names() {
        assert_eq!(Kind::from_suffix("streaming-0a1b2c3d4e5f-pin"), Some(Kind::Pin));
        assert_eq!(Kind::from_suffix("0a1b2c3d4e5f.geo"), Some(Kind::Geo));
        assert_eq!(Kind::from_suffix("0a1b2c3d4e5f_user_table"), Some(Kind::User));
        assert_eq!(Kind::from_suffix("0a1b2c3d4e5f_user"), Some(Kind::User));
        assert_eq!(Kind::from_suffix("streaming-0a1b2c3d4e5f-pins"), None);
        assert_eq!(Kind::from_suffix(""), None);
    }
}
