//! Where a run's answers go (SPEC §6). Each run writes its files under a prefix of
//! its own, `analytics/run_date=D/run=<run id>/`, then publishes them in one step by
//! replacing `analytics/run_date=D/_latest.json`, which names that prefix and its
//! files. S3 has no multi-object commit; one PUT of the pointer is atomic, so a reader
//! that starts from the pointer sees one run's files, never a mix of two.
//!
//! Superseded runs are removed once published over: the run replaced is kept (a
//! reader may still be reading it), older ones go when they started more than
//! [`KEEP_UNPUBLISHED`] before the run publishing (a run still writing is never
//! removed).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::lake::{Lake, LakeError};

/// The pointer object under a run date's prefix.
pub const POINTER: &str = "_latest.json";
/// A run prefix that is neither published nor the one just replaced is removed only
/// when it started this long before the run publishing (longer than a run lasts).
const KEEP_UNPUBLISHED: chrono::Duration = chrono::Duration::hours(1);
const RUN_ID_TIME: &str = "%Y%m%dT%H%M%S%3fZ";

/// `analytics/run_date=YYYY-MM-DD/`.
pub fn date_prefix(run_date: NaiveDate) -> String {
    format!("analytics/run_date={}/", run_date.format("%Y-%m-%d"))
}

/// A new run's id: its start time, then random hex so two runs never share a prefix.
pub fn run_id(started: DateTime<Utc>) -> String {
    use std::hash::BuildHasher;
    // std's per-process random hash keys: enough to tell two runs of one millisecond apart.
    let salt = std::collections::hash_map::RandomState::new().hash_one(started) as u16;
    format!("{}-{salt:04x}", started.format(RUN_ID_TIME))
}

fn started_at(run_id: &str) -> Option<DateTime<Utc>> {
    let time = run_id.split('-').next()?;
    NaiveDateTime::parse_from_str(time, RUN_ID_TIME).ok().map(|t| t.and_utc())
}

/// What `_latest.json` says: the published run of a date.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub run_date: String,
    pub run: String,
    /// `analytics/run_date=D/run=<run>/`, relative to the lake root.
    pub prefix: String,
    /// The run's file names under `prefix` (the answers, then `report.md`).
    pub files: Vec<String>,
    /// Silver as of this time (the end of a past run date), or `null`: the latest.
    pub silver_as_of: Option<DateTime<Utc>>,
    /// The silver version read per kind (`null`: the table had none yet).
    pub silver_versions: BTreeMap<String, Option<u64>>,
}

/// `analytics/run_date=YYYY-MM-DD/_latest.json`.
pub fn pointer_key(run_date: NaiveDate) -> String {
    format!("{}{POINTER}", date_prefix(run_date))
}

/// The run published for `run_date`, if any.
pub async fn published(lake: &Lake, run_date: NaiveDate) -> Result<Option<Published>, LakeError> {
    let key = pointer_key(run_date);
    let Some(bytes) = lake.get(&key).await? else { return Ok(None) };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LakeError::Inconsistent { table: key, detail: format!("unreadable pointer: {e}") })
}

/// Publishes `run` (its files already written) and removes superseded runs.
pub async fn publish(lake: &Lake, run_date: NaiveDate, run: &Published) -> Result<(), LakeError> {
    let replaced = published(lake, run_date).await.ok().flatten();
    let pointer = serde_json::to_vec_pretty(run).expect("plain fields");
    lake.put(&pointer_key(run_date), pointer).await?;
    let keep = |id: &str| id == run.run || replaced.as_ref().is_some_and(|r| r.run == id);
    let now = started_at(&run.run).unwrap_or_else(Utc::now);
    let listed = lake
        .store()
        .list_with_delimiter(Some(&Path::from(date_prefix(run_date))))
        .await
        .map_err(|source| LakeError::Object { key: date_prefix(run_date), source })?;
    for prefix in listed.common_prefixes {
        let Some(id) = prefix.filename().and_then(|name| name.strip_prefix("run=")) else { continue };
        if keep(id) || started_at(id).is_none_or(|started| now - started < KEEP_UNPUBLISHED) {
            continue;
        }
        remove_all(lake, &prefix).await?;
    }
    // Answers of versions before run prefixes, written straight under the date.
    for object in listed.objects {
        if object.location.filename().is_some_and(|name| name != POINTER) {
            lake.store()
                .delete(&object.location)
                .await
                .map_err(|source| LakeError::Object { key: object.location.to_string(), source })?;
        }
    }
    Ok(())
}

async fn remove_all(lake: &Lake, prefix: &Path) -> Result<(), LakeError> {
    let error = |source| LakeError::Object { key: prefix.to_string(), source };
    let keys = lake.store().list(Some(prefix)).map_ok(|meta| meta.location).boxed();
    lake.store().delete_stream(keys).try_collect::<Vec<_>>().await.map_err(error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_start_and_give_it_back() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T17:45:01.234Z").unwrap().with_timezone(&Utc);
        let id = run_id(t);
        assert!(id.starts_with("20261130T174501234Z-"), "{id}");
        assert_eq!(started_at(&id), Some(t));
        assert!(run_id(t - chrono::Duration::seconds(1)) < id);
        assert_eq!(started_at("not-a-run"), None);
    }
}
