//! The Delta tables of cleaned records (SPEC §3, §6): opening and creating them with
//! SPEC §3's schema, committing data files together with writer marks, and reading
//! those marks back (see [`crate::lake::marks`]).
//!
//! Invariants:
//! - data files are written before the commit; a crash in between leaves only
//!   unreferenced files, which no reader sees and vacuum removes;
//! - commits never clean up expired log files themselves (that lists the whole log on
//!   every commit); table maintenance does it on its schedule;
//! - a writer checkpoints every [`CHECKPOINT_INTERVAL`] versions, so opening a table
//!   reads a checkpoint plus at most that many commits;
//! - a long-lived table is loaded afresh every [`RELOAD_INTERVAL`] versions, so a warm
//!   writer's commit costs what a new one's does.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use chrono::{DateTime, Utc};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use url::Url;

use crate::kind::Kind;
use crate::lake::marks::{self, Mark, MarkError, Txns, Writer};
use crate::lake::{Lake, LakeError};
use crate::record::columnar::schema;

/// Checkpoint every this many versions (Delta's `delta.checkpointInterval`, set when a
/// table is created). Chosen from the soak bench (BENCHMARKS.md): with compaction
/// keeping live files few, a checkpoint is small, and fewer commits to replay keep a
/// cold open fast.
pub const CHECKPOINT_INTERVAL: u64 = 100;

/// A long-lived table (a Lambda instance's writer) is loaded afresh, from the newest
/// checkpoint, once its loaded state has moved on this many versions. deltalake moves
/// a loaded state on by replaying the new commits together with the file list it
/// already holds, and that list keeps one Arrow batch per commit replayed since the
/// load: without a fresh load every commit costs more than the one before, however
/// small the table is. Only [`CleanTable::refresh`] reloads, as it runs before a
/// writer reads its mark: reloading between the mark and the commit could move the
/// commit's read version past another delivery of the same writer.
pub const RELOAD_INTERVAL: u64 = CHECKPOINT_INTERVAL;

/// The Parquet settings of every data file of our tables, appended or compacted:
/// deltalake's Snappy (read by every engine; LZ4 measured no faster here), and
/// dictionaries only for the columns of few values — the others (ids, titles, URLs)
/// filled a dictionary page and fell back to plain anyway, after hashing every value.
pub fn writer_properties() -> WriterProperties {
    const FEW_VALUES: [&str; 4] = ["category", "is_image_or_video", "country", "poster_name"];
    FEW_VALUES
        .into_iter()
        .fold(
            WriterProperties::builder().set_compression(Compression::SNAPPY).set_dictionary_enabled(false),
            |builder, column| builder.set_column_dictionary_enabled(ColumnPath::from(column), true),
        )
        .build()
}

/// An injected failure, for tests of the crash window between writing data files
/// and committing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AfterDataFilesBeforeCommit,
}

/// A data file of a table's version: its key relative to the lake root, its size, and
/// its row count when the log's stats give one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub key: String,
    pub bytes: u64,
    pub rows: Option<u64>,
}

/// `numRecords` of an add action's stats JSON.
fn num_records(stats: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(stats).ok()?.get("numRecords")?.as_u64()
}

/// One Delta table of cleaned records in the lake.
pub struct CleanTable {
    url: Url,
    kind: Kind,
    table: DeltaTable,
    /// Every writer's txn, kept up to date with the loaded snapshot on demand.
    txns: Txns,
    /// The version last loaded afresh (see [`RELOAD_INTERVAL`]).
    loaded_afresh: u64,
}

