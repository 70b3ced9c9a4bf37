//! The batch-sink Lambda. Until issue 5: the batch path lands it answers every event with a
//! clear, non-retryable "not implemented yet" error.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use pinpipe::telemetry::{self, NotImplemented};

async fn handle(_event: LambdaEvent<aws_lambda_events::event::kafka::KafkaEvent>) -> Result<(), Diagnostic> {
    let error = NotImplemented { function: "batch-sink", tracked_in: "issue 5: the batch path" };
    Err(Diagnostic { error_type: "NotImplemented".into(), error_message: error.to_string() })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    lambda_runtime::run(service_fn(handle)).await
}
