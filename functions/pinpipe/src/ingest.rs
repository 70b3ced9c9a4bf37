//! The ingest function's HTTP API (SPEC §5): the `/streams` routes the original
//! project's scripts call, in front of Kinesis, and the Kafka REST proxy v2 produce
//! route `POST /topics/{topic}` in front of Kafka (MSK; tansu locally). Every answer is JSON;
//! bad input is a 4xx naming the problem and nothing is half-written (a PutRecords
//! body is checked whole before anything is sent).

use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clean::{QuarantineReason, clean_record};
use crate::kind::Kind;
use crate::services::{ServiceError, StreamEntry, StreamService, TopicRecord, TopicService};

/// Kinesis' own limits, checked before calling it.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
pub const MAX_PUT_RECORDS: usize = 500;
pub const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
/// The most one Kafka record (key and value) or one produce request to a partition
/// may hold: under MSK's default `message.max.bytes` (1 MiB + 12) with room for the
/// record batch's own overhead. Larger requests are split; a larger record is a 413.
pub const KAFKA_MAX_RECORD_BYTES: usize = 1_000_000;
/// What a record adds to a record batch besides its key and value (headers, varints).
const KAFKA_RECORD_OVERHEAD: usize = 64;
/// Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6_000_000;
const MAX_SHARDS: i32 = 500;

/// An error answer: status, a stable code, a message naming the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retryable: Option<bool>,
    pub allow: Option<String>,
    /// Set on the Kafka REST routes: the answer uses Confluent's envelope,
    /// `{"error_code": 40401, "message": …}`.
    pub error_code: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, retryable: None, allow: None, error_code: None }
    }

    fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.field = Some(field.into());
        e
    }

    fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    fn upstream(status: StatusCode, retryable: bool, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(status, if retryable { "upstream_unavailable" } else { "upstream_error" }, message);
        e.retryable = Some(retryable);
        e
    }

    /// This error in Confluent's envelope: `error_code` is the status followed by a
    /// two-digit detail (Confluent's own scheme: 40401 unknown topic, 42201 bad record…).
    fn confluent(mut self, detail: u32) -> Self {
        if self.error_code.is_none() {
            self.error_code = Some(u32::from(self.status.as_u16()) * 100 + detail);
        }
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = match self.error_code {
            Some(error_code) => json!({ "error_code": error_code, "message": self.message }),
            None => json!({ "error": self.code, "message": self.message }),
        };
        if let Some(field) = self.field {
            body["field"] = field.into();
        }
        if let Some(retryable) = self.retryable {
            body["retryable"] = retryable.into();
        }
        let mut response = json_response(self.status, &body);
        if let Some(value) = self.allow.and_then(|allow| allow.parse().ok()) {
            response.headers_mut().insert("allow", value);
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/json".parse().expect("static"));
    response
}

/// The routes of SPEC §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'p> {
    Streams,
    Stream(&'p str),
    Record(&'p str),
    Records(&'p str),
    Topic(&'p str),
}

impl Route<'_> {
    fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Streams => &[Method::GET],
            Route::Stream(_) => &[Method::GET, Method::POST, Method::DELETE],
            Route::Record(_) | Route::Records(_) => &[Method::PUT],
            Route::Topic(_) => &[Method::POST],
        }
    }
}

/// Finds the route in a path: `/streams/…` or `/topics/…`, wherever it starts —
/// a REST API (v1) puts its stage first (`/Prod/streams/…`), `cargo lambda watch`
/// its function URL prefix.
fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments.iter().position(|s| *s == "streams" || *s == "topics")?;
    match &segments[start..] {
        ["streams"] => Some(Route::Streams),
        ["streams", name] => Some(Route::Stream(name)),
        ["streams", name, "record"] => Some(Route::Record(name)),
        ["streams", name, "records"] => Some(Route::Records(name)),
        ["topics", topic] => Some(Route::Topic(topic)),
        _ => None,
    }
}

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

