//! `pinpipe bench-metrics`: the metrics writer's throughput per shard (SPEC §12) on
//! 500-record batches (the template's BatchSize) arriving 1 ms apart (a shard at
//! 1,000 records/s), in process and on DynamoDB at `AWS_ENDPOINT_URL` (moto locally),
//! beside the stream cleaner on the same events, in one run. Prints a Markdown table
//! (infra/bench/metrics.sh runs it on one core and writes it into BENCHMARKS.md).

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use pinpipe::Kind;
use pinpipe::lake::Lake;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::in_process::InProcessMetrics;
use pinpipe::metrics::store::MetricsStore;
use pinpipe::metrics::writer::MetricsWriter;
use pinpipe::record::generate::{GenerateOptions, Generator};
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
    /// Instead: what the metrics cost on DynamoDB, counted by the DynamoDB-rules front,
    /// four shards of one stream at once, at 1 and at 1,000 pins/s per shard.
    #[arg(long)]
    cost: bool,
    /// Pins per shard in the cost run.
    #[arg(long, default_value_t = 2_000)]
    pins_per_shard: usize,
}

/// On-demand DynamoDB and provisioned Kinesis list prices, us-east-1, USD (from AWS's
/// pricing pages as last read, 2026-12; not checked live from here).
const WRITE_UNIT_PRICE: f64 = 0.625 / 1e6;
const READ_UNIT_PRICE: f64 = 0.125 / 1e6;
const SHARD_HOUR_PRICE: f64 = 0.015;
const PUT_UNIT_PRICE: f64 = 0.014 / 1e6;

/// One shard's pins as Lambda batches at `rate` pins/s: a batch holds what arrives in
/// the 1 s batching window, at most 500 (the template's BatchSize).
fn shard_events(pins: &[&[u8]], shard: usize, rate: u32) -> Vec<KinesisEvent> {
    let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-bench-pin";
    let start = 1_764_547_200_000i64;
    let per_batch = (rate as usize).clamp(1, 500);
    let spacing_ms = 1_000.0 / f64::from(rate);
    let sequences: Vec<String> =
        (0..pins.len()).map(|i| format!("4954698668313554428650745793632162567570019{shard:01}{i:012}")).collect();
    pins.chunks(per_batch)
        .enumerate()
        .map(|(b, chunk)| {
            kinesis_event(
                arn,
                &format!("shardId-00000000000{shard}"),
                chunk.iter().enumerate().map(|(i, data)| {
                    let n = b * per_batch + i;
                    ShardRecord {
                        sequence_number: &sequences[n],
                        partition_key: "1",
                        data,
                        arrival: (start as f64 + n as f64 * spacing_ms) / 1000.0,
                    }
                }),
            )
        })
        .collect()
}

/// The cost table: per setting, what 1,000 pins cost, and what a shard at 1,000 pins/s
/// costs a day beside the Kinesis shard's own.
async fn cost(args: &Args) -> anyhow::Result<()> {
    use pinpipe_local::dynamo_rules::{DynamoRules, Usage};
    const SHARDS: usize = 4;
    let total = args.pins_per_shard * SHARDS;
    let posts: Vec<_> =
        Generator::new(GenerateOptions { posts: total as u64, seed: 5, resend: true }).posts().collect();
    let pins: Vec<&[u8]> = posts.iter().map(|p| p.pin.as_bytes()).collect();
    println!(
        "| pins/s per shard | batches | transactions per batch | items per pin | write units per 1,000 pins | read units per 1,000 pins | conflicts per 1,000 pins | metrics' DynamoDB $/day per shard | the Kinesis shard's $/day | target (at 1,000 pins/s): ≤ the shard's |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for rate in [1u32, 1_000] {
        let store = DynamoRules::new(InProcessMetrics::new());
        let shard_events: Vec<Vec<KinesisEvent>> = (0..SHARDS)
            .map(|shard| {
                shard_events(&pins[shard * args.pins_per_shard..(shard + 1) * args.pins_per_shard], shard, rate)
            })
            .collect();
        let batches: usize = shard_events.iter().map(Vec::len).sum();
        let runs = shard_events.iter().map(|events| {
            let writer = MetricsWriter::new(store.clone());
            async move {
                for event in events {
                    let (response, counts) = writer.handle(event).await;
                    anyhow::ensure!(response.batch_item_failures.is_empty(), "a metrics batch failed: {counts}");
                }
                Ok(())
            }
        });
        for run in futures::future::join_all(runs).await {
            run?;
        }
        let usage = &store.usage;
        let per_thousand = |n: f64| n * 1_000.0 / total as f64;
        let (writes, reads) = (per_thousand(usage.write_units() as f64), per_thousand(usage.read_units()));
        // A day of the shard at this rate: its pins' units, and the shard's hours and PUTs.
        let pins_a_day = 86_400.0 * f64::from(rate);
        let day = pins_a_day / 1_000.0 * (writes * WRITE_UNIT_PRICE + reads * READ_UNIT_PRICE);
        let kinesis_day = 24.0 * SHARD_HOUR_PRICE + pins_a_day * PUT_UNIT_PRICE;
        let verdict = if day <= kinesis_day { "met" } else { "missed" };
        println!(
            "| {rate} | {batches} | {:.1} | {:.1} | {writes:.0} | {reads:.0} | {:.1} | {day:.2} | {kinesis_day:.2} | {} |",
            Usage::get(&usage.transactions) as f64 / batches as f64,
            Usage::get(&usage.items_written) as f64 / total as f64,
            per_thousand(Usage::get(&usage.conflicts) as f64),
            if rate == 1_000 { verdict } else { "–" },
        );
    }
    Ok(())
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
    if args.cost {
        return cost(&args).await;
    }
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
