//! The stream cleaner (SPEC §6, §7): a Kinesis batch → clean → an exactly-once
//! append to `delta/stream/<id>_<kind>_table`; what cannot be cleaned goes to
//! quarantine. Generic over where the event came from: the Lambda event source
//! mapping, or the local poller.
//!
//! A stream deleted and created again under the same name keeps its ARN and restarts
//! its sequence numbers, so its records could look as if they had landed already. The
//! cleaner asks Kinesis when each stream was created (`DescribeStreamSummary`, cached
//! for a minute, asked again whenever records would be skipped as duplicates) and
//! keeps that incarnation in the shard's mark: a new incarnation's records come after
//! every record of the old one (`marks::ShardPosition`), so they land, and the change
//! is logged. Without a Kinesis API to ask (in-process runs), incarnations are not
//! compared.

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
    async fn created(&self, stream: &str) -> Result<Incarnation, String>;
}

#[async_trait::async_trait]
impl StreamCreation for aws_sdk_kinesis::Client {
    async fn created(&self, stream: &str) -> Result<Incarnation, String> {
        let answer = self
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| aws_sdk_kinesis::error::DisplayErrorContext(e).to_string())?;
        let created = answer.stream_description_summary().map(|s| s.stream_creation_timestamp());
        let millis = created.map(|t| t.to_millis()).transpose().map_err(|e| e.to_string())?;
        millis.map(Incarnation).ok_or_else(|| "the answer has no StreamCreationTimestamp".to_owned())
    }
}

/// How long a stream's creation time is trusted before it is asked again
/// (`DescribeStreamSummary` allows 20 calls a second per account).
const INCARNATION_TTL: Duration = Duration::from_secs(60);

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

    /// `stream`'s incarnation: cached, unless older than the TTL or `ask` is set.
    async fn incarnation(&self, stream: &str, ask: bool) -> Result<Incarnation, ShardError> {
        let Some(creation) = &self.creation else { return Ok(Incarnation::UNKNOWN) };
        let mut cache = self.incarnations.lock().await;
        if let Some((incarnation, asked)) = cache.get(stream)
            && !ask
            && asked.elapsed() < INCARNATION_TTL
        {
            return Ok(*incarnation);
        }
        let incarnation = creation
            .created(stream)
            .await
            .map_err(|message| ShardError::Incarnation { stream: stream.to_owned(), message })?;
        cache.insert(stream.to_owned(), (incarnation, Instant::now()));
        Ok(incarnation)
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

    /// The shard's writer in its stream's current incarnation. The cached incarnation
    /// is asked again when the mark names another one, or when records would be
    /// skipped as landed (a redelivery — or a recreated stream's restarted sequence
    /// numbers behind a stale cache).
    async fn writer(
        &self,
        table: &mut CleanTable,
        shard: &ShardRecords<'_>,
        sequenced: &[(SequenceNumber, &KinesisEventRecord)],
    ) -> Result<KinesisShard, ShardError> {
        let (stream, id) = (&shard.stream, &shard.shard);
        let mut writer = KinesisShard::new(stream, id, self.incarnation(stream, false).await?);
        let Some(mark) = table.mark(&writer).await? else { return Ok(writer) };
        let behind =
            |writer: &KinesisShard| sequenced.iter().any(|(seq, _)| writer.position(seq.clone()) <= mark.position);
        if self.creation.is_some() && (mark.position.incarnation != writer.incarnation() || behind(&writer)) {
            writer = KinesisShard::new(stream, id, self.incarnation(stream, true).await?);
        }
        let (marked, current) = (mark.position.incarnation, writer.incarnation());
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
        Ok(writer)
    }
}

/// A shard's mark in a stream table: what tests and the poller use to see its progress.
pub async fn shard_mark(
    table: &mut CleanTable,
    stream: &str,
    shard: &str,
) -> Result<Option<Mark<ShardPosition>>, LakeError> {
    table.mark(&KinesisShard::new(stream, shard, Incarnation::UNKNOWN)).await
}
