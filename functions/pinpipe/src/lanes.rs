//! What the stream cleaner and the batch sink share as event handlers: an event is
//! split into lanes (a Kinesis shard's, a Kafka partition's records, in order); each
//! lane is handled on its own, and a lane that fails is logged and reported by its
//! first record — Lambda retries it from there — while the others' work stands.

use std::fmt;
use std::ops::AddAssign;

/// One lane's records of an event.
pub trait Lane: fmt::Display {
    /// How the event source mapping is told the lane failed (a batch item failure).
    type Failure;
    fn records(&self) -> usize;
    /// The failure that makes Lambda retry the lane from its first record.
    fn failure(&self) -> Self::Failure;
}

/// A handler's counts of one invocation.
pub trait Counted: Default + AddAssign {
    /// The counts of `records` records that failed (to be redelivered).
    fn failed(records: u64) -> Self;
}

/// Each lane's outcome, handled on its own: the failures to report (logged), and
/// the counts summed.
pub fn report<L, C, E>(outcomes: Vec<(L, Result<C, E>)>) -> (Vec<L::Failure>, C)
where
    L: Lane,
    C: Counted,
    E: fmt::Display,
{
    let mut failures = Vec::new();
    let mut counts = C::default();
    for (lane, outcome) in outcomes {
        match outcome {
            Ok(c) => counts += c,
            Err(error) => {
                tracing::error!(%lane, %error, "a lane's batch failed; reporting it for retry");
                counts += C::failed(lane.records() as u64);
                failures.push(lane.failure());
            }
        }
    }
    (failures, counts)
}
