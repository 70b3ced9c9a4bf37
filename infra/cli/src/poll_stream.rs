//! `pinpipe poll-stream --stream NAME`: runs the stream cleaner over a Kinesis
//! stream the way the Lambda event source mapping would, until it is idle (or for
//! ever with `--follow`).

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::stream::StreamCleaner;
use pinpipe_local::kinesis_poller::KinesisPoller;

use crate::drive::MappingArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The Kinesis stream (e.g. streaming-0a1b2c3d4e5f-pin); endpoint from AWS_ENDPOINT_URL.
    #[arg(long)]
    stream: String,
    #[command(flatten)]
    mapping: MappingArgs,
    #[command(flatten)]
    config: Config,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let lake = Lake::open(&config.lake)?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    let cleaner = StreamCleaner::new(lake, config.id.clone()).with_stream_creation(kinesis.clone());
    let mut poller = KinesisPoller::new(kinesis, &args.stream, i32::from(args.mapping.batch_size))
        .await
        .context("opening the stream")?;
    crate::drive::drive(&mut poller, args.mapping.follow, &args.stream, |event| {
        let cleaner = &cleaner;
        async move { cleaner.handle(&event).await }
    })
    .await
}
