//! What the local event-source pollers share: a round of at most one batch per
//! shard or partition, and polling until idle.

use std::future::Future;

/// Rounds in a row in which every invocation failed before [`Poller::run_until_idle`] gives up.
pub const MAX_FAILING_ROUNDS: usize = 20;

/// What one polling round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub records: usize,
    pub invocations: usize,
    /// Invocations that reported failures (their records are redelivered).
    pub failed_invocations: usize,
}

impl std::ops::AddAssign for Round {
    fn add_assign(&mut self, o: Self) {
        self.records += o.records;
        self.invocations += o.invocations;
        self.failed_invocations += o.failed_invocations;
    }
}

/// A local stand-in for a Lambda event source mapping.
pub trait Poller {
    /// The Lambda event it delivers and the handler's answer to it.
    type Event;
    type Response;
    type Error;

    /// One round: at most one batch per shard or partition; moves past a batch
    /// only when the handler's answer says it succeeded.
    fn poll_once<F, Fut>(&mut self, handler: F) -> impl Future<Output = Result<Round, Self::Error>>
    where
        F: FnMut(Self::Event) -> Fut,
        Fut: Future<Output = Self::Response>;

    /// Polls until a round finds nothing new, or `max_rounds` (a handler that keeps
    /// failing would otherwise be redelivered for ever). Returns the rounds' totals.
    fn run_until_idle<F, Fut>(
        &mut self,
        mut handler: F,
        max_rounds: usize,
    ) -> impl Future<Output = Result<Round, Self::Error>>
    where
        F: FnMut(Self::Event) -> Fut,
        Fut: Future<Output = Self::Response>,
    {
        async move {
            let mut total = Round::default();
            let mut failing = 0;
            for _ in 0..max_rounds {
                let round = self.poll_once(&mut handler).await?;
                total += round;
                if round.records == 0 {
                    break;
                }
                // A handler that fails every batch round after round (a recreated
                // topic, a lake it may not write) would be redelivered for ever.
                failing = if round.failed_invocations == round.invocations { failing + 1 } else { 0 };
                if failing == MAX_FAILING_ROUNDS {
                    break;
                }
            }
            Ok(total)
        }
    }
}
