//! The batch-sink Lambda (MSK trigger): config and the lake are read once, then every
//! batch goes through `pinpipe::sink::BatchSink`. The MSK event source mapping has no
//! partial batch response, so a failed partition fails the invocation and Lambda
//! retries the batch — safe, as the sink never lands a record twice.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use pinpipe::delivery::lanes::KafkaBatchResponse;
use pinpipe::deployment::Deployment;
use pinpipe::failure::Failure;
use pinpipe::sink::BatchSink;
use pinpipe::telemetry;

async fn handle(sink: &BatchSink, event: LambdaEvent<KafkaEvent>) -> Result<KafkaBatchResponse, Diagnostic> {
    let (response, counts) = sink.handle(&event.payload).await;
    telemetry::emit_counts("batch-sink", &counts);
    if response.batch_item_failures.is_empty() {
        return Ok(response);
    }
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    Err(Diagnostic {
        error_type: Failure::PartitionFailed.error_type(),
        error_message: format!("landing failed for {}; the batch will be retried", failed.join(", ")),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let sink = Deployment::from_env()?.batch_sink();
    lambda_runtime::run(service_fn(|event| handle(&sink, event))).await
}
