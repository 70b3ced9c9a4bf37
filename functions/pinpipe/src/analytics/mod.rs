//! The daily job (SPEC §4, §6): bronze objects not yet in silver are cleaned into
//! the silver Delta tables; then the eight questions are answered over silver with
//! Polars and written under `analytics/run_date=YYYY-MM-DD/` with `report.md`, then
//! published in one step ([`output`]). A past run date is answered over silver as it
//! stood at the end of that day (Delta time travel).
//! The `daily-analytics` Lambda and `pinpipe analytics` both run [`DailyJob::run`];
//! with `PINPIPE_ANALYTICS_ENGINE=athena` the Lambda answers on Athena instead
//! ([`athena`], feature `athena`).

#[cfg(feature = "athena")]
pub mod athena;
mod error;
pub mod html;
pub mod output;
pub mod parts;
pub mod queries;
pub mod report;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use crate::config::Names;
use crate::kind::Kind;
use crate::lake::Lake;
use crate::lake::delta::CleanTable;
use crate::silver::{self, SilverCounts, SilverError};
pub use error::AnalyticsError;
pub use queries::{Posts, Question};
pub use report::{RunReport, RunTotals};

/// The job's state, built once per Lambda instance.
pub struct DailyJob {
    lake: Lake,
    id: String,
    part_rows: u64,
}

impl DailyJob {
    pub fn new(lake: Lake, id: impl Into<String>) -> Self {
        DailyJob { lake, id: id.into(), part_rows: crate::config::DEFAULT_ANALYTICS_PART_ROWS }
    }

    /// Silver rows (of the largest kind) answered at once: more are answered in parts
    /// ([`parts`]), which bounds the run's memory.
    pub fn with_part_rows(mut self, part_rows: u64) -> Self {
        self.part_rows = part_rows.max(1);
        self
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Runs the job for `run_date`: new bronze → silver, then the answers over silver
    /// as of the end of that day (the latest silver for today), written under a new
    /// run prefix and published.
    pub async fn run(&self, run_date: NaiveDate) -> Result<RunReport, AnalyticsError> {
        let started = Instant::now();
        let started_at = Utc::now();
        let silver = self.catch_up().await?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "bronze → silver done");
        let silver_as_of = end_of(run_date).filter(|end| *end <= started_at);
        let (pin, geo, user) = futures::try_join!(
            self.silver_files(Kind::Pin, silver_as_of),
            self.silver_files(Kind::Geo, silver_as_of),
            self.silver_files(Kind::User, silver_as_of)
        )?;
        let (
            (pin_files, pin_version, pin_note),
            (geo_files, geo_version, geo_note),
            (user_files, user_version, user_note),
        ) = (pin, geo, user);
        let mut notices: Vec<String> = silver.iter().flat_map(|(_, counts)| counts.problems.clone()).collect();
        notices.extend([pin_note, geo_note, user_note].into_iter().flatten());
        for notice in &notices {
            tracing::warn!(%run_date, %notice, "the answers do not cover everything");
        }
        let silver_files = [pin_files, geo_files, user_files];
        let largest = silver_files.iter().map(parts::SilverFiles::rows).max().unwrap_or(0);
        let answered = parts::answer(&self.lake, &silver_files, parts::parts_for(largest, self.part_rows)).await?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, parts = answered.parts, "answered");
        let [pin_rows, geo_rows, user_rows] = answered.rows;
        let run_id = output::run_id(started_at);
        let output_prefix = output::run_prefix(run_date, &run_id);
        let mut report = RunReport {
            run_date,
            silver,
            silver_rows: [
                (Kind::Pin, pin_rows.0, pin_rows.0 - pin_rows.1),
                (Kind::Geo, geo_rows.0, geo_rows.0 - geo_rows.1),
                (Kind::User, user_rows.0, user_rows.0 - user_rows.1),
            ],
            silver_as_of,
            silver_versions: [(Kind::Pin, pin_version), (Kind::Geo, geo_version), (Kind::User, user_version)],
            notices,
            parts: answered.parts,
            answers: answered.answers,
            run_id,
            output_prefix,
            superseded_by: None,
            elapsed: Duration::ZERO,
        };
        self.write(&mut report, started).await?;
        Ok(report)
    }

    /// New bronze → silver, per kind (pin, geo, user).
    async fn catch_up(&self) -> Result<[(Kind, SilverCounts); 3], AnalyticsError> {
        // One task per kind, so cleaning and Parquet encoding use every core.
        let ingest = |kind: Kind| {
            let (lake, id) = (self.lake.clone(), self.id.clone());
            tokio::spawn(async move { silver::catch_up(&lake, Names { id: &id }, kind).await })
        };
        let (pin, geo, user) = (ingest(Kind::Pin), ingest(Kind::Geo), ingest(Kind::User));
        let joined = |r: Result<Result<SilverCounts, SilverError>, tokio::task::JoinError>| {
            r.map_err(|e| AnalyticsError::Task(e.to_string()))?.map_err(AnalyticsError::from)
        };
        let (pin, geo, user) = (joined(pin.await)?, joined(geo.await)?, joined(user.await)?);
        Ok([(Kind::Pin, pin), (Kind::Geo, geo), (Kind::User, user)])
    }

    /// The latest version of the silver table of `kind` (`None`: no table yet).
    #[cfg(feature = "athena")]
    async fn silver_version(&self, kind: Kind) -> Result<Option<u64>, AnalyticsError> {
        let relative = Names { id: &self.id }.batch_table(kind);
        Ok(CleanTable::open(&self.lake, &relative, kind).await?.and_then(|table| table.version()))
    }

    /// The data files of the silver table of `kind` (as of `as_of`, or the latest),
    /// the version read, and what to say when there is none.
    async fn silver_files(
        &self,
        kind: Kind,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<(parts::SilverFiles, Option<u64>, Option<String>), AnalyticsError> {
        let relative = Names { id: &self.id }.batch_table(kind);
        let none = |notice: String| (parts::SilverFiles { kind, files: Vec::new() }, None, Some(notice));
        // Reading never creates a table: no table yet is no rows yet.
        let Some(mut table) = CleanTable::open(&self.lake, &relative, kind).await? else {
            return Ok(none(format!("no {kind} silver yet: no {kind} bronze has been taken in")));
        };
        let version = match as_of {
            None => table.version(),
            Some(at) => match table.load_as_of(at).await? {
                Ok(version) => Some(version),
                Err(first) => {
                    return Ok(none(format!(
                        "no {kind} silver as of {}: its first commit was on {} (answer that date or later)",
                        at.format("%Y-%m-%d %H:%M:%S UTC"),
                        first.format("%Y-%m-%d")
                    )));
                }
            },
        };
        Ok((parts::SilverFiles { kind, files: table.data_files(&relative)? }, version, None))
    }

    /// Writes the answers and `report.md` under the run's own prefix, then publishes
    /// them in one step ([`output::publish`]): everything is computed before the first
    /// write, and a reader starting from the pointer sees one run's files.
    async fn write(&self, report: &mut RunReport, started: Instant) -> Result<(), AnalyticsError> {
        let mut files = Vec::with_capacity(report.answers.len());
        for (question, frame) in &mut report.answers {
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(frame)?;
            files.push((format!("{}.parquet", question.file_stem()), bytes));
        }
        let mut names = Vec::with_capacity(files.len() + 1);
        for (name, bytes) in files {
            self.lake.put(&format!("{}{name}", report.output_prefix), bytes).await?;
            names.push(name);
        }
        report.elapsed = started.elapsed();
        self.lake.put(&format!("{}report.md", report.output_prefix), report::markdown(report)).await?;
        self.lake.put(&format!("{}report.html", report.output_prefix), html::render(&report.page())).await?;
        names.extend(["report.md".to_owned(), "report.html".to_owned()]);
        let published = output::Published {
            run_date: report.run_date.format("%Y-%m-%d").to_string(),
            run: report.run_id.clone(),
            prefix: report.output_prefix.clone(),
            files: names,
            silver_as_of: report.silver_as_of,
            silver_versions: report::versions_by_kind(&report.silver_versions),
        };
        if let output::Publication::Superseded { by } = output::publish(&self.lake, report.run_date, &published).await?
        {
            report.superseded_by = Some(by);
        }
        Ok(())
    }
}

