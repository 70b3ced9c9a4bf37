//! Real-time metrics from the streams (SPEC §12): per profile (`poster_name`) posts
//! and latest follower count, per category and per country posts, in tumbling
//! buckets by Kinesis arrival time, written exactly once per delivered record.
//!
//! Buckets are kept at three resolutions so that every served window is a sum of
//! whole buckets read with one query: the last 5 minutes and the last hour are the
//! minute buckets ending with the current minute; the last 24 hours the hour buckets
//! ending with the current hour (so up to 24 h 59 min); the last 7 days the day
//! buckets ending today (UTC). A post re-sent (same `ind`, same kind) within the
//! store's memory of posts (7 days) is counted once, at its first arrival.
//!
//! Exactly once ([`writer`]): a shard's records after its mark are counted into the
//! batch's increments, summed per bucket and key (one item update per bucket and key
//! per commit, not per record), planned into chunks of at most
//! [`MAX_ITEMS_PER_COMMIT`] items, and each chunk commits atomically with the shard's
//! mark moved to its last record, on the condition that the mark is still where this
//! delivery read it (DynamoDB `TransactWriteItems`; the in-process store under one
//! lock). A redelivered, re-cut or concurrent batch therefore adds nothing twice, and a
//! failure between chunks leaves whole chunks.
//!
//! Many shards at once, under DynamoDB's rules: every shard writes its own partial
//! items of each bucket (`…#<shard>` in the sort key), summed when read, so two shards
//! never write the same bucket item and never cancel each other's transactions. A post
//! is counted once across shards by its marker, put in the same transaction on the
//! condition that none exists or the one there has expired (its expiry is compared
//! when read, not left to the TTL sweeper, which can be days late): a re-sent post
//! counted by another shard first cancels the transaction (`ConditionalCheckFailed`
//! on that marker), and the chunk is planned again without it. The rare cancellation
//! because another transaction was writing the same marker at that moment
//! (`TransactionConflict`) and throttling are retried with jittered, capped backoff.
//! The mark carries the stream's incarnation ([`crate::delivery::incarnation`]), so a recreated
//! stream's restarted sequence numbers are counted, not taken for the old stream's.

pub mod dynamo;
#[cfg(any(test, feature = "local"))]
pub mod in_process;
pub mod store;
pub mod writer;

use std::collections::BTreeMap;
use std::fmt;

use crate::delivery::sequence::SequenceNumber;
use crate::record::clean::CleanRow;

/// Buckets are kept 7 days.
pub const RETENTION_MS: i64 = 7 * 24 * 3_600_000;
/// Item updates one commit may carry besides the shard's mark (DynamoDB
/// transactions take 100 items).
pub const MAX_ITEMS_PER_COMMIT: usize = 99;

/// What a metric is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Profile,
    Category,
    Country,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Profile => "profile",
            Dimension::Category => "category",
            Dimension::Country => "country",
        }
    }
}

/// A bucket's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    pub fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "m",
            Resolution::Hour => "h",
            Resolution::Day => "d",
        }
    }

    /// The start of the bucket holding `at` (ms since the epoch).
    pub fn bucket(self, at: i64) -> i64 {
        at.div_euclid(self.millis()) * self.millis()
    }
}

