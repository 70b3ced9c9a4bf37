//! Where metrics are kept: a [`MetricsStore`] holds each shard's mark, the posts
//! already counted, and the buckets; DynamoDB on AWS ([`super::dynamo`]), or
//! [`InProcessMetrics`] for `pinpipe demo` and the tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{BucketKey, BucketRow, Dimension, Increment, RETENTION_MS, Series};
use crate::kind::Kind;
use crate::sequence::{Incarnation, SequenceNumber};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The shard's mark moved since it was read: another delivery committed first.
    #[error("the shard's mark moved: another delivery of it committed first")]
    MarkMoved,
    /// These posts were counted first by another shard (their markers are there and
    /// not expired): nothing of the commit was applied.
    #[error("{} posts were counted by another shard meanwhile", .0.len())]
    AlreadyCounted(Vec<(Kind, i64)>),
    /// Another transaction was writing one of the same items at that moment
    /// (DynamoDB's `TransactionConflict`): nothing was applied; try again.
    #[error("a concurrent transaction wrote one of the same items: {0}")]
    Conflict(String),
    /// Over the table's request rate: nothing was applied; try again later.
    #[error("the metrics store is throttling: {0}")]
    Throttled(String),
    #[error("the metrics store: {0}")]
    Failed(String),
}

/// How far a shard has been counted: the last sequence number, in its stream's
/// incarnation ([`Incarnation::UNKNOWN`]: compared by sequence number alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMark {
    pub incarnation: Incarnation,
    pub sequence: SequenceNumber,
}

impl ShardMark {
    /// Whether a record at `sequence` of incarnation `incarnation` comes after this mark.
    pub fn is_before(&self, incarnation: Incarnation, sequence: &SequenceNumber) -> bool {
        if self.incarnation == Incarnation::UNKNOWN || incarnation == Incarnation::UNKNOWN {
            sequence > &self.sequence
        } else {
            (incarnation, sequence) > (self.incarnation, &self.sequence)
        }
    }
}

/// One atomic commit: item updates, the posts now counted, and the shard's new mark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub increments: BTreeMap<BucketKey, Increment>,
    /// Posts (kind, ind) counted by this commit: counted again never (within the memory).
    pub counted: Vec<(Kind, i64)>,
    pub mark: Option<ShardMark>,
}

impl Commit {
    /// The store items it updates besides the mark.
    pub fn items(&self) -> usize {
        self.increments.len() + self.counted.len()
    }
}

/// Until when a post counted at `now` (ms) stays counted (ms).
pub fn counted_until(now: i64) -> i64 {
    now + RETENTION_MS
}

#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// How far `shard` (`<stream>/<shard id>`) has been counted.
    async fn mark(&self, shard: &str) -> Result<Option<ShardMark>, StoreError>;
    /// Which of these posts are counted at `now` (ms): a marker past its expiry is not,
    /// whether or not it has been swept away yet.
    async fn counted(&self, kind: Kind, inds: &[i64], now: i64) -> Result<HashSet<i64>, StoreError>;
    /// Applies `commit` as `shard` at `now`, all or nothing: its increments to the
    /// shard's own part of each bucket, its posts' markers (each on the condition that
    /// none is there or it has expired: [`StoreError::AlreadyCounted`] names those that
    /// are), and the mark moved from `expected` to `commit.mark`
    /// ([`StoreError::MarkMoved`] when it is no longer `expected`).
    async fn commit(
        &self,
        shard: &str,
        expected: Option<&ShardMark>,
        commit: Commit,
        now: i64,
    ) -> Result<(), StoreError>;
    /// A series' buckets from `first` to `last` (bucket starts, both included), one row
    /// per shard's part: one query.
    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError>;
}

#[derive(Default)]
struct State {
    marks: HashMap<String, ShardMark>,
    /// Each counted post's expiry (ms).
    counted: HashMap<(Kind, i64), i64>,
    buckets: BTreeMap<(String, String), BucketRow>,
}

/// Metrics in this process (the embedded default), under one lock.
#[derive(Clone, Default)]
pub struct InProcessMetrics {
    state: Arc<Mutex<State>>,
}

impl InProcessMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl MetricsStore for InProcessMetrics {
    async fn mark(&self, shard: &str) -> Result<Option<ShardMark>, StoreError> {
        Ok(self.lock().marks.get(shard).cloned())
    }

    async fn counted(&self, kind: Kind, inds: &[i64], now: i64) -> Result<HashSet<i64>, StoreError> {
        let state = self.lock();
        Ok(inds
            .iter()
            .copied()
            .filter(|ind| state.counted.get(&(kind, *ind)).is_some_and(|until| *until > now))
            .collect())
    }

    async fn commit(
        &self,
        shard: &str,
        expected: Option<&ShardMark>,
        commit: Commit,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.marks.get(shard) != expected {
            return Err(StoreError::MarkMoved);
        }
        let taken: Vec<(Kind, i64)> = commit
            .counted
            .iter()
            .copied()
            .filter(|post| state.counted.get(post).is_some_and(|until| *until > now))
            .collect();
        if !taken.is_empty() {
            return Err(StoreError::AlreadyCounted(taken));
        }
        for (bucket, increment) in commit.increments {
            let row = state.buckets.entry((bucket.series.key(), part_sort_key(&bucket, shard))).or_insert_with(|| {
                BucketRow { start: bucket.start, key: bucket.key.clone(), posts: 0, followers: None }
            });
            row.posts += increment.posts;
            // As DynamoDB does it: a shard's later commit's follower count stands.
            if increment.followers.is_some() {
                row.followers = increment.followers;
            }
        }
        for post in commit.counted {
            state.counted.insert(post, counted_until(now));
        }
        match commit.mark {
            Some(mark) => state.marks.insert(shard.to_owned(), mark),
            None => state.marks.remove(shard),
        };
        Ok(())
    }

    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError> {
        let (from, to) = (format!("{first:013}"), format!("{last:013}~"));
        let state = self.lock();
        // A profile's series is its items of the profile board (DynamoDB reads them
        // through an index; here the board's window is filtered).
        let (key, profile) = match series {
            Series::Board(..) => (series.key(), None),
            Series::Profile(name, resolution) => (Series::Board(Dimension::Profile, *resolution).key(), Some(name)),
        };
        Ok(state
            .buckets
            .range((key.clone(), from)..(key, to))
            .map(|(_, row)| row)
            .filter(|row| profile.is_none_or(|name| row.key == *name))
            .cloned()
            .collect())
    }
}

/// A shard's part of a bucket in the store: the bucket's sort key, then the shard.
pub fn part_sort_key(bucket: &BucketKey, shard: &str) -> String {
    format!("{}#{shard}", bucket.sort_key())
}
