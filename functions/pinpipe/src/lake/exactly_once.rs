//! The one exactly-once writer (SPEC §7), used by the stream cleaner (Kinesis shards
//! into stream tables) and by bronze → silver (Kafka partitions into silver tables).
//!
//! The loop, after kafka-delta-ingest: read the writer's mark; keep only the records
//! after it; stage them (clean, quarantine what cannot be cleaned); commit the rows
//! together with the writer's next mark. When another delivery of the same writer
//! commits first, re-read the mark and go round again after a jittered backoff
//! ([`crate::retry`]): what
//! the other delivery landed is now behind the mark and is skipped, so every record
//! lands once however Lambda redelivers, re-cuts or overlaps batches. Commits of other
//! writers never conflict with this one (deltalake re-checks and retries them itself).

use std::collections::HashMap;

use arrow_array::RecordBatch;

use crate::lake::LakeError;
use crate::lake::delta::{CleanTable, CommitError, Fault};
use crate::lake::marks::{Mark, Writer};

/// Attempts at one append before giving up on a writer that keeps losing races.
const MAX_ATTEMPTS: u32 = 8;

/// What staging the fresh records produced: the rows to append, and what went to
/// quarantine instead.
#[derive(Debug, Default)]
pub struct Staged {
    pub batches: Vec<RecordBatch>,
    /// `commitInfo` entries of the commit (e.g. the bronze objects it took in).
    pub notes: HashMap<String, serde_json::Value>,
    pub quarantined: u64,
}

/// What one exactly-once append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<P> {
    pub rows: u64,
    pub quarantined: u64,
    /// Records at or below the mark: landed before, by this or another delivery.
    pub duplicates: u64,
    /// The table version and mark of this append's commit, if it made one.
    pub committed: Option<(u64, Mark<P>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("injected failure between writing data files and committing")]
    Injected,
    #[error("writer {app_id} lost {MAX_ATTEMPTS} commit races in a row to other deliveries of itself; retry the batch")]
    Contended { app_id: String },
}

/// Appends `items` exactly once as `writer`: those after its mark are staged by
/// `stage` and committed with the writer's next mark.
pub async fn append<'a, W: Writer, T, Staging>(
    table: &mut CleanTable,
    writer: &W,
    items: &'a [T],
    position: impl Fn(&T) -> &W::Position,
    mut stage: impl FnMut(Vec<&'a T>) -> Staging,
    fault: Option<Fault>,
) -> Result<Written<W::Position>, WriteError>
where
    Staging: Future<Output = Result<Staged, LakeError>>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let mark = table.mark(writer).await?;
        let fresh: Vec<&'a T> =
            items.iter().filter(|item| mark.as_ref().is_none_or(|m| position(item) > &m.position)).collect();
        let duplicates = (items.len() - fresh.len()) as u64;
        let Some(last) = fresh.iter().map(|item| position(item)).max().cloned() else {
            return Ok(Written { rows: 0, quarantined: 0, duplicates, committed: None });
        };
        let staged = stage(fresh).await?;
        let rows = staged.batches.iter().map(|b| b.num_rows() as u64).sum();
        let (next, txns) = writer.next(mark.as_ref(), &last);
        match table.commit(txns, staged.batches, staged.notes, fault).await {
            Ok(version) => {
                tracing::info!(app_id = writer.app_id(), version, mark = %next.position, rows, "appended");
                let committed = Some((version, next));
                return Ok(Written { rows, quarantined: staged.quarantined, duplicates, committed });
            }
            Err(CommitError::SameWriter) => {
                tracing::info!(app_id = writer.app_id(), attempt, "another delivery of this writer committed first");
                tokio::time::sleep(crate::retry::backoff(attempt)).await;
                table.refresh().await?;
            }
            Err(CommitError::Injected) => return Err(WriteError::Injected),
            Err(CommitError::Lake(e)) => return Err(e.into()),
        }
    }
    Err(WriteError::Contended { app_id: writer.app_id().to_owned() })
}
