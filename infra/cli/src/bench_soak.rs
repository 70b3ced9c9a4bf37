//! `pinpipe bench-soak`: a year of stream commits in minutes (issue "A year of
//! traffic"). Each of the three stream tables takes `--commits` commits of 1–50
//! records from two shards, through one warm `StreamCleaner` (one Lambda instance),
//! with table maintenance every `--maintain-every` commits per table (0: never).
//! Prints JSON: append latency p50/p99 per window of commits, maintenance runs, and
//! the lake's state at the end. `--cold` instead times one cold invocation per table
//! against an existing lake (infra/bench/soak.sh runs it in its own process to read
//! its peak RSS).

use std::time::{Duration, Instant};

use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::delta::CleanTable;
use pinpipe::generate::{GenerateOptions, Generator};
use pinpipe::lake::Lake;
use pinpipe::maintenance::{self, Retention};
use pinpipe::stream::StreamCleaner;
use pinpipe_local::kinesis_poller::{ShardRecord, kinesis_event};
use rand::{Rng, SeedableRng};

const ID: &str = "soak";
const SHARDS: usize = 2;

#[derive(clap::Args)]
pub struct Args {
    /// The lake (a local directory; emptied first unless --cold).
    #[arg(long)]
    lake: std::path::PathBuf,
    /// Commits per stream table.
    #[arg(long, default_value_t = 20_000)]
    commits: usize,
    /// Run table maintenance after every this many commits per table (0: never).
    #[arg(long, default_value_t = 720)]
    maintain_every: usize,
    /// Log and vacuum retention of the maintenance runs, in seconds of bench time.
    #[arg(long, default_value_t = 30.0)]
    retention_secs: f64,
    /// Commits per latency window.
    #[arg(long, default_value_t = 1_000)]
    window: usize,
    /// Only time one cold invocation per table against the existing lake.
    #[arg(long)]
    cold: bool,
}

#[derive(serde::Serialize)]
struct Window {
    commits: usize,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(serde::Serialize)]
struct TableState {
    table: String,
    version: u64,
    live_files: usize,
    log_files: usize,
    log_bytes: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.cold {
        return cold(&args).await;
    }
    let _ = std::fs::remove_dir_all(&args.lake);
    let lake = Lake::open(args.lake.to_str().ok_or_else(|| anyhow::anyhow!("a UTF-8 lake path"))?)?;
    let names = Names { id: ID };
    let posts: Vec<_> = Generator::new(GenerateOptions { posts: 60_000, seed: 7, resend: false }).posts().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let cleaner = StreamCleaner::new(lake.clone(), ID);
    let retention = Retention {
        log: Duration::from_secs_f64(args.retention_secs),
        vacuum: Duration::from_secs_f64(args.retention_secs),
    };
    let mut next_post = 0usize;
    let mut sequence = [[0u64; SHARDS]; 3];
    let mut latencies: Vec<f64> = Vec::with_capacity(args.window * 3);
    let mut windows = Vec::new();
    let mut maintenance_runs = Vec::new();
    let started = Instant::now();
    for commit in 0..args.commits {
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let shard = commit % SHARDS;
            let size = rng.random_range(1..=50usize);
            let stream = names.stream(kind);
            let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
            let numbers: Vec<String> = (0..size)
                .map(|_| {
                    sequence[k][shard] += 1;
                    format!("4954698668313554428650745793632162567570019247{shard:02}{:08}", sequence[k][shard])
                })
                .collect();
            let event = kinesis_event(
                &arn,
                &format!("shardId-00000000000{shard}"),
                numbers.iter().enumerate().map(|(i, number)| ShardRecord {
                    sequence_number: number,
                    partition_key: "k",
                    data: posts[(next_post + i) % posts.len()].record(kind).as_bytes(),
                    arrival: 1_795_356_000.0,
                }),
            );
            next_post += size;
            let t = Instant::now();
            let (response, counts) = cleaner.handle(&event).await;
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(response.batch_item_failures.is_empty(), "commit {commit} of {kind} failed");
            anyhow::ensure!(counts.rows_written == size as u64, "commit {commit} of {kind} wrote {counts:?}");
        }
        let done = commit + 1;
        if done % args.window == 0 {
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
            windows.push(Window { commits: done, p50_ms: at(0.50), p99_ms: at(0.99) });
            eprintln!("{done} commits per table: p50 {:.1} ms, p99 {:.1} ms", at(0.5), at(0.99));
            latencies.clear();
        }
        if args.maintain_every > 0 && done % args.maintain_every == 0 {
            let t = Instant::now();
            let reports = maintenance::maintain_all(&lake, names, retention).await?;
            let totals = maintenance::Totals::of(&reports);
            maintenance_runs.push(serde_json::json!({
                "after_commits": done,
                "wall_ms": t.elapsed().as_secs_f64() * 1e3,
                "totals": totals,
            }));
        }
    }
    let elapsed = started.elapsed();
    let mut state = Vec::new();
    for kind in Kind::ALL {
        state.push(table_state(&lake, &args.lake, &names.stream_table(kind), kind).await?);
    }
    let out = serde_json::json!({
        "commits_per_table": args.commits,
        "maintain_every": args.maintain_every,
        "retention_secs": args.retention_secs,
        "elapsed_s": elapsed.as_secs_f64(),
        "windows": windows,
        "maintenance_runs": maintenance_runs.len(),
        "maintenance_wall_ms_max": maintenance_runs.iter().filter_map(|r| r["wall_ms"].as_f64()).fold(0.0, f64::max),
        "state": state,
    });
    println!("{out}");
    Ok(())
}

