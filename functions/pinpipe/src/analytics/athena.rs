//! The daily job's answers on Athena (`PINPIPE_ANALYTICS_ENGINE=athena`, SPEC §11), for
//! history past what one Lambda answers. Bronze → silver stays the Lambda's (bounded by
//! a day's new data); the nine answers are the deployment's named queries
//! (`pinpipe-<id>-<question>` in workgroup `pinpipe-<id>`, declared by the template with
//! `EnableAthena=true`, generated from `sql/`, the text the tests run on DuckDB), each run
//! as `UNLOAD (…) TO '<run prefix>/<question>/'` in Parquet, then published with the same
//! pointer as a Polars run: a reader never sees two runs mixed.
//!
//! Athena reads a native Delta table at its latest version (no time travel), so a past
//! run date is refused here: the Polars engine answers it as of that day.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use chrono::{NaiveDate, Utc};

use polars::prelude::{DataFrame, ParquetReader, SerReader};

use super::{AnalyticsError, Question, RunTotals, html, output};
use crate::kind::Kind;
use crate::lake::{Lake, LakeError};
use crate::silver::SilverCounts;

/// Athena, as the daily job runs its named queries.
#[derive(Clone)]
pub struct Athena {
    client: aws_sdk_athena::Client,
    poll: Duration,
}

/// One question's query execution.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AthenaAnswer {
    pub question: &'static str,
    pub query_execution_id: String,
    /// Where its Parquet files are, relative to the lake root (`…/run=<id>/<question>/`).
    pub output: String,
    pub data_scanned_bytes: i64,
    pub engine_execution_ms: i64,
}

/// What a run on Athena did.
#[derive(Debug, Clone)]
pub struct AthenaReport {
    pub run_date: NaiveDate,
    pub silver: [(Kind, SilverCounts); 3],
    pub silver_versions: [(Kind, Option<u64>); 3],
    pub workgroup: String,
    pub answers: Vec<AthenaAnswer>,
    pub run_id: String,
    pub output_prefix: String,
    /// The run's objects under `output_prefix` (Athena's Parquet files, then `report.md`).
    pub files: Vec<String>,
    /// A later-started run had published this date first: this one is not published.
    pub superseded_by: Option<String>,
    pub elapsed: Duration,
}

/// The objects under `prefix`, by their names relative to it.
async fn objects_under(lake: &Lake, prefix: &str) -> Result<Vec<String>, AnalyticsError> {
    use futures::TryStreamExt;
    let listed: Vec<_> = lake
        .store()
        .list(Some(&object_store::path::Path::from(prefix)))
        .try_collect()
        .await
        .map_err(|source| LakeError::Object { key: prefix.to_owned(), source })?;
    let mut names: Vec<String> =
        listed.iter().filter_map(|meta| meta.location.as_ref().strip_prefix(prefix).map(str::to_owned)).collect();
    names.sort();
    Ok(names)
}

fn athena_error(operation: &'static str, error: impl std::error::Error) -> AnalyticsError {
    AnalyticsError::Athena { operation, detail: aws_sdk_athena::error::DisplayErrorContext(error).to_string() }
}

/// `query` (a named query's text) unloaded as Parquet to `location`: its comment lines
/// dropped, the rest unchanged.
pub fn unload(query: &str, location: &str) -> String {
    let body: Vec<&str> = query.lines().filter(|line| !line.trim_start().starts_with("--")).collect();
    format!("UNLOAD (\n{}\n) TO '{location}' WITH (format = 'PARQUET', compression = 'SNAPPY')", body.join("\n").trim())
}

/// The deployment's workgroup, as the template names it.
pub fn workgroup(id: &str) -> String {
    format!("pinpipe-{id}")
}

/// A question's named query, as the template names it.
pub fn named_query(id: &str, question: Question) -> String {
    format!("pinpipe-{id}-{}", question.file_stem())
}

impl Athena {
    pub fn new(client: aws_sdk_athena::Client) -> Self {
        Athena { client, poll: Duration::from_secs(1) }
    }

    /// How often a running query is asked about (1 s by default).
    pub fn polling_every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The workgroup's named queries: name → (query text, database).
    async fn named_queries(&self, workgroup: &str) -> Result<HashMap<String, (String, String)>, AnalyticsError> {
        let mut ids = Vec::new();
        let mut pages = self.client.list_named_queries().work_group(workgroup).into_paginator().send();
        while let Some(page) = pages.next().await {
            ids.extend(page.map_err(|e| athena_error("ListNamedQueries", e))?.named_query_ids().iter().cloned());
        }
        let mut named = HashMap::new();
        for id in ids {
            let got = self.client.get_named_query().named_query_id(&id).send().await;
            let got = got.map_err(|e| athena_error("GetNamedQuery", e))?;
            if let Some(query) = got.named_query() {
                named.insert(query.name().to_owned(), (query.query_string().to_owned(), query.database().to_owned()));
            }
        }
        Ok(named)
    }