/// The ingest function's state, built once per Lambda instance.
#[derive(Clone)]
pub struct Ingest {
    /// Kinesis (`aws_sdk_kinesis::Client`), or the demo's in-process streams.
    streams: Arc<dyn StreamService>,
    /// Kafka; `None` when none is configured (the topic route says so).
    kafka: Option<Arc<dyn TopicService>>,
    /// Records without a key or partition go to the topic's partitions in turn.
    round_robin: Arc<AtomicUsize>,
    /// When set, only this deployment's streams and topics exist for the API
    /// (`streaming-<id>-{pin,geo,user}`, `<id>.{pin,geo,user}`); others are 404s.
    deployment: Option<String>,
}

impl Ingest {
    pub fn new(streams: impl StreamService + 'static) -> Self {
        Ingest { streams: Arc::new(streams), kafka: None, round_robin: Arc::default(), deployment: None }
    }

    /// Serves only deployment `id`'s streams and topics (the Lambda: other
    /// deployments' and the account's other streams are not this API's to list or write).
    pub fn for_deployment(mut self, id: &str) -> Self {
        self.deployment = Some(id.to_owned());
        self
    }

    /// Whether `name` (a stream or a topic) belongs to this API.
    fn serves(&self, name: &str) -> bool {
        let Some(id) = &self.deployment else { return true };
        let names = crate::config::Names { id };
        Kind::ALL.into_iter().any(|kind| name == names.stream(kind) || name == names.topic(kind))
    }

    fn not_served(&self, name: &str) -> Result<(), ApiError> {
        if self.serves(name) {
            return Ok(());
        }
        let (code, what, error_code) = if name.starts_with("streaming-") {
            ("stream_not_found", "stream", None)
        } else {
            ("topic_not_found", "topic", Some(40401))
        };
        let mut e = ApiError::new(StatusCode::NOT_FOUND, code, format!("{what} {name:?} does not exist"));
        e.field = Some(if what == "stream" { "stream-name" } else { "topic" }.into());
        e.error_code = error_code;
        Err(e)
    }

    /// Serves `POST /topics/{topic}` through `kafka` (a `KafkaProducer`, or the demo's topics).
    pub fn with_kafka(mut self, kafka: Arc<dyn TopicService>) -> Self {
        self.kafka = Some(kafka);
        self
    }

    /// Where a record without an explicit partition goes: by its key when it has
    /// one (the same key, the same partition), else in turn.
    fn choose(&self, key: Option<&[u8]>, partitions: &[i32]) -> i32 {
        let n = partitions.len().max(1);
        let index = match key {
            Some(key) => crate::partitioner::bucket(key, n),
            None => self.round_robin.fetch_add(1, Ordering::Relaxed) % n,
        };
        partitions[index]
    }

