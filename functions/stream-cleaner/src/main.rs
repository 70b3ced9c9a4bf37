//! The stream-cleaner Lambda (Kinesis trigger): config and the lake are read once,
//! then every batch goes through `pinpipe::stream::StreamCleaner`.

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
    let cleaner = StreamCleaner::new(lake, config.id);
    lambda_runtime::run(service_fn(|event| handle(&cleaner, event))).await
}