async fn table_state(lake: &Lake, dir: &std::path::Path, relative: &str, kind: Kind) -> anyhow::Result<TableState> {
    let table = CleanTable::open(lake, relative, kind).await?.ok_or_else(|| anyhow::anyhow!("no table {relative}"))?;
    let log: Vec<_> = std::fs::read_dir(dir.join(relative).join("_delta_log"))?.collect::<Result<_, _>>()?;
    let mut log_bytes = 0;
    for entry in &log {
        log_bytes += entry.metadata()?.len();
    }
    Ok(TableState {
        table: relative.to_owned(),
        version: table.version().unwrap_or_default(),
        live_files: table.data_files(relative)?.len(),
        log_files: log.len(),
        log_bytes,
    })
}

/// One invocation per table by a fresh cleaner (a cold Lambda): open, read the mark,
/// append one record.
async fn cold(args: &Args) -> anyhow::Result<()> {
    let lake = Lake::open(args.lake.to_str().ok_or_else(|| anyhow::anyhow!("a UTF-8 lake path"))?)?;
    let names = Names { id: ID };
    let post = Generator::new(GenerateOptions { posts: 1, seed: 99, resend: false }).posts().next();
    let post = post.ok_or_else(|| anyhow::anyhow!("no post"))?;
    let mut opens = Vec::new();
    for kind in Kind::ALL {
        let stream = names.stream(kind);
        let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
        let number = "49546986683135544286507457936321625675700192479999999999".to_owned();
        let event = kinesis_event(
            &arn,
            "shardId-000000000000",
            [ShardRecord {
                sequence_number: &number,
                partition_key: "k",
                data: post.record(kind).as_bytes(),
                arrival: 0.0,
            }],
        );
        let cleaner = StreamCleaner::new(lake.clone(), ID);
        let t = Instant::now();
        let (response, _) = cleaner.handle(&event).await;
        anyhow::ensure!(response.batch_item_failures.is_empty(), "the cold invocation of {kind} failed");
        opens.push(serde_json::json!({ "table": names.stream_table(kind), "cold_invocation_ms": t.elapsed().as_secs_f64() * 1e3 }));
    }
    println!("{}", serde_json::Value::Array(opens));
    Ok(())
}