    /// Answers one request; every failure is a JSON error response, never a panic or a bare 500.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.dispatch(&request).await {
            Ok(response) => response,
            Err(error) => {
                // The Kafka REST routes answer every error in Confluent's envelope.
                let error = if matches!(route(request_path(&request)), Some(Route::Topic(_))) {
                    error.confluent(1)
                } else {
                    error
                };
                if error.status.is_server_error() {
                    tracing::warn!(status = %error.status, message = %error.message, "upstream failure");
                }
                error.into_response()
            }
        }
    }

    async fn dispatch(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let path = request_path(request);
        let Some(route) = route(path) else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route for {path}: see SPEC §5")));
        };
        let method = request.method();
        if !route.allowed().contains(method) {
            let allow = route.allowed().iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let mut e = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on {path}; use {allow}"),
            );
            e.allow = Some(allow);
            return Err(e);
        }
        let body = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large(format!(
                "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            )));
        }
        match route {
            Route::Stream(name) | Route::Record(name) | Route::Records(name) | Route::Topic(name) => {
                self.not_served(name)?
            }
            Route::Streams => {}
        }
        match (route, method) {
            (Route::Streams, _) => self.list_streams().await,
            (Route::Stream(name), &Method::GET) => self.describe_stream(name).await,
            (Route::Stream(name), &Method::POST) => {
                require_iam(request)?;
                self.create_stream(name, body).await
            }
            (Route::Stream(name), _) => {
                require_iam(request)?;
                self.delete_stream(name).await
            }
            (Route::Record(name), _) => self.put_record(name, body).await,
            (Route::Records(name), _) => self.put_records(name, body).await,
            (Route::Topic(topic), _) => {
                let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok());
                self.produce(topic, content_type, body).await
            }
        }
    }

    async fn list_streams(&self) -> Result<Response<Body>, ApiError> {
        let mut names = self.streams.list_streams().await.map_err(|e| service_error(e, None))?;
        names.retain(|name| self.serves(name));
        Ok(json_response(StatusCode::OK, &json!({ "StreamNames": names })))
    }

    async fn describe_stream(&self, name: &str) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let s = self.streams.describe_stream(name).await.map_err(|e| service_error(e, Some(name)))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": s.status,
                "ShardCount": s.open_shards,
                "RetentionPeriodHours": s.retention_hours,
                "EncryptionType": s.encryption,
            }),
        ))
    }

    async fn create_stream(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
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
        self.streams.create_stream(name, shards).await.map_err(|e| service_error(e, Some(name)))?;
        Ok(json_response(StatusCode::OK, &json!({ "StreamName": name, "ShardCount": shards })))
    }

    async fn delete_stream(&self, name: &str) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        self.streams.delete_stream(name).await.map_err(|e| service_error(e, Some(name)))?;
        Ok(json_response(StatusCode::OK, &json!({ "StreamName": name, "Deleted": true })))
    }

    async fn put_record(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
        check_stream_name(name)?;
        let parsed: PutRecordBody = parse_json(body)?;
        check_body_stream(parsed.stream_name.as_deref(), name)?;
        let record = check_record(name, &parsed, "")?;
        let placed = self.streams.put_record(name, record).await.map_err(|e| service_error(e, Some(name)))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "SequenceNumber": placed.sequence_number, "ShardId": placed.shard_id }),
        ))
    }

    async fn put_records(&self, name: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
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
            return Err(ApiError::too_large(format!(
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
            return Err(ApiError::too_large(format!(
                "the records total {total} bytes; PutRecords takes at most {MAX_PUT_RECORDS_BYTES}"
            )));
        }
        let outcomes = self.streams.put_records(name, entries).await.map_err(|e| service_error(e, Some(name)))?;
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        let results: Vec<Value> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(placed) => json!({ "SequenceNumber": placed.sequence_number, "ShardId": placed.shard_id }),
                Err(failure) => json!({ "ErrorCode": failure.code, "ErrorMessage": failure.message }),
            })
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "FailedRecordCount": failed, "Records": results })))
    }
}

/// Kafka REST proxy v2 produce (SPEC §5): `{"records":[{"value":{…},"key":…,"partition":…}]}`.
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

/// The content types the Kafka REST proxy v2 takes for JSON produce.
const PRODUCE_CONTENT_TYPES: [&str; 3] =
    ["application/vnd.kafka.json.v2+json", "application/vnd.kafka.v2+json", "application/json"];

