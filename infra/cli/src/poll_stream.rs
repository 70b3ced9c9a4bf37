//! `pinpipe poll-stream --stream NAME`: runs the stream cleaner over a Kinesis
//! stream the way the Lambda event source mapping would, until it is idle (or for
//! ever with `--follow`).

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::stream::{StreamCleaner, StreamCounts};
use pinpipe_local::kinesis_poller::KinesisPoller;

#[derive(clap::Args)]
pub struct Args {
    /// The Kinesis stream (e.g. streaming-0a1b2c3d4e5f-pin); endpoint from AWS_ENDPOINT_URL.
    #[arg(long)]
    stream: String,
    /// Records per invocation, as the event source mapping's BatchSize.
    #[arg(long, default_value_t = 100)]
    batch_size: i32,
    #[command(flatten)]
    config: Config,
    /// Keep polling (once a second) instead of stopping when the stream is idle.
    #[arg(long)]
    follow: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let lake = Lake::open(&config.lake)?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    let cleaner = StreamCleaner::new(lake, config.id.clone()).with_stream_creation(kinesis.clone());
    let mut poller = KinesisPoller::new(kinesis, &args.stream, args.batch_size).await.context("opening the stream")?;
    let report = |total: &StreamCounts| {
        eprintln!(
            "{}: {} records in, {} rows written, {} quarantined, {} duplicates skipped, {} failed (redelivered)",
            args.stream,
            total.records_in,
            total.rows_written,
            total.quarantined,
            total.duplicates_skipped,
            total.failed
        )
    };
    crate::drive::drive(
        &mut poller,
        args.follow,
        |event| {
            let cleaner = &cleaner;
            async move { cleaner.handle(&event).await }
        },
        report,
    )
    .await
}