    /// Runs the nine questions' named queries of deployment `id`, unloading each under
    /// `prefix_url` (the run prefix's s3:// URL, ending in `/`); waits for all. Any
    /// query that fails fails the run (nothing is published).
    pub(super) async fn answer(
        &self,
        id: &str,
        run_id: &str,
        prefix_url: &str,
        output_prefix: &str,
    ) -> Result<Vec<AthenaAnswer>, AnalyticsError> {
        let workgroup = workgroup(id);
        let named = self.named_queries(&workgroup).await?;
        // Every question's query is found before any starts.
        let mut queries = Vec::with_capacity(Question::ALL.len());
        for question in Question::ALL {
            let name = named_query(id, question);
            let (query, database) = named
                .get(&name)
                .ok_or_else(|| AnalyticsError::QueryNotDeclared { name: name.clone(), workgroup: workgroup.clone() })?;
            queries.push((question, query, database));
        }
        let mut running: Vec<(Question, String)> = Vec::with_capacity(queries.len());
        for (question, query, database) in queries {
            let stem = question.file_stem();
            let started = self
                .client
                .start_query_execution()
                .query_string(unload(query, &format!("{prefix_url}{stem}/")))
                .work_group(&workgroup)
                .query_execution_context(QueryExecutionContext::builder().database(database).build())
                // A retried request starts no second query.
                .client_request_token(format!("{run_id}-{stem}"))
                .send()
                .await;
            match started {
                Ok(started) => running.push((question, started.query_execution_id().unwrap_or_default().to_owned())),
                Err(e) => {
                    self.stop(&running).await;
                    return Err(athena_error("StartQueryExecution", e));
                }
            }
        }
        let mut answers = Vec::with_capacity(running.len());
        for (i, (question, execution_id)) in running.iter().enumerate() {
            match self.wait(*question, execution_id.clone(), output_prefix).await {
                Ok(answer) => answers.push(answer),
                Err(error) => {
                    self.stop(&running[i + 1..]).await;
                    return Err(error);
                }
            }
        }
        Ok(answers)
    }

    /// Stops queries of a run that will publish nothing (they would only scan and
    /// write for nobody); best effort: the run has failed already.
    async fn stop(&self, running: &[(Question, String)]) {
        for (_, execution_id) in running {
            let _ = self.client.stop_query_execution().query_execution_id(execution_id).send().await;
        }
    }

    async fn wait(
        &self,
        question: Question,
        execution_id: String,
        output_prefix: &str,
    ) -> Result<AthenaAnswer, AnalyticsError> {
        loop {
            let got = self.client.get_query_execution().query_execution_id(&execution_id).send().await;
            let got = got.map_err(|e| athena_error("GetQueryExecution", e))?;
            let execution = got.query_execution();
            let status = execution.and_then(|e| e.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    let statistics = execution.and_then(|e| e.statistics());
                    return Ok(AthenaAnswer {
                        question: question.file_stem(),
                        query_execution_id: execution_id,
                        output: format!("{output_prefix}{}/", question.file_stem()),
                        data_scanned_bytes: statistics.and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0),
                        engine_execution_ms: statistics.and_then(|s| s.engine_execution_time_in_millis()).unwrap_or(0),
                    });
                }
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    return Err(AnalyticsError::AthenaQueryFailed {
                        question: question.file_stem(),
                        query_execution_id: execution_id,
                        state: state.as_str().to_owned(),
                        reason: status.and_then(|s| s.state_change_reason()).unwrap_or("no reason given").to_owned(),
                    });
                }
                _ => tokio::time::sleep(self.poll).await,
            }
        }
    }
}

impl super::DailyJob {
    /// Runs the job for `run_date` with its answers on Athena: new bronze → silver here,
    /// then the named queries over the latest silver, unloaded under a new run prefix
    /// and published. Only today's date (or a later one): Athena has no Delta time travel.
    pub async fn run_on_athena(&self, run_date: NaiveDate, athena: &Athena) -> Result<AthenaReport, AnalyticsError> {
        let started = Instant::now();
        let started_at = Utc::now();
        if run_date < started_at.date_naive() {
            return Err(AnalyticsError::BadEvent(format!(
                "run_date {run_date} is past: the athena engine answers over the latest silver (Athena reads no \
                 Delta time travel); answer a past date with PINPIPE_ANALYTICS_ENGINE=polars"
            )));
        }
        if self.lake().root().scheme() != "s3" {
            return Err(AnalyticsError::BadEvent(format!(
                "the athena engine needs an s3:// lake, not {}",
                self.lake().root()
            )));
        }
        let silver = self.catch_up().await?;
        let versions = futures::try_join!(
            self.silver_version(Kind::Pin),
            self.silver_version(Kind::Geo),
            self.silver_version(Kind::User)
        )?;
        let run_id = output::run_id(started_at);
        let output_prefix = output::run_prefix(run_date, &run_id);
        let prefix_url = self.lake().url(&output_prefix).to_string();
        let answers = athena.answer(&self.id, &run_id, &prefix_url, &output_prefix).await?;
        let mut report = AthenaReport {
            run_date,
            silver,
            silver_versions: [(Kind::Pin, versions.0), (Kind::Geo, versions.1), (Kind::User, versions.2)],
            workgroup: workgroup(&self.id),
            answers,
            files: objects_under(self.lake(), &output_prefix).await?,
            run_id,
            output_prefix,
            superseded_by: None,
            elapsed: Duration::ZERO,
        };
        report.elapsed = started.elapsed();
        self.lake().put(&format!("{}report.md", report.output_prefix), report.markdown()).await?;
        let answers = report.read_back(self.lake()).await?;
        self.lake().put(&format!("{}report.html", report.output_prefix), html::render(&report.page(&answers))).await?;
        report.files.extend(["report.md".to_owned(), "report.html".to_owned()]);
        let published = output::Published {
            run_date: run_date.format("%Y-%m-%d").to_string(),
            run: report.run_id.clone(),
            prefix: report.output_prefix.clone(),
            files: report.files.clone(),
            silver_as_of: None,
            silver_versions: super::report::versions_by_kind(&report.silver_versions),
        };
        if let output::Publication::Superseded { by } = output::publish(self.lake(), run_date, &published).await? {
            report.superseded_by = Some(by);
        }
        Ok(report)
    }
}