impl Ingest {
    async fn produce(&self, topic: &str, content_type: Option<&str>, body: &[u8]) -> Result<Response<Body>, ApiError> {
        if let Some(content_type) = content_type {
            let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if !PRODUCE_CONTENT_TYPES.contains(&media.as_str()) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("content type {content_type:?}: use one of {}", PRODUCE_CONTENT_TYPES.join(", ")),
                ));
            }
        }
        let Some(kafka) = &self.kafka else {
            return Err(ApiError::upstream(
                StatusCode::SERVICE_UNAVAILABLE,
                false,
                "Kafka is not available to this function (see PINPIPE_KAFKA_BOOTSTRAP and its logs)",
            ));
        };
        let parsed: ProduceBody = parse_json(body)?;
        let unprocessable = |field: String, message: String| {
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_record", message);
            e.field = Some(field);
            e
        };
        let records = match parsed.records {
            Some(records) if !records.is_empty() => records,
            _ => {
                return Err(unprocessable(
                    "records".into(),
                    "the body needs \"records\": [{\"value\": {…}}, …]".into(),
                ));
            }
        };
        let mut checked = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let field = format!("records[{i}].value");
            let value =
                object_bytes(record.value, &field).and_then(|value| check_kind(topic, value, &field)).map_err(|e| {
                    if e.status == StatusCode::BAD_REQUEST {
                        unprocessable(e.field.clone().unwrap_or(field.clone()), e.message)
                    } else {
                        e
                    }
                })?;
            // Keys are JSON in the json embedded format: stored as their JSON text.
            let key = record.key.map(RawValue::get).filter(|k| *k != "null").map(|k| k.as_bytes().to_vec());
            let size = value.len() + key.as_ref().map_or(0, Vec::len);
            if size + KAFKA_RECORD_OVERHEAD > KAFKA_MAX_RECORD_BYTES {
                let mut e = ApiError::too_large(format!(
                    "{field} and its key are {size} bytes; a Kafka record holds at most {}",
                    KAFKA_MAX_RECORD_BYTES - KAFKA_RECORD_OVERHEAD
                ));
                e.field = Some(field);
                return Err(e);
            }
            let partition = match &record.partition {
                None | Some(Value::Null) => None,
                Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| *p >= 0) {
                    Some(p) => Some(p),
                    None => {
                        return Err(unprocessable(
                            format!("records[{i}].partition"),
                            format!("records[{i}].partition must be a partition number, not {p}"),
                        ));
                    }
                },
            };
            checked.push((value, key, partition));
        }
        let partitions = match kafka.partitions_of(topic).await.map_err(kafka_error)? {
            Some(partitions) if !partitions.is_empty() => partitions,
            _ => {
                let mut e =
                    ApiError::new(StatusCode::NOT_FOUND, "topic_not_found", format!("Topic {topic} not found."));
                e.error_code = Some(40401);
                return Err(e);
            }
        };
        // Each record's partition, then one produce call per partition, in request order.
        let mut by_partition: std::collections::BTreeMap<i32, Vec<usize>> = Default::default();
        let mut batches: std::collections::BTreeMap<i32, Vec<TopicRecord>> = Default::default();
        let now = chrono::Utc::now();
        for (i, (value, key, partition)) in checked.into_iter().enumerate() {
            let partition = match partition {
                Some(p) if partitions.contains(&p) => p,
                Some(p) => {
                    let mut e = ApiError::new(
                        StatusCode::NOT_FOUND,
                        "partition_not_found",
                        format!("Partition {p} of topic {topic} not found."),
                    );
                    e.error_code = Some(40402);
                    e.field = Some(format!("records[{i}].partition"));
                    return Err(e);
                }
                None => self.choose(key.as_deref(), &partitions),
            };
            by_partition.entry(partition).or_default().push(i);
            batches.entry(partition).or_default().push(TopicRecord { key, value, timestamp: now });
        }
        let mut offsets = vec![json!(null); records.len()];
        let mut failed = 0;
        let mut first_error = None;
        for (partition, batch) in batches {
            let indices = &by_partition[&partition];
            // One produce request stays under the broker's limit: split a large batch.
            let mut start = 0;
            for chunk in request_sized(batch) {
                let taken = &indices[start..start + chunk.len()];
                start += chunk.len();
                match kafka.produce(topic, partition, chunk).await {
                    Ok(produced) => {
                        for (i, offset) in taken.iter().zip(produced) {
                            offsets[*i] =
                                json!({ "partition": partition, "offset": offset, "error_code": null, "error": null });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%topic, partition, %error, "produce failed");
                        failed += taken.len();
                        let answer = kafka_error(error.clone());
                        for i in taken {
                            offsets[*i] = json!({ "partition": partition, "offset": null, "error_code": answer.error_code, "error": error.to_string() });
                        }
                        first_error.get_or_insert(answer);
                    }
                }
            }
        }
        if failed == records.len()
            && let Some(error) = first_error
        {
            return Err(error);
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({ "key_schema_id": null, "value_schema_id": null, "offsets": offsets }),
        ))
    }
}

/// Splits a partition's records into produce requests under [`KAFKA_MAX_RECORD_BYTES`].
fn request_sized(records: Vec<TopicRecord>) -> Vec<Vec<TopicRecord>> {
    let mut chunks: Vec<Vec<TopicRecord>> = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = record.value.len() + record.key.as_ref().map_or(0, Vec::len) + KAFKA_RECORD_OVERHEAD;
        match chunks.last_mut() {
            Some(chunk) if bytes + size <= KAFKA_MAX_RECORD_BYTES => {
                bytes += size;
                chunk.push(record);
            }
            _ => {
                bytes = size;
                chunks.push(vec![record]);
            }
        }
    }
    chunks
}

