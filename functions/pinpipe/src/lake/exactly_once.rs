//! Exactly-once appends to the Delta tables (SPEC §7), used by the stream cleaner
//! (Kinesis shards into stream tables) and by bronze → silver (Kafka partitions into
//! silver tables): the Delta table as a [`MarkedWriter`] of the one engine
//! ([`crate::delivery::exactly_once`]). Staging cleans the records after the writer's
//! mark and quarantines what cannot be cleaned; the commit holds the rows and the
//! writer's next `txn`. Another delivery of the same writer committing first is a lost
//! race, so every record lands once however Lambda redelivers, re-cuts or overlaps
//! batches. Commits of other writers never conflict with this one (deltalake re-checks
//! and retries them itself).

use std::collections::HashMap;
use std::pin::Pin;

use arrow_array::RecordBatch;

use crate::delivery::exactly_once::{self as engine, MAX_ATTEMPTS, MarkedWriter, Refused, Stopped};
use crate::lake::LakeError;
use crate::lake::delta::{CleanTable, CommitError, Fault};
use crate::lake::marks::{Mark, Writer};

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
/// `stage` and committed with the writer's next mark (the engine's loop,
/// [`crate::delivery::exactly_once`]).
pub async fn append<'a, W: Writer + Sync, T: Sync, Staging>(
    table: &mut CleanTable,
    writer: &W,
    items: &'a [T],
    position: impl Fn(&T) -> &W::Position + Send + Sync,
    stage: impl FnMut(Vec<&'a T>) -> Staging + Send,
    fault: Option<Fault>,
) -> Result<Written<W::Position>, WriteError>
where
    W::Position: Send + Sync,
    Staging: Future<Output = Result<Staged, LakeError>> + Send,
{
    let mut append = DeltaAppend { table, writer, items, position, stage, fault, raced: false, duplicates: 0 };
    // Boxed as a plain `Send` future here, where the closures' lifetimes are named: a
    // caller's `tokio::spawn` then need not prove the engine's bounds for every lifetime.
    let run: Pin<Box<dyn Future<Output = Result<Option<Written<W::Position>>, Stopped<WriteError>>> + Send + '_>> =
        Box::pin(engine::write_once(&mut append));
    let outcome = run.await;
    match outcome {
        Ok(Some(written)) => Ok(written),
        Ok(None) => Ok(Written { rows: 0, quarantined: 0, duplicates: append.duplicates, committed: None }),
        Err(Stopped::Failed(error)) => Err(error),
        Err(Stopped::Contended) => Err(WriteError::Contended { app_id: writer.app_id().to_owned() }),
    }
}

/// One append to a Delta table as a marked writer: the mark is the writer's `txn`
/// action, the commit a Delta commit holding the rows and the next mark.
struct DeltaAppend<'t, 'a, W: Writer, T, Position, Stage> {
    table: &'t mut CleanTable,
    writer: &'t W,
    items: &'a [T],
    position: Position,
    stage: Stage,
    fault: Option<Fault>,
    /// Another delivery of the writer committed first: the table is reloaded before
    /// its mark is read again.
    raced: bool,
    duplicates: u64,
}

#[async_trait::async_trait]
impl<'a, W, T, Position, Stage, Staging> MarkedWriter for DeltaAppend<'_, 'a, W, T, Position, Stage>
where
    W: Writer + Sync,
    W::Position: Send + Sync,
    T: Sync,
    Position: Fn(&T) -> &W::Position + Send + Sync,
    Stage: FnMut(Vec<&'a T>) -> Staging + Send,
    Staging: Future<Output = Result<Staged, LakeError>> + Send,
{
    type Mark = Mark<W::Position>;
    type Staged = (Staged, W::Position);
    type Committed = Written<W::Position>;
    type Error = WriteError;

    fn name(&self) -> &str {
        self.writer.app_id()
    }

    async fn mark(&mut self) -> Result<Option<Mark<W::Position>>, WriteError> {
        if self.raced {
            self.table.refresh().await?;
        }
        Ok(self.table.mark(self.writer).await?)
    }

    async fn stage(&mut self, mark: Option<&Mark<W::Position>>) -> Result<Option<(Staged, W::Position)>, WriteError> {
        let items = self.items;
        let fresh: Vec<&'a T> =
            items.iter().filter(|item| mark.is_none_or(|m| (self.position)(item) > &m.position)).collect();
        self.duplicates = (items.len() - fresh.len()) as u64;
        let Some(last) = fresh.iter().map(|item| (self.position)(item)).max().cloned() else {
            return Ok(None);
        };
        Ok(Some(((self.stage)(fresh).await?, last)))
    }

    async fn commit(
        &mut self,
        mark: Option<Mark<W::Position>>,
        (staged, last): (Staged, W::Position),
    ) -> Result<Written<W::Position>, Refused<WriteError>> {
        let rows = staged.batches.iter().map(|b| b.num_rows() as u64).sum();
        let (next, txns) = self.writer.next(mark.as_ref(), &last);
        match self.table.commit(txns, staged.batches, staged.notes, self.fault).await {
            Ok(version) => {
                tracing::info!(app_id = self.writer.app_id(), version, mark = %next.position, rows, "appended");
                let committed = Some((version, next));
                Ok(Written { rows, quarantined: staged.quarantined, duplicates: self.duplicates, committed })
            }
            Err(CommitError::SameWriter) => {
                self.raced = true;
                Err(Refused::Raced("another delivery of this writer committed first".into()))
            }
            Err(CommitError::Injected) => Err(Refused::Failed(WriteError::Injected)),
            Err(CommitError::Lake(e)) => Err(Refused::Failed(e.into())),
        }
    }
}
