//! Where metrics are kept: a [`MetricsStore`] holds each shard's mark, the posts
//! already counted, and the buckets; DynamoDB on AWS ([`super::dynamo`]), or
//! `InProcessMetrics` (`super::in_process`, feature `local`) for `pinpipe demo` and the tests.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;

use super::{BucketKey, BucketRow, Increment, RETENTION_MS, Series};
use crate::delivery::sequence::{Incarnation, SequenceNumber};
use crate::kind::Kind;

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

/// A shard's part of a bucket in the store: the bucket's sort key, then the shard.
pub fn part_sort_key(bucket: &BucketKey, shard: &str) -> String {
    format!("{}#{shard}", bucket.sort_key())
}
