//! `pinpipe`: the local stand-ins of SPEC §8. Each subcommand is a thin shell over
//! the library; the work lives in `pinpipe`.

mod analytics;
mod bench_metrics;
mod bench_soak;
mod bench_stream;
mod clean;
mod demo;
mod drive;
mod emulate;
mod generate;
mod maintain;
mod metrics;
mod poll_stream;
mod poll_topic;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pinpipe", version, about = "Pinterest's data pipelines, locally", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline on the embedded default, then the eight answers (SPEC §8).
    Demo(demo::Args),
    /// The original user posting emulation against an API URL (batch or stream mode).
    Emulate(emulate::Args),
    /// Realistic raw records (pin/geo/user NDJSON) with the measured dirty values.
    Generate(generate::Args),
    /// NDJSON in, cleaned NDJSON out (SPEC §3 columns in order); quarantined lines to stderr.
    Clean(clean::Args),
    /// Run the stream cleaner over a Kinesis stream, as Lambda's event source mapping would.
    PollStream(poll_stream::Args),
    /// Run the batch sink over a Kafka topic, as Lambda's MSK event source mapping would.
    PollTopic(poll_topic::Args),
    /// The daily job by hand: new bronze objects into silver, then the eight answers.
    Analytics(analytics::Args),
    /// Table maintenance by hand: compact, checkpoint, clean up the log, vacuum (SPEC §11).
    Maintain(maintain::Args),
    /// The real-time metrics from the deployment's DynamoDB table (SPEC §12).
    Metrics(metrics::Args),
    /// Land generate's NDJSON files in the lake as bronze objects, as the batch sink would.
    LandBronze(analytics::LandArgs),
    /// Benchmark the stream cleaner against a bare JSON parse (writes a Markdown table).
    #[command(hide = true)]
    BenchStream(bench_stream::Args),
    /// Benchmark the metrics writer per shard beside the stream cleaner (writes a Markdown table).
    #[command(hide = true)]
    BenchMetrics(bench_metrics::Args),
    /// Soak the stream tables with many small commits, with and without maintenance (JSON).
    #[command(hide = true)]
    BenchSoak(bench_soak::Args),
}

fn main() -> anyhow::Result<()> {
    let result = match Cli::parse().command {
        Command::Emulate(args) => tokio::runtime::Runtime::new()?.block_on(emulate::run(args)),
        Command::Demo(args) => tokio::runtime::Runtime::new()?.block_on(demo::run(args)),
        Command::Generate(args) => generate::run(args),
        Command::Clean(args) => clean::run(args),
        Command::PollStream(args) => {
            pinpipe::telemetry::init();
            tokio::runtime::Runtime::new()?.block_on(poll_stream::run(args))
        }
        Command::PollTopic(args) => {
            pinpipe::telemetry::init();
            tokio::runtime::Runtime::new()?.block_on(poll_topic::run(args))
        }
        Command::Analytics(args) => {
            pinpipe::telemetry::init();
            tokio::runtime::Runtime::new()?.block_on(analytics::run(args))
        }
        Command::Maintain(args) => {
            pinpipe::telemetry::init();
            tokio::runtime::Runtime::new()?.block_on(maintain::run(args))
        }
        Command::Metrics(args) => tokio::runtime::Runtime::new()?.block_on(metrics::run(args)),
        Command::LandBronze(args) => tokio::runtime::Runtime::new()?.block_on(analytics::land(args)),
        // One thread, as the benchmark measures one core per shard.
        Command::BenchMetrics(args) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(bench_metrics::run(args))
        }
        Command::BenchSoak(args) => tokio::runtime::Runtime::new()?.block_on(bench_soak::run(args)),
        // One thread, as the benchmark measures one core.
        Command::BenchStream(args) => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(bench_stream::run(args))
        }
    };
    match result {
        // `pinpipe clean … | head` closes the pipe early: that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind) == Some(BrokenPipe)
    })
}