/// The last millisecond of `date` in UTC.
fn end_of(date: NaiveDate) -> Option<DateTime<Utc>> {
    Some(date.and_hms_milli_opt(23, 59, 59, 999)?.and_utc())
}

/// The run date of an invocation: `{"run_date": "YYYY-MM-DD"}` (a backfill by hand)
/// or an EventBridge scheduled event's `time`.
pub fn run_date_of(event: &serde_json::Value) -> Result<NaiveDate, AnalyticsError> {
    if let Some(date) = event.get("run_date") {
        let text = date.as_str().ok_or_else(|| AnalyticsError::BadEvent("run_date must be a string".into()))?;
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|e| AnalyticsError::BadEvent(format!("run_date {text:?} is not YYYY-MM-DD: {e}")));
    }
    if let Some(time) = event.get("time").and_then(|t| t.as_str()) {
        return chrono::DateTime::parse_from_rfc3339(time)
            .map(|t| t.naive_utc().date())
            .map_err(|e| AnalyticsError::BadEvent(format!("time {time:?} is not an RFC 3339 timestamp: {e}")));
    }
    Err(AnalyticsError::BadEvent(
        "expected an EventBridge scheduled event (with `time`) or {\"run_date\": \"YYYY-MM-DD\"}".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_date_from_a_schedule_or_by_hand() {
        let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T00:05:00Z"});
        assert_eq!(run_date_of(&scheduled).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        let by_hand = serde_json::json!({"run_date": "2024-02-29"});
        assert_eq!(run_date_of(&by_hand).unwrap(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        for bad in [
            serde_json::json!({"run_date": "2024-02-30"}),
            serde_json::json!({"run_date": 20240101}),
            serde_json::json!({}),
        ] {
            let error = run_date_of(&bad).unwrap_err();
            assert_eq!(error.failure(), crate::failure::Failure::BadEvent, "{error}");
        }
    }
}
