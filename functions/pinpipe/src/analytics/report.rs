//! What one run did and found ([`RunReport`]), and `report.md`: the run's answers as
//! Markdown tables, and what the run did.

use std::fmt::Write;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::{AnyValue, DataFrame};

use super::queries::Question;
use super::{html, output};
use crate::kind::Kind;
use crate::silver::SilverCounts;

/// What one run did and found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_date: NaiveDate,
    /// Bronze → silver, per kind (pin, geo, user).
    pub silver: [(Kind, SilverCounts); 3],
    /// Rows in silver, and rows left out as repeated posts (`ind` seen before), per kind.
    pub silver_rows: [(Kind, u64, u64); 3],
    /// Silver as of this time (the end of a past run date), or `None`: the latest.
    pub silver_as_of: Option<DateTime<Utc>>,
    /// The silver version read per kind (`None`: the table had none by then).
    pub silver_versions: [(Kind, Option<u64>); 3],
    /// What the answers could not cover: a kind with no silver as of the run's time
    /// (none landed yet, or the date is before its first commit), a bronze object that
    /// could not be read. Said in the report, the summary and the CLI.
    pub notices: Vec<String>,
    /// The parts silver was answered in (1: read whole; see [`parts`]).
    pub parts: usize,
    pub answers: Vec<(Question, DataFrame)>,
    /// This run's id and `analytics/_runs/run_date=YYYY-MM-DD/run=<id>/`, where its files are.
    pub run_id: String,
    pub output_prefix: String,
    /// A later-started run had published this date first: this one is not published.
    pub superseded_by: Option<String>,
    pub elapsed: Duration,
}

impl RunReport {
    /// The run's counts summed over the three kinds (also the Lambda's metrics).
    pub fn totals(&self) -> RunTotals {
        RunTotals::of(&self.silver, self.silver_rows.iter().map(|(_, _, dropped)| dropped).sum())
    }

    /// What the Lambda answers: the date, where the output is, and the counts.
    pub fn summary(&self) -> serde_json::Value {
        let per_kind: serde_json::Map<String, serde_json::Value> = self
            .silver
            .iter()
            .zip(&self.silver_rows)
            .map(|((kind, counts), (_, rows, dropped))| {
                let mut value = serde_json::to_value(counts).expect("plain counts");
                value["silver_rows"] = (*rows).into();
                value["duplicates_dropped"] = (*dropped).into();
                (kind.to_string(), value)
            })
            .collect();
        let answers: serde_json::Map<String, serde_json::Value> =
            self.answers.iter().map(|(q, frame)| (q.file_stem().to_owned(), frame.height().into())).collect();
        serde_json::json!({
            "run_date": self.run_date.format("%Y-%m-%d").to_string(),
            "run": self.run_id,
            "silver_as_of": self.silver_as_of,
            "silver_versions": versions_by_kind(&self.silver_versions),
            "parts": self.parts,
            "output_prefix": self.output_prefix,
            "published": output::pointer_key(self.run_date),
            "superseded_by": self.superseded_by,
            "report": format!("{}report.md", self.output_prefix),
            "notices": self.notices,
            "counts": self.totals(),
            "per_kind": per_kind,
            "answer_rows": answers,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }

    /// What `report.html` shows of the run.
    pub fn page(&self) -> html::Page<'_> {
        let totals = self.totals();
        let versions = version_labels(&self.silver_versions);
        let mut summary = vec![
            ("run", self.run_id.clone()),
            ("bronze objects read", html::count(totals.objects_read as f64)),
            ("rows cleaned", html::count(totals.rows_cleaned as f64)),
            ("quarantined", html::count(totals.quarantined as f64)),
            ("repeated posts dropped", html::count(totals.duplicates_dropped as f64)),
            ("silver read", versions.join(", ")),
            ("run time", format!("{:.1} s", self.elapsed.as_secs_f64())),
        ];
        if let Some(at) = self.silver_as_of {
            summary.push(("silver as of", at.format("%Y-%m-%d %H:%M UTC").to_string()));
        }
        html::Page {
            title: format!("pinpipe daily analytics — {}", self.run_date.format("%Y-%m-%d")),
            summary,
            notices: &self.notices,
            answers: &self.answers,
        }
    }

    pub fn answer(&self, question: Question) -> &DataFrame {
        &self.answers.iter().find(|(q, _)| *q == question).expect("every question is answered").1
    }
}

/// A run's counts over all kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RunTotals {
    /// Bronze objects listed (only those after each partition's mark).
    pub objects_listed: u64,
    pub objects_read: u64,
    pub objects_skipped: u64,
    pub rows_cleaned: u64,
    pub quarantined: u64,
    pub duplicates_dropped: u64,
    /// Bronze objects listed but gone when read (quarantined as vanished).
    pub objects_vanished: u64,
    /// Partitions that stopped this run (their rest waits for the next).
    pub partitions_stopped: u64,
}

