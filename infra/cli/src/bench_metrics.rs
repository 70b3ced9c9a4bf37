//! `pinpipe bench-metrics`: the metrics writer's throughput per shard (SPEC §12) on
//! 500-record batches (the template's BatchSize) arriving 1 ms apart (a shard at
//! 1,000 records/s), in process and on DynamoDB at `AWS_ENDPOINT_URL` (moto locally),
//! beside the stream cleaner on the same events, in one run. Prints a Markdown table
//! (infra/bench/metrics.sh runs it on one core and writes it into BENCHMARKS.md).

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use pinpipe::Kind;
use pinpipe::generate::{GenerateOptions, Generator};
use pinpipe::lake::Lake;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::store::{InProcessMetrics, MetricsStore};
use pinpipe::metrics::writer::MetricsWriter;
use pinpipe::stream::StreamCleaner;
use pinpipe_local::kinesis_poller::{ShardRecord, kinesis_event};

#[derive(clap::Args)]
pub struct Args {
    /// Records per batch (one Lambda invocation).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches per measurement.
    #[arg(long, default_value_t = 20)]
    batches: usize,
    /// Also on DynamoDB at AWS_ENDPOINT_URL (a table made and dropped for the run).
    #[arg(long)]
    dynamodb: bool,
    /// Where the stream cleaner's lake goes (emptied first).
    #[arg(long, default_value = "target/bench-metrics-lake")]
    lake: std::path::PathBuf,
}

/// A shard's records as Lambda events: 56-digit sequence numbers, arrivals 1 ms apart.
fn events(kind: Kind, records: &[&[u8]], batch: usize) -> Vec<KinesisEvent> {
    let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/streaming-bench-{kind}");
    let start = chrono::Utc::now().timestamp_millis();
    let sequence_numbers: Vec<String> =
        (0..records.len()).map(|i| format!("49546986683135544286507457936321625675700192{i:012}")).collect();
    records
        .chunks(batch)
        .enumerate()
        .map(|(b, chunk)| {
            let first = b * batch;
            kinesis_event(
                &arn,
                "shardId-000000000000",
                chunk.iter().enumerate().map(|(i, data)| ShardRecord {
                    sequence_number: &sequence_numbers[first + i],
                    partition_key: "1",
                    data,
                    arrival: (start + (first + i) as i64) as f64 / 1000.0,
                }),
            )
        })
        .collect()
}

async fn time_writer<S: MetricsStore>(
    writer: &MetricsWriter<S>,
    events: &[KinesisEvent],
) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut commits = 0;
    for event in events {
        let (response, counts) = writer.handle(event).await;
        anyhow::ensure!(response.batch_item_failures.is_empty(), "a metrics batch failed: {counts}");
        commits += counts.commits;
    }
    Ok((started.elapsed(), commits))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.lake);
    let total = args.batch * args.batches;
    let posts: Vec<_> =
        Generator::new(GenerateOptions { posts: total as u64, seed: 2, resend: false }).posts().collect();
    let dynamo = if args.dynamodb { Some(bench_table().await?) } else { None };
    println!("| kind | what | records/s | commits per batch | target 1,000 records/s |");
    println!("|---|---|---:|---:|---|");
    for kind in [Kind::Pin, Kind::Geo] {
        let records: Vec<&[u8]> = posts.iter().map(|p| p.record(kind).as_bytes()).collect();
        let events = events(kind, &records, args.batch);
        let mut rows: Vec<(&str, Duration, Option<u64>)> = Vec::new();

        let cleaner =
            StreamCleaner::new(Lake::open(args.lake.to_str().unwrap_or("target/bench-metrics-lake"))?, "bench");
        let started = Instant::now();
        for event in &events {
            let (response, _) = cleaner.handle(event).await;
            anyhow::ensure!(response.batch_item_failures.is_empty(), "a stream-cleaner batch failed");
        }
        rows.push(("stream cleaner (local lake), beside", started.elapsed(), None));

        let (elapsed, commits) = time_writer(&MetricsWriter::new(InProcessMetrics::new()), &events).await?;
        rows.push(("metrics writer, in-process store", elapsed, Some(commits)));
        if let Some(store) = &dynamo {
            let (elapsed, commits) = time_writer(&MetricsWriter::new(store.clone()), &events).await?;
            rows.push(("metrics writer, DynamoDB at AWS_ENDPOINT_URL", elapsed, Some(commits)));
        }
        for (what, elapsed, commits) in rows {
            let rate = total as f64 / elapsed.as_secs_f64();
            let per_batch = commits.map_or_else(String::new, |c| format!("{:.1}", c as f64 / args.batches as f64));
            let verdict = if commits.is_none() {
                ""
            } else if rate >= 1_000.0 {
                "met"
            } else {
                "missed"
            };
            println!("| {kind} | {what} | {rate:.0} | {per_batch} | {verdict} |");
        }
    }
    if let Some(store) = dynamo {
        let client =
            aws_sdk_dynamodb::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
        let _ = client.delete_table().table_name(store.table()).send().await;
    }
    Ok(())
}

async fn bench_table() -> anyhow::Result<DynamoMetrics> {
    let client = aws_sdk_dynamodb::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    let table = format!("pinpipe-bench-{}-metrics", std::process::id());
    DynamoMetrics::create_table(&client, &table).await?;
    Ok(DynamoMetrics::new(client, table))
}
