//! The delivery floor: how records reach the engines, independent of what they hold.
//!
//! - [`exactly_once`]: the one exactly-once engine (mark, stage, commit with the next
//!   mark, retry a lost race), for the Delta tables and the metrics store alike;
//! - [`partitioner`]: the one key → partition / shard / part hash;
//! - [`sequence`]: Kinesis sequence numbers, and a stream's incarnation (which creation
//!   of a stream a number belongs to);
//! - [`incarnation`]: asking Kinesis which incarnation a shard's stream is now;
//! - [`lanes`]: a Lambda event split into lanes (a shard's, a partition's records),
//!   each handled on its own, failures reported as Lambda's partial batch responses.

#[cfg(any(feature = "delta", feature = "metrics"))]
pub mod exactly_once;
#[cfg(any(feature = "stream", feature = "metrics"))]
pub mod incarnation;
#[cfg(any(feature = "stream", feature = "sink", feature = "metrics"))]
pub mod lanes;
pub mod partitioner;
pub mod sequence;