/// Kafka failures as answers, in Confluent's envelope: only what may pass on retry
/// (the broker unreachable, a leader moving) is a retryable 503; a record over the
/// broker's limit is a 413 and an unknown topic a 404, neither worth retrying.
fn kafka_error(error: ServiceError) -> ApiError {
    let (status, retryable, detail, message) = match &error {
        ServiceError::Unreachable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, true, 1, format!("Kafka could not be reached: {error}; try again"))
        }
        ServiceError::Refused { code, .. } if code == "MessageTooLarge" || code == "RecordListTooLarge" => {
            (StatusCode::PAYLOAD_TOO_LARGE, false, 1, format!("Kafka refused the records as too large: {error}"))
        }
        ServiceError::Refused { code, .. } if code == "UnknownTopicOrPartition" => {
            (StatusCode::NOT_FOUND, false, 1, format!("Kafka does not know the topic or partition: {error}"))
        }
        ServiceError::Refused { .. } => (StatusCode::BAD_GATEWAY, false, 1, format!("Kafka refused: {error}")),
        ServiceError::Unreadable(_) => {
            (StatusCode::BAD_GATEWAY, true, 2, format!("Kafka answered with something unreadable: {error}"))
        }
    };
    let mut e = ApiError::upstream(status, retryable, message);
    if !status.is_server_error() {
        e.retryable = None;
        e.code = "kafka_refused";
    }
    e.confluent(detail)
}

fn request_path(request: &Request) -> &str {
    let raw_path = request.raw_http_path();
    if raw_path.is_empty() { request.uri().path() } else { raw_path }
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let mut error =
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not the JSON expected: {e}"));
        error.field = Some("body".into());
        error
    })
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

/// The plain JSON bytes of a record sent as an object, or as a string holding one,
/// on one line (a bronze object holds one record per line).
fn object_bytes(raw: Option<&RawValue>, field: &str) -> Result<Vec<u8>, ApiError> {
    let Some(raw) = raw else {
        return Err(ApiError::bad_field(field, format!("{field} is missing: send the record as a JSON object")));
    };
    let text = raw.get();
    let data: Vec<u8> = if text.starts_with('{') {
        single_line(text).into_owned().into_bytes()
    } else if text.starts_with('"') {
        // serde_json's RawValue lets a lone surrogate (`"\udc00"`) through; a String does not.
        let inner: String = serde_json::from_str(text).map_err(|e| {
            ApiError::bad_field(field, format!("{field} is a string that is not valid Unicode text: {e}"))
        })?;
        match serde_json::from_str::<&RawValue>(&inner) {
            Ok(value) if value.get().starts_with('{') => single_line(value.get()).into_owned().into_bytes(),
            _ => {
                return Err(ApiError::bad_field(
                    field,
                    format!("{field} is a string, but not one holding a JSON object"),
                ));
            }
        }
    } else {
        return Err(ApiError::bad_field(field, format!("{field} must be a JSON object (or a string holding one)")));
    };
    if data.len() > MAX_RECORD_BYTES {
        return Err(ApiError::too_large(format!(
            "{field} is {} bytes; a record holds at most {MAX_RECORD_BYTES}",
            data.len()
        )));
    }
    Ok(data)
}

/// A JSON text on one line: unchanged when it has no line break outside its strings
/// (so the original scripts' bytes are stored byte for byte), otherwise with all
/// white space outside strings removed; bytes inside strings are never touched (a
/// line break inside a JSON string is always escaped).
pub fn single_line(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains(['\n', '\r']) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Checks that the cleaner can read `data` as the kind `name` (a stream or topic) carries.
fn check_kind(name: &str, data: Vec<u8>, field: &str) -> Result<Vec<u8>, ApiError> {
    if let Some(kind) = Kind::from_suffix(name)
        && let Err(reason) = clean_record(kind, &data)
    {
        let named = match reason.field() {
            Some(f) => format!("{field}.{f}"),
            None => field.to_owned(),
        };
        let message = match reason {
            QuarantineReason::WrongKind { .. } => format!("{field} is {reason}"),
            _ => format!("{field} is not a {kind} record the cleaner can read: {reason}"),
        };
        return Err(ApiError::bad_field(named, message));
    }
    Ok(data)
}

/// Creating and deleting streams is for callers API Gateway authenticated with IAM.
fn require_iam(request: &Request) -> Result<(), ApiError> {
    let authorised = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.user_arn.is_some() || ctx.identity.access_key.is_some(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().is_some_and(|a| a.iam.is_some()),
        _ => false,
    };
    if authorised {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "creating and deleting streams needs a caller with IAM authorisation",
        ))
    }
}

