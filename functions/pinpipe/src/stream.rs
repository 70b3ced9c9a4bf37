//! The stream cleaner (SPEC §6, §7): a Kinesis batch → clean → an exactly-once
//! append to `delta/stream/<id>_<kind>_table`; what cannot be cleaned goes to
//! quarantine. Generic over where the event came from: the Lambda event source
//! mapping, or the local poller.
//!
//! A stream deleted and created again under the same name keeps its ARN and restarts
//! its sequence numbers, so its records could look as if they had landed already. The
//! cleaner labels each shard's mark with the stream's incarnation (when it was
//! created, from `DescribeStreamSummary`): a new incarnation's records come after
//! every record of the old one (`marks::ShardPosition`), so they land, and the change
//! is logged. `DescribeStreamSummary` allows 20 calls a second per account, shared
//! with everything else in it, so the cleaner asks only
//! - when the answer decides what is written: records would be skipped as landed, or
//!   the mark names another incarnation than the one known. Then the answer must be
//!   had: a throttled question is asked again within the invocation (with backoff),
//!   and only then does the shard fail (Lambda retries the batch);
//! - or to label a mark when no answer younger than a minute is known: best effort,
//!   once. Without an answer the commit is labelled unknown, which compares by
//!   sequence number alone, as if in the incarnation of whoever reads it next
//!   (`marks::KinesisShard`); the next answered question labels it again.
//!
//! So a batch needs Kinesis only when it repeats records (a redelivery, or a recreated
//! stream's restarted numbers), and a cleaner with no Kinesis to ask (in-process runs,
//! `cargo lambda invoke` without one) still lands every fresh record. The one case an
//! unknown label cannot tell: a stream recreated right after a commit made while
//! Kinesis did not answer, whose restarted numbers fall below that commit's mark.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use tokio::sync::Mutex;

use crate::columnar::clean_batch;
use crate::config::Names;
use crate::delta::{CleanTable, Fault};
use crate::exactly_once::{self, Staged, WriteError};
use crate::kind::Kind;
use crate::lake::{Lake, LakeError};
use crate::lanes::{self, Counted, ShardRecords, group_by_shard};
use crate::marks::{Incarnation, KinesisShard, Mark, ShardPosition};
use crate::quarantine::{Origin, Quarantined};
use crate::sequence::SequenceNumber;

/// Counts of one invocation (also emitted as CloudWatch embedded metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamCounts {
    pub records_in: u64,
    pub rows_written: u64,
    pub quarantined: u64,
    pub duplicates_skipped: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for StreamCounts {
    fn add_assign(&mut self, o: Self) {
        self.records_in += o.records_in;
        self.rows_written += o.rows_written;
        self.quarantined += o.quarantined;
        self.duplicates_skipped += o.duplicates_skipped;
        self.failed += o.failed;
    }
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
    #[error("asking Kinesis when stream {stream} was created: {message}")]
    Incarnation { stream: String, message: String },
    #[error(
        "shard {shard} of stream {stream} has landed up to an incarnation created at {marked} ms, later than the \
         stream's own ({current} ms): refusing to write behind it"
    )]
    IncarnationBehind { stream: String, shard: String, marked: i64, current: i64 },
}

/// Where the cleaner learns when a stream was created.
#[async_trait::async_trait]
pub trait StreamCreation: Send + Sync {
    async fn created(&self, stream: &str) -> Result<Incarnation, CreationError>;
}

/// Why a stream's creation time could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationError {
    /// Over the account's request rate: passes if asked again a little later.
    pub throttled: bool,
    pub message: String,
}

#[async_trait::async_trait]
impl StreamCreation for aws_sdk_kinesis::Client {
    async fn created(&self, stream: &str) -> Result<Incarnation, CreationError> {
        use aws_sdk_kinesis::error::ProvideErrorMetadata;
        let answer = self.describe_stream_summary().stream_name(stream).send().await.map_err(|e| CreationError {
            throttled: matches!(e.code(), Some("LimitExceededException" | "ThrottlingException")),
            message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
        })?;
        let created = answer.stream_description_summary().map(|s| s.stream_creation_timestamp());
        let millis = created.map(|t| t.to_millis()).transpose();
        let fail = |message: String| CreationError { throttled: false, message };
        millis
            .map_err(|e| fail(e.to_string()))?
            .map(Incarnation)
            .ok_or_else(|| fail("the answer has no StreamCreationTimestamp".into()))
    }
}

/// How long a stream's creation time is trusted for labelling marks before it is
/// asked again.
const INCARNATION_TTL: Duration = Duration::from_secs(60);
/// Asking again after throttling when the answer is needed: 0.1 s, doubling, 5 times (~3 s).
const THROTTLED_ATTEMPTS: u32 = 5;
const FIRST_THROTTLE_BACKOFF: Duration = Duration::from_millis(100);

