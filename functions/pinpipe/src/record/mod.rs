//! The record floor: what a post is, before and after cleaning. Nothing here does I/O
//! except the generator's file output.
//!
//! - [`raw`]: the three raw record shapes of SPEC §2, tolerant of every real variant;
//! - [`flat`]: the fast reader of the plain records, serde's stand-in where it agrees;
//! - [`catalogue`]: the dirty-value catalogue (SPEC §2, `shared/data/DIRTY_VALUES.md`) as data;
//! - [`timestamp`]: the timestamps' real formats;
//! - [`clean`]: the one cleaning implementation (SPEC §3) with typed quarantine reasons;
//! - [`columnar`]: cleaned rows as Arrow `RecordBatch`es with SPEC §3's exact schema,
//!   the one representation both the Delta writer and the Polars analytics consume;
//! - [`quarantine`]: a record that could not be cleaned, with its reason and origin;
//! - `generate` (feature `local`): realistic raw posts with the measured dirty-value
//!   distributions, for the demo, the benches and the tests — no Lambda links it.

pub mod catalogue;
pub mod clean;
pub mod columnar;
pub mod flat;
#[cfg(any(test, feature = "local"))]
pub mod generate;
pub mod quarantine;
pub mod raw;
pub mod timestamp;
