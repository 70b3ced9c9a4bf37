//! Writer marks (SPEC §7): how far each writer — a Kinesis shard, a Kafka
//! partition — has landed in a table.
//!
//! A mark lives only in Delta `txn` actions: every Delta engine carries the latest
//! `txn` of each app id into its checkpoints and keeps it through log cleanup,
//! compaction and vacuum, so a mark survives upkeep by any engine. (Nothing of it is
//! kept in `commitInfo`, which checkpoints drop.)
//! - A Kafka partition (app id `kafka/<topic>/<partition>`): the txn version is the
//!   offset itself, as kafka-delta-ingest does.
//! - A Kinesis shard (app id `kinesis/<stream>/<shard>`): a sequence number (up to
//!   129 digits) does not fit the i64 version, so the version is a per-shard commit
//!   counter and the same commit carries the last sequence number as eight more txns
//!   (`…#seq0` … `…#seq7`, its base-10¹⁸ limbs), and the stream's incarnation (when
//!   it was created, in ms) as one more (`…#created`). One commit writes all ten, so
//!   they change together, and two deliveries of the shard conflict on them.
//!
//! [`Txns`] reads every app id's latest version in one pass — the newest
//! checkpoint's `txn` column plus the commits after it — and then advances commit by
//! commit, so a writer finds its mark in a bounded number of requests however long
//! the log is and however long the writer was idle. (deltalake's own
//! `transaction_version` replays the whole log segment once per app id.)
//!
//! Invariant: a table must not set `delta.setTransactionRetentionDuration`, which
//! would let engines drop idle writers' marks; [`check_retention`] refuses such a table.
//!
//! Long (some 440 lines before its tests) because reading the marks in bounded requests
//! means reading Delta's checkpoint and commit files here, beside the two writers' encodings.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use deltalake::DeltaTableError;
use deltalake::kernel::Transaction;
use deltalake::logstore::LogStoreRef;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
#[allow(deprecated)]
use parquet::arrow::async_reader::{ParquetObjectReader, ParquetRecordBatchStreamBuilder};

use crate::delivery::sequence::{LIMBS, SequenceNumber};

/// Beyond this many new commits, [`Txns::advance`] re-reads from the checkpoint instead.
const MAX_INCREMENT: u64 = 1_000;
/// Commit files read at once.
const READ_CONCURRENCY: usize = 16;
/// The table property that would expire marks.
const TXN_RETENTION: &str = "delta.setTransactionRetentionDuration";

#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error(transparent)]
    Delta(#[from] DeltaTableError),
    #[error("reading {path}: {source}")]
    Object { path: String, source: object_store::Error },
    #[error("reading checkpoint {path}: {source}")]
    Checkpoint { path: String, source: parquet::errors::ParquetError },
    #[error("{0}")]
    Unreadable(String),
    /// The log moved on past the version being read (a newer checkpoint, removed
    /// commits): refresh the table and read again.
    #[error("the table's log moved past version {0} while its marks were read")]
    LogMoved(u64),
}

/// Every app id's latest `txn` version, as of one table version.
#[derive(Debug, Clone, Default)]
pub struct Txns {
    version: Option<u64>,
    latest: HashMap<String, i64>,
}

