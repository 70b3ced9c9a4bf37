//! ingest's `/streams` routes (SPEC §5) against moto Kinesis: the original scripts'
//! request shapes land as plain JSON bytes, every error is a JSON 4xx/5xx that
//! names the problem, and a rejected request writes nothing.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
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
        (record.clone(), r#"{"Data": {"ind": 1, "latitude": "north"}, "PartitionKey": "k"}"#.into(), "Data.latitude"),
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
    let one = r#"{"data": {"index": 1}, "partition-key": "k"}"#;
    let body = format!(r#"{{"records": [{}]}}"#, [one; MAX_PUT_RECORDS + 1].join(","));
    assert_eq!(
        api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Six records of ~0.9 MiB: each fits, together they pass PutRecords' 5 MiB.
    let chunk = format!(r#"{{"data": {{"index": 1, "title": "{}"}}, "partition-key": "k"}}"#, "y".repeat(900_000));
    let body = format!(r#"{{"records": [{}]}}"#, [chunk.as_str(); 6].join(","));
    let (status, answer) = api.call(v2("PUT", &format!("/streams/{stream}/records"), &body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(api.read_back(&stream).await, Vec::<String>::new());
}

#[tokio::test]
async fn unknown_streams_paths_and_methods() {
    let api = Api::new().await;
    let (status, answer) = api
        .call(v2("PUT", "/streams/streaming-nope-pin/record", r#"{"Data": {"index": 1}, "PartitionKey": "k"}"#))
        .await;
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
    assert!(answer["StreamARN"].as_str().unwrap().ends_with(&format!(":stream/{name}")));
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
    let response = ingest
        .handle(v2("PUT", "/streams/streaming-x-pin/record", r#"{"Data": {"index": 1}, "PartitionKey": "k"}"#))
        .await;
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
