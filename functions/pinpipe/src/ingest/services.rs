//! What ingest needs from Kinesis and from Kafka, as two small traits. The AWS SDK
//! (`aws_sdk_kinesis::Client`) and rskafka (`kafka::KafkaProducer`) implement them for the
//! real services; `pinpipe demo`'s in-process streams and topics implement them for
//! the embedded default, so the same handler serves both.

use async_trait::async_trait;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use chrono::{DateTime, Utc};

/// Why a stream or topic service did not do what was asked: classified once, where
/// the AWS SDK's or Kafka's error arises ([`sdk_error`] here, `kafka::service_error`),
/// so the API maps kinds of failure, not error names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The stream, topic or partition does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// This caller may not touch it (e.g. another deployment's stream).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// It exists already, or is being created or deleted.
    #[error("in use: {0}")]
    InUse(String),
    /// The service found the request invalid.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Over a throughput or request-rate limit: passes on retry.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Records over the service's size limit: a retry cannot pass.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Any other refusal, with the service's own error name.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    /// No answer: connection refused, timed out, a leader moving.
    #[error("could not be reached: {0}")]
    Unreachable(String),
    /// An answer that could not be read.
    #[error("answered with something unreadable: {0}")]
    Unreadable(String),
}

/// DescribeStreamSummary's answer, as much of it as the API passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub open_shards: i32,
    pub retention_hours: i32,
    pub encryption: Option<String>,
}

/// One record to put: the bytes and the partition key that picks its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub data: Vec<u8>,
    pub partition_key: String,
}

/// Where a put record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub sequence_number: String,
    pub shard_id: String,
}

/// A record of a PutRecords call that failed on its own (the others may have landed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub code: String,
    pub message: String,
}

/// The Kinesis operations behind ingest's `/streams` routes (SPEC §5).
#[async_trait]
pub trait StreamService: Send + Sync {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError>;
    async fn describe_stream(&self, name: &str) -> Result<StreamSummary, ServiceError>;
    async fn create_stream(&self, name: &str, shards: i32) -> Result<(), ServiceError>;
    async fn delete_stream(&self, name: &str) -> Result<(), ServiceError>;
    async fn put_record(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError>;
    /// Each entry's outcome, in order.
    async fn put_records(
        &self,
        name: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError>;
}

/// One record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp: DateTime<Utc>,
}

/// The Kafka operations behind ingest's `POST /topics/{topic}` (SPEC §5).
#[async_trait]
pub trait TopicService: Send + Sync {
    /// The topic's partitions, or `None` when the topic does not exist.
    async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, ServiceError>;
    /// Appends `records` to one partition; their offsets, in order.
    async fn produce(&self, topic: &str, partition: i32, records: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError>;
}

/// An AWS SDK (Kinesis) failure as a [`ServiceError`], by its exception name.
fn sdk_error<E, R>(error: SdkError<E, R>) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let message = service.err().message().unwrap_or("").to_owned();
            let named = format!("{code}: {message}");
            match code.as_str() {
                "ResourceNotFoundException" => ServiceError::NotFound(named),
                "AccessDeniedException" => ServiceError::AccessDenied(named),
                "ResourceInUseException" => ServiceError::InUse(message),
                "InvalidArgumentException" | "ValidationException" => ServiceError::Invalid(message),
                "ProvisionedThroughputExceededException"
                | "LimitExceededException"
                | "ThrottlingException"
                | "KMSThrottlingException" => ServiceError::Throttled(named),
                _ => ServiceError::Refused { code, message },
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            ServiceError::Unreachable(aws_sdk_kinesis::error::DisplayErrorContext(&error).to_string())
        }
        _ => ServiceError::Unreadable(aws_sdk_kinesis::error::DisplayErrorContext(&error).to_string()),
    }
}

#[async_trait]
impl StreamService for aws_sdk_kinesis::Client {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page =
                self.list_streams().set_exclusive_start_stream_name(start.take()).send().await.map_err(sdk_error)?;
            names.extend(page.stream_names().iter().cloned());
            if !page.has_more_streams() || page.stream_names().is_empty() {
                return Ok(names);
            }
            start = names.last().cloned();
        }
    }

    async fn describe_stream(&self, name: &str) -> Result<StreamSummary, ServiceError> {
        let out = self.describe_stream_summary().stream_name(name).send().await.map_err(sdk_error)?;
        let s = out
            .stream_description_summary()
            .ok_or_else(|| ServiceError::Unreadable("Kinesis answered without a stream summary".into()))?;
        Ok(StreamSummary {
            name: s.stream_name().to_owned(),
            arn: s.stream_arn().to_owned(),
            status: s.stream_status().as_str().to_owned(),
            open_shards: s.open_shard_count(),
            retention_hours: s.retention_period_hours(),
            encryption: s.encryption_type().map(|e| e.as_str().to_owned()),
        })
    }

    async fn create_stream(&self, name: &str, shards: i32) -> Result<(), ServiceError> {
        self.create_stream().stream_name(name).shard_count(shards).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn delete_stream(&self, name: &str) -> Result<(), ServiceError> {
        self.delete_stream().stream_name(name).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn put_record(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError> {
        let out = self
            .put_record()
            .stream_name(name)
            .partition_key(entry.partition_key)
            .data(Blob::new(entry.data))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(Placed { sequence_number: out.sequence_number().to_owned(), shard_id: out.shard_id().to_owned() })
    }

    async fn put_records(
        &self,
        name: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        let entries = entries
            .into_iter()
            .map(|e| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(e.data))
                    .partition_key(e.partition_key)
                    .build()
                    .expect("data and partition key are set")
            })
            .collect();
        let out = self.put_records().stream_name(name).set_records(Some(entries)).send().await.map_err(sdk_error)?;
        Ok(out
            .records()
            .iter()
            .map(|r| match (r.error_code(), r.sequence_number(), r.shard_id()) {
                (None, Some(sequence_number), Some(shard_id)) => {
                    Ok(Placed { sequence_number: sequence_number.to_owned(), shard_id: shard_id.to_owned() })
                }
                (code, _, _) => Err(EntryFailure {
                    code: code.unwrap_or("InternalFailure").to_owned(),
                    message: r.error_message().unwrap_or("no sequence number in the answer").to_owned(),
                }),
            })
            .collect())
    }
}
