//! The stream-cleaner Lambda. Until issue 4: the streaming path lands it answers every event with a
//! clear, non-retryable "not implemented yet" error.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use pinpipe::telemetry::{self, NotImplemented};

async fn handle(_event: LambdaEvent<aws_lambda_events::event::kinesis::KinesisEvent>) -> Result<(), Diagnostic> {
    let error = NotImplemented { function: "stream-cleaner", tracked_in: "issue 4: the streaming path" };
    Err(Diagnostic { error_type: "NotImplemented".into(), error_message: error.to_string() })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    lambda_runtime::run(service_fn(handle)).await
}