/// A served window: a number of whole buckets ending with the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    FiveMinutes,
    Hour,
    Day,
    Week,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::FiveMinutes, Window::Hour, Window::Day, Window::Week];

    pub fn parse(text: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::FiveMinutes => "5m",
            Window::Hour => "1h",
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    pub fn resolution(self) -> Resolution {
        match self {
            Window::FiveMinutes | Window::Hour => Resolution::Minute,
            Window::Day => Resolution::Hour,
            Window::Week => Resolution::Day,
        }
    }

    fn buckets(self) -> i64 {
        match self {
            Window::FiveMinutes => 5,
            Window::Hour => 60,
            Window::Day => 24,
            Window::Week => 7,
        }
    }

    /// The first and last bucket starts of the window at `now` (ms), both included.
    pub fn buckets_at(self, now: i64) -> (i64, i64) {
        let resolution = self.resolution();
        let last = resolution.bucket(now);
        (last - (self.buckets() - 1) * resolution.millis(), last)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A series of buckets read with one query: a dimension's leaderboard (every key's
/// buckets, in time order), or one profile's buckets of the profile leaderboard. Only
/// boards are written: a profile's series is the same items, read through the store's
/// profile index (DynamoDB: a global secondary index), so a pin costs one item per
/// resolution for its profile, not two.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    Board(Dimension, Resolution),
    Profile(String, Resolution),
}

impl Series {
    pub fn resolution(&self) -> Resolution {
        match self {
            Series::Board(_, r) | Series::Profile(_, r) => *r,
        }
    }

    /// Its partition key in the store (a profile's: in the profile index).
    pub fn key(&self) -> String {
        match self {
            Series::Board(dimension, resolution) => format!("{}#{}", dimension.as_str(), resolution.as_str()),
            Series::Profile(name, resolution) => format!("profile:{name}#{}", resolution.as_str()),
        }
    }
}

/// One bucket of a series: where it is and what one commit adds to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketKey {
    pub series: Series,
    pub start: i64,
    /// The profile, category or country (empty in a profile's own series).
    pub key: String,
}

impl BucketKey {
    /// Its sort key in the store: the bucket start (13 digits, so text order is time
    /// order), then the key.
    pub fn sort_key(&self) -> String {
        format!("{:013}#{}", self.start, self.key)
    }
}

/// A follower count and the record it came from: the latest is the one that arrived
/// last, ties (the same millisecond, on different shards) to the higher sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followers {
    /// Kinesis arrival time, ms.
    pub at: i64,
    pub sequence: SequenceNumber,
    pub count: i64,
}

impl Followers {
    /// Whether `self` is a later record's than `other`.
    pub fn later_than(&self, other: &Followers) -> bool {
        (self.at, &self.sequence) > (other.at, &other.sequence)
    }

    /// Keeps the later of `current` and `candidate`.
    pub fn keep_latest(current: &mut Option<Followers>, candidate: Option<Followers>) {
        if let Some(candidate) = candidate
            && current.as_ref().is_none_or(|c| candidate.later_than(c))
        {
            *current = Some(candidate);
        }
    }
}

/// What a commit adds to a bucket: posts, and the follower count of its latest record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Increment {
    pub posts: u64,
    pub followers: Option<Followers>,
}

impl Increment {
    fn add(&mut self, arrival: i64, sequence: &SequenceNumber, followers: Option<i64>) {
        self.posts += 1;
        let candidate = followers.map(|count| Followers { at: arrival, sequence: sequence.clone(), count });
        Followers::keep_latest(&mut self.followers, candidate);
    }

    /// Adds `other` (a later record's increment of the same bucket) to this one.
    pub fn merge(&mut self, other: Increment) {
        self.posts += other.posts;
        Followers::keep_latest(&mut self.followers, other.followers);
    }
}

/// One bucket as read back (one shard's part of it: a key's rows are summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    pub start: i64,
    pub key: String,
    pub posts: u64,
    pub followers: Option<Followers>,
}

/// The buckets a cleaned record counts in (none for a user record, or a pin without
/// the field): every resolution, per dimension.
pub fn buckets_of(row: &CleanRow) -> Vec<(Series, String, Option<i64>)> {
    let mut out = Vec::new();
    for resolution in Resolution::ALL {
        match row {
            CleanRow::Pin(pin) => {
                if let Some(name) = &pin.poster_name {
                    out.push((Series::Board(Dimension::Profile, resolution), name.to_string(), pin.follower_count));
                }
                if let Some(category) = &pin.category {
                    out.push((Series::Board(Dimension::Category, resolution), category.to_string(), None));
                }
            }
            CleanRow::Geo(geo) => {
                if let Some(country) = &geo.country {
                    out.push((Series::Board(Dimension::Country, resolution), country.to_string(), None));
                }
            }
            CleanRow::User(_) => {}
        }
    }
    out
}