impl Txns {
    /// The version of the table these are the txns of.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    pub fn get(&self, app_id: &str) -> Option<i64> {
        self.latest.get(app_id).copied()
    }

    /// Reads every txn as of table version `at`: the newest checkpoint at or below
    /// `at`, then the commits after it.
    pub async fn load(log_store: &LogStoreRef, at: u64) -> Result<Txns, MarkError> {
        let store = log_store.object_store(None);
        let log = log_store.log_path().clone();
        let mut txns = Txns::default();
        let from = match last_checkpoint(&store, &log).await? {
            Some(checkpoint) if checkpoint.version > at => return Err(MarkError::LogMoved(at)),
            Some(checkpoint) => {
                for file in checkpoint.files(&log)? {
                    txns.read_checkpoint_file(&store, file).await?;
                }
                checkpoint.version + 1
            }
            None => 0,
        };
        if !txns.read_commits(log_store, from, at).await? {
            return Err(MarkError::LogMoved(at));
        }
        txns.version = Some(at);
        Ok(txns)
    }

    /// Brings these txns to table version `to`, reading only the commits in between
    /// (or everything again when those are too many or already cleaned up).
    pub async fn advance(&mut self, log_store: &LogStoreRef, to: u64) -> Result<(), MarkError> {
        match self.version {
            Some(at) if at == to => return Ok(()),
            Some(at) if at < to && to - at <= MAX_INCREMENT => {
                let mut next = self.clone();
                match next.read_commits(log_store, at + 1, to).await {
                    Ok(true) => {
                        next.version = Some(to);
                        *self = next;
                        return Ok(());
                    }
                    // A commit file is gone (log cleanup): start from the checkpoint.
                    Ok(false) => {}
                    Err(e) => return Err(e),
                }
            }
            _ => {}
        }
        *self = Txns::load(log_store, to).await?;
        Ok(())
    }

    /// Records the txns of commit `version` that this process made itself, when it
    /// directly follows what these txns were read up to (otherwise the next
    /// [`Txns::advance`] reads it).
    pub fn committed(&mut self, version: u64, txns: &[Transaction]) {
        if self.version.is_some_and(|at| at + 1 == version) {
            for txn in txns {
                self.latest.insert(txn.app_id.clone(), txn.version);
            }
            self.version = Some(version);
        }
    }

    /// Applies commits `from..=to` in order; `false` when one of them no longer exists.
    async fn read_commits(&mut self, log_store: &LogStoreRef, from: u64, to: u64) -> Result<bool, MarkError> {
        if from > to {
            return Ok(true);
        }
        let mut commits = futures::stream::iter(from..=to)
            .map(|version| {
                let log_store = log_store.clone();
                async move { log_store.read_commit_entry(version).await.map(|c| (version, c)) }
            })
            .buffered(READ_CONCURRENCY);
        while let Some((version, commit)) = commits.try_next().await? {
            let Some(commit) = commit else { return Ok(false) };
            for line in commit.split(|&b| b == b'\n') {
                // Only txn lines matter; skip the rest without parsing them.
                if !contains(line, b"\"txn\"") {
                    continue;
                }
                let action: LogLine = serde_json::from_slice(line).map_err(|e| {
                    MarkError::Unreadable(format!("commit {version} has a line that is not a Delta action: {e}"))
                })?;
                if let Some(txn) = action.txn {
                    self.latest.insert(txn.app_id, txn.version);
                }
            }
        }
        Ok(true)
    }

    /// Reads the `txn` column of one checkpoint file (only that column is fetched).
    async fn read_checkpoint_file(&mut self, store: &Arc<dyn ObjectStore>, path: Path) -> Result<(), MarkError> {
        let parquet_error = |source| MarkError::Checkpoint { path: path.to_string(), source };
        let meta = store.head(&path).await.map_err(|source| MarkError::Object { path: path.to_string(), source })?;
        // Deprecated in favour of hand-written readers, but still parquet's own object_store reader.
        #[allow(deprecated)]
        let reader = ParquetObjectReader::new(store.clone(), path.clone()).with_file_size(meta.size);
        let builder = ParquetRecordBatchStreamBuilder::new(reader).await.map_err(parquet_error)?;
        let schema = builder.parquet_schema();
        let Some(root) = schema.root_schema().get_fields().iter().position(|f| f.name() == "txn") else {
            return Ok(());
        };
        let mask = ProjectionMask::roots(schema, [root]);
        let mut batches = builder.with_projection(mask).build().map_err(parquet_error)?;
        while let Some(batch) = batches.try_next().await.map_err(parquet_error)? {
            let txn = batch
                .column(0)
                .as_struct_opt()
                .ok_or_else(|| MarkError::Unreadable(format!("checkpoint {path}: its txn column is not a struct")))?;
            let (Some(app_ids), Some(versions)) = (txn.column_by_name("appId"), txn.column_by_name("version")) else {
                return Err(MarkError::Unreadable(format!("checkpoint {path}: txn without appId or version")));
            };
            let (Some(app_ids), Some(versions)) =
                (app_ids.as_string_opt::<i32>(), versions.as_primitive_opt::<Int64Type>())
            else {
                return Err(MarkError::Unreadable(format!("checkpoint {path}: unexpected txn column types")));
            };
            for row in 0..batch.num_rows() {
                if txn.is_valid(row) && app_ids.is_valid(row) && versions.is_valid(row) {
                    self.latest.insert(app_ids.value(row).to_owned(), versions.value(row));
                }
            }
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(serde::Deserialize)]
struct LogLine {
    txn: Option<TxnLine>,
}

#[derive(serde::Deserialize)]
struct TxnLine {
    #[serde(rename = "appId")]
    app_id: String,
    version: i64,
}

/// `_delta_log/_last_checkpoint`, as far as finding the checkpoint's files goes.
#[derive(Debug, serde::Deserialize)]
struct LastCheckpoint {
    version: u64,
    parts: Option<u32>,
    #[serde(rename = "v2Checkpoint")]
    v2_checkpoint: Option<serde_json::Value>,
}

impl LastCheckpoint {
    /// The checkpoint's files: classic single-file or multi-part (what delta-rs,
    /// delta-kernel and Spark write unless a table enables v2 checkpoints).
    fn files(&self, log: &Path) -> Result<Vec<Path>, MarkError> {
        if self.v2_checkpoint.is_some() {
            return Err(MarkError::Unreadable(format!(
                "checkpoint {} is a v2 checkpoint, which pinpipe's mark reader does not read; \
                 Help: do not enable the v2Checkpoint table feature on pinpipe's tables",
                self.version
            )));
        }
        let v = self.version;
        Ok(match self.parts {
            None => vec![log.clone().join(format!("{v:020}.checkpoint.parquet"))],
            Some(n) => {
                (1..=n).map(|i| log.clone().join(format!("{v:020}.checkpoint.{i:010}.{n:010}.parquet"))).collect()
            }
        })
    }
}

async fn last_checkpoint(store: &Arc<dyn ObjectStore>, log: &Path) -> Result<Option<LastCheckpoint>, MarkError> {
    let path = log.clone().join("_last_checkpoint");
    match store.get(&path).await {
        Ok(got) => {
            let bytes = got.bytes().await.map_err(|source| MarkError::Object { path: path.to_string(), source })?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| MarkError::Unreadable(format!("{path} is not a Delta _last_checkpoint: {e}")))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(source) => Err(MarkError::Object { path: path.to_string(), source }),
    }
}

/// Refuses a table whose configuration would let engines expire writer marks.
pub fn check_retention(configuration: &HashMap<String, String>) -> Result<(), MarkError> {
    match configuration.get(TXN_RETENTION) {
        None => Ok(()),
        Some(value) => Err(MarkError::Unreadable(format!(
            "the table sets {TXN_RETENTION}={value}: Delta engines would drop the marks of writers idle that long \
             and their records would land twice; Help: unset the property"
        ))),
    }
}

/// A writer's mark: the last position it landed, and its txn version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark<P> {
    pub position: P,
    pub version: i64,
}

