//! The daily-analytics Lambda (EventBridge schedule, or by hand with
//! `{"run_date": "YYYY-MM-DD"}`): config, the lake and (with
//! `PINPIPE_ANALYTICS_ENGINE=athena`) the Athena client are made once, then every
//! invocation runs `pinpipe::analytics::DailyJob`, answering with Polars or on Athena.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use pinpipe::analytics::athena::Athena;
use pinpipe::analytics::{AnalyticsError, DailyJob, run_date_of};
use pinpipe::deployment::Deployment;
use pinpipe::failure::Failure;
use pinpipe::telemetry;

async fn handle(
    job: &DailyJob,
    athena: Option<&Athena>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Diagnostic> {
    let failed = |e: AnalyticsError| {
        tracing::error!(error = %e, "daily analytics failed");
        Diagnostic { error_type: e.failure().error_type(), error_message: e.to_string() }
    };
    let run_date = run_date_of(&event.payload).map_err(failed)?;
    if let Some(athena) = athena {
        let report = job.run_on_athena(run_date, athena).await.map_err(failed)?;
        telemetry::emit_counts("daily-analytics", &report.totals());
        return Ok(report.summary());
    }
    let report = job.run(run_date).await.map_err(failed)?;
    let totals = report.totals();
    telemetry::emit_counts("daily-analytics", &totals);
    if totals.partitions_stopped > 0 {
        // Published all the same; failing the invocation alarms and has EventBridge try
        // again, which takes in what the stopped partitions could not.
        let problems: Vec<&String> = report.silver.iter().flat_map(|(_, c)| &c.problems).collect();
        tracing::error!(?problems, "published, but some bronze partitions stopped");
        return Err(Diagnostic {
            error_type: Failure::PartitionsStopped.error_type(),
            error_message: format!(
                "run {} published {} with {} bronze partitions stopped: {}",
                report.run_id,
                run_date,
                totals.partitions_stopped,
                problems.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("; ")
            ),
        });
    }
    Ok(report.summary())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let deployment = Deployment::on_aws().await?;
    let (job, athena) = (deployment.daily_job(), deployment.athena()?);
    lambda_runtime::run(service_fn(|event| handle(&job, athena.as_ref(), event))).await
}
