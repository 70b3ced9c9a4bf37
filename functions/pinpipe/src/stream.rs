//! The stream cleaner (SPEC §6, §7): a Kinesis batch → clean → an exactly-once
//! append to `delta/stream/<id>_<kind>_table`; what cannot be cleaned goes to
//! quarantine. Generic over where the event came from: the Lambda event source
//! mapping, or the local poller.
//!
//! A shard's mark is labelled with its stream's incarnation, so a recreated stream's
//! restarted sequence numbers land after the old stream's records; when Kinesis is
//! asked for it, and what happens when it does not answer: [`crate::delivery::incarnation`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use tokio::sync::Mutex;

use crate::config::Names;
use crate::delivery::incarnation::{IncarnationError, Incarnations, StreamCreation};
use crate::delivery::lanes::{self, Counted, ShardRecords, group_by_shard};
use crate::delivery::sequence::SequenceNumber;
use crate::kind::Kind;
use crate::lake::delta::{CleanTable, Fault};
use crate::lake::exactly_once::{self, Staged, WriteError};
use crate::lake::marks::{KinesisShard, Mark, ShardPosition};
use crate::lake::{Lake, LakeError};
use crate::record::columnar::clean_batch;
use crate::record::quarantine::{Origin, Quarantined};

/// Counts of one invocation (also emitted as CloudWatch embedded metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, derive_more::AddAssign)]
pub struct StreamCounts {
    pub records_in: u64,
    pub rows_written: u64,
    pub quarantined: u64,
    pub duplicates_skipped: u64,
    pub failed: u64,
}

impl std::fmt::Display for StreamCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records in, {} rows written, {} quarantined, {} duplicates skipped, {} failed (redelivered)",
            self.records_in, self.rows_written, self.quarantined, self.duplicates_skipped, self.failed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Incarnation(#[from] IncarnationError),
}

/// The stream cleaner's state, built once per Lambda instance.
pub struct StreamCleaner {
    lake: Lake,
    id: String,
    /// Open tables, kept between invocations (refreshed before each use).
    tables: Mutex<HashMap<Kind, CleanTable>>,
    fault: Option<Fault>,
    /// How many more appends the fault is injected into.
    faults_left: AtomicU32,
    incarnations: Incarnations,
}

impl Counted for StreamCounts {
    fn failed(records: u64) -> Self {
        StreamCounts { records_in: records, failed: records, ..Default::default() }
    }
}

impl StreamCleaner {
    pub fn new(lake: Lake, id: impl Into<String>) -> Self {
        StreamCleaner {
            lake,
            id: id.into(),
            tables: Mutex::new(HashMap::new()),
            fault: None,
            faults_left: AtomicU32::new(0),
            incarnations: Incarnations::default(),
        }
    }

    /// Compares each stream's incarnation (when it was created) with its shards' marks.
    pub fn with_stream_creation(mut self, creation: impl StreamCreation + 'static) -> Self {
        self.incarnations = Incarnations::asking(creation);
        self
    }

    /// Injects a failure between writing data files and committing into every append (tests).
    pub fn with_fault(self, fault: Option<Fault>) -> Self {
        self.with_faults(fault, u32::MAX)
    }

    /// Injects a failure into the next `times` appends only (tests of retries).
    pub fn with_faults(mut self, fault: Option<Fault>, times: u32) -> Self {
        self.fault = fault;
        self.faults_left = AtomicU32::new(times);
        self
    }

