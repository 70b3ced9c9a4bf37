//! The `/streams` side of the API (SPEC §5), in front of Kinesis: list, describe,
//! create and delete streams, and PutRecord / PutRecords with every record checked
//! before anything is sent (a PutRecords body is taken whole or not at all).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::body::{check_kind, object_bytes, parse_json};
use super::error::{ApiError, json_response, safe_code};
use super::{Ingest, MAX_PUT_RECORDS, MAX_PUT_RECORDS_BYTES};
use crate::ingest::services::{Placed, StreamEntry};

const MAX_SHARDS: i32 = 500;
/// How long a list or describe answer is reused ([`super::cache`]).
const READ_TTL: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Deserialize)]
struct PutRecordBody<'a> {
    #[serde(rename = "StreamName", default)]
    stream_name: Option<String>,
    #[serde(rename = "Data", alias = "data", borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(rename = "PartitionKey", alias = "partition-key", alias = "partitionKey", default)]
    partition_key: Option<Value>,
}

#[derive(Deserialize)]
struct PutRecordsBody<'a> {
    #[serde(rename = "StreamName", default)]
    stream_name: Option<String>,
    #[serde(rename = "records", alias = "Records", borrow, default)]
    records: Option<Vec<PutRecordBody<'a>>>,
}

fn placed(placed: &Placed) -> Value {
    json!({ "SequenceNumber": placed.sequence_number, "ShardId": placed.shard_id })
}

impl Ingest {
    pub(super) async fn list_streams(&self) -> Result<Response<Body>, ApiError> {
        let listed = self.read.streams.get_or_load((), READ_TTL, || self.streams.list_streams()).await;
        let mut names = listed.map_err(|e| ApiError::from_kinesis(e, None))?;
        names.retain(|name| self.serves(name));
        Ok(json_response(StatusCode::OK, &json!({ "StreamNames": names })))
    }

    /// The stream's summary; its ARN (which names the AWS account) only to callers
    /// API Gateway authorised with IAM.
    pub(super) async fn describe_stream(&self, name: &str, with_arn: bool) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let described =
            self.read.summaries.get_or_load(name.to_owned(), READ_TTL, || self.streams.describe_stream(name));
        let s = described.await.map_err(|e| ApiError::from_kinesis(e, Some(name)))?;
        let mut summary = json!({
            "StreamName": s.name,
            "StreamStatus": s.status,
            "ShardCount": s.open_shards,
            "RetentionPeriodHours": s.retention_hours,
            "EncryptionType": s.encryption,
        });
        if with_arn {
            summary["StreamARN"] = s.arn.into();
        }
        Ok(json_response(StatusCode::OK, &summary))
    }

    pub(super) async fn create_stream(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let shards = if body.iter().all(u8::is_ascii_whitespace) {
            1
        } else {
            let value: Value = parse_json(body)?;
            match value.get("ShardCount") {
                None | Some(Value::Null) => 1,
                Some(n) => match n.as_i64() {
                    Some(n) if (1..=i64::from(MAX_SHARDS)).contains(&n) => n as i32,
                    _ => {
                        return Err(ApiError::bad_field(
                            "ShardCount",
                            format!("ShardCount must be an integer from 1 to {MAX_SHARDS}, not {n}"),
                        ));
                    }
                },
            }
        };
        self.streams.create_stream(name, shards).await.map_err(|e| ApiError::from_kinesis(e, Some(name)))?;
        Ok(json_response(StatusCode::OK, &json!({ "StreamName": name, "ShardCount": shards })))
    }

    pub(super) async fn delete_stream(&self, name: &str) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        self.streams.delete_stream(name).await.map_err(|e| ApiError::from_kinesis(e, Some(name)))?;
        Ok(json_response(StatusCode::OK, &json!({ "StreamName": name, "Deleted": true })))
    }

    pub(super) async fn put_record(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let parsed: PutRecordBody = parse_json(body)?;
        check_body_stream(parsed.stream_name.as_deref(), name)?;
        let record = check_record(name, &parsed, "")?;
        let put = self.streams.put_record(name, record).await.map_err(|e| ApiError::from_kinesis(e, Some(name)))?;
        Ok(json_response(StatusCode::OK, &placed(&put)))
    }

    pub(super) async fn put_records(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let parsed: PutRecordsBody = parse_json(body)?;
        check_body_stream(parsed.stream_name.as_deref(), name)?;
        let Some(records) = parsed.records else {
            return Err(ApiError::bad_field(
                "records",
                "the body needs \"records\": [{\"data\": …, \"partition-key\": …}, …]",
            ));
        };
        if records.is_empty() {
            return Err(ApiError::bad_field("records", "\"records\" is empty"));
        }
        if records.len() > MAX_PUT_RECORDS {
            return Err(ApiError::TooLarge(format!(
                "{} records; PutRecords takes at most {MAX_PUT_RECORDS}",
                records.len()
            )));
        }
        let mut entries = Vec::with_capacity(records.len());
        let mut total = 0;
        for (i, record) in records.iter().enumerate() {
            let checked = check_record(name, record, &format!("records[{i}]."))?;
            total += checked.data.len() + checked.partition_key.len();
            entries.push(checked);
        }
        if total > MAX_PUT_RECORDS_BYTES {
            return Err(ApiError::TooLarge(format!(
                "the records total {total} bytes; PutRecords takes at most {MAX_PUT_RECORDS_BYTES}"
            )));
        }
        let outcomes =
            self.streams.put_records(name, entries).await.map_err(|e| ApiError::from_kinesis(e, Some(name)))?;
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        let results: Vec<Value> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(put) => placed(&put),
                Err(failure) => {
                    // Kinesis' own text names the account ("… under account 1234…"): logs only.
                    tracing::warn!(stream = %name, code = %failure.code, message = %failure.message, "a record was not put");
                    let code = safe_code(&failure.code);
                    json!({ "ErrorCode": code, "ErrorMessage": entry_failure_message(code) })
                }
            })
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "FailedRecordCount": failed, "Records": results })))
    }
}

