//! `report.md`: the run's answers as Markdown tables, and what the run did.

use std::fmt::Write;

use polars::prelude::{AnyValue, DataFrame};

use super::RunReport;

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
