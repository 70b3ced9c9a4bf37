//! A metrics store that keeps DynamoDB's documented rules, in front of any other
//! ([`InProcessMetrics`](pinpipe::metrics::store::InProcessMetrics), or
//! [`DynamoMetrics`](pinpipe::metrics::dynamo::DynamoMetrics) on moto): what the tests
//! and the bench run on, because moto runs one transaction at a time and never throttles.
//!
//! - **Conflicts**: a `TransactWriteItems` is cancelled with `TransactionConflict` when
//!   another transaction in flight writes any of the same items. Each transaction holds
//!   its items for [`DynamoRules::holding`] while it is applied (DynamoDB's transactions
//!   take milliseconds), so concurrent deliveries really overlap.
//! - **Conditions**: the inner store checks them (the mark; a post's marker), and its
//!   cancellation is passed on as is.
//! - **Throttling on demand**: [`DynamoRules::throttle_next`] throttles that many requests.
//! - **Capacity, as DynamoDB bills it** (on demand): a transactional write costs 2 write
//!   units per item per started KB; a strongly consistent read of an item 1 read unit
//!   per started 4 KB (a `BatchGetItem` key not found still 1); a `Query`, eventually
//!   consistent, half a unit per started 4 KB of all it returns. A cancelled transaction
//!   is counted too (an upper bound on what is billed).
//!
//! Moto stays serialised behind it (`serialise`): its server is not safe under
//! concurrent transactions (500s, half-applied transactions, lost `ADD`s).

use std::collections::{HashSet, hash_map::DefaultHasher};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pinpipe::Kind;
use pinpipe::metrics::dynamo::items;
use pinpipe::metrics::store::{Commit, MetricsStore, ShardMark, StoreError};
use pinpipe::metrics::{BucketRow, Series};

/// What the front counted, as DynamoDB would bill and answer.
#[derive(Debug, Default)]
pub struct Usage {
    pub write_units: AtomicU64,
    /// Read units, in halves (a Query's eventually consistent half unit).
    pub read_half_units: AtomicU64,
    pub transactions: AtomicU64,
    /// Transactions cancelled because another in flight wrote one of their items.
    pub conflicts: AtomicU64,
    /// Transactions cancelled by a condition (a moved mark, a post counted elsewhere).
    pub condition_failures: AtomicU64,
    pub throttled: AtomicU64,
    pub items_written: AtomicU64,
}

impl Usage {
    pub fn write_units(&self) -> u64 {
        self.write_units.load(Ordering::SeqCst)
    }

    pub fn read_units(&self) -> f64 {
        self.read_half_units.load(Ordering::SeqCst) as f64 / 2.0
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// The front: `inner` behind DynamoDB's rules.
#[derive(Clone)]
pub struct DynamoRules<S> {
    inner: S,
    in_flight: Arc<Mutex<HashSet<u64>>>,
    hold: Duration,
    throttle: Arc<AtomicU64>,
    serialise: Option<Arc<tokio::sync::Mutex<()>>>,
    pub usage: Arc<Usage>,
}

fn hashed(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Started units of `size` bytes in `unit`-byte steps (at least one).
fn units(size: usize, unit: usize) -> u64 {
    size.div_ceil(unit).max(1) as u64
}

impl<S: MetricsStore> DynamoRules<S> {
    pub fn new(inner: S) -> Self {
        DynamoRules {
            inner,
            in_flight: Arc::default(),
            hold: Duration::from_millis(2),
            throttle: Arc::default(),
            serialise: None,
            usage: Arc::default(),
        }
    }

    /// How long a transaction holds its items while it is applied.
    pub fn holding(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Passes one request at a time to the inner store (moto).
    pub fn serialised(mut self) -> Self {
        self.serialise = Some(Arc::default());
        self
    }

    /// Throttles the next `requests` requests.
    pub fn throttle_next(&self, requests: u64) {
        self.throttle.store(requests, Ordering::SeqCst);
    }

    fn throttled(&self) -> Result<(), StoreError> {
        let throttled = self.throttle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if throttled {
            self.usage.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Throttled("ThrottlingException: the front throttled this request".into()));
        }
        Ok(())
    }

    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.serialise {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    fn read(&self, half_units: u64) {
        self.usage.read_half_units.fetch_add(half_units, Ordering::SeqCst);
    }
}

#[async_trait]
impl<S: MetricsStore> MetricsStore for DynamoRules<S> {
    async fn mark(&self, shard: &str) -> Result<Option<ShardMark>, StoreError> {
        self.throttled()?;
        self.read(2);
        let _turn = self.turn().await;
        self.inner.mark(shard).await
    }

    async fn counted(&self, kind: Kind, inds: &[i64], now: i64) -> Result<HashSet<i64>, StoreError> {
        self.throttled()?;
        let distinct: HashSet<i64> = inds.iter().copied().collect();
        self.read(2 * distinct.len() as u64);
        let _turn = self.turn().await;
        self.inner.counted(kind, inds, now).await
    }

    async fn commit(
        &self,
        shard: &str,
        expected: Option<&ShardMark>,
        commit: Commit,
        now: i64,
    ) -> Result<(), StoreError> {
        self.throttled()?;
        let written = items(shard, &commit, now);
        self.usage.transactions.fetch_add(1, Ordering::SeqCst);
        let cost: u64 = written.iter().map(|item| 2 * units(item.size(), 1024)).sum();
        self.usage.write_units.fetch_add(cost, Ordering::SeqCst);
        let keys: Vec<u64> = written.iter().map(|item| hashed(&item.key)).collect();
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if keys.iter().any(|key| in_flight.contains(key)) {
                self.usage.conflicts.fetch_add(1, Ordering::SeqCst);
                return Err(StoreError::Conflict(
                    "TransactionConflict: another transaction in flight writes an item".into(),
                ));
            }
            in_flight.extend(keys.iter().copied());
        }
        let applied = async {
            tokio::time::sleep(self.hold).await;
            let _turn = self.turn().await;
            self.inner.commit(shard, expected, commit, now).await
        }
        .await;
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for key in &keys {
                in_flight.remove(key);
            }
        }
        match &applied {
            Ok(()) => {
                self.usage.items_written.fetch_add(written.len() as u64, Ordering::SeqCst);
            }
            Err(StoreError::MarkMoved | StoreError::AlreadyCounted(_)) => {
                self.usage.condition_failures.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {}
        }
        applied
    }

    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError> {
        self.throttled()?;
        let rows = {
            let _turn = self.turn().await;
            self.inner.buckets(series, first, last).await?
        };
        // Each row an item of about its key, name and figures (as `items` sizes them).
        let bytes: usize = rows.iter().map(|row| 150 + 2 * row.key.len()).sum();
        self.read(units(bytes, 4096));
        Ok(rows)
    }
}