/// The one line a run's totals are told in (the CLI's and the demo's alike).
impl std::fmt::Display for RunTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new bronze objects read, {} rows cleaned, {} quarantined, {} repeated posts dropped",
            self.objects_read, self.rows_cleaned, self.quarantined, self.duplicates_dropped
        )
    }
}

impl RunTotals {
    /// Bronze → silver's counts summed over the kinds, and the repeated posts left out.
    pub fn of(silver: &[(Kind, SilverCounts); 3], duplicates_dropped: u64) -> Self {
        let mut sum = SilverCounts::default();
        for (_, counts) in silver {
            sum += counts.clone();
        }
        RunTotals {
            objects_listed: sum.objects_listed,
            objects_read: sum.objects_read,
            objects_skipped: sum.objects_skipped,
            rows_cleaned: sum.rows_cleaned,
            quarantined: sum.quarantined,
            duplicates_dropped,
            objects_vanished: sum.objects_vanished,
            partitions_stopped: sum.partitions_stopped,
        }
    }
}

/// The silver version read, as the report's header shows it: `pin v3`, `geo none`.
pub(super) fn version_labels(versions: &[(Kind, Option<u64>); 3]) -> Vec<String> {
    versions.iter().map(|(kind, v)| format!("{kind} {}", v.map_or("none".to_owned(), |v| format!("v{v}")))).collect()
}

/// The silver version read, by kind name (for a run's summary and its pointer).
pub(super) fn versions_by_kind(versions: &[(Kind, Option<u64>); 3]) -> std::collections::BTreeMap<String, Option<u64>> {
    versions.iter().map(|(kind, version)| (kind.to_string(), *version)).collect()
}

/// The whole report of a run.
pub fn markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let date = report.run_date.format("%Y-%m-%d");
    let _ = writeln!(out, "# pinpipe daily analytics — {date}\n");
    if !report.notices.is_empty() {
        let _ = writeln!(out, "**What these answers do not cover:**\n");
        for notice in &report.notices {
            let _ = writeln!(out, "- {notice}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## This run\n");
    let _ = writeln!(
        out,
        "| kind | new bronze objects listed | read | taken in by an overlapping run | lines read | rows cleaned | quarantined | silver rows | repeated posts dropped |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ((kind, counts), (_, rows, dropped)) in report.silver.iter().zip(&report.silver_rows) {
        let _ = writeln!(
            out,
            "| {kind} | {} | {} | {} | {} | {} | {} | {rows} | {dropped} |",
            counts.objects_listed,
            counts.objects_read,
            counts.objects_skipped,
            counts.lines_read,
            counts.rows_cleaned,
            counts.quarantined
        );
    }
    let versions: Vec<String> = report
        .silver_versions
        .iter()
        .map(|(kind, version)| match version {
            Some(v) => format!("{kind} v{v}"),
            None => format!("{kind}: no version yet"),
        })
        .collect();
    let as_of = match report.silver_as_of {
        Some(at) => format!("as it stood at {} (time travel: a past run date)", at.format("%Y-%m-%d %H:%M:%S%.3f UTC")),
        None => "latest".to_owned(),
    };
    let parts = match report.parts {
        1 => "whole".to_owned(),
        n => format!("in {n} parts by `ind` (bounded memory)"),
    };
    let _ = writeln!(out, "\nSilver read: {} — {as_of}; answered {parts}.\n", versions.join(", "));
    let _ = writeln!(out, "Run `{}`. Run time: {:.2} s.\n", report.run_id, report.elapsed.as_secs_f64());
    for (question, frame) in &report.answers {
        let _ = writeln!(out, "## {}\n\n`{}.parquet`\n", question.title(), question.file_stem());
        out.push_str(&table(frame));
        out.push('\n');
    }
    out
}

/// A frame as a Markdown table; null shows as an empty cell.
pub fn table(frame: &DataFrame) -> String {
    let mut out = String::new();
    let names: Vec<&str> = frame.get_column_names().iter().map(|n| n.as_str()).collect();
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(names.len()));
    for row in 0..frame.height() {
        let cells: Vec<String> = frame
            .columns()
            .iter()
            .map(|column| match column.get(row) {
                Ok(AnyValue::Null) | Err(_) => String::new(),
                Ok(value) => match value.get_str() {
                    Some(text) => text.replace('|', "\\|"),
                    None => value.to_string(),
                },
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}