/// A writer of a table: where its records come from, and how its mark is kept.
pub trait Writer: Send + Sync {
    /// Where a record sits in the writer's source, ordered as the source delivers.
    type Position: Ord + Clone + fmt::Debug + fmt::Display + Send + Sync;
    /// Its app id: the txn on which two deliveries of the same writer conflict.
    fn app_id(&self) -> &str;
    /// Its mark in `txns`.
    fn mark(&self, txns: &Txns) -> Result<Option<Mark<Self::Position>>, MarkError>;
    /// The txns of its next commit, which lands records up to `last`.
    fn next(
        &self,
        previous: Option<&Mark<Self::Position>>,
        last: &Self::Position,
    ) -> (Mark<Self::Position>, Vec<Transaction>);
}

pub use crate::delivery::sequence::Incarnation;

/// Where a record sits in a Kinesis shard: the stream's incarnation, then its
/// sequence number — so every record of a recreated stream comes after every record
/// of the stream it replaced, whatever their sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShardPosition {
    pub incarnation: Incarnation,
    pub sequence_number: SequenceNumber,
}

impl fmt::Display for ShardPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (stream created {})", self.sequence_number, self.incarnation.0)
    }
}

/// A Kinesis shard writing a stream table, in one incarnation of its stream.
#[derive(Debug, Clone)]
pub struct KinesisShard {
    app_id: String,
    limb_ids: [String; LIMBS],
    created_id: String,
    incarnation: Incarnation,
}

impl KinesisShard {
    pub fn new(stream: &str, shard: &str, incarnation: Incarnation) -> Self {
        let app_id = format!("kinesis/{stream}/{shard}");
        let limb_ids = std::array::from_fn(|i| format!("{app_id}#seq{i}"));
        let created_id = format!("{app_id}#created");
        KinesisShard { app_id, limb_ids, created_id, incarnation }
    }

