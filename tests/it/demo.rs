//! `pinpipe demo`: the whole pipeline on the embedded default (in-process streams and
//! topics, batches redelivered), and the same command against the local stack —
//! checked with DuckDB, a reader that is not ours.

use std::process::Command;

use pinpipe::Kind;
use pinpipe_tests::json_reader::duckdb_read_json;
use pinpipe_tests::readers::duckdb_delta;
use pinpipe_tests::{generated_inds, pinpipe_bin, published_run, stack, temp_lake, today};

/// The number before `what` in `text` ("… 12 batches delivered again …").
fn number_before(text: &str, what: &str) -> u64 {
    let at = text.find(what).unwrap_or_else(|| panic!("{what:?} not in:\n{text}"));
    text[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?}"))
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

#[test]
fn demo_on_the_embedded_default_lands_every_record_once_despite_redeliveries() {
    let lake = temp_lake("demo");
    let out = Command::new(pinpipe_bin())
        .args(["demo", "--posts", "300", "--redeliver-every", "3", "--lake"])
        .arg(&lake)
        // The embedded default: no endpoints of real services.
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .env_remove("PINPIPE_KAFKA_BOOTSTRAP")
        .env_remove("PINPIPE_LAKE")
        .env_remove("PINPIPE_ID")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("streams: in-process; topics: in-process"), "{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("## ")).count(), 9, "{stdout}");
    assert!(stdout.contains("## 1. Most popular category per country"), "{stdout}");

    // The live metrics of the last hour (SPEC §12): the generated posts' profiles and categories.
    for what in ["last hour's top profiles by popularity: ", "last hour's top categories by posts: "] {
        let line = stderr.lines().find(|l| l.starts_with(what)).unwrap_or_else(|| panic!("{what:?} in {stderr}"));
        assert!(line.contains(" posts"), "{line}");
    }

    // Batches were delivered again, and the handlers absorbed them.
    assert!(number_before(&stderr, "batches delivered again") > 0, "{stderr}");
    let stream_line = stderr.lines().find(|l| l.starts_with("stream cleaner:")).unwrap();
    assert!(number_before(stream_line, "duplicates skipped") > 0, "{stream_line}");
    let sink_line = stderr.lines().find(|l| l.starts_with("batch sink:")).unwrap();
    assert!(number_before(sink_line, "duplicates skipped") > 0, "{sink_line}");

    // Each record exactly once: in the stream tables and as bronze, per kind.
    let expected = generated_inds(300, 42);
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let table = duckdb_delta(lake.join(format!("delta/stream/0a1b2c3d4e5f_{kind}_table")).to_str().unwrap());
        assert_eq!(table.inds, sorted(expected[i].clone()), "{kind} stream table");
        let bronze = duckdb_read_json(lake.join(format!("topics/0a1b2c3d4e5f.{kind}")).to_str().unwrap());
        assert_eq!(bronze.inds, sorted(expected[i].clone()), "{kind} bronze");
    }
    assert_eq!(number_before(&stderr, "rows cleaned"), 900, "{stderr}");
    let (_, run_dir) = published_run(&lake, &today());
    assert!(run_dir.join("report.md").exists() && run_dir.join("report.html").exists());
    // A summary, not the whole report: each answer's first rows, and where the rest is.
    assert!(stdout.contains("more rows (--full prints them; report.html charts them)"), "{stdout}");
    let q1 = stdout.split("## 1. Most popular category per country").nth(1).unwrap().split("## ").next().unwrap();
    assert_eq!(q1.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| country")).count(), 5, "{q1}");
    assert!(stderr.contains("report.html (and report.md beside it)"), "{stderr}");

    // Maintenance ran at the end and says what it did: every table compacted to one file.
    assert!(stderr.contains("table maintenance (log retention 7 days, vacuum retention 7 days)"), "{stderr}");
    for table in ["delta/stream/0a1b2c3d4e5f_pin_table", "delta/batch/0a1b2c3d4e5f_user"] {
        let row = stderr.lines().find(|l| l.starts_with(&format!("| {table} |"))).unwrap_or_else(|| panic!("{stderr}"));
        let live_files = row.split('|').nth(3).unwrap().trim();
        assert!(live_files.ends_with("→1"), "{row}");
    }
}

#[test]
fn demo_runs_against_the_local_stack_with_the_spec_variables() {
    let lake = temp_lake("demo-stack");
    let id = stack::unique_name("demo").replace('-', "").chars().take(24).collect::<String>();
    // AWS_ENDPOINT_URL (moto) and PINPIPE_KAFKA_BOOTSTRAP (tansu) come from the stack's env.
    let out = Command::new(pinpipe_bin())
        .args(["demo", "--posts", "60", "--partitions", "2", "--id", &id, "--lake"])
        .arg(&lake)
        .env("AWS_ENDPOINT_URL", stack::aws_endpoint())
        .env("PINPIPE_KAFKA_BOOTSTRAP", stack::kafka_bootstrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("streams: Kinesis (AWS SDK); topics: Kafka"), "{stderr}");
    let expected = generated_inds(60, 42);
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let table = duckdb_delta(lake.join(format!("delta/stream/{id}_{kind}_table")).to_str().unwrap());
        assert_eq!(table.inds, sorted(expected[i].clone()), "{kind} stream table");
        let bronze = duckdb_read_json(lake.join(format!("topics/{id}.{kind}")).to_str().unwrap());
        assert_eq!(bronze.inds, sorted(expected[i].clone()), "{kind} bronze");
    }
}
