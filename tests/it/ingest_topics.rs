//! ingest's `POST /topics/{topic}` (SPEC §5, Kafka REST proxy v2 produce) against
//! the tansu broker: the original script's request lands as the object's plain JSON
//! bytes at the offsets answered, as an independent consumer (Python
//! confluent-kafka) reads them; errors come in Confluent's envelope.

use std::process::Command;
use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe::ingest::Ingest;
use pinpipe::kafka::KafkaProducer;
use pinpipe_tests::apigw::{v1, v2};
use pinpipe_tests::readers::python;
use pinpipe_tests::{openapi, sample_lines, stack};
use rskafka::client::ClientBuilder;
use serde_json::{Value, json};

const JSON_V2: &str = "application/vnd.kafka.json.v2+json";

struct Api {
    ingest: Ingest,
    doc: Value,
}

impl Api {
    async fn new() -> Api {
        let producer = KafkaProducer::connect(&stack::kafka_bootstrap())
            .await
            .unwrap_or_else(|e| panic!("{}", stack::not_running("the tansu Kafka broker", e)));
        Api { ingest: Ingest::new(stack::kinesis().await).with_kafka(Arc::new(producer)), doc: openapi::document() }
    }

    /// POSTs `body` with `content_type` through API Gateway v1 and checks the answer against the OpenAPI document.
    async fn post(&self, topic: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
        let mut request = v1("POST", &format!("/topics/{topic}"), body, false);
        request.headers_mut().insert("content-type", content_type.parse().unwrap());
        self.call(request).await
    }

    async fn call(&self, request: Request) -> (StatusCode, Value) {
        let (method, path) = (request.method().to_string(), request.raw_http_path().to_owned());
        let response: Response<Body> = self.ingest.handle(request).await;
        let status = response.status();
        let body: Value = serde_json::from_slice(response.body().as_ref()).expect("every answer is JSON");
        openapi::check(&self.doc, &method, &path, status.as_u16(), &body);
        (status, body)
    }
}

/// A new topic named like the original project's (`<id>.<kind>`).
async fn topic(kind: &str, partitions: i32) -> String {
    let name = format!("{}.{kind}", stack::unique_name("topic").replace('-', ""));
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    client.controller_client().unwrap().create_topic(&name, partitions, 1, 5_000).await.unwrap();
    name
}