    /// Reads the shard's mark as stored (its incarnation unknown when it names none);
    /// never commits.
    pub fn reader(stream: &str, shard: &str) -> Self {
        KinesisShard::new(stream, shard, Incarnation::AS_STORED)
    }

    /// The incarnation its records are in.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// A record of this shard at `sequence_number`.
    pub fn position(&self, sequence_number: SequenceNumber) -> ShardPosition {
        ShardPosition { incarnation: self.incarnation, sequence_number }
    }
}

impl Writer for KinesisShard {
    type Position = ShardPosition;

    fn app_id(&self) -> &str {
        &self.app_id
    }

    fn mark(&self, txns: &Txns) -> Result<Option<Mark<ShardPosition>>, MarkError> {
        let Some(version) = txns.get(&self.app_id) else { return Ok(None) };
        let mut limbs = [0; LIMBS];
        for (limb, id) in limbs.iter_mut().zip(&self.limb_ids) {
            *limb = txns.get(id).ok_or_else(|| {
                MarkError::Unreadable(format!("writer {} is at commit {version} but has no txn {id}", self.app_id))
            })?;
        }
        let sequence_number = SequenceNumber::from_limbs(limbs)
            .map_err(|e| MarkError::Unreadable(format!("writer {}: {e}", self.app_id)))?;
        // A mark that names no incarnation was written without one to compare (before
        // incarnations were kept, or when Kinesis did not answer), and a writer that
        // knows none compares by sequence number alone: either way the mark is taken
        // as in the writer's incarnation.
        let stored = txns.get(&self.created_id).map_or(Incarnation::UNKNOWN, Incarnation);
        let incarnation = match self.incarnation {
            Incarnation::AS_STORED => stored,
            mine if mine == Incarnation::UNKNOWN || stored == Incarnation::UNKNOWN => mine,
            _ => stored,
        };
        Ok(Some(Mark { position: ShardPosition { incarnation, sequence_number }, version }))
    }

    fn next(
        &self,
        previous: Option<&Mark<ShardPosition>>,
        last: &ShardPosition,
    ) -> (Mark<ShardPosition>, Vec<Transaction>) {
        debug_assert_ne!(self.incarnation, Incarnation::AS_STORED, "a reader does not commit");
        let version = previous.map_or(1, |m| m.version + 1);
        let mut txns = vec![Transaction::new(&self.app_id, version)];
        txns.extend(
            self.limb_ids.iter().zip(last.sequence_number.to_limbs()).map(|(id, limb)| Transaction::new(id, limb)),
        );
        txns.push(Transaction::new(&self.created_id, last.incarnation.0));
        (Mark { position: last.clone(), version }, txns)
    }
}

/// A Kafka offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub i64);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Kafka partition writing a silver table; its positions are the first offsets
/// of the bronze objects it takes in.
#[derive(Debug, Clone)]
pub struct KafkaPartition {
    app_id: String,
}

impl KafkaPartition {
    pub fn new(topic: &str, partition: i32) -> Self {
        KafkaPartition { app_id: format!("kafka/{topic}/{partition}") }
    }
}

impl Writer for KafkaPartition {
    type Position = Offset;

    fn app_id(&self) -> &str {
        &self.app_id
    }

    fn mark(&self, txns: &Txns) -> Result<Option<Mark<Offset>>, MarkError> {
        Ok(txns.get(&self.app_id).map(|offset| Mark { position: Offset(offset), version: offset }))
    }

