//! The `/topics` side of the API: Kafka REST proxy v2 produce (SPEC §5),
//! `{"records":[{"value":{…},"key":…,"partition":…}]}` → Kafka, in three steps:
//! validate every record (nothing is sent if one is bad), assign each a partition,
//! send one produce request per partition (split under the broker's limit).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::body::{check_kind, object_bytes, parse_json};
use super::error::{ApiError, json_response};
use super::{Ingest, KAFKA_MAX_RECORD_BYTES};
use crate::ingest::services::{TopicRecord, TopicService};

/// What a record adds to a record batch besides its key and value (headers, varints).
const KAFKA_RECORD_OVERHEAD: usize = 64;

/// The content types the Kafka REST proxy v2 takes for JSON produce.
const PRODUCE_CONTENT_TYPES: [&str; 3] =
    ["application/vnd.kafka.json.v2+json", "application/vnd.kafka.v2+json", "application/json"];

#[derive(Deserialize)]
struct ProduceBody<'a> {
    #[serde(borrow, default)]
    records: Option<Vec<ProduceRecord<'a>>>,
}

#[derive(Deserialize)]
struct ProduceRecord<'a> {
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(default)]
    partition: Option<Value>,
}

/// A record that passed validation: its bytes and the partition it asked for.
struct Checked {
    value: Vec<u8>,
    key: Option<Vec<u8>>,
    partition: Option<i32>,
}

/// The request's records by partition, each with its index in the request.
type Assigned = BTreeMap<i32, Vec<(usize, TopicRecord)>>;

impl Ingest {
    pub(super) async fn produce(
        &self,
        topic: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Response<Body>, ApiError> {
        check_content_type(content_type)?;
        let Some(kafka) = &self.kafka else {
            return Err(ApiError::Upstream {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retryable: false,
                message: "Kafka is not available to this function (see PINPIPE_KAFKA_BOOTSTRAP and its logs)".into(),
            });
        };
        let records = validate(topic, body)?;
        let count = records.len();
        let assigned = self.assign(kafka.as_ref(), topic, records).await?;
        let offsets = send(kafka.as_ref(), topic, assigned, count).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "key_schema_id": null, "value_schema_id": null, "offsets": offsets }),
        ))
    }

    /// Each record's partition: the one it names (which must exist), else by its key
    /// (the same key, the same partition), else in turn.
    async fn assign(&self, kafka: &dyn TopicService, topic: &str, records: Vec<Checked>) -> Result<Assigned, ApiError> {
        let partitions = match kafka.partitions_of(topic).await.map_err(ApiError::from_kafka)? {
            Some(partitions) if !partitions.is_empty() => partitions,
            _ => return Err(ApiError::TopicNotFound { name: topic.to_owned() }),
        };
        let now = chrono::Utc::now();
        let mut assigned = Assigned::new();
        for (i, Checked { value, key, partition }) in records.into_iter().enumerate() {
            let partition = match partition {
                Some(p) if partitions.contains(&p) => p,
                Some(p) => {
                    return Err(ApiError::PartitionNotFound {
                        topic: topic.to_owned(),
                        partition: p,
                        field: format!("records[{i}].partition"),
                    });
                }
                None => {
                    let n = partitions.len();
                    let index = match &key {
                        Some(key) => crate::delivery::partitioner::bucket(key, n),
                        None => self.round_robin.fetch_add(1, Ordering::Relaxed) % n,
                    };
                    partitions[index]
                }
            };
            assigned.entry(partition).or_default().push((i, TopicRecord { key, value, timestamp: now }));
        }
        Ok(assigned)
    }
}

fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(content_type) = content_type else { return Ok(()) };
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if PRODUCE_CONTENT_TYPES.contains(&media.as_str()) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "content type {content_type:?}: use one of {}",
            PRODUCE_CONTENT_TYPES.join(", ")
        )))
    }
}

