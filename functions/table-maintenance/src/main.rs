//! The table-maintenance Lambda (its own EventBridge schedule, reserved concurrency
//! 1): config and the lake are read once, then every invocation maintains every
//! Delta table of the deployment with `pinpipe::maintenance` (SPEC §11).

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::maintenance::{self, MaintenanceError};
use pinpipe::telemetry;

async fn handle(
    lake: &Lake,
    config: &Config,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Diagnostic> {
    let reports =
        maintenance::maintain_all(lake, config.names(), config.retention()).await.map_err(|e: MaintenanceError| {
            tracing::error!(error = %e, "table maintenance failed");
            Diagnostic { error_type: "MaintenanceFailed".into(), error_message: e.to_string() }
        })?;
    telemetry::emit_counts("table-maintenance", &maintenance::Totals::of(&reports));
    Ok(serde_json::json!({ "tables": reports }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let lake = Lake::open(&config.lake)?;
    lambda_runtime::run(service_fn(|event| handle(&lake, &config, event))).await
}