impl AthenaReport {
    /// Each question's answer as Athena unloaded it (its Parquet files, read back;
    /// empty when it wrote none), for `report.html`.
    async fn read_back(&self, lake: &Lake) -> Result<Vec<(Question, DataFrame)>, AnalyticsError> {
        let mut answers = Vec::with_capacity(self.answers.len());
        for (question, answer) in Question::ALL.into_iter().zip(&self.answers) {
            let mut frame: Option<DataFrame> = None;
            for name in objects_under(lake, &answer.output).await? {
                let key = format!("{}{name}", answer.output);
                let Some(bytes) = lake.get(&key).await? else { continue };
                let part = ParquetReader::new(std::io::Cursor::new(bytes))
                    .finish()
                    .map_err(|source| AnalyticsError::SilverFile { key, source })?;
                frame = Some(match frame {
                    Some(mut whole) => {
                        whole.vstack_mut(&part)?;
                        whole
                    }
                    None => part,
                });
            }
            answers.push((question, frame.unwrap_or_default()));
        }
        Ok(answers)
    }

    /// What `report.html` shows of the run.
    fn page<'a>(&'a self, answers: &'a [(Question, DataFrame)]) -> html::Page<'a> {
        let totals = self.totals();
        let versions = super::report::version_labels(&self.silver_versions);
        html::Page {
            title: format!("pinpipe daily analytics — {} (Athena)", self.run_date.format("%Y-%m-%d")),
            summary: vec![
                ("run", self.run_id.clone()),
                ("workgroup", self.workgroup.clone()),
                ("bronze objects read", html::count(totals.objects_read as f64)),
                ("rows cleaned", html::count(totals.rows_cleaned as f64)),
                ("quarantined", html::count(totals.quarantined as f64)),
                ("silver read", versions.join(", ")),
                ("run time", format!("{:.1} s", self.elapsed.as_secs_f64())),
            ],
            notices: &[],
            answers,
        }
    }

    pub fn totals(&self) -> RunTotals {
        RunTotals::of(&self.silver, 0)
    }

    /// What the Lambda answers: the date, where the output is, each query.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "engine": "athena",
            "run_date": self.run_date.format("%Y-%m-%d").to_string(),
            "run": self.run_id,
            "workgroup": self.workgroup,
            "silver_versions": super::report::versions_by_kind(&self.silver_versions),
            "output_prefix": self.output_prefix,
            "published": output::pointer_key(self.run_date),
            "superseded_by": self.superseded_by,
            "report": format!("{}report.md", self.output_prefix),
            "counts": self.totals(),
            "queries": self.answers,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }

    fn markdown(&self) -> String {
        let mut text = format!(
            "# pinpipe daily analytics — {} (Athena)\n\nRun `{}`: bronze → silver in the daily Lambda, then the nine \
             answers as the named queries of workgroup `{}` over the latest silver, each unloaded as Parquet under \
             its own folder here. Elapsed {:.1} s.\n\n| kind | bronze objects read | rows cleaned | quarantined | \
             silver version |\n|---|---:|---:|---:|---:|\n",
            self.run_date,
            self.run_id,
            self.workgroup,
            self.elapsed.as_secs_f64()
        );
        for ((kind, counts), (_, version)) in self.silver.iter().zip(&self.silver_versions) {
            let version = version.map_or("none".to_owned(), |v| v.to_string());
            text += &format!(
                "| {kind} | {} | {} | {} | {version} |\n",
                counts.objects_read, counts.rows_cleaned, counts.quarantined
            );
        }
        text += "\n| question | query execution | data scanned (bytes) | engine time (ms) | output |\n|---|---|---:|---:|---|\n";
        for answer in &self.answers {
            text += &format!(
                "| {} | `{}` | {} | {} | `{}` |\n",
                answer.question,
                answer.query_execution_id,
                answer.data_scanned_bytes,
                answer.engine_execution_ms,
                answer.output
            );
        }
        text
    }
}
