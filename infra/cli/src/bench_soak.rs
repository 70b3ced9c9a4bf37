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
use pinpipe::lake::Lake;
use pinpipe::lake::delta::CleanTable;
use pinpipe::maintenance::{self, Retention};
use pinpipe::record::generate::{GenerateOptions, Generator};
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
    let retention = Retention {
        compact_target_bytes: pinpipe::maintenance::DEFAULT_COMPACT_TARGET_BYTES,
        log: Duration::from_secs_f64(args.retention_secs),
        vacuum: Duration::from_secs_f64(args.retention_secs),
    };
    // Tombstones are kept as long as vacuum's retention (the table's
    // `delta.deletedFileRetentionDuration`, 7 days by default): scaled like the rest.
    for kind in Kind::ALL {
        let table = CleanTable::create_or_open(&lake, &names.stream_table(kind), kind).await?;
        let seconds = args.retention_secs.ceil() as u64;
        table
            .delta_table()
            .clone()
            .set_tbl_properties()
            .with_properties(std::collections::HashMap::from([(
                "delta.deletedFileRetentionDuration".to_owned(),
                format!("interval {seconds} seconds"),
            )]))
            .await?;
    }
    let started = Instant::now();
    // The three tables side by side, as three streams' cleaners and the maintenance
    // function run: each its own writer and its own maintenance cadence.
    let runs = Kind::ALL.into_iter().map(|kind| {
        let lake = lake.clone();
        let (commits, every, window) = (args.commits, args.maintain_every, args.window);
        tokio::spawn(async move { soak_table(lake, kind, commits, every, window, retention).await })
    });
    let mut per_table = Vec::new();
    for run in runs {
        per_table.push(run.await??);
    }
    let elapsed = started.elapsed();
    // Windows over all three tables' appends.
    let windows: Vec<Window> = (0..per_table[0].0.len())
        .map(|w| {
            let mut latencies: Vec<f64> = per_table.iter().flat_map(|(ws, _)| ws[w].clone()).collect();
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
            Window { commits: (w + 1) * args.window, p50_ms: at(0.50), p99_ms: at(0.99) }
        })
        .collect();
    let maintenance_runs: Vec<f64> = per_table.iter().flat_map(|(_, m)| m.clone()).collect();
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
        "maintenance_wall_ms_max": maintenance_runs.iter().copied().fold(0.0, f64::max),
        "state": state,
    });
    println!("{out}");
    Ok(())
}

/// One table's soak: the append latencies (ms) of each window, and each maintenance run's wall (ms).
async fn soak_table(
    lake: Lake,
    kind: Kind,
    commits: usize,
    maintain_every: usize,
    window: usize,
    retention: Retention,
) -> anyhow::Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let names = Names { id: ID };
    let posts: Vec<String> = Generator::new(GenerateOptions { posts: 20_000, seed: 7, resend: false })
        .posts()
        .map(|p| p.record(kind).to_owned())
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7 + kind as u64);
    let cleaner = StreamCleaner::new(lake.clone(), ID);
    let stream = names.stream(kind);
    let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
    let mut sequence = [0u64; SHARDS];
    let mut next_post = 0usize;
    let (mut windows, mut current, mut maintenance) = (Vec::new(), Vec::with_capacity(window), Vec::new());
    for commit in 0..commits {
        let shard = commit % SHARDS;
        let size = rng.random_range(1..=50usize);
        let numbers: Vec<String> = (0..size)
            .map(|_| {
                sequence[shard] += 1;
                format!("4954698668313554428650745793632162567570019247{shard:02}{:08}", sequence[shard])
            })
            .collect();
        let event = kinesis_event(
            &arn,
            &format!("shardId-00000000000{shard}"),
            numbers.iter().enumerate().map(|(i, number)| ShardRecord {
                sequence_number: number,
                partition_key: "k",
                data: posts[(next_post + i) % posts.len()].as_bytes(),
                arrival: 1_795_356_000.0,
            }),
        );
        next_post += size;
        let t = Instant::now();
        let (response, counts) = cleaner.handle(&event).await;
        current.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(response.batch_item_failures.is_empty(), "commit {commit} of {kind} failed");
        anyhow::ensure!(counts.rows_written == size as u64, "commit {commit} of {kind} wrote {counts:?}");
        let done = commit + 1;
        if done % window == 0 {
            let mut sorted = current.clone();
            sorted.sort_by(f64::total_cmp);
            eprintln!("{kind}: {done} commits, p50 {:.1} ms", sorted[sorted.len() / 2]);
            windows.push(std::mem::take(&mut current));
        }
        if maintain_every > 0 && done % maintain_every == 0 {
            let t = Instant::now();
            maintenance::maintain(&lake, &names.stream_table(kind), kind, retention).await?;
            maintenance.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok((windows, maintenance))
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