/// The stream cleaner's state, built once per Lambda instance.
pub struct StreamCleaner {
    lake: Lake,
    id: String,
    /// Open tables, kept between invocations (refreshed before each use).
    tables: Mutex<HashMap<Kind, CleanTable>>,
    fault: Option<Fault>,
    /// How many more appends the fault is injected into.
    faults_left: AtomicU32,
    creation: Option<Box<dyn StreamCreation>>,
    /// Each stream's incarnation, and when it was asked.
    incarnations: Mutex<HashMap<String, (Incarnation, Instant)>>,
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
            creation: None,
            incarnations: Mutex::new(HashMap::new()),
        }
    }

    /// Compares each stream's incarnation (when it was created) with its shards' marks.
    pub fn with_stream_creation(mut self, creation: impl StreamCreation + 'static) -> Self {
        self.creation = Some(Box::new(creation));
        self
    }

    /// `stream`'s incarnation as last answered, if younger than the TTL.
    async fn known_incarnation(&self, stream: &str) -> Option<Incarnation> {
        let cache = self.incarnations.lock().await;
        cache.get(stream).filter(|(_, asked)| asked.elapsed() < INCARNATION_TTL).map(|(incarnation, _)| *incarnation)
    }

    /// Asks Kinesis for `stream`'s incarnation, `attempts` times while it throttles.
    async fn ask_incarnation(&self, stream: &str, attempts: u32) -> Result<Incarnation, ShardError> {
        let Some(creation) = &self.creation else { return Ok(Incarnation::UNKNOWN) };
        let mut backoff = FIRST_THROTTLE_BACKOFF;
        let mut attempt = 1;
        let incarnation = loop {
            match creation.created(stream).await {
                Ok(incarnation) => break incarnation,
                Err(e) if e.throttled && attempt < attempts => {
                    tracing::info!(%stream, attempt, "DescribeStreamSummary throttled; asking again");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(ShardError::Incarnation { stream: stream.to_owned(), message: e.message }),
            }
        };
        self.incarnations.lock().await.insert(stream.to_owned(), (incarnation, Instant::now()));
        Ok(incarnation)
    }

    /// A label for a mark when none is known: asked once; unknown when Kinesis does not answer.
    async fn label(&self, stream: &str, known: Option<Incarnation>) -> Incarnation {
        if let Some(known) = known {
            return known;
        }
        match self.ask_incarnation(stream, 1).await {
            Ok(incarnation) => incarnation,
            Err(e) => {
                tracing::warn!(%stream, error = %e, "commit labelled with no incarnation: Kinesis did not answer");
                Incarnation::UNKNOWN
            }
        }
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
        let mut outcomes = Vec::new();
        for shard in group_by_shard(event) {
            let outcome = self.process_shard(&shard).await;
            outcomes.push((shard, outcome));
        }
        lanes::kinesis_response(outcomes)
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

    /// The shard's writer, labelled with its stream's incarnation (see the module's note
    /// for when Kinesis is asked).
    async fn writer(
        &self,
        table: &mut CleanTable,
        shard: &ShardRecords<'_>,
        sequenced: &[(SequenceNumber, &KinesisEventRecord)],
    ) -> Result<KinesisShard, ShardError> {
        let (stream, id) = (&shard.stream, &shard.shard);
        let known = self.known_incarnation(stream).await;
        // The mark as stored: its incarnation, or unknown when it names none.
        let Some(mark) = table.mark(&KinesisShard::reader(stream, id)).await? else {
            // Nothing can be skipped: the answer only labels the first commit.
            return Ok(KinesisShard::new(stream, id, self.label(stream, known).await));
        };
        let marked = mark.position.incarnation;
        let would_skip = sequenced.iter().any(|(seq, _)| *seq <= mark.position.sequence_number);
        let decides = marked != Incarnation::UNKNOWN && (would_skip || known.is_some_and(|k| k != marked));
        let current = if self.creation.is_some() && decides {
            // Asked afresh even when known: a cached answer could hide a recreation.
            self.ask_incarnation(stream, THROTTLED_ATTEMPTS).await?
        } else {
            self.label(stream, known).await
        };
        if marked != Incarnation::UNKNOWN && current != Incarnation::UNKNOWN {
            if marked > current {
                return Err(ShardError::IncarnationBehind {
                    stream: stream.clone(),
                    shard: id.clone(),
                    marked: marked.0,
                    current: current.0,
                });
            }
            if marked < current {
                tracing::warn!(
                    stream = %stream, shard = %id, old = marked.0, new = current.0,
                    "stream was recreated: its records land after the old stream's"
                );
            }
        }
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
