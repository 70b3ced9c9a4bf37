//! pinpipe's domain, testable without Lambda or AWS.
//!
//! - [`raw`]: the three raw record shapes of SPEC §2, tolerant of every real variant;
//! - [`catalogue`]: the dirty-value catalogue (SPEC §2, `shared/data/DIRTY_VALUES.md`) as data;
//! - [`clean`]: the one cleaning implementation (SPEC §3) with typed quarantine reasons;
//! - [`columnar`]: cleaned rows as Arrow `RecordBatch`es with SPEC §3's exact schema,
//!   the one representation both the Delta writer and the Polars analytics consume;
//! - [`generate`]: realistic raw posts with the measured dirty-value distributions;
//! - [`ingest`]: the HTTP API of SPEC §5 over [`services`], Kinesis and Kafka as traits;
//! - [`bronze`]: the bronze layout (Kafka Connect's S3 sink): keys, bodies, where data ends;
//! - [`sink`]: the batch sink: MSK batches → bronze objects, exactly once;
//! - [`silver`]: bronze objects into the silver Delta tables, each once;
//! - [`analytics`]: the daily job and SPEC §4's eight questions with Polars;
//! - [`config`]: SPEC §10's environment contract and the names it derives (SPEC §1, §6).

#[cfg(feature = "analytics")]
pub mod analytics;
pub mod bronze;
pub mod catalogue;
pub mod clean;
pub mod columnar;
pub mod config;
#[cfg(feature = "delta")]
pub mod delta;
#[cfg(feature = "delta")]
pub mod exactly_once;
pub mod generate;
#[cfg(any(feature = "stream", feature = "metrics"))]
pub mod incarnation;
#[cfg(feature = "ingest")]
pub mod ingest;
#[cfg(feature = "ingest")]
pub mod kafka;
pub mod kind;
#[cfg(feature = "delta")]
pub mod lake;
#[cfg(any(feature = "stream", feature = "sink", feature = "metrics"))]
pub mod lanes;
#[cfg(feature = "maintenance")]
pub mod maintenance;
#[cfg(feature = "delta")]
pub mod marks;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod partitioner;
pub mod quarantine;
pub mod raw;
pub mod retry;
pub mod sequence;
#[cfg(feature = "ingest")]
pub mod services;
#[cfg(feature = "delta")]
pub mod silver;
#[cfg(feature = "sink")]
pub mod sink;
#[cfg(feature = "stream")]
pub mod stream;
pub mod telemetry;
pub mod timestamp;

pub use clean::{CleanRow, GeoRow, PinRow, QuarantineReason, UserRow, clean_record};
pub use columnar::{CleanedBatch, clean_batch, schema};
pub use kind::Kind;
