//! Exactly-once appends to Delta tables (SPEC §7), after kafka-delta-ingest: each
//! writer (a Kinesis shard) owns an application id `<stream>/<shard>`, and every
//! commit carries a Delta `txn` action with that id and a per-writer counter as
//! its version — a Kinesis sequence number (up to 129 digits) does not fit the
//! i64 version — plus, in the same commit's `commitInfo`, the last sequence
//! number it covers. A writer first reads its mark back and skips what is at or
//! below it; a commit lost to a concurrent writer with the same id is re-checked
//! against the mark after a reload, so a redelivered batch is never written twice.
//!
//! Data files are written before the commit; a crash in between leaves only
//! unreferenced files, which no reader sees and `vacuum` removes.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use url::Url;

use crate::columnar::schema;
use crate::kind::Kind;
use crate::lake::{Lake, LakeError};
use crate::sequence::SequenceNumber;

/// commitInfo keys that carry a writer's progress next to its `txn` action.
const APP_ID_KEY: &str = "pinpipe.appId";
const COUNTER_KEY: &str = "pinpipe.counter";
const LAST_SEQUENCE_KEY: &str = "pinpipe.lastSequenceNumber";

/// Checkpoint every this many versions (Delta's `delta.checkpointInterval`).
pub const CHECKPOINT_INTERVAL: u64 = 20;

/// How far back the log is searched for a writer's last commit. Writers commit in
/// rotation, so the mark is normally within the last few versions.
const MARK_SEARCH_DEPTH: u64 = 10_000;

/// What a writer has committed: its counter (the `txn` version) and the last
/// sequence number that commit covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterMark {
    pub counter: i64,
    pub last_sequence: SequenceNumber,
}

/// An injected failure, for tests of the crash window between writing data files
/// and committing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AfterDataFilesBeforeCommit,
}

/// The outcome of one exactly-once append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Committed as table version `version` with writer counter `counter`.
    Committed { version: u64, counter: i64 },
    /// Another delivery of the same records had already committed them.
    AlreadyCommitted,
}

/// One Delta table of cleaned records in the lake.
pub struct CleanTable {
    url: Url,
    kind: Kind,
    table: DeltaTable,
}

