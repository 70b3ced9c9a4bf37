//! The stream-metrics Lambda (its own Kinesis trigger on the three streams, SPEC §12):
//! config, the DynamoDB client and the Kinesis client (asked when a stream was created)
//! are made once, then every batch goes through
//! `pinpipe::metrics::writer::MetricsWriter` over the deployment's metrics table.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use pinpipe::deployment::Deployment;
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
    let writer = Deployment::on_aws().await?.metrics_writer()?;
    lambda_runtime::run(service_fn(|event| handle(&writer, event))).await
}