/// Every record checked — an object of the topic's kind, on one line, under the
/// broker's limit, a valid partition if it names one — before anything is sent.
fn validate(topic: &str, body: &[u8]) -> Result<Vec<Checked>, ApiError> {
    let parsed: ProduceBody = parse_json(body)?;
    let records = match parsed.records {
        Some(records) if !records.is_empty() => records,
        _ => {
            return Err(ApiError::InvalidRecord {
                field: "records".into(),
                message: "the body needs \"records\": [{\"value\": {…}}, …]".into(),
            });
        }
    };
    let mut checked = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let field = format!("records[{i}].value");
        // A record the cleaner cannot take is the Kafka REST proxy's 422, not a 400.
        let value = object_bytes(record.value, &field).and_then(|value| check_kind(topic, value, &field)).map_err(
            |e| match e {
                ApiError::BadField { field, message } => ApiError::InvalidRecord { field, message },
                other => other,
            },
        )?;
        // Keys are JSON in the json embedded format: stored as their JSON text.
        let key = record.key.map(RawValue::get).filter(|k| *k != "null").map(|k| k.as_bytes().to_vec());
        let size = value.len() + key.as_ref().map_or(0, Vec::len);
        if size + KAFKA_RECORD_OVERHEAD > KAFKA_MAX_RECORD_BYTES {
            return Err(ApiError::RecordTooLarge {
                message: format!(
                    "{field} and its key are {size} bytes; a Kafka record holds at most {}",
                    KAFKA_MAX_RECORD_BYTES - KAFKA_RECORD_OVERHEAD
                ),
                field,
            });
        }
        let partition = match &record.partition {
            None | Some(Value::Null) => None,
            Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| *p >= 0) {
                Some(p) => Some(p),
                None => {
                    return Err(ApiError::InvalidRecord {
                        field: format!("records[{i}].partition"),
                        message: format!("records[{i}].partition must be a partition number, not {p}"),
                    });
                }
            },
        };
        checked.push(Checked { value, key, partition });
    }
    Ok(checked)
}

/// One produce request per partition (split under the broker's limit), in request
/// order; each record's offset or error, as the REST proxy answers. All failed: the
/// first failure is the answer.
async fn send(kafka: &dyn TopicService, topic: &str, assigned: Assigned, count: usize) -> Result<Vec<Value>, ApiError> {
    let mut offsets = vec![json!(null); count];
    let mut failed = 0;
    let mut first_error = None;
    for (partition, records) in assigned {
        for chunk in request_sized(records) {
            let (indices, batch): (Vec<usize>, Vec<TopicRecord>) = chunk.into_iter().unzip();
            match kafka.produce(topic, partition, batch).await {
                Ok(produced) => {
                    for (i, offset) in indices.iter().zip(produced) {
                        offsets[*i] =
                            json!({ "partition": partition, "offset": offset, "error_code": null, "error": null });
                    }
                }
                Err(error) => {
                    tracing::warn!(%topic, partition, %error, "produce failed");
                    failed += indices.len();
                    let answer = ApiError::from_kafka(error.clone());
                    for i in &indices {
                        offsets[*i] = json!({ "partition": partition, "offset": null, "error_code": answer.confluent_code(), "error": answer.message() });
                    }
                    first_error.get_or_insert(answer);
                }
            }
        }
    }
    match first_error {
        Some(error) if failed == count => Err(error),
        _ => Ok(offsets),
    }
}

/// Splits a partition's records into produce requests under [`KAFKA_MAX_RECORD_BYTES`].
fn request_sized(records: Vec<(usize, TopicRecord)>) -> Vec<Vec<(usize, TopicRecord)>> {
    let mut chunks: Vec<Vec<(usize, TopicRecord)>> = Vec::new();
    let mut bytes = 0;
    for (i, record) in records {
        let size = record.value.len() + record.key.as_ref().map_or(0, Vec::len) + KAFKA_RECORD_OVERHEAD;
        match chunks.last_mut() {
            Some(chunk) if bytes + size <= KAFKA_MAX_RECORD_BYTES => {
                bytes += size;
                chunk.push((i, record));
            }
            _ => {
                bytes = size;
                chunks.push(vec![(i, record)]);
            }
        }
    }
    chunks
}
