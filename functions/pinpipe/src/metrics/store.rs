//! Where metrics are kept: a [`MetricsStore`] holds each shard's mark, the posts
//! already counted, and the buckets; DynamoDB on AWS ([`super::dynamo`]), or
//! [`InProcessMetrics`] for `pinpipe demo` and the tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{BucketKey, BucketRow, Dimension, Increment, Series};
use crate::kind::Kind;
use crate::sequence::SequenceNumber;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The shard's mark moved since it was read: another delivery committed first.
    #[error("the shard's mark moved: another delivery of it committed first")]
    MarkMoved,
    #[error("the metrics store: {0}")]
    Failed(String),
}

/// One atomic commit: item updates, the posts now counted, and the shard's new mark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub increments: BTreeMap<BucketKey, Increment>,
    /// Posts (kind, ind) counted by this commit: counted again never.
    pub counted: Vec<(Kind, i64)>,
    pub mark: Option<SequenceNumber>,
}

impl Commit {
    /// The store items it updates besides the mark.
    pub fn items(&self) -> usize {
        self.increments.len() + self.counted.len()
    }
}

#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// The last sequence number of `shard` (`<stream>/<shard id>`) counted.
    async fn mark(&self, shard: &str) -> Result<Option<SequenceNumber>, StoreError>;
    /// Which of these posts were counted before.
    async fn counted(&self, kind: Kind, inds: &[i64]) -> Result<HashSet<i64>, StoreError>;
    /// Applies `commit` and moves `shard`'s mark from `expected` to `commit.mark`, all
    /// or nothing; [`StoreError::MarkMoved`] when the mark is no longer `expected`.
    async fn commit(&self, shard: &str, expected: Option<&SequenceNumber>, commit: Commit) -> Result<(), StoreError>;
    /// A series' buckets from `first` to `last` (bucket starts, both included): one query.
    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError>;
}

#[derive(Default)]
struct State {
    marks: HashMap<String, SequenceNumber>,
    counted: HashSet<(Kind, i64)>,
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
    async fn mark(&self, shard: &str) -> Result<Option<SequenceNumber>, StoreError> {
        Ok(self.lock().marks.get(shard).cloned())
    }

    async fn counted(&self, kind: Kind, inds: &[i64]) -> Result<HashSet<i64>, StoreError> {
        let state = self.lock();
        Ok(inds.iter().copied().filter(|ind| state.counted.contains(&(kind, *ind))).collect())
    }

    async fn commit(&self, shard: &str, expected: Option<&SequenceNumber>, commit: Commit) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.marks.get(shard) != expected {
            return Err(StoreError::MarkMoved);
        }
        for (bucket, increment) in commit.increments {
            let row = state.buckets.entry((bucket.series.key(), bucket.sort_key())).or_insert_with(|| BucketRow {
                start: bucket.start,
                key: bucket.key.clone(),
                posts: 0,
                followers: None,
            });
            row.posts += increment.posts;
            // As DynamoDB does it: the later commit's follower count stands.
            if increment.followers.is_some() {
                row.followers = increment.followers;
            }
        }
        state.counted.extend(commit.counted);
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
