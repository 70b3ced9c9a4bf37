//! Table maintenance (SPEC §11): what keeps every Delta table of a deployment — the
//! three stream tables and the three silver tables — as cheap to write and read on
//! day 365 as on day 1. Per table, in this order:
//!
//! 1. compact the files under the compaction target (`PINPIPE_COMPACT_TARGET_MB`)
//!    into files of up to that size with deltalake's optimize (bin-packing; files at
//!    or over the target are left alone, so a file stops being rewritten once it has
//!    grown past it): its commit is `dataChange: false` and carries no writer's txn, so
//!    a concurrent blind append never conflicts with it (deltalake's conflict checker
//!    re-checks and retries it instead);
//! 2. write a checkpoint of the result, so opening the table reads one file plus the
//!    commits after it;
//! 3. remove log files (commits and older checkpoints) older than the log retention
//!    and older than that checkpoint: writer marks live in `txn` actions, which the
//!    checkpoint carries (see [`crate::lake::marks`]), so nothing of them is lost;
//! 4. vacuum in full mode: data files no longer in the table (replaced by compaction,
//!    or orphans of crashed and lost commits) once older than the vacuum retention.
//!
//! Invariant: the vacuum retention is at least the log retention and at least an hour
//! ([`Retention::checked`], which every configuration goes through): vacuum deletes
//! unreferenced files older than it, an append's files are unreferenced until its
//! commit (a Lambda runs at most 15 minutes), and a version still in the log must keep
//! its files for time travel (the daily job reads past dates that way).
//!
//! Every table is maintained on its own: one that fails does not stop the others
//! ([`maintain_all`] reports each failure, by table, after trying them all).

use std::time::Duration;

use deltalake::DeltaTableError;
use deltalake::checkpoints;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use futures::TryStreamExt;

use crate::config::Names;
use crate::kind::Kind;
use crate::lake::delta::CleanTable;
use crate::lake::{Lake, LakeError};

/// How long log files and unreferenced data files are kept, and the compaction
/// target (SPEC §10). Built from configuration through [`Retention::checked`]; benches
/// and tests that compress time (no append in flight, no time travel) build it as they need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub log: Duration,
    pub vacuum: Duration,
    /// Files under this size are compacted into files of up to it.
    pub compact_target_bytes: u64,
}

/// The least vacuum retention configuration may set: longer than any append (a Lambda
/// runs at most 15 minutes).
pub const MIN_VACUUM_RETENTION: Duration = Duration::from_secs(3_600);
/// The default compaction target (`PINPIPE_COMPACT_TARGET_MB`).
pub const DEFAULT_COMPACT_TARGET_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "a vacuum retention of {vacuum_days} days is below {floor_days} days (the log retention, and at least an \
     hour): vacuum would delete files an append in flight or a version still in the log needs. Help: set \
     PINPIPE_VACUUM_RETENTION_DAYS (TableVacuumRetentionDays) to at least PINPIPE_LOG_RETENTION_DAYS"
)]
pub struct RetentionError {
    pub vacuum_days: f64,
    pub floor_days: f64,
}

impl Retention {
    /// Retentions in days, checked: the vacuum retention at least the log retention and an hour.
    pub fn checked(log_days: f64, vacuum_days: f64, compact_target_bytes: u64) -> Result<Retention, RetentionError> {
        let retention = Retention {
            log: Duration::from_secs_f64(log_days * 86_400.0),
            vacuum: Duration::from_secs_f64(vacuum_days * 86_400.0),
            compact_target_bytes,
        };
        let floor = retention.log.max(MIN_VACUUM_RETENTION);
        if retention.vacuum < floor {
            return Err(RetentionError { vacuum_days, floor_days: floor.as_secs_f64() / 86_400.0 });
        }
        Ok(retention)
    }

    /// The configured retentions and compaction target (SPEC §11), checked.
    pub fn from_config(config: &crate::config::Config) -> Result<Retention, RetentionError> {
        Retention::checked(config.log_retention_days, config.vacuum_retention_days, config.compact_target_mb << 20)
    }

