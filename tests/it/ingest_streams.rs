//! ingest's `/streams` routes (SPEC §5) against moto Kinesis: the original scripts'
//! request shapes land as plain JSON bytes, every error is a JSON 4xx/5xx that
//! names the problem, and a rejected request writes nothing.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe::ingest::services::{EntryFailure, Placed, ServiceError, StreamEntry, StreamService, StreamSummary};
use pinpipe::ingest::{Ingest, MAX_PUT_RECORDS, MAX_RECORD_BYTES};
use pinpipe_tests::apigw::{v1, v2};
use pinpipe_tests::{openapi, sample_lines, stack};
use serde_json::{Value, json};

struct Api {
    ingest: Ingest,
    kinesis: aws_sdk_kinesis::Client,
    doc: Value,
}

impl Api {
    async fn new() -> Api {
        let kinesis = stack::kinesis().await;
        Api { ingest: Ingest::new(kinesis.clone()), kinesis, doc: openapi::document() }
    }

    /// Calls the API and checks the answer against the OpenAPI document.
    async fn call(&self, request: Request) -> (StatusCode, Value) {
        let (method, path) = (request.method().to_string(), request.raw_http_path().to_owned());
        let response: Response<Body> = self.ingest.handle(request).await;
        let status = response.status();
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = serde_json::from_slice(response.body().as_ref()).expect("every answer is JSON");
        openapi::check(&self.doc, &method, &path, status.as_u16(), &body);
        (status, body)
    }

    /// A new stream named like the original project's (`streaming-<id>-<kind>`).
    async fn stream(&self, kind: &str, shards: i32) -> String {
        let name = format!("streaming-{}-{kind}", stack::unique_name("ing").replace('-', ""));
        self.kinesis
            .create_stream()
            .stream_name(&name)
            .shard_count(shards)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", stack::not_running("moto Kinesis", e)));
        name
    }

    /// Every record's data in the stream, in shard then sequence order.
    async fn read_back(&self, stream: &str) -> Vec<String> {
        stack::read_stream(&self.kinesis, stream)
            .await
            .into_iter()
            .map(|(_, data)| String::from_utf8(data).unwrap())
            .collect()
    }
}

fn real(file: &str, n: usize) -> String {
    sample_lines(file)[n].clone()
}

/// A real pin with its title replaced by `title`.
fn pin_titled(title: &str) -> String {
    let mut pin: Value = serde_json::from_str(&real("sample_pin.jsonl", 0)).unwrap();
    pin["title"] = title.into();
    pin.to_string()
}