/// What a PutRecords entry's failure means for the caller, in our words.
fn entry_failure_message(code: &str) -> &'static str {
    match code {
        "ProvisionedThroughputExceededException" => "the stream's shard is over its write rate: retry this record",
        "InternalFailure" => "Kinesis could not put this record: retry it",
        _ => "Kinesis did not put this record: retry it",
    }
}

fn check_stream_name(name: &str) -> Result<(), ApiError> {
    let valid =
        (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            "stream-name",
            format!("{name:?} is not a Kinesis stream name (1-128 of a-z A-Z 0-9 _ . -)"),
        ))
    }
}

fn check_body_stream(in_body: Option<&str>, in_path: &str) -> Result<(), ApiError> {
    match in_body {
        Some(body) if body != in_path => Err(ApiError::bad_field(
            "StreamName",
            format!("StreamName {body:?} in the body differs from {in_path:?} in the path"),
        )),
        _ => Ok(()),
    }
}

/// A record's data as the object's plain JSON bytes — an object as sent, or the
/// text of a string holding one — checked against its stream's kind.
fn check_record(stream: &str, record: &PutRecordBody, prefix: &str) -> Result<StreamEntry, ApiError> {
    let data_field = format!("{prefix}Data");
    let data = check_kind(stream, object_bytes(record.data, &data_field)?, &data_field)?;
    let key_field = format!("{prefix}PartitionKey");
    let partition_key = match &record.partition_key {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Err(ApiError::bad_field(&key_field, format!("{key_field} is missing"))),
        Some(other) => {
            return Err(ApiError::bad_field(&key_field, format!("{key_field} must be a string, not {other}")));
        }
    };
    if !(1..=256).contains(&partition_key.chars().count()) {
        return Err(ApiError::bad_field(&key_field, format!("{key_field} must be 1 to 256 characters")));
    }
    Ok(StreamEntry { data, partition_key })
}