/// What Python confluent-kafka reads from the topic: (partition, offset, value), sorted.
fn consume(topic: &str, count: usize) -> Vec<(i32, i64, String)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/kafka_consume.py");
    let out =
        Command::new(python()).args([script, &stack::kafka_bootstrap(), topic, &count.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn compact(line: &str) -> String {
    serde_json::to_string(&serde_json::from_str::<Value>(line).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_scripts_request_lands_at_the_offsets_answered() {
    let api = Api::new().await;
    let topic = topic("pin", 3).await;
    let pins = sample_lines("sample_pin.jsonl");
    // The original batch script: one record per request, `value` an object, json.v2 content type.
    let mut answered = Vec::new();
    for pin in &pins[..4] {
        let body = format!(r#"{{"records": [{{"value": {pin}}}]}}"#);
        let (status, answer) = api.post(&topic, JSON_V2, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let offset = &answer["offsets"][0];
        assert_eq!(offset["error_code"], Value::Null);
        // Stored exactly as the object was sent.
        answered.push((offset["partition"].as_i64().unwrap() as i32, offset["offset"].as_i64().unwrap(), pin.clone()));
    }
    // A batch of records, a value given as a string holding the object, with a key and an explicit partition.
    let body = json!({"records": [
        {"value": serde_json::to_string(&serde_json::from_str::<Value>(&pins[4]).unwrap()).unwrap(), "key": "k"},
        {"value": serde_json::from_str::<Value>(&pins[5]).unwrap(), "partition": 2},
    ]});
    let (status, answer) = api.post(&topic, "application/vnd.kafka.v2+json; charset=utf-8", &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Both were sent compact (serde_json's spelling): the string's content, the object's text.
    for (i, pin) in pins[4..6].iter().enumerate() {
        let offset = &answer["offsets"][i];
        answered.push((offset["partition"].as_i64().unwrap() as i32, offset["offset"].as_i64().unwrap(), compact(pin)));
    }
    assert_eq!(answer["offsets"][1]["partition"], 2);
    answered.sort();
    assert_eq!(
        consume(&topic, 6),
        answered,
        "the consumer reads the object's plain JSON bytes at the offsets answered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_confluents_envelope_and_produce_nothing() {
    let api = Api::new().await;
    let topic = topic("geo", 1).await;
    let geo = sample_lines("sample_geo.jsonl")[0].clone();

    let (status, answer) = api.post("nosuchtopic.geo", JSON_V2, &format!(r#"{{"records":[{{"value":{geo}}}]}}"#)).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40401)), "{answer}");

    // A record the cleaner could never read: no `ind`.
    let body =
        json!({"records": [{"value": serde_json::from_str::<Value>(&geo).unwrap()}, {"value": {"country": "Chad"}}]});
    let (status, answer) = api.post(&topic, JSON_V2, &body.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error_code"], 42201);
    assert_eq!(answer["field"], "records[1].value.ind", "{answer}");

    let (status, answer) = api.post(&topic, JSON_V2, r#"{"records": []}"#).await;
    assert_eq!((status, answer["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("records")));
    let (status, answer) = api.post(&topic, JSON_V2, "{not json").await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::BAD_REQUEST, Some(40001)), "{answer}");
    let (status, _) = api.post(&topic, "text/plain", &format!(r#"{{"records":[{{"value":{geo}}}]}}"#)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, answer) =
        api.post(&topic, JSON_V2, &format!(r#"{{"records":[{{"value":{geo},"partition":7}}]}}"#)).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::NOT_FOUND, Some(40402)), "{answer}");
    let big = format!(r#"{{"records":[{{"value":{{"ind":1,"country":"{}"}}}}]}}"#, "x".repeat(1_100_000));
    let (status, answer) = api.post(&topic, JSON_V2, &big).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(41301)), "{answer}");
    let (status, answer) = api.call(v2("GET", &format!("/topics/{topic}"), "")).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::METHOD_NOT_ALLOWED, Some(40501)), "{answer}");

    // Nothing was produced by any of them.
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    let partition =
        client.partition_client(&topic, 0, rskafka::client::partition::UnknownTopicHandling::Error).await.unwrap();
    let high = partition.get_offset(rskafka::client::partition::OffsetAt::Latest).await.unwrap();
    assert_eq!(high, 0, "a rejected request writes nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_kafka_the_topic_route_says_so() {
    let ingest = Ingest::new(stack::kinesis().await);
    let mut request = v1("POST", "/topics/0a1b2c3d4e5f.user", r#"{"records":[{"value":{"ind":1}}]}"#, false);
    request.headers_mut().insert("content-type", JSON_V2.parse().unwrap());
    let response = ingest.handle(request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!((body["error_code"].as_i64(), body["retryable"].as_bool()), (Some(50301), Some(false)), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_topic_post_sample_event_produces_its_record() {
    let api = Api::new().await;
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    // The sample's topic, as the original project names it (created once per broker).
    let _ = client.controller_client().unwrap().create_topic("0a1b2c3d4e5f.pin", 1, 1, 5_000).await;
    let event =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/apigw-post-topic.json")).unwrap();
    let request = lambda_http::request::from_str(&event).expect("the sample is an API Gateway REST event");
    let (status, answer) = api.call(request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let offset = answer["offsets"][0]["offset"].as_i64().unwrap();
    let read = consume("0a1b2c3d4e5f.pin", offset as usize + 1);
    let pin: Value = serde_json::from_str(&sample_lines("sample_pin.jsonl")[0]).unwrap();
    let stored: Value = serde_json::from_str(&read.last().unwrap().2).unwrap();
    assert_eq!(stored, pin);
}
