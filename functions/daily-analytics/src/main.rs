//! The daily-analytics Lambda (EventBridge schedule, or by hand with
//! `{"run_date": "YYYY-MM-DD"}`): config and the lake are read once, then every
//! invocation runs `pinpipe::analytics::DailyJob`.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use pinpipe::analytics::{DailyJob, run_date_of};
use pinpipe::config::Config;
use pinpipe::lake::Lake;
use pinpipe::telemetry;

async fn handle(job: &DailyJob, event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Diagnostic> {
    let failed = |e: pinpipe::analytics::AnalyticsError| {
        tracing::error!(error = %e, "daily analytics failed");
        Diagnostic { error_type: e.kind().into(), error_message: e.to_string() }
    };
    let run_date = run_date_of(&event.payload).map_err(failed)?;
    let report = job.run(run_date).await.map_err(failed)?;
    let summary = report.summary();
    telemetry::emit_counts("daily-analytics", &report.totals());
    Ok(summary)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let lake = Lake::open(&config.lake)?;
    let job = DailyJob::new(lake, config.id).with_part_rows(config.analytics_part_rows);
    lambda_runtime::run(service_fn(|event| handle(&job, event))).await
}
