//! Where a run's answers go (SPEC §6).
//!
//! - Each run writes its files under a prefix of its own,
//!   `analytics/_runs/run_date=D/run=<run id>/`, never changed afterwards.
//! - It is published by replacing `analytics/run_date=D/_latest.json`, which names that
//!   prefix and its files: one PUT, atomic, so a reader that starts from the pointer
//!   reads one run's files, never a mix of two. The PUT is conditional on the pointer
//!   being as this run read it just before (S3 `If-Match` / `If-None-Match: *`), and a
//!   run publishes only over a run that started before it: a run finishing late (the
//!   CLI beside the schedule, a retry) never replaces a newer one's answers.
//! - Then the date's folder is made to show the published run: its files are copied
//!   to `analytics/run_date=D/<name>` (SPEC §6's layout) and any other file there is
//!   removed. A reader listing or globbing the folder (`analytics/run_date=D/*.parquet`,
//!   a Glue table, Spark) finds exactly one run's files: the runs themselves sit under
//!   `_runs/`, which Hive-style readers skip (a leading underscore) and which a
//!   `run_date=*` glob does not reach. While a publish copies (seconds), a reader of
//!   the folder may see some files of the new run beside others of the one before.
//!
//! Superseded runs are removed once published over: the run replaced is kept (a
//! reader may still be reading it), older ones go when they started more than
//! [`KEEP_UNPUBLISHED`] before the run publishing (a run still writing is never
//! removed).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use std::collections::BTreeMap;

use crate::lake::{Lake, LakeError};

/// The pointer object under a run date's prefix.
pub const POINTER: &str = "_latest.json";
/// A run prefix that is neither published nor the one just replaced is removed only
/// when it started this long before the run publishing (longer than a run lasts).
const KEEP_UNPUBLISHED: chrono::Duration = chrono::Duration::hours(1);
const RUN_ID_TIME: &str = "%Y%m%dT%H%M%S%3fZ";
/// Rounds of copying the published run into the date's folder when other runs
/// publish meanwhile (each round ends with the pointer read again).
const SHOW_ROUNDS: usize = 4;

/// `analytics/run_date=YYYY-MM-DD/`: the published answers of a date.
pub fn date_prefix(run_date: NaiveDate) -> String {
    format!("analytics/run_date={}/", run_date.format("%Y-%m-%d"))
}

/// `analytics/_runs/run_date=YYYY-MM-DD/`: every run of a date, each under its own prefix.
pub fn runs_prefix(run_date: NaiveDate) -> String {
    format!("analytics/_runs/run_date={}/", run_date.format("%Y-%m-%d"))
}

/// `analytics/_runs/run_date=YYYY-MM-DD/run=<id>/`: one run's files.
pub fn run_prefix(run_date: NaiveDate, run_id: &str) -> String {
    format!("{}run={run_id}/", runs_prefix(run_date))
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
    /// `analytics/_runs/run_date=D/run=<run>/`, relative to the lake root.
    pub prefix: String,
    /// The run's file names under `prefix` (the answers, then `report.md`).
    pub files: Vec<String>,
    /// Silver as of this time (the end of a past run date), or `null`: the latest.
    pub silver_as_of: Option<DateTime<Utc>>,
    /// The silver version read per kind (`null`: the table had none yet).
    pub silver_versions: BTreeMap<String, Option<u64>>,
}

/// What publishing a run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publication {
    Published,
    /// A run that started later had published already: this run's files stay under
    /// its own prefix, unpublished.
    Superseded {
        by: String,
    },
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

/// Publishes `run` (its files already written) unless a later-started run has; then
/// shows the published run in the date's folder and removes superseded runs.
pub async fn publish(lake: &Lake, run_date: NaiveDate, run: &Published) -> Result<Publication, LakeError> {
    let key = pointer_key(run_date);
    let pointer = serde_json::to_vec_pretty(run).expect("plain fields");
    let replaced = loop {
        let (current, read) = match lake.get_versioned(&key).await? {
            // An unreadable pointer is replaced: no run can be shown from it.
            Some((bytes, version)) => (serde_json::from_slice::<Published>(&bytes).ok(), Some(version)),
            None => (None, None),
        };
        if let Some(current) = &current
            && current.run >= run.run
        {
            tracing::warn!(run = %run.run, published = %current.run, "a later run has published this date: not publishing");
            return Ok(Publication::Superseded { by: current.run.clone() });
        }
        if lake.put_if(&key, pointer.clone(), read).await? {
            break current;
        }
        tracing::info!(run = %run.run, "the pointer changed meanwhile; reading it again");
    };
    show(lake, run_date).await?;
    let keep = |id: &str| id == run.run || replaced.as_ref().is_some_and(|r| r.run == id);
    let now = started_at(&run.run).unwrap_or_else(Utc::now);
    let runs = runs_prefix(run_date);
    let listed = lake
        .store()
        .list_with_delimiter(Some(&Path::from(runs.as_str())))
        .await
        .map_err(|source| LakeError::Object { key: runs.clone(), source })?;
    for prefix in listed.common_prefixes {
        let Some(id) = prefix.filename().and_then(|name| name.strip_prefix("run=")) else { continue };
        if keep(id) || started_at(id).is_none_or(|started| now - started < KEEP_UNPUBLISHED) {
            continue;
        }
        remove_all(lake, &prefix).await?;
    }
    Ok(Publication::Published)
}

/// Makes the date's folder hold exactly the files of the run the pointer names:
/// each copied in, anything else removed (earlier runs' files, the run prefixes of
/// versions that wrote them there). Reads the pointer again after copying, so of two
/// runs publishing at once the folder ends with the later one's files.
async fn show(lake: &Lake, run_date: NaiveDate) -> Result<(), LakeError> {
    let folder = date_prefix(run_date);
    for _ in 0..SHOW_ROUNDS {
        let Some(shown) = published(lake, run_date).await? else { return Ok(()) };
        futures::stream::iter(&shown.files)
            .map(|file| {
                let (from, to) = (format!("{}{file}", shown.prefix), format!("{folder}{file}"));
                async move { lake.copy(&from, &to).await }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        let error = |source| LakeError::Object { key: folder.clone(), source };
        let present: Vec<Path> = lake
            .store()
            .list(Some(&Path::from(folder.as_str())))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(error)?;
        let stale: Vec<Path> = present
            .into_iter()
            .filter(|location| {
                let name = location.as_ref().strip_prefix(folder.as_str()).unwrap_or_default();
                name != POINTER && !shown.files.iter().any(|file| file == name)
            })
            .collect();
        let stale = futures::stream::iter(stale.into_iter().map(Ok)).boxed();
        lake.store().delete_stream(stale).try_collect::<Vec<_>>().await.map_err(error)?;
        if published(lake, run_date).await?.is_some_and(|now| now.run == shown.run) {
            return Ok(());
        }
    }
    tracing::warn!(date = %run_date, "runs kept publishing while the date's folder was updated; the next publish finishes it");
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

    #[test]
    fn runs_sit_beside_the_published_folder_not_in_it() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(date_prefix(date), "analytics/run_date=2026-12-07/");
        assert_eq!(run_prefix(date, "x"), "analytics/_runs/run_date=2026-12-07/run=x/");
        assert!(!run_prefix(date, "x").starts_with(&date_prefix(date)));
    }
}