    /// Retentions in days with the default compaction target, unchecked: for tests
    /// and benches that compress time.
    pub fn days(log: f64, vacuum: f64) -> Retention {
        Retention {
            log: Duration::from_secs_f64(log * 86_400.0),
            vacuum: Duration::from_secs_f64(vacuum * 86_400.0),
            compact_target_bytes: DEFAULT_COMPACT_TARGET_BYTES,
        }
    }
}

/// What maintenance did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableReport {
    /// The table, relative to the lake root.
    pub table: String,
    pub version_before: u64,
    pub version_after: u64,
    /// Live data files before and after.
    pub files_before: u64,
    pub files_after: u64,
    /// Small files compacted, and the files they became.
    pub files_compacted: u64,
    pub files_written: u64,
    /// The version checkpointed.
    pub checkpoint: u64,
    /// Expired log files (commits, checkpoints) removed.
    pub log_files_removed: u64,
    /// Unreferenced data files removed. (With a vacuum retention below the table's
    /// tombstone retention, deltalake counts files an earlier run removed again.)
    pub files_vacuumed: u64,
    /// `_delta_log` after maintenance: files and bytes.
    pub log_files: u64,
    pub log_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{step} of {table}: {source}")]
    Step { step: &'static str, table: String, source: Box<DeltaTableError> },
}

/// What maintaining every table did: a report per table maintained, and each
/// table's failure (the others were maintained all the same).
#[derive(Debug, Default)]
pub struct AllTables {
    pub reports: Vec<TableReport>,
    pub failures: Vec<(String, MaintenanceError)>,
}

impl AllTables {
    /// The reports, or an error naming every table that failed and why.
    pub fn into_result(self) -> Result<Vec<TableReport>, TablesFailed> {
        if self.failures.is_empty() { Ok(self.reports) } else { Err(TablesFailed(self)) }
    }
}

/// Some tables could not be maintained (the rest were).
#[derive(Debug, thiserror::Error)]
#[error("{} of the tables could not be maintained: {}", .0.failures.len(), .0.failures.iter().map(|(t, e)| format!("{t}: {e}")).collect::<Vec<_>>().join("; "))]
pub struct TablesFailed(pub AllTables);

/// Maintains every table of deployment `names` that exists, one after another, each
/// on its own: a failing table is reported and the next one maintained.
pub async fn maintain_all(lake: &Lake, names: Names<'_>, retention: Retention) -> AllTables {
    let mut all = AllTables::default();
    for kind in Kind::ALL {
        for relative in [names.stream_table(kind), names.batch_table(kind)] {
            match maintain(lake, &relative, kind, retention).await {
                Ok(Some(report)) => all.reports.push(report),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(table = %relative, %error, "table maintenance failed; going on with the next table");
                    all.failures.push((relative, error));
                }
            }
        }
    }
    all
}

