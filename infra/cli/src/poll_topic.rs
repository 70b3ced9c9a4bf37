//! `pinpipe poll-topic --topic NAME`: runs the batch sink over a Kafka topic the way
//! the MSK event source mapping would, until it is idle (or for ever with `--follow`).

use std::time::Duration;

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::deployment::Deployment;
use pinpipe_local::kafka_poller::KafkaPoller;

use crate::drive::MappingArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The topic (e.g. 0a1b2c3d4e5f.pin); brokers from PINPIPE_KAFKA_BOOTSTRAP.
    #[arg(long)]
    topic: String,
    /// The consumer group: its committed positions are kept in the lake, so a later
    /// run resumes where this one stopped.
    #[arg(long, default_value = "pinpipe-batch-sink")]
    group: String,
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    mapping: MappingArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let bootstrap = config.kafka_bootstrap.clone().context("set PINPIPE_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)")?;
    let deployment = Deployment::new(config.clone())?;
    let (lake, sink) = (deployment.lake.clone(), deployment.batch_sink());
    let mut poller = KafkaPoller::new(&bootstrap, &args.topic, usize::from(args.mapping.batch_size))
        .await
        .context("opening the topic")?
        .with_group(lake, &args.group)
        .await?
        .batching(Duration::from_secs(args.mapping.batching_window), usize::from(args.mapping.batch_size));
    crate::drive::drive(&mut poller, args.mapping.following(), &args.topic, |event| {
        let sink = &sink;
        async move { sink.handle(&event).await }
    })
    .await
}