    fn next_fault(&self) -> Option<Fault> {
        let left = self.faults_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        self.fault.filter(|_| left.is_ok())
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Handles one Kinesis event. A shard that fails reports its first record as
    /// the batch item failure, so Lambda retries from there; records that can never
    /// succeed are quarantined, not reported.
    pub async fn handle(&self, event: &KinesisEvent) -> (KinesisEventResponse, StreamCounts) {
        let shards = group_by_shard(event);
        lanes::handle(&shards, |shard| self.process_shard(shard)).await
    }

    async fn process_shard(&self, shard: &ShardRecords<'_>) -> Result<StreamCounts, ShardError> {
        let mut counts = StreamCounts { records_in: shard.records.len() as u64, ..Default::default() };
        let origin = |record: &KinesisEventRecord| Origin::Stream {
            stream: shard.stream.clone(),
            shard: shard.shard.clone(),
            sequence_number: record.kinesis.sequence_number.clone(),
        };
        let Some(kind) = Kind::from_suffix(&shard.stream) else {
            // No table can ever take these: keep them, with the reason.
            for record in &shard.records {
                let q = Quarantined::with_reason(
                    "unknown_stream",
                    format!("stream {:?} does not end in -pin, -geo or -user", shard.stream),
                    None,
                    &record.kinesis.data.0,
                    origin(record),
                );
                self.lake.put(&q.key(), q.to_json()).await?;
            }
            counts.quarantined = shard.records.len() as u64;
            return Ok(counts);
        };
        let mut sequenced = Vec::with_capacity(shard.records.len());
        for record in &shard.records {
            match SequenceNumber::parse(&record.kinesis.sequence_number) {
                Ok(seq) => sequenced.push((seq, *record)),
                Err(e) => {
                    let q = Quarantined::with_reason(
                        "bad_sequence_number",
                        e.to_string(),
                        None,
                        &record.kinesis.data.0,
                        origin(record),
                    );
                    self.lake.put(&q.key(), q.to_json()).await?;
                    counts.quarantined += 1;
                }
            }
        }
        let mut tables = self.tables.lock().await;
        let table = match tables.entry(kind) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let table = e.into_mut();
                table.refresh().await?;
                table
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let relative = Names { id: &self.id }.stream_table(kind);
                e.insert(CleanTable::create_or_open(&self.lake, &relative, kind).await?)
            }
        };
        let writer = self.writer(table, shard, &sequenced).await?;
        let sequenced: Vec<(ShardPosition, &KinesisEventRecord)> =
            sequenced.into_iter().map(|(seq, record)| (writer.position(seq), record)).collect();
        let lake = &self.lake;
        let origin = &origin;
        let stage = |fresh: Vec<_>| async move {
            let fresh: Vec<&(ShardPosition, &KinesisEventRecord)> = fresh;
            let cleaned = clean_batch(kind, fresh.iter().map(|(_, r)| r.kinesis.data.0.as_slice()));
            for (position, reason) in &cleaned.quarantined {
                let record = fresh[*position].1;
                let q = Quarantined::new(reason, &record.kinesis.data.0, origin(record));
                lake.put(&q.key(), q.to_json()).await?;
            }
            let quarantined = cleaned.quarantined.len() as u64;
            Ok(Staged { batches: vec![cleaned.batch], notes: HashMap::new(), quarantined })
        };
        let written =
            exactly_once::append(table, &writer, &sequenced, |(seq, _)| seq, stage, self.next_fault()).await?;
        counts.rows_written += written.rows;
        counts.quarantined += written.quarantined;
        counts.duplicates_skipped += written.duplicates;
        Ok(counts)
    }

    /// The shard's writer, labelled with its stream's incarnation ([`crate::delivery::incarnation`]).
    async fn writer(
        &self,
        table: &mut CleanTable,
        shard: &ShardRecords<'_>,
        sequenced: &[(SequenceNumber, &KinesisEventRecord)],
    ) -> Result<KinesisShard, ShardError> {
        let (stream, id) = (&shard.stream, &shard.shard);
        // The mark as stored: its incarnation, or unknown when it names none.
        let mark = table.mark(&KinesisShard::reader(stream, id)).await?;
        let would_skip =
            mark.as_ref().is_some_and(|m| sequenced.iter().any(|(seq, _)| *seq <= m.position.sequence_number));
        let marked = mark.map(|m| m.position.incarnation);
        let current = self.incarnations.current(stream, id, marked, would_skip).await?;
        Ok(KinesisShard::new(stream, id, current))
    }
}

/// A shard's mark in a stream table: what tests and the poller use to see its progress.
pub async fn shard_mark(
    table: &mut CleanTable,
    stream: &str,
    shard: &str,
) -> Result<Option<Mark<ShardPosition>>, LakeError> {
    table.mark(&KinesisShard::reader(stream, shard)).await
}
