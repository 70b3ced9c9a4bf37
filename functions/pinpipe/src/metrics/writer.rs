//! The metrics writer: a Kinesis event → each shard's records after its mark,
//! cleaned with the one cleaner, counted into the batch's buckets, committed exactly
//! once in chunks that each move the mark (see the module above for why chunks, and
//! how shards never collide).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;

use super::store::{Commit, MetricsStore, ShardMark, StoreError};
use super::{MAX_ITEMS_PER_COMMIT, add_record};
use crate::delivery::exactly_once::{self, MarkedWriter, Refused, Stopped};
use crate::delivery::incarnation::{Incarnation, IncarnationError, Incarnations, StreamCreation};
use crate::delivery::lanes::{self, Counted, ShardRecords, group_by_shard};
use crate::delivery::sequence::SequenceNumber;
use crate::kind::Kind;
use crate::record::clean::clean_record;

/// Counts of one invocation (also emitted as CloudWatch embedded metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, derive_more::AddAssign)]
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
    /// Commits tried again: the mark moved, a transaction was cancelled (a conflict,
    /// a post another shard counted first) or throttled.
    pub retries: u64,
    pub failed: u64,
}

impl fmt::Display for MetricsCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records in, {} counted, {} not counted (re-sent or no metric), {} duplicates skipped, {} commits ({} retried), {} failed (redelivered)",
            self.records_in,
            self.records_counted,
            self.records_not_counted,
            self.duplicates_skipped,
            self.commits,
            self.retries,
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
    #[error(transparent)]
    Incarnation(#[from] IncarnationError),
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
    incarnations: Incarnations,
    /// Tests: fail after this many commits of each delivery (a crash between chunks).
    crash_after: Option<u64>,
}

impl<S: MetricsStore> MetricsWriter<S> {
    pub fn new(store: S) -> Self {
        MetricsWriter { store, incarnations: Incarnations::default(), crash_after: None }
    }

    /// Asks `creation` (Kinesis) when a stream was created, to tell a recreated one
    /// ([`crate::delivery::incarnation`]).
    pub fn with_stream_creation(mut self, creation: impl StreamCreation + 'static) -> Self {
        self.incarnations = Incarnations::asking(creation);
        self
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
        let shards = group_by_shard(event);
        lanes::handle(&shards, |shard| self.count_shard(shard)).await
    }

    async fn count_shard(&self, shard: &ShardRecords<'_>) -> Result<MetricsCounts, MetricsError> {
        // Records whose sequence number does not parse cannot be ordered against the
        // mark: the stream cleaner quarantines them; here they count nothing.
        let sequenced: Vec<(SequenceNumber, &KinesisEventRecord)> = shard
            .records
            .iter()
            .filter_map(|r| SequenceNumber::parse(&r.kinesis.sequence_number).ok().map(|s| (s, *r)))
            .collect();
        let mut counting = ShardCounting {
            writer: self,
            id: shard_id(shard),
            lane: shard,
            kind: Kind::from_suffix(&shard.stream),
            sequenced: &sequenced,
            taken: HashSet::new(),
            incarnation: Incarnation::UNKNOWN,
            now: 0,
            retries: 0,
            counts: MetricsCounts::default(),
        };
        match exactly_once::write_once(&mut counting).await {
            Ok(_) => Ok(counting.counts),
            Err(Stopped::Failed(error)) => Err(error),
            Err(Stopped::Contended) => Err(MetricsError::Contended(counting.id)),
        }
    }

    /// The fresh records as commits of at most [`MAX_ITEMS_PER_COMMIT`] items, in
    /// order, each ending with the mark of its last record. A post counted before (by
    /// any shard, within the memory) or `taken` meanwhile counts nothing.
    async fn plan(
        &self,
        kind: Kind,
        incarnation: Incarnation,
        fresh: &[&(SequenceNumber, &KinesisEventRecord)],
        taken: &HashSet<i64>,
        now: i64,
        counts: &mut MetricsCounts,
    ) -> Result<Vec<Commit>, MetricsError> {
        let cleaned: Vec<_> = fresh.iter().map(|(_, r)| clean_record(kind, &r.kinesis.data.0).ok()).collect();
        let inds: Vec<i64> = cleaned.iter().flatten().map(|row| row.ind()).collect();
        let mut counted: HashSet<i64> = self.store.counted(kind, &inds, now).await?;
        counted.extend(taken);
        let mut commits: Vec<Commit> = Vec::new();
        let mut current = Commit::default();
        for ((seq, record), row) in fresh.iter().zip(cleaned) {
            let mut increments = BTreeMap::new();
            let counts_now = row.as_ref().filter(|row| !counted.contains(&row.ind()));
            if let Some(row) = counts_now {
                let arrival = record.kinesis.approximate_arrival_timestamp.0.timestamp_millis();
                add_record(&mut increments, row, arrival, seq);
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
                        current.increments.entry(bucket).or_default().merge(increment);
                    }
                    counts.records_counted += 1;
                }
                None => counts.records_not_counted += 1,
            }
            current.mark = Some(ShardMark { incarnation, sequence: seq.clone() });
        }
        if current.mark.is_some() {
            commits.push(current);
        }
        Ok(commits)
    }

    async fn apply(
        &self,
        id: &str,
        mut mark: Option<ShardMark>,
        commits: Vec<Commit>,
        now: i64,
        counts: &mut MetricsCounts,
    ) -> Result<(), MetricsError> {
        for (n, commit) in commits.into_iter().enumerate() {
            if self.crash_after == Some(n as u64) {
                return Err(MetricsError::Injected(n as u64));
            }
            let next = commit.mark.clone();
            self.store.commit(id, mark.as_ref(), commit, now).await?;
            counts.commits += 1;
            mark = next;
        }
        Ok(())
    }
}

