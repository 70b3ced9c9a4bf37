//! The daily-analytics Lambda. Until issue 6: daily analytics lands it answers every event with a
//! clear, non-retryable "not implemented yet" error.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use pinpipe::telemetry::{self, NotImplemented};

async fn handle(
    _event: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>,
) -> Result<(), Diagnostic> {
    let error = NotImplemented { function: "daily-analytics", tracked_in: "issue 6: daily analytics" };
    Err(Diagnostic { error_type: "NotImplemented".into(), error_message: error.to_string() })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    lambda_runtime::run(service_fn(handle)).await
}
