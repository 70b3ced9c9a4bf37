//! The metrics writer: a Kinesis event → each shard's records after its mark,
//! cleaned with the one cleaner, counted into buckets, committed exactly once in
//! chunks that each move the mark (see the module above for why chunks).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;

use super::store::{Commit, MetricsStore, StoreError};
use super::{MAX_ITEMS_PER_COMMIT, add_record};
use crate::clean::clean_record;
use crate::kind::Kind;
use crate::lanes::{self, Counted, ShardRecords, group_by_shard};
use crate::sequence::SequenceNumber;

/// Deliveries of one shard racing for its mark before the batch is reported failed.
const MAX_ATTEMPTS: u32 = 8;

/// Counts of one invocation (also emitted as CloudWatch embedded metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricsCounts {
    pub records_in: u64,
    /// Records counted into buckets now.
    pub records_counted: u64,
    /// Re-sent posts (counted at their first arrival) and records no metric counts
    /// (user records, records that do not clean).
    pub records_not_counted: u64,
    /// Records at or below the shard's mark: counted by an earlier delivery.
    pub duplicates_skipped: u64,
    pub commits: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for MetricsCounts {
    fn add_assign(&mut self, o: Self) {
        self.records_in += o.records_in;
        self.records_counted += o.records_counted;
        self.records_not_counted += o.records_not_counted;
        self.duplicates_skipped += o.duplicates_skipped;
        self.commits += o.commits;
        self.failed += o.failed;
    }
}

impl fmt::Display for MetricsCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records in, {} counted, {} not counted (re-sent or no metric), {} duplicates skipped, {} commits, {} failed (redelivered)",
            self.records_in,
            self.records_counted,
            self.records_not_counted,
            self.duplicates_skipped,
            self.commits,
            self.failed
        )
    }
}

impl Counted for MetricsCounts {
    fn failed(records: u64) -> Self {
        MetricsCounts { records_in: records, failed: records, ..Default::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("shard {0}: other deliveries kept moving its mark; retry the batch")]
    Contended(String),
    #[error("injected failure after {0} commits")]
    Injected(u64),
}

fn shard_id(shard: &ShardRecords<'_>) -> String {
    format!("{}/{}", shard.stream, shard.shard)
}

/// The metrics writer's state, built once per Lambda instance.
pub struct MetricsWriter<S> {
    store: S,
    /// Tests: fail after this many commits of each delivery (a crash between chunks).
    crash_after: Option<u64>,
}

impl<S: MetricsStore> MetricsWriter<S> {
    pub fn new(store: S) -> Self {
        MetricsWriter { store, crash_after: None }
    }

    /// Injects a failure after `commits` commits of every shard's delivery (tests).
    pub fn crashing_after(mut self, commits: u64) -> Self {
        self.crash_after = Some(commits);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one Kinesis event: a shard that fails is reported by its first record,
    /// so Lambda retries it from there.
    pub async fn handle(&self, event: &KinesisEvent) -> (KinesisEventResponse, MetricsCounts) {
        let mut outcomes = Vec::new();
        for shard in group_by_shard(event) {
            let outcome = self.count_shard(&shard).await;
            outcomes.push((shard, outcome));
        }
        lanes::kinesis_response(outcomes)
    }

    async fn count_shard(&self, shard: &ShardRecords<'_>) -> Result<MetricsCounts, MetricsError> {
        let id = shard_id(shard);
        let kind = Kind::from_suffix(&shard.stream);
        // Records whose sequence number does not parse cannot be ordered against the
        // mark: the stream cleaner quarantines them; here they count nothing.
        let sequenced: Vec<(SequenceNumber, &KinesisEventRecord)> = shard
            .records
            .iter()
            .filter_map(|r| SequenceNumber::parse(&r.kinesis.sequence_number).ok().map(|s| (s, *r)))
            .collect();
        for attempt in 0..MAX_ATTEMPTS {
            let mut counts = MetricsCounts { records_in: shard.records.len() as u64, ..Default::default() };
            counts.records_not_counted = (shard.records.len() - sequenced.len()) as u64;
            let mark = self.store.mark(&id).await?;
            let fresh: Vec<&(SequenceNumber, &KinesisEventRecord)> =
                sequenced.iter().filter(|(seq, _)| mark.as_ref().is_none_or(|m| seq > m)).collect();
            counts.duplicates_skipped = (sequenced.len() - fresh.len()) as u64;
            let Some(kind) = kind else {
                counts.records_not_counted += fresh.len() as u64;
                return Ok(counts);
            };
            let commits = self.plan(kind, &fresh, &mut counts).await?;
            match self.apply(&id, mark, commits, &mut counts).await {
                Ok(()) => return Ok(counts),
                Err(MetricsError::Store(StoreError::MarkMoved)) => {
                    tracing::info!(shard = %id, attempt, "another delivery of this shard committed first");
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(MetricsError::Contended(id))
    }

    /// The fresh records as commits of at most [`MAX_ITEMS_PER_COMMIT`] items, in
    /// order, each ending with the mark of its last record.
    async fn plan(
        &self,
        kind: Kind,
        fresh: &[&(SequenceNumber, &KinesisEventRecord)],
        counts: &mut MetricsCounts,
    ) -> Result<Vec<Commit>, MetricsError> {
        let cleaned: Vec<_> = fresh.iter().map(|(_, r)| clean_record(kind, &r.kinesis.data.0).ok()).collect();
        let inds: Vec<i64> = cleaned.iter().flatten().map(|row| row.ind()).collect();
        let mut counted: HashSet<i64> = self.store.counted(kind, &inds).await?;
        let mut commits: Vec<Commit> = Vec::new();
        let mut current = Commit::default();
        for ((seq, record), row) in fresh.iter().zip(cleaned) {
            let mut increments = BTreeMap::new();
            let counts_now = row.as_ref().filter(|row| !counted.contains(&row.ind()));
            if let Some(row) = counts_now {
                let arrival = record.kinesis.approximate_arrival_timestamp.0.timestamp_millis();
                add_record(&mut increments, row, arrival);
            }
            let new_items = increments.keys().filter(|k| !current.increments.contains_key(*k)).count()
                + usize::from(counts_now.is_some());
            if current.items() + new_items > MAX_ITEMS_PER_COMMIT && current.mark.is_some() {
                commits.push(std::mem::take(&mut current));
            }
            match counts_now {
                Some(row) => {
                    counted.insert(row.ind());
                    current.counted.push((kind, row.ind()));
                    for (bucket, increment) in increments {
                        let total = current.increments.entry(bucket).or_default();
                        total.posts += increment.posts;
                        if increment.followers.is_some() {
                            total.followers = increment.followers;
                        }
                    }
                    counts.records_counted += 1;
                }
                None => counts.records_not_counted += 1,
            }
            current.mark = Some(seq.clone());
        }
        if current.mark.is_some() {
            commits.push(current);
        }
        Ok(commits)
    }

    async fn apply(
        &self,
        id: &str,
        mut mark: Option<SequenceNumber>,
        commits: Vec<Commit>,
        counts: &mut MetricsCounts,
    ) -> Result<(), MetricsError> {
        for (n, commit) in commits.into_iter().enumerate() {
            if self.crash_after == Some(n as u64) {
                return Err(MetricsError::Injected(n as u64));
            }
            let next = commit.mark.clone();
            self.store.commit(id, mark.as_ref(), commit).await?;
            counts.commits += 1;
            mark = next;
        }
        Ok(())
    }
}
