//! `pinpipe poll-stream --stream NAME`: runs a function of the streaming path (the
//! stream cleaner, or stream-metrics) over a Kinesis stream the way the Lambda event
//! source mapping would, until it is idle (or for ever with `--follow`) — in process,
//! or by invoking it where it is served (`--invoke`, e.g. `cargo lambda watch`).

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use pinpipe::config::Config;
use pinpipe::deployment::Deployment;
use pinpipe_local::kinesis_poller::KinesisPoller;

use crate::drive::MappingArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The Kinesis stream (e.g. streaming-0a1b2c3d4e5f-pin); endpoint from AWS_ENDPOINT_URL.
    #[arg(long)]
    stream: String,
    /// The function the mapping feeds.
    #[arg(long, value_enum, default_value = "stream-cleaner")]
    function: Function,
    /// Invoke the function at this Lambda Invoke URL instead of running it in process:
    /// `cargo lambda watch` serves `http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations`.
    #[arg(long)]
    invoke: Option<String>,
    #[command(flatten)]
    mapping: MappingArgs,
    #[command(flatten)]
    config: Config,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Function {
    /// Cleans into the stream Delta tables (lake from PINPIPE_LAKE).
    StreamCleaner,
    /// Counts into the metrics table (PINPIPE_METRICS_TABLE).
    StreamMetrics,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&aws);
    let mut poller = KinesisPoller::new(kinesis.clone(), &args.stream, i32::from(args.mapping.batch_size))
        .await
        .context("opening the stream")?
        .batching(Duration::from_secs(args.mapping.batching_window), usize::from(args.mapping.batch_size));
    let (follow, source) = (args.mapping.following(), args.stream.as_str());
    if let Some(url) = &args.invoke {
        let client = reqwest::Client::new();
        return crate::drive::drive(&mut poller, follow, source, |event| {
            let client = &client;
            async move { invoke(client, url, &event).await }
        })
        .await;
    }
    match args.function {
        Function::StreamCleaner => {
            let cleaner = Deployment::new(config.clone())?.with_aws(aws.clone()).stream_cleaner();
            crate::drive::drive(&mut poller, follow, source, |event| {
                let cleaner = &cleaner;
                async move { cleaner.handle(&event).await }
            })
            .await
        }
        Function::StreamMetrics => {
            let writer = Deployment::new(config.clone())?.with_aws(aws.clone()).metrics_writer()?;
            crate::drive::drive(&mut poller, follow, source, |event| {
                let writer = &writer;
                async move { writer.handle(&event).await }
            })
            .await
        }
    }
}

/// What invocations at an Invoke URL did.
#[derive(Debug, Clone, Copy, Default, derive_more::AddAssign)]
struct Invoked {
    invocations: u64,
    records: u64,
    /// Records the answer reported failed, or every record of an invocation that failed.
    failed: u64,
}

impl fmt::Display for Invoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invocations, {} records, {} failed (redelivered)", self.invocations, self.records, self.failed)
    }
}

/// Invokes the function with the event; an invocation that fails (unreachable, a
/// function error, an answer that is not a batch response) fails the whole batch, which
/// is redelivered, as Lambda's mapping retries a failed invocation.
async fn invoke(client: &reqwest::Client, url: &str, event: &KinesisEvent) -> (KinesisEventResponse, Invoked) {
    let records = event.records.len() as u64;
    let answer = async {
        let response = client.post(url).json(event).send().await?.error_for_status()?;
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.bytes().await?;
        anyhow::ensure!(!function_error, "function error: {}", String::from_utf8_lossy(&body));
        Ok::<KinesisEventResponse, anyhow::Error>(serde_json::from_slice(&body)?)
    };
    match answer.await {
        Ok(response) => {
            // Redelivered: from the first record reported failed on.
            let sequence_numbers: Vec<&str> =
                event.records.iter().map(|r| r.kinesis.sequence_number.as_str()).collect();
            let taken = pinpipe_local::kinesis_poller::succeeded_prefix(&response, &sequence_numbers);
            (response, Invoked { invocations: 1, records, failed: records - taken as u64 })
        }
        Err(e) => {
            eprintln!("invoking {url}: {e:#}");
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = event.records.first().map(|r| r.kinesis.sequence_number.clone());
            let mut response = KinesisEventResponse::default();
            response.batch_item_failures.push(failure);
            (response, Invoked { invocations: 1, records, failed: records })
        }
    }
}
