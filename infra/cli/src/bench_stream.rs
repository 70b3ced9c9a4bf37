//! `pinpipe bench-stream`: the stream cleaner's throughput on 10k-record batches
//! to a local-directory lake, beside a bare `serde_json` parse of the same bytes,
//! in one run. Prints a Markdown table (infra/bench/stream.sh pins it to one core
//! and writes it into BENCHMARKS.md).

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use pinpipe::lake::Lake;
use pinpipe::record::generate::{GenerateOptions, Generator};
use pinpipe::stream::StreamCleaner;
use pinpipe::{Kind, clean_batch};

#[derive(clap::Args)]
pub struct Args {
    /// Records per batch (one Lambda invocation).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Batches per measurement.
    #[arg(long, default_value_t = 10)]
    batches: usize,
    /// Where the benchmark's lake goes (emptied first).
    #[arg(long, default_value = "target/bench-lake")]
    lake: std::path::PathBuf,
}

struct Row {
    what: &'static str,
    elapsed: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.lake);
    let total = args.batch * args.batches;
    let posts: Vec<_> =
        Generator::new(GenerateOptions { posts: total as u64, seed: 1, resend: false }).posts().collect();
    let mut table = Vec::new();
    for kind in Kind::ALL {
        let records: Vec<&[u8]> = posts.iter().map(|p| p.record(kind).as_bytes()).collect();
        let bytes: usize = records.iter().map(|r| r.len()).sum();
        // Lambda's event JSON for each batch: base64 data, 56-digit sequence numbers.
        let stream = format!("streaming-bench-{kind}");
        let events: Vec<String> =
            records.chunks(args.batch).enumerate().map(|(b, chunk)| event_json(&stream, b, chunk)).collect();

        let started = Instant::now();
        for record in &records {
            let value: serde_json::Value = serde_json::from_slice(record)?;
            std::hint::black_box(value);
        }
        let bare = Row { what: "bare serde_json::Value parse", elapsed: started.elapsed() };

        let started = Instant::now();
        for chunk in records.chunks(args.batch) {
            std::hint::black_box(clean_batch(kind, chunk.iter().copied()));
        }
        let clean = Row { what: "clean into an Arrow batch", elapsed: started.elapsed() };

        let started = Instant::now();
        for event in &events {
            let event: KinesisEvent = serde_json::from_str(event)?;
            std::hint::black_box(event);
        }
        let decode = Row { what: "Lambda event decode only (JSON + base64)", elapsed: started.elapsed() };

        let cleaner = StreamCleaner::new(Lake::open(args.lake.to_str().unwrap_or("target/bench-lake"))?, "bench");
        let started = Instant::now();
        let mut written = 0;
        for event in &events {
            let event: KinesisEvent = serde_json::from_str(event)?;
            let (response, counts) = cleaner.handle(&event).await;
            anyhow::ensure!(response.batch_item_failures.is_empty(), "the benchmark batch failed: {response:?}");
            written += counts.rows_written;
        }
        anyhow::ensure!(written as usize == total, "wrote {written} of {total} rows");
        let full = Row { what: "event decode + clean + Delta append (stream cleaner)", elapsed: started.elapsed() };
        table.push((kind, bytes, [bare, clean, decode, full]));
    }
    println!("| kind | step | records/s | MB/s | × bare parse |");
    println!("|---|---|---|---|---|");
    for (kind, bytes, rows) in &table {
        let bare = rows[0].elapsed.as_secs_f64();
        for row in rows {
            let secs = row.elapsed.as_secs_f64();
            println!(
                "| {kind} | {} | {:.0}k | {:.0} | {:.2} |",
                row.what,
                total as f64 / secs / 1e3,
                *bytes as f64 / secs / 1e6,
                secs / bare
            );
        }
    }
    // The targets, judged from the rows above; and the split of the cleaner's time,
    // measured (decode and clean timed alone; the rest is Parquet + Delta commit).
    println!();
    for (kind, _, [bare, clean, decode, full]) in &table {
        let secs = |row: &Row| row.elapsed.as_secs_f64();
        let rate = total as f64 / secs(full);
        let ratio = secs(full) / secs(bare);
        let share = |row: &Row| 100.0 * secs(row) / secs(full);
        let verdict = |met: bool| if met { "met" } else { "missed" };
        println!(
            "- {kind}: {:.0}k records/s (target 100k: {}); {ratio:.2}× the bare parse (target ≤ 2×: {}); of the \
             cleaner's time, event decode {:.0}%, cleaning {:.0}%, the rest (Parquet encode, Delta commit) {:.0}%",
            rate / 1e3,
            verdict(rate >= 100_000.0),
            verdict(ratio <= 2.0),
            share(decode),
            share(clean),
            (100.0 - share(decode) - share(clean)).max(0.0),
        );
    }
    Ok(())
}

fn event_json(stream: &str, batch: usize, records: &[&[u8]]) -> String {
    let records: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let seq = format!("49546986683135544286507457936321625675700192{batch:06}{i:08}");
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_795_356_000.0
                },
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}")
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}
