//! pinpipe's domain, testable without Lambda or AWS. Its folders are its floors: a
//! module imports only from its own floor or the ones below (checked by
//! `the_library_has_floors_and_no_cycles` in `floors.rs`).
//!
//! 5. [`deployment`]: the configuration read once, the lake and AWS opened once; it
//!    opens every engine for the Lambdas, the CLI and the demo alike;
//! 4. [`analytics`] (the daily job: silver, then SPEC §4's eight answers) and [`ingest`]
//!    (the HTTP API of SPEC §5, owning its Kinesis and Kafka adapters; it reads the
//!    metrics);
//! 3. the engines: [`stream`] (Kinesis → Delta stream tables), [`sink`] (MSK → bronze),
//!    [`silver`] (bronze → silver Delta tables), [`maintenance`], [`metrics`] (SPEC §12);
//! 2. [`lake`]: storage — the object store, the bronze layout, the Delta tables, the
//!    writers' marks and the one exactly-once commit;
//! 1. [`record`] (raw → clean → columnar, the catalogue, quarantine, the generator) and
//!    [`delivery`] (sequence numbers, incarnations, partitioning, an event's lanes);
//! 0. the foundation: [`kind`] (pin, geo, user), [`failure`] (a Lambda answer's error
//!    types, retryable or not), [`config`] (SPEC §10's environment contract and the names it
//!    derives), [`telemetry`], [`retry`] (the one backoff rule).

#[cfg(feature = "analytics")]
pub mod analytics;
pub mod config;
pub mod delivery;
pub mod deployment;
pub mod failure;
#[cfg(feature = "ingest")]
pub mod ingest;
pub mod kind;
#[cfg(feature = "delta")]
pub mod lake;
#[cfg(feature = "maintenance")]
pub mod maintenance;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod record;
pub mod retry;
#[cfg(feature = "delta")]
pub mod silver;
#[cfg(feature = "sink")]
pub mod sink;
#[cfg(feature = "stream")]
pub mod stream;
pub mod telemetry;

#[cfg(test)]
mod floors;

pub use kind::Kind;
pub use record::clean::{CleanRow, GeoRow, PinRow, QuarantineReason, UserRow, clean_record};
pub use record::columnar::{CleanedBatch, clean_batch, schema};
