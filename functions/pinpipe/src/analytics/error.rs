//! What can stop the daily job, each with the Lambda error type it answers with.

use polars::prelude::PolarsError;

use crate::failure::Failure;
use crate::lake::LakeError;
use crate::silver::SilverError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("bronze → silver: {0}")]
    Silver(#[from] SilverError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("reading silver file {key}: {source}")]
    SilverFile { key: String, source: PolarsError },
    #[error("silver file {0} is listed in its table's log but missing")]
    MissingFile(String),
    #[error("answering the questions: {0}")]
    Query(#[from] PolarsError),
    #[error("{0}")]
    BadEvent(String),
    #[error("a bronze → silver task failed: {0}")]
    Task(String),
    #[error("spilling silver to local disk: {0}")]
    Spill(String),
    #[error("Athena {operation}: {detail}")]
    Athena { operation: &'static str, detail: String },
    #[error(
        "named query {name} is not in workgroup {workgroup}. Help: deploy the template with EnableAthena=true, or run with PINPIPE_ANALYTICS_ENGINE=polars"
    )]
    QueryNotDeclared { name: String, workgroup: String },
    #[error("Athena query {query_execution_id} ({question}) {state}: {reason}")]
    AthenaQueryFailed { question: &'static str, query_execution_id: String, state: String, reason: String },
}

impl AnalyticsError {
    /// The Lambda answer's error type.
    pub fn failure(&self) -> Failure {
        match self {
            AnalyticsError::BadEvent(_) => Failure::BadEvent,
            AnalyticsError::QueryNotDeclared { .. } => Failure::NotDeployed,
            AnalyticsError::Query(_) | AnalyticsError::AthenaQueryFailed { .. } => Failure::QueryFailed,
            AnalyticsError::Athena { .. } => Failure::AthenaError,
            _ => Failure::LakeError,
        }
    }
}