impl CleanTable {
    /// Loads the table at `relative` (e.g. `delta/stream/<id>_pin_table`), or `None`
    /// when there is no table there yet.
    pub async fn open(lake: &Lake, relative: &str, kind: Kind) -> Result<Option<CleanTable>, LakeError> {
        let url = lake.url(relative);
        // delta-kernel treats a missing local directory as an error, not as "no table yet".
        if url.to_file_path().is_ok_and(|dir| !dir.exists()) {
            return Ok(None);
        }
        let mut table = builder(lake, relative)?.build().map_err(|e| LakeError::delta(&url, e))?;
        match table.load().await {
            Ok(()) => Ok(Some(CleanTable::checked(url, kind, table)?)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(LakeError::delta(&url, e)),
        }
    }

    /// Loads the table at `relative`, creating it with SPEC §3's schema for `kind`
    /// when it does not exist yet. Two writers creating it at once is fine: the loser
    /// loads what the winner created.
    pub async fn create_or_open(lake: &Lake, relative: &str, kind: Kind) -> Result<CleanTable, LakeError> {
        let url = lake.url(relative);
        if let Ok(dir) = url.to_file_path() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| LakeError::delta(&url, DeltaTableError::Generic(e.to_string())))?;
        }
        if let Some(table) = CleanTable::open(lake, relative, kind).await? {
            return Ok(table);
        }
        let table = builder(lake, relative)?.build().map_err(|e| LakeError::delta(&url, e))?;
        let columns: StructType = schema::of(kind)
            .as_ref()
            .try_into_kernel()
            .map_err(|e| LakeError::delta(&url, DeltaTableError::Generic(e.to_string())))?;
        let created = table
            .create()
            .with_columns(columns.fields().cloned())
            .with_configuration_property(
                deltalake::TableProperty::CheckpointInterval,
                Some(CHECKPOINT_INTERVAL.to_string()),
            )
            .with_save_mode(SaveMode::Ignore)
            // A create that loses the race must fail, not be re-committed as version 1.
            .with_commit_properties(CommitProperties::default().with_max_retries(0))
            .await;
        match created {
            Ok(table) => CleanTable::checked(url, kind, table),
            Err(DeltaTableError::VersionAlreadyExists(_)) | Err(DeltaTableError::Transaction { .. }) => {
                CleanTable::open(lake, relative, kind).await?.ok_or_else(|| LakeError::Inconsistent {
                    table: url.to_string(),
                    detail: "another writer's create won, yet the table is not there".into(),
                })
            }
            Err(e) => Err(LakeError::delta(&url, e)),
        }
    }

    /// Checks the loaded table is one pinpipe can write: SPEC §3's schema, and marks
    /// that cannot expire.
    fn checked(url: Url, kind: Kind, table: DeltaTable) -> Result<CleanTable, LakeError> {
        let snapshot = table.snapshot().map_err(|e| LakeError::delta(&url, e))?;
        let found = snapshot.schema();
        let want: StructType = schema::of(kind)
            .as_ref()
            .try_into_kernel()
            .map_err(|e| LakeError::delta(&url, DeltaTableError::Generic(e.to_string())))?;
        if found.as_ref() != &want {
            return Err(LakeError::Inconsistent {
                table: url.to_string(),
                detail: format!("its schema is not SPEC §3's {kind} schema: {found:?}"),
            });
        }
        marks::check_retention(snapshot.metadata().configuration())
            .map_err(|e| LakeError::Inconsistent { table: url.to_string(), detail: e.to_string() })?;
        let loaded_afresh = table.version().unwrap_or_default();
        Ok(CleanTable { url, kind, table, txns: Txns::default(), loaded_afresh })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }

    /// The underlying deltalake table (table maintenance runs deltalake's operations on it).
    pub fn delta_table(&self) -> &DeltaTable {
        &self.table
    }

    /// Loads the table as it stood at `at`: its last version committed at or before
    /// then (by the commit files' times, as Delta time travel reads them), or, when the
    /// table had no version yet, when its first version was committed; an error when
    /// its log no longer reaches back that far (log cleanup keeps one retention
    /// period). The loaded table is for reading: writer marks are read from the latest
    /// version only.
    pub async fn load_as_of(&mut self, at: DateTime<Utc>) -> Result<Result<u64, DateTime<Utc>>, LakeError> {
        self.table.load_with_datetime(at).await.map_err(|e| LakeError::delta(&self.url, e))?;
        self.txns = Txns::default();
        let version = self.loaded_version()?;
        let commit = Path::from(format!("_delta_log/{version:020}.json"));
        let committed = match self.table.log_store().object_store(None).head(&commit).await {
            Ok(meta) => meta.last_modified,
            Err(source) => {
                return Err(LakeError::Inconsistent {
                    table: self.url.to_string(),
                    detail: format!(
                        "cannot tell when version {version} was committed ({source}): time travel to {at} needs its commit file"
                    ),
                });
            }
        };
        if committed <= at {
            return Ok(Ok(version));
        }
        // deltalake falls back to the earliest version it finds when `at` is before it.
        if version == 0 {
            return Ok(Err(committed));
        }
        Err(LakeError::Inconsistent {
            table: self.url.to_string(),
            detail: format!(
                "its log no longer reaches back to {at}: the earliest version kept, {version}, was committed at {committed} (log retention)"
            ),
        })
    }

    /// Re-reads the log to the latest version: the commits after the loaded one, or
    /// afresh from the newest checkpoint once every [`RELOAD_INTERVAL`] versions.
    pub async fn refresh(&mut self) -> Result<(), LakeError> {
        let afresh = self.version().is_some_and(|v| v >= self.loaded_afresh + RELOAD_INTERVAL);
        if afresh {
            self.table.state = None;
        }
        self.table.update_incremental(None).await.map_err(|e| LakeError::delta(&self.url, e))?;
        if afresh {
            self.loaded_afresh = self.version().unwrap_or_default();
        }
        Ok(())
    }

    /// `writer`'s mark as of the loaded version (refreshed first if maintenance moved
    /// the log on meanwhile).
    pub async fn mark<W: Writer>(&mut self, writer: &W) -> Result<Option<Mark<W::Position>>, LakeError> {
        let log_store = self.table.log_store();
        match self.txns.advance(&log_store, self.loaded_version()?).await {
            Err(MarkError::LogMoved(_)) => {
                self.refresh().await?;
                let version = self.loaded_version()?;
                self.txns.advance(&log_store, version).await.map_err(|e| self.mark_error(e))?;
            }
            other => other.map_err(|e| self.mark_error(e))?,
        }
        writer.mark(&self.txns).map_err(|e| self.mark_error(e))
    }

    fn loaded_version(&self) -> Result<u64, LakeError> {
        self.version().ok_or_else(|| LakeError::Inconsistent {
            table: self.url.to_string(),
            detail: "the table has no version".into(),
        })
    }

    fn mark_error(&self, e: MarkError) -> LakeError {
        LakeError::Inconsistent { table: self.url.to_string(), detail: format!("reading writer marks: {e}") }
    }

    /// The table's data files, as keys relative to the lake root, in a stable order.
    pub fn data_files(&self, relative: &str) -> Result<Vec<DataFile>, LakeError> {
        let snapshot = self.table.snapshot().map_err(|e| LakeError::delta(&self.url, e))?;
        let table = relative.trim_end_matches('/');
        let mut files: Vec<DataFile> = snapshot
            .log_data()
            .into_iter()
            .map(|add| DataFile {
                key: format!("{table}/{}", add.object_store_path()),
                bytes: u64::try_from(add.size()).unwrap_or(0),
                rows: add.stats().as_deref().and_then(num_records),
            })
            .collect();
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    /// Writes `batches` as data files and commits them with `txns` (a writer's next
    /// mark) and `notes` in `commitInfo`. Commits of other writers in between are
    /// fine (deltalake re-checks and retries at the next version); a commit of the
    /// same writer in between is a [`CommitError::SameWriter`].
    pub async fn commit(
        &mut self,
        txns: Vec<Transaction>,
        batches: Vec<RecordBatch>,
        notes: HashMap<String, serde_json::Value>,
        fault: Option<Fault>,
    ) -> Result<u64, CommitError> {
        let mut actions = Vec::new();
        if batches.iter().any(|b| b.num_rows() > 0) {
            let mut writer = RecordBatchWriter::for_table(&self.table)
                .map_err(|e| self.commit_error(e))?
                .with_writer_properties(writer_properties());
            for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
                writer.write(batch).await.map_err(|e| self.commit_error(e))?;
            }
            actions.extend(writer.flush().await.map_err(|e| self.commit_error(e))?.into_iter().map(Action::Add));
        }
        if fault == Some(Fault::AfterDataFilesBeforeCommit) {
            return Err(CommitError::Injected);
        }
        let properties = txns
            .iter()
            .fold(CommitProperties::default(), |p, txn| p.with_application_transaction(txn.clone()))
            .with_metadata(notes)
            .with_cleanup_expired_logs(Some(false));
        let snapshot = self.table.snapshot().map_err(|e| self.commit_error(e))?;
        let committed = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(snapshot),
                self.table.log_store(),
                DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None },
            )
            .await;
        match committed {
            Ok(finalized) => {
                let version = finalized.version();
                // The commit hands back the new state: no need to re-read the log.
                self.table.state = Some(finalized.snapshot());
                self.txns.committed(version, &txns);
                Ok(version)
            }
            Err(e) if is_same_writer_conflict(&e) => Err(CommitError::SameWriter),
            Err(e) => Err(self.commit_error(e)),
        }
    }

    fn commit_error(&self, e: DeltaTableError) -> CommitError {
        CommitError::Lake(LakeError::delta(&self.url, e))
    }
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("another delivery of the same writer committed first")]
    SameWriter,
    #[error("injected failure between writing data files and committing")]
    Injected,
}

/// A commit lost to another commit that may have been the same writer's.
fn is_same_writer_conflict(error: &DeltaTableError) -> bool {
    use deltalake::kernel::transaction::CommitConflictError;
    match error {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::Transaction { source } => matches!(
            source,
            TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction)
                | TransactionError::VersionAlreadyExists(_)
                | TransactionError::MaxCommitAttempts(_)
        ),
        _ => false,
    }
}
/// A deltalake builder for the table at `relative`, over the lake's own store (so
/// every request goes through it).
fn builder(lake: &Lake, relative: &str) -> Result<deltalake::DeltaTableBuilder, LakeError> {
    let url = lake.url(relative);
    deltalake::DeltaTableBuilder::from_url(url.clone())
        .map(|b| b.with_storage_backend(lake.bucket.clone(), url.clone()))
        .map_err(|e| LakeError::delta(&url, e))
}
