//! The stream-metrics Lambda (its own Kinesis trigger on the three streams, SPEC §12):
//! config, the DynamoDB client and the Kinesis client (asked when a stream was created)
//! are made once, then every batch goes through
//! `pinpipe::metrics::writer::MetricsWriter` over the deployment's metrics table.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use pinpipe::config::Config;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::writer::MetricsWriter;
use pinpipe::telemetry;

async fn handle(
    writer: &MetricsWriter<DynamoMetrics>,
    event: LambdaEvent<KinesisEvent>,
) -> Result<KinesisEventResponse, Error> {
    let (response, counts) = writer.handle(&event.payload).await;
    telemetry::emit_counts("stream-metrics", &counts);
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoMetrics::new(aws_sdk_dynamodb::Client::new(&aws), config.metrics_table());
    // Kinesis is asked when a stream was created, to tell a recreated one (only when that decides).
    let writer = MetricsWriter::new(store).with_stream_creation(aws_sdk_kinesis::Client::new(&aws));
    lambda_runtime::run(service_fn(|event| handle(&writer, event))).await
}
