//! `pinpipe poll-topic --topic NAME`: runs the batch sink over a Kafka topic the way
//! the MSK event source mapping would, until it is idle (or for ever with `--follow`).

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::sink::{BatchSink, SinkCounts};
use pinpipe_local::kafka_poller::KafkaPoller;

#[derive(clap::Args)]
pub struct Args {
    /// The topic (e.g. 0a1b2c3d4e5f.pin); brokers from PINPIPE_KAFKA_BOOTSTRAP.
    #[arg(long)]
    topic: String,
    /// Records per invocation, as the event source mapping's BatchSize.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// The consumer group: its committed positions are kept in the lake, so a later
    /// run resumes where this one stopped.
    #[arg(long, default_value = "pinpipe-batch-sink")]
    group: String,
    #[command(flatten)]
    config: Config,
    /// Keep polling (once a second) instead of stopping when the topic is idle.
    #[arg(long)]
    follow: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let bootstrap = config.kafka_bootstrap.clone().context("set PINPIPE_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)")?;
    let lake = Lake::open(&config.lake)?;
    let sink = BatchSink::new(lake.clone());
    let mut poller = KafkaPoller::new(&bootstrap, &args.topic, args.batch_size)
        .await
        .context("opening the topic")?
        .with_group(lake, &args.group)
        .await?;
    let report = |total: &SinkCounts| {
        eprintln!(
            "{}: {} records in, {} written in {} objects, {} quarantined, {} duplicates skipped, {} failed (redelivered)",
            args.topic,
            total.records_in,
            total.records_written,
            total.objects_written,
            total.quarantined,
            total.duplicates_skipped,
            total.failed
        )
    };
    crate::drive::drive(
        &mut poller,
        args.follow,
        |event| {
            let sink = &sink;
            async move { sink.handle(&event).await }
        },
        report,
    )
    .await
}