#[tokio::test]
async fn a_record_of_another_kind_is_a_400_saying_what_it_looks_like() {
    let api = Api::new().await;
    let streams = [
        ("pin", api.stream("pin", 1).await),
        ("geo", api.stream("geo", 1).await),
        ("user", api.stream("user", 1).await),
    ];
    let first_key = |kind: &str| match kind {
        "pin" => "unique_id",
        "geo" => "timestamp",
        _ => "first_name",
    };
    for (kind, _) in &streams {
        let record = real(&format!("sample_{kind}.jsonl"), 3);
        for (other, stream) in streams.iter().filter(|(k, _)| k != kind) {
            let body = format!(r#"{{"Data": {record}, "PartitionKey": "k"}}"#);
            let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/record"), &body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{kind} to {other}: {answer}");
            assert_eq!(answer["field"], format!("Data.{}", first_key(other)), "{answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(&format!("not a {other} record")), "{message}");
            assert!(message.contains(&format!("it looks like a {kind} record")), "{message}");
            // PutRecords too, the bad record named by its index.
            let body = format!(r#"{{"records": [{{"data": {record}, "partition-key": "k"}}]}}"#);
            let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await;
            assert_eq!(
                (status, answer["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(format!("records[0].Data.{}", first_key(other)).as_str()))
            );
        }
    }
    for (_, stream) in &streams {
        assert_eq!(api.read_back(stream).await, Vec::<String>::new(), "nothing written to {stream}");
    }
    // Every real sample is still accepted by its own stream.
    for (kind, stream) in &streams {
        let lines = sample_lines(&format!("sample_{kind}.jsonl"));
        for chunk in lines.chunks(MAX_PUT_RECORDS) {
            let records: Vec<String> =
                chunk.iter().map(|l| format!(r#"{{"data": {l}, "partition-key": "k"}}"#)).collect();
            let body = format!(r#"{{"records": [{}]}}"#, records.join(","));
            let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await;
            assert_eq!((status, answer["FailedRecordCount"].as_i64()), (StatusCode::OK, Some(0)), "{kind}: {answer}");
        }
        assert_eq!(api.read_back(stream).await.len(), lines.len());
    }
}

#[tokio::test]
async fn pretty_printed_and_exotic_records_are_stored_on_one_line_strings_untouched() {
    let api = Api::new().await;
    let stream = api.stream("pin", 1).await;
    let original = real("sample_pin.jsonl", 2);
    let value: Value = serde_json::from_str(&original).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    // Escapes as a client may write them: \u2028, an escaped slash and quotes; an emoji.
    let exotic = pin_titled("TITLE").replace(r#""TITLE""#, r#""line\u2028sep 😀 \/ escaped \"slash\" /""#);
    let bodies = [
        format!(r#"{{"Data": {original}, "PartitionKey": "k"}}"#),
        format!("{{\n  \"Data\": {pretty},\n  \"PartitionKey\": \"k\"\n}}"),
        json!({"Data": pretty, "PartitionKey": "k"}).to_string(),
        format!(r#"{{"Data": {exotic}, "PartitionKey": "k"}}"#),
    ];
    for body in &bodies {
        let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/record"), body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let stored = api.read_back(&stream).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0], original, "a one-line record is kept byte for byte");
    for line in &stored {
        assert!(!line.contains('\n'), "one line: {line}");
    }
    assert_eq!(serde_json::from_str::<Value>(&stored[1]).unwrap(), value, "the pretty record, compacted");
    assert_eq!(stored[1], stored[2], "the same as a string holding it");
    assert_eq!(stored[3], exotic, "escapes, emoji and \\u2028 untouched");
}

#[tokio::test]
async fn a_lone_surrogate_is_a_400() {
    let api = Api::new().await;
    let stream = api.stream("geo", 1).await;
    let (status, answer) =
        api.call(v2("PUT", &format!("/streams/{stream}/record"), r#"{"Data": "\udc00", "PartitionKey": "k"}"#)).await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("Data")), "{answer}");
    let (status, answer) = api
        .call(v2(
            "PUT",
            &format!("/streams/{stream}/records"),
            r#"{"records": [{"data": "\ud800x", "partition-key": "k"}]}"#,
        ))
        .await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("records[0].Data")), "{answer}");
    // Object-form records (the usual shape): a lone surrogate in a field the cleaner
    // keeps, and in one it ignores; either would make a record the lake cannot hold.
    let geo: Value = serde_json::from_str(&real("sample_geo.jsonl", 0)).unwrap();
    let with = |field: &str| {
        let mut text = geo.to_string();
        text.insert_str(text.len() - 1, &format!(r#","{field}":"\udc00""#));
        text.replacen(r#""country":"#, r#""country_was":"#, usize::from(field == "country"))
    };
    for (field, record) in [("country", with("country")), ("ignored", with("ignored"))] {
        let body = format!(r#"{{"Data": {record}, "PartitionKey": "k"}}"#);
        let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/record"), &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a surrogate in {field}: {answer}");
        assert!(answer["field"].as_str().is_some_and(|f| f.starts_with("Data")), "{field}: {answer}");
        let body = format!(r#"{{"records": [{{"data": {record}, "partition-key": "k"}}]}}"#);
        let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a surrogate in {field}: {answer}");
        assert!(answer["field"].as_str().is_some_and(|f| f.starts_with("records[0].Data")), "{field}: {answer}");
    }
    assert_eq!(api.read_back(&stream).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_original_scripts_record_shapes_land_as_plain_json_bytes() {
    let api = Api::new().await;
    let stream = api.stream("pin", 1).await;
    let pin = real("sample_pin.jsonl", 0);
    // Data as an object, exactly as the bytes were sent (key order and spacing kept).
    let body = format!(r#"{{"StreamName": "{stream}", "Data": {pin}, "PartitionKey": "partition-1"}}"#);
    let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/record"), &body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["SequenceNumber"].is_string() && answer["ShardId"].is_string(), "{answer}");
    // Data as a string holding the object: the original streaming script's json.dumps.
    let pin2 = real("sample_pin.jsonl", 1);
    let body = json!({"StreamName": stream, "Data": pin2, "PartitionKey": "partition-1"}).to_string();
    let (status, _) = api.call(v1("PUT", &format!("/streams/{stream}/record"), &body, false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.read_back(&stream).await, vec![pin, pin2]);
}

#[tokio::test]
async fn a_records_batch_lands_with_per_record_results() {
    let api = Api::new().await;
    let stream = api.stream("geo", 2).await;
    let geos: Vec<String> = (0..10).map(|i| real("sample_geo.jsonl", i)).collect();
    let records: Vec<String> = geos
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i % 2 == 0 {
                format!(r#"{{"data": {g}, "partition-key": "k{i}"}}"#)
            } else {
                json!({"Data": g, "PartitionKey": format!("k{i}")}).to_string()
            }
        })
        .collect();
    let body = format!(r#"{{"records": [{}]}}"#, records.join(","));
    let (status, answer) = api.call(v1("PUT", &format!("/streams/{stream}/records"), &body, false)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["FailedRecordCount"], 0);
    assert_eq!(answer["Records"].as_array().unwrap().len(), 10);
    assert!(answer["Records"].as_array().unwrap().iter().all(|r| r["SequenceNumber"].is_string()));
    let mut read = api.read_back(&stream).await;
    let mut sent = geos.clone();
    read.sort();
    sent.sort();
    assert_eq!(read, sent);
    // `Records` (capitalised) is accepted too.
    let body = format!(r#"{{"Records": [{{"Data": {}, "PartitionKey": "x"}}]}}"#, geos[0]);
    assert_eq!(api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_records_are_400s_naming_the_field_and_nothing_is_written() {
    let api = Api::new().await;
    let stream = api.stream("geo", 1).await;
    let good = real("sample_geo.jsonl", 0);
    let record = format!("/streams/{stream}/record");
    let records = format!("/streams/{stream}/records");
    let cases: Vec<(String, String, &str)> = vec![
        (record.clone(), "{not json".into(), "body"),
        (record.clone(), r#"{"PartitionKey": "k"}"#.into(), "Data"),
        (record.clone(), r#"{"Data": [1, 2], "PartitionKey": "k"}"#.into(), "Data"),
        (record.clone(), r#"{"Data": "plain text", "PartitionKey": "k"}"#.into(), "Data"),
        (record.clone(), r#"{"Data": {"country": "Chad"}, "PartitionKey": "k"}"#.into(), "Data.ind"),
        (
            record.clone(),
            r#"{"Data": {"ind": 1, "timestamp": null, "latitude": "north", "longitude": 1, "country": "Chad"}, "PartitionKey": "k"}"#
                .into(),
            "Data.latitude",
        ),
        // A geo record without its own keys (SPEC §5: each kind carries its own).
        (record.clone(), r#"{"Data": {"ind": 1, "latitude": 1.5}, "PartitionKey": "k"}"#.into(), "Data.timestamp"),
        (record.clone(), format!(r#"{{"Data": {good}}}"#), "PartitionKey"),
        (record.clone(), format!(r#"{{"Data": {good}, "PartitionKey": ""}}"#), "PartitionKey"),
        (record.clone(), format!(r#"{{"StreamName": "other", "Data": {good}, "PartitionKey": "k"}}"#), "StreamName"),
        (records.clone(), r#"{"records": []}"#.into(), "records"),
        (records.clone(), r#"{"rows": []}"#.into(), "records"),
        // One bad record among good ones: the whole request is refused, nothing sent.
        (
            records.clone(),
            format!(
                r#"{{"records": [{{"data": {good}, "partition-key": "a"}}, {{"data": {{"ind": "x"}}, "partition-key": "b"}}]}}"#
            ),
            "records[1].Data.ind",
        ),
    ];
    for (path, body, field) in cases {
        let (status, answer) = api.call(v2("PUT", &path, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(api.read_back(&stream).await, Vec::<String>::new(), "nothing half-written");
}

#[tokio::test]
async fn limits_are_413s() {
    let api = Api::new().await;
    let stream = api.stream("pin", 1).await;
    let big = format!(r#"{{"index": 1, "description": "{}"}}"#, "x".repeat(MAX_RECORD_BYTES));
    let (status, answer) = api
        .call(v2("PUT", &format!("/streams/{stream}/record"), &json!({"Data": big, "PartitionKey": "k"}).to_string()))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let one = format!(r#"{{"data": {}, "partition-key": "k"}}"#, real("sample_pin.jsonl", 0));
    let body = format!(r#"{{"records": [{}]}}"#, vec![one; MAX_PUT_RECORDS + 1].join(","));
    assert_eq!(
        api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Six records of ~0.9 MiB: each fits, together they pass PutRecords' 5 MiB.
    let chunk = format!(r#"{{"data": {}, "partition-key": "k"}}"#, pin_titled(&"y".repeat(900_000)));
    let body = format!(r#"{{"records": [{}]}}"#, [chunk.as_str(); 6].join(","));
    let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(api.read_back(&stream).await, Vec::<String>::new());
}

#[tokio::test]
async fn unknown_streams_paths_and_methods() {
    let api = Api::new().await;
    let body = format!(r#"{{"Data": {}, "PartitionKey": "k"}}"#, real("sample_pin.jsonl", 0));
    let (status, answer) = api.call(v2("PUT", "/streams/streaming-nope-pin/record", &body)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::NOT_FOUND, Some("stream_not_found")), "{answer}");
    let (status, _) = api.call(v2("GET", "/streams/streaming-nope-pin", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.call(v2("GET", "/elsewhere", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = api.ingest.handle(v2("GET", "/streams/x/record", "")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "PUT");
    let (status, _) = api.call(v2("PATCH", "/streams", "")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn admin_routes_need_iam_and_list_and_describe_work() {
    let api = Api::new().await;
    let name = format!("streaming-{}-user", stack::unique_name("adm").replace('-', ""));
    let (status, answer) = api.call(v1("POST", &format!("/streams/{name}"), r#"{"ShardCount": 2}"#, false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, answer) = api.call(v2("DELETE", &format!("/streams/{name}"), "")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, answer) = api.call(v1("POST", &format!("/streams/{name}"), r#"{"ShardCount": 0}"#, true)).await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ShardCount")));

    let (status, answer) = api.call(v1("POST", &format!("/streams/{name}"), r#"{"ShardCount": 2}"#, true)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = api.call(v1("GET", "/streams", "", false)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer["StreamNames"].as_array().unwrap().iter().any(|n| n == &json!(name)), "{answer}");
    let (status, answer) = api.call(v1("GET", &format!("/streams/{name}"), "", false)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((answer["StreamName"].as_str(), answer["ShardCount"].as_i64()), (Some(name.as_str()), Some(2)));
    assert_eq!(answer.get("StreamARN"), None, "an anonymous caller is not told the account: {answer}");
    let (status, answer) = api.call(v1("GET", &format!("/streams/{name}"), "", true)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer["StreamARN"].as_str().unwrap().ends_with(&format!(":stream/{name}")), "{answer}");
    let (status, answer) = api.call(v1("DELETE", &format!("/streams/{name}"), "", true)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn an_unreachable_kinesis_is_a_retryable_503() {
    // A port nothing listens on, on 127.0.0.1.
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new("t", "t", None, None, "t"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let ingest = Ingest::new(aws_sdk_kinesis::Client::new(&aws));
    let body = format!(r#"{{"Data": {}, "PartitionKey": "k"}}"#, real("sample_pin.jsonl", 0));
    let response = ingest.handle(v2("PUT", "/streams/streaming-x-pin/record", &body)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["retryable"], true);
    openapi::check(&openapi::document(), "PUT", "/streams/streaming-x-pin/record", 503, &body);
}

#[test]
#[should_panic(expected = "status 418 is not documented")]
fn the_openapi_check_rejects_an_undocumented_status() {
    openapi::check(&openapi::document(), "PUT", "/streams/s/record", 418, &json!({"error": "x", "message": "y"}));
}

#[test]
#[should_panic(expected = "the body lacks `ShardId`")]
fn the_openapi_check_rejects_a_body_missing_a_required_property() {
    openapi::check(&openapi::document(), "PUT", "/streams/s/record", 200, &json!({"SequenceNumber": "1"}));
}

#[tokio::test]
async fn a_deployment_sees_and_writes_only_its_own_streams() {
    let kinesis = stack::kinesis().await;
    let id = stack::unique_name("dep").replace('-', "").chars().take(20).collect::<String>();
    let (own, others) = (format!("streaming-{id}-geo"), format!("streaming-{id}x-geo"));
    for name in [&own, &others] {
        kinesis.create_stream().stream_name(name.as_str()).shard_count(1).send().await.unwrap();
    }
    let api = Api { ingest: Ingest::new(kinesis.clone()).for_deployment(&id), kinesis, doc: openapi::document() };
    let (status, answer) = api.call(v2("GET", "/streams", "")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = answer["StreamNames"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(names, vec![own.as_str()], "only this deployment's streams are listed");
    let body = format!(r#"{{"Data": {}, "PartitionKey": "k"}}"#, real("sample_geo.jsonl", 0));
    let (status, answer) = api.call(v2("PUT", &format!("/streams/{others}/record"), &body)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::NOT_FOUND, Some("stream_not_found")), "{answer}");
    let (status, _) = api.call(v2("GET", &format!("/streams/{others}"), "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.call(v2("PUT", &format!("/streams/{own}/record"), &body)).await.0, StatusCode::OK);
    assert_eq!(api.read_back(&others).await, Vec::<String>::new(), "nothing written to another deployment's stream");
    assert_eq!(api.read_back(&own).await.len(), 1);
}

/// Kinesis as a scripted fake, beside the moto tests above: each call answers what
/// the test scripts (the failures moto does not make: throttling, refusals, a
/// partial PutRecords).
struct Scripted {
    failure: Option<ServiceError>,
    /// PutRecords: which entries fail on their own.
    failing_entries: Vec<usize>,
}

#[async_trait::async_trait]
impl StreamService for Scripted {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        self.failure.clone().map_or(Ok(Vec::new()), Err)
    }
    async fn describe_stream(&self, _: &str) -> Result<StreamSummary, ServiceError> {
        Err(self.failure.clone().unwrap_or(ServiceError::NotFound("scripted".into())))
    }
    async fn create_stream(&self, _: &str, _: i32) -> Result<(), ServiceError> {
        self.failure.clone().map_or(Ok(()), Err)
    }
    async fn delete_stream(&self, _: &str) -> Result<(), ServiceError> {
        self.failure.clone().map_or(Ok(()), Err)
    }
    async fn put_record(&self, _: &str, _: StreamEntry) -> Result<Placed, ServiceError> {
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(Placed { sequence_number: "1".into(), shard_id: "shardId-000000000000".into() }),
        }
    }
    async fn put_records(
        &self,
        _: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        Ok((0..entries.len())
            .map(|i| {
                if self.failing_entries.contains(&i) {
                    Err(EntryFailure {
                        code: "ProvisionedThroughputExceededException".into(),
                        message: "Rate exceeded for shard shardId-000000000000".into(),
                    })
                } else {
                    Ok(Placed { sequence_number: format!("{}", i + 1), shard_id: "shardId-000000000000".into() })
                }
            })
            .collect())
    }
}

async fn scripted_call(service: Scripted, request: Request) -> (StatusCode, Value) {
    let (method, path) = (request.method().to_string(), request.raw_http_path().to_owned());
    let response = Ingest::new(service).handle(request).await;
    let status = response.status();
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("every answer is JSON");
    openapi::check(&openapi::document(), &method, &path, status.as_u16(), &body);
    (status, body)
}

#[tokio::test]
async fn kinesis_throttling_is_a_retryable_503_and_a_refusal_a_502() {
    let body = format!(r#"{{"Data": {}, "PartitionKey": "k"}}"#, real("sample_pin.jsonl", 0));
    let throttled = Scripted {
        failure: Some(ServiceError::Throttled("ProvisionedThroughputExceededException: Rate exceeded".into())),
        failing_entries: vec![],
    };
    let (status, answer) = scripted_call(throttled, v2("PUT", "/streams/streaming-x-pin/record", &body)).await;
    assert_eq!((status, answer["retryable"].as_bool()), (StatusCode::SERVICE_UNAVAILABLE, Some(true)), "{answer}");
    assert_eq!(answer["error"], "upstream_unavailable");

    let refused = Scripted {
        failure: Some(ServiceError::Refused {
            code: "KMSDisabledException".into(),
            message: "the stream's key is disabled".into(),
        }),
        failing_entries: vec![],
    };
    let (status, answer) = scripted_call(refused, v2("PUT", "/streams/streaming-x-pin/record", &body)).await;
    assert_eq!((status, answer["retryable"].as_bool()), (StatusCode::BAD_GATEWAY, Some(false)), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("KMSDisabledException"), "{answer}");

    // Another deployment's stream (AccessDenied): a 404 without the upstream text.
    let denied = Scripted {
        failure: Some(ServiceError::AccessDenied(
            "AccessDeniedException: User arn:aws:sts::1234:assumed-role/x".into(),
        )),
        failing_entries: vec![],
    };
    let (status, answer) = scripted_call(denied, v2("PUT", "/streams/streaming-x-pin/record", &body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(!answer.to_string().contains("1234"), "{answer}");
}

#[tokio::test]
async fn a_partial_put_records_answers_each_records_outcome() {
    let pins: Vec<String> = (0..3).map(|i| real("sample_pin.jsonl", i)).collect();
    let records: Vec<String> = pins.iter().map(|p| format!(r#"{{"data": {p}, "partition-key": "k"}}"#)).collect();
    let body = format!(r#"{{"records": [{}]}}"#, records.join(","));
    let service = Scripted { failure: None, failing_entries: vec![1] };
    let (status, answer) = scripted_call(service, v2("PUT", "/streams/streaming-x-pin/records", &body)).await;
    assert_eq!((status, answer["FailedRecordCount"].as_i64()), (StatusCode::OK, Some(1)), "{answer}");
    let results = answer["Records"].as_array().unwrap();
    assert!(results[0]["SequenceNumber"].is_string() && results[2]["SequenceNumber"].is_string(), "{answer}");
    assert_eq!(results[1]["ErrorCode"], "ProvisionedThroughputExceededException", "{answer}");
}

#[tokio::test]
async fn put_records_to_an_unknown_stream_is_a_404() {
    let api = Api::new().await;
    let body = format!(r#"{{"records": [{{"data": {}, "partition-key": "k"}}]}}"#, real("sample_pin.jsonl", 0));
    let (status, answer) = api.call(v2("PUT", "/streams/streaming-nope-pin/records", &body)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::NOT_FOUND, Some("stream_not_found")), "{answer}");
}

/// `events/apigw-put-records.json`, the API Gateway event of a PutRecords call, for
/// this test's deployment: its records land in the stream.
#[tokio::test]
async fn the_put_records_sample_event_lands_its_records() {
    let api = Api::new().await;
    let stream = api.stream("pin", 1).await;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/apigw-put-records.json"))
        .unwrap()
        .replace("streaming-0a1b2c3d4e5f-pin", &stream);
    let sent: Value = serde_json::from_str(&text).unwrap();
    let request = lambda_http::request::from_str(&text).expect("an API Gateway event");
    let (status, answer) = api.call(request).await;
    assert_eq!((status, answer["FailedRecordCount"].as_i64()), (StatusCode::OK, Some(0)), "{answer}");
    let records: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    let count = records["records"].as_array().unwrap().len();
    assert!(count > 1, "the sample sends several records");
    assert_eq!(api.read_back(&stream).await.len(), count);
}
