//! The stream-cleaner Lambda (Kinesis trigger): config, the lake and the Kinesis client
//! (asked when a stream was created, to tell a recreated one) are made once, then every
//! batch goes through `pinpipe::stream::StreamCleaner`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use pinpipe::deployment::Deployment;
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
    let cleaner = Deployment::on_aws().await?.stream_cleaner();
    lambda_runtime::run(service_fn(|event| handle(&cleaner, event))).await
}