/// One shard's batch as a marked writer of the one engine
/// ([`crate::delivery::exactly_once`]): the mark is the shard's mark item, staging plans
/// the fresh records' commits, and a commit is applied chunk by chunk, each chunk
/// moving the mark on the condition that it is still the one before.
struct ShardCounting<'w, S> {
    writer: &'w MetricsWriter<S>,
    id: String,
    lane: &'w ShardRecords<'w>,
    kind: Option<Kind>,
    sequenced: &'w [(SequenceNumber, &'w KinesisEventRecord)],
    /// Posts other shards counted while this batch was being committed.
    taken: HashSet<i64>,
    /// The stream's incarnation, as of the mark last read.
    incarnation: Incarnation,
    /// When the batch was last staged (the counted posts' memory runs from it).
    now: i64,
    retries: u64,
    counts: MetricsCounts,
}

#[async_trait::async_trait]
impl<S: MetricsStore> MarkedWriter for ShardCounting<'_, S> {
    type Mark = ShardMark;
    type Staged = Vec<Commit>;
    type Committed = ();
    type Error = MetricsError;

    fn name(&self) -> &str {
        &self.id
    }

    async fn mark(&mut self) -> Result<Option<ShardMark>, MetricsError> {
        let mark = self.writer.store.mark(&self.id).await?;
        let would_skip = mark.as_ref().is_some_and(|m| self.sequenced.iter().any(|(seq, _)| *seq <= m.sequence));
        let marked = mark.as_ref().map(|m| m.incarnation);
        self.incarnation =
            self.writer.incarnations.current(&self.lane.stream, &self.lane.shard, marked, would_skip).await?;
        Ok(mark)
    }

    async fn stage(&mut self, mark: Option<&ShardMark>) -> Result<Option<Vec<Commit>>, MetricsError> {
        let records = self.lane.records.len();
        let mut counts = MetricsCounts { records_in: records as u64, retries: self.retries, ..Default::default() };
        counts.records_not_counted = (records - self.sequenced.len()) as u64;
        let incarnation = self.incarnation;
        let fresh: Vec<&(SequenceNumber, &KinesisEventRecord)> =
            self.sequenced.iter().filter(|(seq, _)| mark.is_none_or(|m| m.is_before(incarnation, seq))).collect();
        counts.duplicates_skipped = (self.sequenced.len() - fresh.len()) as u64;
        let Some(kind) = self.kind.filter(|_| !fresh.is_empty()) else {
            counts.records_not_counted += fresh.len() as u64;
            self.counts = counts;
            return Ok(None);
        };
        self.now = chrono::Utc::now().timestamp_millis();
        let commits = self.writer.plan(kind, incarnation, &fresh, &self.taken, self.now, &mut counts).await;
        self.counts = counts;
        Ok(Some(commits?))
    }

    async fn commit(&mut self, mark: Option<ShardMark>, commits: Vec<Commit>) -> Result<(), Refused<MetricsError>> {
        let outcome = self.writer.apply(&self.id, mark, commits, self.now, &mut self.counts).await;
        match outcome {
            Ok(()) => Ok(()),
            Err(MetricsError::Store(StoreError::AlreadyCounted(posts))) => {
                // Staged again without them, at once: nothing of the commit was applied.
                self.retries += 1;
                let reason = format!("{} posts counted by another shard meanwhile", posts.len());
                self.taken.extend(posts.into_iter().map(|(_, ind)| ind));
                Err(Refused::Restage(reason))
            }
            Err(MetricsError::Store(
                e @ (StoreError::MarkMoved | StoreError::Conflict(_) | StoreError::Throttled(_)),
            )) => {
                self.retries += 1;
                Err(Refused::Raced(e.to_string()))
            }
            Err(e) => Err(Refused::Failed(e)),
        }
    }
}
