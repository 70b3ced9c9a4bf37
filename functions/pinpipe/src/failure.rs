//! Why an invocation failed, as its Lambda answer's `errorType`: one enum for every
//! function, split into what a retry of the same event can pass (`Retryable.*`) and
//! what it cannot (`NotRetryable.*`: the event or the deployment must change first),
//! so an alarm, a retry policy or a person reading the log can tell them apart.

use std::fmt;

/// The kinds of failure the functions answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Some partitions of a batch did not land; Lambda delivers the batch again.
    PartitionFailed,
    /// The day was published, but some bronze partitions stopped; the next run takes
    /// in what they could not.
    PartitionsStopped,
    /// The lake (S3) or a table could not be read or written.
    LakeError,
    /// A query of the daily job failed.
    QueryFailed,
    /// Athena failed or refused a request.
    AthenaError,
    /// A table's maintenance failed; the next schedule tries it again.
    MaintenanceFailed,
    /// The event itself is wrong (e.g. a run date that is not a date).
    BadEvent,
    /// The deployment lacks what the run needs (e.g. Athena's named queries).
    NotDeployed,
}

impl Failure {
    /// Whether the same event can pass on a retry, unchanged.
    pub fn retryable(self) -> bool {
        !matches!(self, Failure::BadEvent | Failure::NotDeployed)
    }

    fn name(self) -> &'static str {
        match self {
            Failure::PartitionFailed => "PartitionFailed",
            Failure::PartitionsStopped => "PartitionsStopped",
            Failure::LakeError => "LakeError",
            Failure::QueryFailed => "QueryFailed",
            Failure::AthenaError => "AthenaError",
            Failure::MaintenanceFailed => "MaintenanceFailed",
            Failure::BadEvent => "BadEvent",
            Failure::NotDeployed => "NotDeployed",
        }
    }

    /// The answer's `errorType`: `Retryable.PartitionFailed`, `NotRetryable.BadEvent`.
    pub fn error_type(self) -> String {
        format!("{}.{}", if self.retryable() { "Retryable" } else { "NotRetryable" }, self.name())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_say_whether_a_retry_can_pass() {
        assert_eq!(Failure::PartitionFailed.error_type(), "Retryable.PartitionFailed");
        assert_eq!(Failure::BadEvent.error_type(), "NotRetryable.BadEvent");
        assert_eq!(Failure::NotDeployed.error_type(), "NotRetryable.NotDeployed");
        assert!(Failure::LakeError.retryable() && !Failure::BadEvent.retryable());
    }
}
