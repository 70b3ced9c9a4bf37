//! The one exactly-once engine (SPEC §7), after kafka-delta-ingest: read the writer's
//! mark; stage what came after it; commit the staged work together with the next
//! mark, on the condition that the mark is still the one read. A refused commit is a
//! lost race (another delivery moved the mark, or held what the commit touches, or
//! the store throttled): the mark is read again after the one backoff rule
//! ([`crate::retry`]) and the loop goes round, so what the other delivery landed is
//! now behind the mark and skipped. Two stores implement [`MarkedWriter`]: the Delta
//! tables (marks in `txn` actions, `crate::lake::exactly_once`) and the metrics store
//! (marks as items, `crate::metrics::writer`).

/// Attempts before giving up on a writer that keeps losing races (the batch is then
/// reported failed, and Lambda delivers it again).
pub const MAX_ATTEMPTS: u32 = 10;

/// Why a commit did not happen.
#[derive(Debug)]
pub enum Refused<E> {
    /// Another delivery moved the mark or held what the commit touches, or the store
    /// throttled: read the mark again after a backoff.
    Raced(String),
    /// Refused as a whole for a reason the next staging leaves out (another shard
    /// counted a post first): stage again at once.
    Restage(String),
    /// Not a race: the engine stops with it.
    Failed(E),
}

/// A writer whose progress is a mark kept in the same store as its work, committed
/// in one step with it. Its futures are boxed `Send` ones (`async_trait`), so an engine
/// run can be spawned whatever lifetimes the writer borrows with.
#[async_trait::async_trait]
pub trait MarkedWriter: Send {
    type Mark: Send + Sync;
    type Staged: Send;
    type Committed;
    type Error: Send;
    /// Names the writer in logs (its app id, its shard).
    fn name(&self) -> &str;
    /// The mark as it stands now.
    async fn mark(&mut self) -> Result<Option<Self::Mark>, Self::Error>;
    /// The records after `mark`, staged; `None` when none are.
    async fn stage(&mut self, mark: Option<&Self::Mark>) -> Result<Option<Self::Staged>, Self::Error>;
    /// Commits `staged` with the next mark, on the condition that the mark is still `mark`.
    async fn commit(
        &mut self,
        mark: Option<Self::Mark>,
        staged: Self::Staged,
    ) -> Result<Self::Committed, Refused<Self::Error>>;
}

/// Why the engine stopped without a commit.
#[derive(Debug)]
pub enum Stopped<E> {
    Failed(E),
    /// [`MAX_ATTEMPTS`] races lost in a row.
    Contended,
}

/// Runs `writer` to one commit (`Some`), or to nothing after its mark (`None`).
pub async fn write_once<W: MarkedWriter>(writer: &mut W) -> Result<Option<W::Committed>, Stopped<W::Error>> {
    for attempt in 0..MAX_ATTEMPTS {
        let mark = writer.mark().await.map_err(Stopped::Failed)?;
        let Some(staged) = writer.stage(mark.as_ref()).await.map_err(Stopped::Failed)? else {
            return Ok(None);
        };
        match writer.commit(mark, staged).await {
            Ok(committed) => return Ok(Some(committed)),
            Err(Refused::Raced(reason)) => {
                tracing::info!(writer = writer.name(), attempt, %reason, "commit refused; reading the mark again");
                tokio::time::sleep(crate::retry::backoff(attempt)).await;
            }
            Err(Refused::Restage(reason)) => {
                tracing::info!(writer = writer.name(), attempt, %reason, "commit refused; staging again");
            }
            Err(Refused::Failed(error)) => return Err(Stopped::Failed(error)),
        }
    }
    Err(Stopped::Contended)
}