    fn next(&self, _previous: Option<&Mark<Offset>>, last: &Offset) -> (Mark<Offset>, Vec<Transaction>) {
        (Mark { position: *last, version: last.0 }, vec![Transaction::new(&self.app_id, last.0)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_mark_round_trips_through_its_txns() {
        let shard = KinesisShard::new("streaming-x-pin", "shardId-000000000001", Incarnation(1_700_000_000_000));
        let seq = SequenceNumber::parse("49546986683135544286507457936321625675700192471156785154").unwrap();
        let (mark, actions) = shard.next(None, &shard.position(seq.clone()));
        assert_eq!(mark.version, 1);
        assert_eq!(actions.len(), 2 + LIMBS);
        let mut txns = Txns { version: Some(3), latest: HashMap::new() };
        txns.committed(4, &actions);
        assert_eq!(shard.mark(&txns).unwrap(), Some(mark.clone()));
        // Another shard's txns are not this one's.
        let other = KinesisShard::new("streaming-x-pin", "shardId-000000000002", Incarnation(1_700_000_000_000));
        assert_eq!(other.mark(&txns).unwrap(), None);
        let (next, _) = shard.next(Some(&mark), &shard.position(seq));
        assert_eq!(next.version, 2);
    }

    #[test]
    fn a_recreated_streams_records_come_after_the_old_mark() {
        let old = KinesisShard::new("streaming-x-pin", "shardId-000000000000", Incarnation(1_000));
        let high = SequenceNumber::parse("49546986683135544286507457936321625675700192471156785154").unwrap();
        let (_, actions) = old.next(None, &old.position(high));
        let mut txns = Txns { version: Some(0), latest: HashMap::new() };
        txns.committed(1, &actions);
        // The new stream restarts its sequence numbers: lower, yet after the mark.
        let new = KinesisShard::new("streaming-x-pin", "shardId-000000000000", Incarnation(2_000));
        let mark = new.mark(&txns).unwrap().unwrap();
        assert_eq!(mark.position.incarnation, Incarnation(1_000));
        let low = SequenceNumber::parse("1").unwrap();
        assert!(new.position(low) > mark.position);
        // A mark written before incarnations were kept belongs to the current one.
        txns.latest.remove("kinesis/streaming-x-pin/shardId-000000000000#created");
        assert_eq!(new.mark(&txns).unwrap().unwrap().position.incarnation, Incarnation(2_000));
    }

    #[test]
    fn an_unknown_incarnation_compares_by_sequence_number_alone() {
        let known = KinesisShard::new("streaming-x-pin", "shardId-000000000000", Incarnation(1_000));
        let unknown = KinesisShard::new("streaming-x-pin", "shardId-000000000000", Incarnation::UNKNOWN);
        let reader = KinesisShard::reader("streaming-x-pin", "shardId-000000000000");
        let seq = |n: &str| SequenceNumber::parse(n).unwrap();
        let mut txns = Txns { version: Some(0), latest: HashMap::new() };
        // Landed up to 500 in a known incarnation; a writer that knows none (Kinesis did
        // not answer) skips 500 and below and lands 501, as the known writer would.
        txns.committed(1, &known.next(None, &known.position(seq("500"))).1);
        let mark = unknown.mark(&txns).unwrap().unwrap();
        assert!(unknown.position(seq("500")) <= mark.position && unknown.position(seq("501")) > mark.position);
        assert_eq!(reader.mark(&txns).unwrap().unwrap().position.incarnation, Incarnation(1_000));
        // Its commit is labelled unknown; the next writer that knows takes it as its own.
        txns.committed(2, &unknown.next(Some(&mark), &unknown.position(seq("600"))).1);
        assert_eq!(reader.mark(&txns).unwrap().unwrap().position.incarnation, Incarnation::UNKNOWN);
        let mark = known.mark(&txns).unwrap().unwrap();
        assert!(known.position(seq("600")) <= mark.position && known.position(seq("601")) > mark.position);
    }

    #[test]
    fn a_partition_mark_is_its_offset() {
        let partition = KafkaPartition::new("x.pin", 2);
        let (mark, actions) = partition.next(None, &Offset(1234));
        assert_eq!((actions[0].app_id.as_str(), actions[0].version), ("kafka/x.pin/2", 1234));
        let txns = Txns { version: Some(0), latest: HashMap::from([("kafka/x.pin/2".to_owned(), 1234)]) };
        assert_eq!(partition.mark(&txns).unwrap(), Some(mark));
    }

    #[test]
    fn only_txn_lines_are_parsed() {
        assert!(contains(br#"{"txn":{"appId":"a","version":1}}"#, b"\"txn\""));
        assert!(!contains(br#"{"add":{"path":"x"}}"#, b"\"txn\""));
        let line: LogLine = serde_json::from_slice(br#"{"txn":{"appId":"a","version":7,"lastUpdated":1}}"#).unwrap();
        assert_eq!(line.txn.map(|t| (t.app_id, t.version)), Some(("a".to_owned(), 7)));
    }
}
