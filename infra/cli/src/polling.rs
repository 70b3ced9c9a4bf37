//! The local event source mapping, written once: per round, each lane (a shard or a
//! partition) of a [`BatchSource`] is fetched from its position into the event Lambda
//! would deliver, handed to the handler, and advanced only past what the answer says
//! succeeded (partial batch responses honoured), so a failed batch is redelivered.
//! When asked, a batch that succeeded is delivered once more (as Lambda does after a
//! lost answer or a timeout), which the handlers must absorb exactly once. With a
//! batching window (`MaximumBatchingWindowInSeconds`), a lane's batch smaller than the
//! batch size is held until the window has passed since its first record was seen. The
//! Kinesis and Kafka pollers and the embedded demo's in-process ones are its sources.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Rounds in a row in which every invocation failed before [`Poller::run_until_idle`] gives up.
pub const MAX_FAILING_ROUNDS: usize = 20;

/// What one polling round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, derive_more::AddAssign)]
pub struct Round {
    pub records: usize,
    pub invocations: usize,
    /// Invocations that reported failures (their records are redelivered).
    pub failed_invocations: usize,
    /// Records fetched but held back by the batching window.
    pub waiting: usize,
}

/// Where an event source mapping reads: lanes it fetches batches from, each from its
/// own position.
pub trait BatchSource {
    /// A shard or a partition.
    type Lane: Clone + Eq + Hash;
    /// Where a record sits in its lane (a sequence number, an offset).
    type Position;
    /// The Lambda event it delivers and the handler's answer to it.
    type Event;
    type Response;
    type Error;

    /// This round's lanes (listed each round: shards split and merge).
    fn lanes(&mut self) -> impl Future<Output = Result<Vec<Self::Lane>, Self::Error>>;
    /// The lane's next batch from its position, as the event Lambda would deliver,
    /// with its records' positions in order; `None` when nothing is new.
    #[allow(clippy::type_complexity)]
    fn fetch(
        &mut self,
        lane: &Self::Lane,
    ) -> impl Future<Output = Result<Option<(Self::Event, Vec<Self::Position>)>, Self::Error>>;
    /// How many of the batch's records, in order, the handler's answer lets the lane move past.
    fn taken(response: &Self::Response, positions: &[Self::Position]) -> usize;
    /// Moves the lane past the record at `last`.
    fn advance(&mut self, lane: &Self::Lane, last: &Self::Position) -> impl Future<Output = Result<(), Self::Error>>;
}

/// An event source mapping over a [`BatchSource`].
pub struct Mapping<S: BatchSource> {
    source: S,
    redeliver_every: Option<usize>,
    /// Batches the handler took whole.
    taken_whole: usize,
    redelivered: usize,
    batching: Option<Batching<S::Lane>>,
}

/// A batching window: batches under `size` records wait for it.
struct Batching<L> {
    window: Duration,
    size: usize,
    /// Per lane: when its oldest undelivered record was first fetched.
    waiting_since: HashMap<L, Instant>,
}

impl<L: Clone + Eq + Hash> Batching<L> {
    /// The lane's next batch is delivered when fetched (a failed one's retry).
    fn retry_now(&mut self, lane: &L) {
        if let Some(past) = Instant::now().checked_sub(self.window) {
            self.waiting_since.insert(lane.clone(), past);
        }
    }

    /// Whether a fetched batch of `records` on `lane` is delivered now.
    fn ready(&mut self, lane: &L, records: usize) -> bool {
        let since = *self.waiting_since.entry(lane.clone()).or_insert_with(Instant::now);
        let ready = records >= self.size || since.elapsed() >= self.window;
        if ready {
            self.waiting_since.remove(lane);
        }
        ready
    }
}

impl<S: BatchSource> Mapping<S> {
    pub fn over(source: S) -> Self {
        Mapping { source, redeliver_every: None, taken_whole: 0, redelivered: 0, batching: None }
    }

    /// Holds a lane's batch under `size` records until `window` has passed since its
    /// first record was fetched, as `MaximumBatchingWindowInSeconds` does (a zero
    /// window delivers at once).
    pub fn batching(mut self, window: Duration, size: usize) -> Self {
        self.batching = (!window.is_zero()).then(|| Batching { window, size, waiting_since: HashMap::new() });
        self
    }

    /// Every `n`th batch the handler took whole is delivered again, as if its answer were lost.
    pub fn redelivering_every(mut self, n: usize) -> Self {
        self.redeliver_every = Some(n.max(1));
        self
    }

    /// Batches delivered again after the handler had taken them.
    pub fn redelivered(&self) -> usize {
        self.redelivered
    }

    pub fn into_source(self) -> S {
        self.source
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

    /// Polls until a round finds nothing new (nothing held by a batching window
    /// either), or `max_rounds` (a handler that keeps failing would otherwise be
    /// redelivered for ever). Returns the rounds' totals.
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
                if round.invocations == 0 {
                    if round.waiting == 0 {
                        break;
                    }
                    // Batches held by the batching window: look again shortly (5 times a
                    // second, what Kinesis allows GetRecords on a shard).
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
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

impl<S: BatchSource> Poller for Mapping<S> {
    type Event = S::Event;
    type Response = S::Response;
    type Error = S::Error;

    async fn poll_once<F, Fut>(&mut self, mut handler: F) -> Result<Round, S::Error>
    where
        F: FnMut(S::Event) -> Fut,
        Fut: Future<Output = S::Response>,
    {
        let mut round = Round::default();
        for lane in self.source.lanes().await? {
            let Some((event, positions)) = self.source.fetch(&lane).await? else { continue };
            if let Some(batching) = &mut self.batching
                && !batching.ready(&lane, positions.len())
            {
                round.waiting += positions.len();
                continue;
            }
            round.records += positions.len();
            round.invocations += 1;
            let response = handler(event).await;
            let taken = S::taken(&response, &positions);
            if taken < positions.len() {
                round.failed_invocations += 1;
                // What failed is retried at once, as Lambda retries a batch: no new window.
                if let Some(batching) = &mut self.batching {
                    batching.retry_now(&lane);
                }
            } else {
                self.taken_whole += 1;
                if self.redeliver_every.is_some_and(|n| self.taken_whole % n == 0) {
                    self.redelivered += 1;
                    continue;
                }
            }
            if let Some(last) = taken.checked_sub(1).map(|i| &positions[i]) {
                self.source.advance(&lane, last).await?;
            }
        }
        Ok(round)
    }
}