impl CleanTable {
    /// Loads the table at `relative` (e.g. `delta/stream/<id>_pin_table`), creating it
    /// with SPEC §3's schema for `kind` when it does not exist yet. Two writers creating
    /// it at once is fine: the loser loads what the winner created.
    pub async fn open(lake: &Lake, relative: &str, kind: Kind) -> Result<CleanTable, LakeError> {
        let url = lake.url(relative);
        if let Ok(dir) = url.to_file_path() {
            // delta-kernel treats a missing local directory as an error, not as "no table yet".
            std::fs::create_dir_all(&dir)
                .map_err(|e| LakeError::delta(&url, DeltaTableError::Generic(e.to_string())))?;
        }
        let mut table = DeltaTableBuilder::from_url(url.clone())
            .and_then(|b| b.with_storage_options(lake.delta_options()).build())
            .map_err(|e| LakeError::delta(&url, e))?;
        match table.load().await {
            Ok(()) => {}
            Err(DeltaTableError::NotATable(_)) => {
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
                table = match created {
                    Ok(t) => t,
                    Err(DeltaTableError::VersionAlreadyExists(_)) | Err(DeltaTableError::Transaction { .. }) => {
                        table.load().await.map_err(|e| LakeError::delta(&url, e))?;
                        table
                    }
                    Err(e) => return Err(LakeError::delta(&url, e)),
                };
            }
            Err(e) => return Err(LakeError::delta(&url, e)),
        }
        let found = table.snapshot().map_err(|e| LakeError::delta(&url, e))?.schema();
        let want: StructType = schema::of(kind).as_ref().try_into_kernel().expect("checked above");
        if found.as_ref() != &want {
            return Err(LakeError::Inconsistent {
                table: url.to_string(),
                detail: format!("its schema is not SPEC §3's {kind} schema: {found:?}"),
            });
        }
        Ok(CleanTable { url, kind, table })
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

    /// Re-reads the log to the latest version.
    pub async fn refresh(&mut self) -> Result<(), LakeError> {
        self.table.update_incremental(None).await.map_err(|e| LakeError::delta(&self.url, e))
    }

    /// The writer's mark: its `txn` version from the snapshot, and the sequence
    /// number recorded beside that `txn` in the same commit.
    pub async fn mark(&self, app_id: &str) -> Result<Option<WriterMark>, LakeError> {
        let snapshot = self.table.snapshot().map_err(|e| LakeError::delta(&self.url, e))?;
        let log_store = self.table.log_store();
        let Some(counter) = snapshot
            .transaction_version(log_store.as_ref(), app_id)
            .await
            .map_err(|e| LakeError::delta(&self.url, e))?
        else {
            return Ok(None);
        };
        let latest = snapshot.version();
        let oldest = latest.saturating_sub(MARK_SEARCH_DEPTH);
        for version in (oldest..=latest).rev() {
            let Some(bytes) = log_store.read_commit_entry(version).await.map_err(|e| LakeError::delta(&self.url, e))?
            else {
                continue;
            };
            if let Some(last) = mark_in_commit(&bytes, app_id, counter) {
                let last_sequence = SequenceNumber::parse(&last).map_err(|e| LakeError::Inconsistent {
                    table: self.url.to_string(),
                    detail: format!("commit {version}: {e}"),
                })?;
                return Ok(Some(WriterMark { counter, last_sequence }));
            }
        }
        Err(LakeError::Inconsistent {
            table: self.url.to_string(),
            detail: format!(
                "writer {app_id} is at counter {counter}, but no commit in versions {oldest}..={latest} records it"
            ),
        })
    }

    /// The table's data files, as keys relative to the lake root, in a stable order.
    pub fn data_files(&self, relative: &str) -> Result<Vec<String>, LakeError> {
        let snapshot = self.table.snapshot().map_err(|e| LakeError::delta(&self.url, e))?;
        let table = relative.trim_end_matches('/');
        let mut files: Vec<String> =
            snapshot.log_data().into_iter().map(|add| format!("{table}/{}", add.object_store_path())).collect();
        files.sort();
        Ok(files)
    }

    /// Appends `batches` as writer `app_id`'s next commit, covering records up to
    /// `last_sequence`; `notes` go into the commit's `commitInfo` beside the mark. `expected` is the mark the caller filtered against: when a
    /// concurrent commit of the same writer wins, the append reports
    /// [`Appended::AlreadyCommitted`] if that commit covered `last_sequence`, and
    /// otherwise a conflict error so the caller re-reads the mark and re-filters.
    pub async fn append(
        &mut self,
        app_id: &str,
        expected: Option<&WriterMark>,
        last_sequence: &SequenceNumber,
        batches: Vec<RecordBatch>,
        notes: HashMap<String, serde_json::Value>,
        fault: Option<Fault>,
    ) -> Result<Appended, AppendError> {
        let counter = expected.map_or(1, |m| m.counter + 1);
        let mut actions = Vec::new();
        if batches.iter().any(|b| b.num_rows() > 0) {
            let mut writer = RecordBatchWriter::for_table(&self.table).map_err(|e| self.delta(e))?;
            for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
                writer.write(batch).await.map_err(|e| self.delta(e))?;
            }
            actions.extend(writer.flush().await.map_err(|e| self.delta(e))?.into_iter().map(Action::Add));
        }
        if fault == Some(Fault::AfterDataFilesBeforeCommit) {
            return Err(AppendError::Injected);
        }
        let mut metadata = notes;
        metadata.extend([
            (APP_ID_KEY.to_owned(), serde_json::Value::from(app_id)),
            (COUNTER_KEY.to_owned(), serde_json::Value::from(counter)),
            (LAST_SEQUENCE_KEY.to_owned(), serde_json::Value::from(last_sequence.as_str())),
        ]);
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(app_id, counter))
            .with_metadata(metadata)
            // Listing and deleting old log files on every commit is what makes commits slow.
            .with_cleanup_expired_logs(Some(false));
        let snapshot = self.table.snapshot().map_err(|e| self.delta(e))?;
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
                self.refresh().await.map_err(AppendError::Lake)?;
                Ok(Appended::Committed { version, counter })
            }
            Err(e) if is_same_writer_conflict(&e) => {
                self.refresh().await.map_err(AppendError::Lake)?;
                match self.mark(app_id).await.map_err(AppendError::Lake)? {
                    Some(mark) if &mark.last_sequence >= last_sequence => Ok(Appended::AlreadyCommitted),
                    _ => Err(AppendError::Conflict { app_id: app_id.to_owned() }),
                }
            }
            Err(e) => Err(self.delta(e)),
        }
    }

    fn delta(&self, e: DeltaTableError) -> AppendError {
        AppendError::Lake(LakeError::delta(&self.url, e))
    }
}

/// Why an append did not commit.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("writer {app_id} committed concurrently with other records; re-read its mark and retry")]
    Conflict { app_id: String },
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

/// The last sequence number a commit recorded for `app_id` at `counter`, if this
/// commit is that writer's commit.
fn mark_in_commit(commit: &[u8], app_id: &str, counter: i64) -> Option<String> {
    let mut has_txn = false;
    let mut last = None;
    for line in commit.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(action) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
        if let Some(txn) = action.get("txn") {
            has_txn |= txn["appId"] == app_id && txn["version"] == counter;
        } else if let Some(info) = action.get("commitInfo")
            && info[APP_ID_KEY] == app_id
            && info[COUNTER_KEY] == counter
        {
            last = info[LAST_SEQUENCE_KEY].as_str().map(str::to_owned);
        }
    }
    if has_txn { last } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mark_only_in_the_writers_own_commit() {
        let commit = br#"{"commitInfo":{"operation":"WRITE","pinpipe.appId":"s/shard-1","pinpipe.counter":3,"pinpipe.lastSequenceNumber":"49546986683135544286507457936321625675700192471156785154"}}
{"txn":{"appId":"s/shard-1","version":3,"lastUpdated":1}}
{"add":{"path":"x.parquet"}}
"#;
        assert_eq!(
            mark_in_commit(commit, "s/shard-1", 3).as_deref(),
            Some("49546986683135544286507457936321625675700192471156785154")
        );
        assert_eq!(mark_in_commit(commit, "s/shard-1", 2), None);
        assert_eq!(mark_in_commit(commit, "s/shard-2", 3), None);
    }
}