/// Maintains the table at `relative`; `None` when there is no table there.
pub async fn maintain(
    lake: &Lake,
    relative: &str,
    kind: Kind,
    retention: Retention,
) -> Result<Option<TableReport>, MaintenanceError> {
    let Some(clean) = CleanTable::open(lake, relative, kind).await? else { return Ok(None) };
    let step = |step: &'static str| {
        move |e: DeltaTableError| MaintenanceError::Step { step, table: relative.to_owned(), source: Box::new(e) }
    };
    let table = clean.delta_table().clone();
    let mut report = TableReport {
        table: relative.to_owned(),
        version_before: table.version().unwrap_or_default(),
        files_before: live_files(&table).map_err(step("counting files"))?,
        ..Default::default()
    };
    // Writers never clean up the log per commit; neither do these commits.
    let no_cleanup = || CommitProperties::default().with_cleanup_expired_logs(Some(false));

    let (table, compacted) = table
        .optimize()
        .with_type(OptimizeType::Compact)
        .with_target_size(std::num::NonZeroU64::new(retention.compact_target_bytes.max(1)).expect("at least 1"))
        .with_writer_properties(crate::lake::delta::writer_properties())
        .with_commit_properties(no_cleanup())
        .await
        .map_err(step("compaction"))?;
    report.files_compacted = compacted.num_files_removed;
    report.files_written = compacted.num_files_added;

    let version = table.version().unwrap_or_default();
    checkpoints::create_checkpoint(&table, None).await.map_err(step("checkpoint"))?;
    report.checkpoint = version;

    let cutoff = chrono::Utc::now().timestamp_millis() - retention.log.as_millis() as i64;
    report.log_files_removed = checkpoints::cleanup_expired_logs_for(version, table.log_store().as_ref(), cutoff, None)
        .await
        .map_err(step("log cleanup"))? as u64;

    // The loaded state was read from commit files the cleanup may just have removed:
    // vacuum works from a fresh load (from the new checkpoint).
    let Some(reloaded) = CleanTable::open(lake, relative, kind).await? else { return Ok(None) };
    let vacuum_retention = chrono::Duration::from_std(retention.vacuum).unwrap_or(chrono::Duration::MAX);
    let (table, vacuumed) = reloaded
        .delta_table()
        .clone()
        .vacuum()
        .with_mode(VacuumMode::Full)
        .with_retention_period(vacuum_retention)
        // Our floor is `Retention::checked`'s (the log retention, at least an hour), not
        // the table's `delta.deletedFileRetentionDuration` (7 days), which would refuse
        // a shorter setting that is safe.
        .with_enforce_retention_duration(false)
        .with_commit_properties(no_cleanup())
        .await
        .map_err(step("vacuum"))?;
    report.files_vacuumed = vacuumed.files_deleted.len() as u64;

    report.version_after = table.version().unwrap_or_default();
    report.files_after = live_files(&table).map_err(step("counting files"))?;
    let log_prefix = object_store::path::Path::from("_delta_log");
    let log: Vec<_> = table
        .log_store()
        .object_store(None)
        .list(Some(&log_prefix))
        .try_collect()
        .await
        .map_err(|e| step("listing the log")(DeltaTableError::ObjectStore { source: e }))?;
    report.log_files = log.len() as u64;
    report.log_bytes = log.iter().map(|m| m.size).sum();
    tracing::info!(?report, "table maintained");
    Ok(Some(report))
}

fn live_files(table: &deltalake::DeltaTable) -> Result<u64, DeltaTableError> {
    Ok(table.snapshot()?.log_data().num_files() as u64)
}

/// What maintenance did to all tables (emitted as CloudWatch metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub tables: u64,
    pub files_compacted: u64,
    pub files_vacuumed: u64,
    pub log_files_removed: u64,
    pub live_files: u64,
    pub log_bytes: u64,
}

impl Totals {
    pub fn of(reports: &[TableReport]) -> Totals {
        reports.iter().fold(Totals::default(), |t, r| Totals {
            tables: t.tables + 1,
            files_compacted: t.files_compacted + r.files_compacted,
            files_vacuumed: t.files_vacuumed + r.files_vacuumed,
            log_files_removed: t.log_files_removed + r.log_files_removed,
            live_files: t.live_files + r.files_after,
            log_bytes: t.log_bytes + r.log_bytes,
        })
    }
}

/// The reports as a table for people (the CLI and `pinpipe demo` print it).
pub fn render(reports: &[TableReport]) -> String {
    let mut out = String::from(
        "| table | versions | live files | compacted → written | checkpoint | log files removed | files vacuumed | log after |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {}→{} | {}→{} | {}→{} | {} | {} | {} | {} files, {} KiB |\n",
            r.table,
            r.version_before,
            r.version_after,
            r.files_before,
            r.files_after,
            r.files_compacted,
            r.files_written,
            r.checkpoint,
            r.log_files_removed,
            r.files_vacuumed,
            r.log_files,
            r.log_bytes.div_ceil(1024),
        ));
    }
    out
}
