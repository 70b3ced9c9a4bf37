//! The stream-cleaner Lambda (Kinesis trigger): config, the lake and the Kinesis client
//! (asked when a stream was created, to tell a recreated one) are made once, then every
//! batch goes through `pinpipe::stream::StreamCleaner`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::stream::StreamCleaner;
use pinpipe::telemetry;

async fn handle(cleaner: &StreamCleaner, event: LambdaEvent<KinesisEvent>) -> Result<KinesisEventResponse, Error> {
    let (response, counts) = cleaner.handle(&event.payload).await;
    telemetry::emit_counts("stream-cleaner", &counts);
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let lake = Lake::open(&config.lake)?;
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cleaner = StreamCleaner::new(lake, config.id).with_stream_creation(aws_sdk_kinesis::Client::new(&aws));
    lambda_runtime::run(service_fn(|event| handle(&cleaner, event))).await
}