/// Kinesis failures as answers: a missing stream is the caller's 404; throttling and
/// unreachable service are retryable 503s; other upstream failures 502s.
fn service_error(error: ServiceError, stream: Option<&str>) -> ApiError {
    match error {
        ServiceError::Refused { code, message } => match code.as_str() {
            "ResourceNotFoundException" => {
                let mut e = ApiError::new(
                    StatusCode::NOT_FOUND,
                    "stream_not_found",
                    format!("stream {:?} does not exist", stream.unwrap_or("")),
                );
                e.field = Some("stream-name".into());
                e
            }
            // A stream this function may not touch (another deployment's): as good as absent,
            // and the upstream text (account id, role) is not the caller's business.
            "AccessDeniedException" => {
                tracing::warn!(%message, "Kinesis denied access");
                let mut e = ApiError::new(
                    StatusCode::NOT_FOUND,
                    "stream_not_found",
                    format!("stream {:?} does not exist", stream.unwrap_or("")),
                );
                e.field = Some("stream-name".into());
                e
            }
            "ResourceInUseException" => ApiError::new(StatusCode::CONFLICT, "stream_in_use", message),
            "InvalidArgumentException" | "ValidationException" => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
            }
            "ProvisionedThroughputExceededException"
            | "LimitExceededException"
            | "ThrottlingException"
            | "KMSThrottlingException" => ApiError::upstream(
                StatusCode::SERVICE_UNAVAILABLE,
                true,
                format!("Kinesis is throttling: {code}: {message}"),
            ),
            _ => ApiError::upstream(StatusCode::BAD_GATEWAY, false, format!("Kinesis refused: {code}: {message}")),
        },
        ServiceError::Unreachable(_) => {
            ApiError::upstream(StatusCode::SERVICE_UNAVAILABLE, true, "Kinesis could not be reached; try again")
        }
        ServiceError::Unreadable(_) => {
            ApiError::upstream(StatusCode::BAD_GATEWAY, true, "Kinesis answered with something unreadable; try again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stored_on_one_line_and_strings_are_untouched() {
        let compact = r#"{"index": 1, "title": "a\nb  c"}"#;
        assert!(matches!(single_line(compact), std::borrow::Cow::Borrowed(_)), "already one line: kept byte for byte");
        let pretty = "{\n  \"index\": 1,\n  \"title\": \"a\\n b \\\" \\u2028 😀 \\/\"\n}";
        assert_eq!(single_line(pretty), "{\"index\":1,\"title\":\"a\\n b \\\" \\u2028 😀 \\/\"}");
        let value: serde_json::Value = serde_json::from_str(&single_line(pretty)).unwrap();
        assert_eq!(value["title"], "a\n b \" \u{2028} 😀 /");
    }

    #[test]
    fn a_lone_surrogate_in_a_string_record_is_a_400_not_a_panic() {
        let raw: &RawValue = serde_json::from_str(r#""\udc00""#).unwrap();
        let error = object_bytes(Some(raw), "Data").unwrap_err();
        assert_eq!((error.status, error.field.as_deref()), (StatusCode::BAD_REQUEST, Some("Data")));
        assert!(error.message.contains("not valid Unicode"), "{}", error.message);
    }

    #[test]
    fn routes_on_the_raw_path_with_or_without_a_stage() {
        assert_eq!(route("/streams"), Some(Route::Streams));
        assert_eq!(route("/Prod/streams/s-pin/record"), Some(Route::Record("s-pin")));
        assert_eq!(route("/lambda-url/ingest/streams/s-pin/records"), Some(Route::Records("s-pin")));
        assert_eq!(route("/streams/s-pin/"), Some(Route::Stream("s-pin")));
        assert_eq!(route("/topics/0a1b.pin"), Some(Route::Topic("0a1b.pin")));
        assert_eq!(route("/streams/a/b/c"), None);
        assert_eq!(route("/nothing"), None);
    }
}