/// Adds one record, arrived at `arrival` (ms) as `sequence`, to `increments`.
pub fn add_record(
    increments: &mut BTreeMap<BucketKey, Increment>,
    row: &CleanRow,
    arrival: i64,
    sequence: &SequenceNumber,
) {
    for (series, key, followers) in buckets_of(row) {
        let bucket = BucketKey { start: series.resolution().bucket(arrival), series, key };
        increments.entry(bucket).or_default().add(arrival, sequence, followers);
    }
}

/// A key's total over a window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Total {
    pub key: String,
    pub posts: u64,
    /// The follower count of the key's latest record in the window (profiles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follower_count: Option<i64>,
    /// [`popularity`], for profiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popularity: Option<f64>,
}

/// A profile's popularity over a window: its posts in the window, weighted by the
/// reach of its latest follower count — `posts × (1 + log10(1 + followers))`. A
/// profile that posts often is hot; among equally active ones, the one more people
/// see ranks first, though followers alone (no posts in the window) count nothing.
pub fn popularity(posts: u64, followers: Option<i64>) -> f64 {
    let followers = followers.unwrap_or(0).max(0) as f64;
    posts as f64 * (1.0 + (1.0 + followers).log10())
}

/// Sums a window's buckets per key, ranked: profiles by popularity, the rest by posts
/// (ties to the key ascending); at most `limit`.
pub fn totals(rows: Vec<BucketRow>, profiles: bool, limit: usize) -> Vec<Total> {
    let mut by_key: BTreeMap<String, (u64, Option<Followers>)> = BTreeMap::new();
    for row in rows {
        let entry = by_key.entry(row.key).or_default();
        entry.0 += row.posts;
        Followers::keep_latest(&mut entry.1, row.followers);
    }
    let mut totals: Vec<Total> = by_key
        .into_iter()
        .map(|(key, (posts, followers))| {
            let follower_count = followers.map(|f| f.count);
            Total {
                key,
                posts,
                follower_count: if profiles { follower_count } else { None },
                popularity: profiles.then(|| popularity(posts, follower_count)),
            }
        })
        .collect();
    totals.sort_by(|a, b| {
        let rank = |t: &Total| t.popularity.unwrap_or(t.posts as f64);
        rank(b).total_cmp(&rank(a)).then_with(|| a.key.cmp(&b.key))
    });
    totals.truncate(limit);
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use crate::record::clean::clean_record;

    const MINUTE: i64 = 60_000;

    fn seq(text: &str) -> SequenceNumber {
        SequenceNumber::parse(text).unwrap()
    }

    #[test]
    fn windows_are_whole_buckets_ending_with_the_current_one() {
        let now = 1_764_547_199_999; // 2025-11-30T23:59:59.999Z
        let (first, last) = Window::FiveMinutes.buckets_at(now);
        assert_eq!((last, last - first), (now - 59_999, 4 * MINUTE));
        // 59.999 s into a minute is still that minute's bucket; the next ms is the next one.
        assert_eq!(Resolution::Minute.bucket(now), Resolution::Minute.bucket(now - 59_999));
        assert_ne!(Resolution::Minute.bucket(now), Resolution::Minute.bucket(now + 1));
        let (first, last) = Window::Day.buckets_at(now);
        assert_eq!((last - first) / 3_600_000, 23);
        let (first, last) = Window::Week.buckets_at(now);
        assert_eq!(((last - first) / 86_400_000, last % 86_400_000), (6, 0));
        assert_eq!(Window::parse("24h"), Some(Window::Day));
        assert_eq!(Window::parse("2h"), None);
    }

    #[test]
    fn a_pin_counts_for_its_profile_and_category_a_geo_for_its_country() {
        let pin = crate::record::generate::Generator::new(crate::record::generate::GenerateOptions {
            posts: 1,
            seed: 3,
            resend: false,
        })
        .posts()
        .next()
        .unwrap();
        let row = clean_record(Kind::Pin, pin.pin.as_bytes()).unwrap();
        let mut increments = BTreeMap::new();
        add_record(&mut increments, &row, 10 * MINUTE + 5, &seq("1"));
        add_record(&mut increments, &row, 10 * MINUTE + 59_999, &seq("2"));
        let CleanRow::Pin(p) = &row else { unreachable!() };
        // Boards only: a profile's own series is read from its board items.
        assert!(increments.keys().all(|k| matches!(k.series, Series::Board(..))), "{increments:?}");
        let expected = 3 * (usize::from(p.poster_name.is_some()) + usize::from(p.category.is_some()));
        assert_eq!(increments.len(), expected);
        assert!(increments.values().all(|i| i.posts == 2), "same minute, hour and day: {increments:?}");
        let geo = clean_record(Kind::Geo, pin.geo.as_bytes()).unwrap();
        let mut increments = BTreeMap::new();
        add_record(&mut increments, &geo, 0, &seq("3"));
        let CleanRow::Geo(g) = &geo else { unreachable!() };
        assert_eq!(increments.len(), 3 * usize::from(g.country.is_some()));
    }

    #[test]
    fn nulls_and_placeholders_are_never_a_profile() {
        let line = &crate::record::generate::Generator::new(crate::record::generate::GenerateOptions {
            posts: 1,
            seed: 4,
            resend: false,
        })
        .posts()
        .next()
        .unwrap()
        .pin;
        let mut pin: serde_json::Value = serde_json::from_str(line).unwrap();
        pin["poster_name"] = "User Info Error".into();
        pin["category"] = serde_json::Value::Null;
        let bytes = pin.to_string();
        let row = clean_record(Kind::Pin, bytes.as_bytes()).unwrap();
        let mut increments = BTreeMap::new();
        add_record(&mut increments, &row, 0, &seq("1"));
        assert!(increments.is_empty(), "{increments:?}");
    }

    #[test]
    fn popularity_ranks_activity_weighted_by_reach() {
        assert_eq!(popularity(0, Some(1_000_000)), 0.0);
        assert_eq!(popularity(3, Some(9)), 6.0);
        assert_eq!(popularity(2, None), 2.0);
        assert!(popularity(2, Some(999)) > popularity(3, Some(0)));
        let followers = |at, sequence: &str, count| Some(Followers { at, sequence: seq(sequence), count });
        let rows = vec![
            BucketRow { start: 0, key: "a".into(), posts: 1, followers: followers(5, "7", 99) },
            BucketRow { start: MINUTE, key: "a".into(), posts: 2, followers: followers(MINUTE + 1, "3", 9) },
            BucketRow { start: 0, key: "b".into(), posts: 2, followers: followers(3, "1", 999_999) },
        ];
        let top = totals(rows, true, 10);
        assert_eq!(top[0].key, "b");
        assert_eq!((top[1].posts, top[1].follower_count, top[1].popularity), (3, Some(9), Some(6.0)));
        // Two shards' parts of one bucket, the same millisecond: the higher sequence number's count.
        let rows = vec![
            BucketRow {
                start: 0,
                key: "c".into(),
                posts: 1,
                followers: followers(MINUTE, "49500000000000000000000000000000000000000000000000000099", 5),
            },
            BucketRow {
                start: 0,
                key: "c".into(),
                posts: 1,
                followers: followers(MINUTE, "49500000000000000000000000000000000000000000000000000100", 7),
            },
            BucketRow {
                start: 0,
                key: "c".into(),
                posts: 1,
                followers: followers(MINUTE - 1, "49600000000000000000000000000000000000000000000000000000", 9),
            },
        ];
        assert_eq!(totals(rows, true, 1)[0].follower_count, Some(7));
    }
}
