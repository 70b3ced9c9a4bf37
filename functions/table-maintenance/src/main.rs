//! The table-maintenance Lambda (its own EventBridge schedule, reserved concurrency
//! 1): config and the lake are read once, then every invocation maintains every
//! Delta table of the deployment with `pinpipe::maintenance` (SPEC §11).

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use pinpipe::deployment::Deployment;
use pinpipe::failure::Failure;
use pinpipe::maintenance::{self, Retention};
use pinpipe::telemetry;

async fn handle(
    deployment: &Deployment,
    retention: Retention,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Diagnostic> {
    // Every table is tried; the invocation fails at the end, naming each that failed.
    let all = maintenance::maintain_all(&deployment.lake, deployment.names(), retention).await;
    telemetry::emit_counts("table-maintenance", &maintenance::Totals::of(&all.reports));
    let reports = all.into_result().map_err(|e| {
        tracing::error!(error = %e, "table maintenance failed");
        Diagnostic { error_type: Failure::MaintenanceFailed.error_type(), error_message: e.to_string() }
    })?;
    Ok(serde_json::json!({ "tables": reports }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let deployment = Deployment::from_env()?;
    let retention = deployment.retention()?;
    lambda_runtime::run(service_fn(|event| handle(&deployment, retention, event))).await
}
