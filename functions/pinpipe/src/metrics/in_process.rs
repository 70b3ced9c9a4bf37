//! Metrics in this process, under one lock: the embedded default's store (`pinpipe
//! demo`) and the tests' (feature `local`; no Lambda links it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::store::{Commit, MetricsStore, ShardMark, StoreError, counted_until, part_sort_key};
use super::{BucketRow, Dimension, Series};
use crate::kind::Kind;

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
