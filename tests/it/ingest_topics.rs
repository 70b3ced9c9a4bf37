//! ingest's `POST /topics/{topic}` (SPEC §5, Kafka REST proxy v2 produce) against
//! the tansu broker: the original script's request lands as the object's plain JSON
//! bytes at the offsets answered, as an independent consumer (Python
//! confluent-kafka) reads them; errors come in Confluent's envelope.

use std::process::Command;
use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe::ingest::Ingest;
use pinpipe::ingest::kafka::KafkaProducer;
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
    // Plain `application/json`, as many HTTP clients send: taken too.
    let body = format!(r#"{{"records": [{{"value": {}}}]}}"#, pins[6]);
    let (status, answer) = api.post(&topic, "application/json", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let offset = &answer["offsets"][0];
    answered.push((offset["partition"].as_i64().unwrap() as i32, offset["offset"].as_i64().unwrap(), pins[6].clone()));
    answered.sort();
    assert_eq!(
        consume(&topic, 7),
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
    let mut huge: Value = serde_json::from_str(&geo).unwrap();
    huge["country"] = "x".repeat(1_100_000).into();
    let big = json!({"records": [{"value": huge}]}).to_string();
    let (status, answer) = api.post(&topic, JSON_V2, &big).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(41301)), "{answer}");
    let (status, answer) = api.call(v2("GET", &format!("/topics/{topic}"), "")).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::METHOD_NOT_ALLOWED, Some(40501)), "{answer}");

    // A pin sent to the geo topic: Confluent's 42201, naming the key and the kind.
    let pin = sample_lines("sample_pin.jsonl")[0].clone();
    let (status, answer) = api.post(&topic, JSON_V2, &format!(r#"{{"records":[{{"value":{pin}}}]}}"#)).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(42201)), "{answer}");
    assert_eq!(answer["field"], "records[0].value.timestamp", "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("it looks like a pin record"), "{answer}");
    // A lone surrogate in a value given as a string.
    let (status, answer) = api.post(&topic, JSON_V2, r#"{"records":[{"value":"\udc00"}]}"#).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("records[0].value")),
        "{answer}"
    );

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
    let body = format!(r#"{{"records":[{{"value":{}}}]}}"#, sample_lines("sample_user.jsonl")[0]);
    let mut request = v1("POST", "/topics/0a1b2c3d4e5f.user", &body, false);
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
    // The topic may be shared (infra/stack.sh creates the default deployment's, with 3
    // partitions): find the record at the partition and offset answered.
    let (partition, offset) =
        (answer["offsets"][0]["partition"].as_i64().unwrap() as i32, answer["offsets"][0]["offset"].as_i64().unwrap());
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    let partition_client = client
        .partition_client("0a1b2c3d4e5f.pin", partition, rskafka::client::partition::UnknownTopicHandling::Error)
        .await
        .unwrap();
    let (records, _) = partition_client.fetch_records(offset, 1..4_000_000, 1_000).await.unwrap();
    let record = records.iter().find(|r| r.offset == offset).expect("the record at the offset answered");
    let pin: Value = serde_json::from_str(&sample_lines("sample_pin.jsonl")[0]).unwrap();
    let stored: Value = serde_json::from_slice(record.record.value.as_deref().unwrap()).unwrap();
    assert_eq!(stored, pin);
}

#[tokio::test(flavor = "multi_thread")]
async fn pretty_printed_and_exotic_values_reach_silver() {
    let api = Api::new().await;
    let topic = topic("pin", 1).await;
    let id = topic.trim_end_matches(".pin").to_owned();
    let pins = sample_lines("sample_pin.jsonl");
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&pins[1]).unwrap()).unwrap();
    let mut exotic: Value = serde_json::from_str(&pins[2]).unwrap();
    exotic["title"] = "line\u{2028}sep 😀 escaped \"slash\" / and \\".into();
    let bodies = [
        // The original batch script's body.
        format!(r#"{{"records": [{{"value": {}}}]}}"#, pins[0]),
        // json.dumps(…, indent=2), as many HTTP clients send.
        format!("{{\n  \"records\": [\n    {{\n      \"value\": {pretty}\n    }}\n  ]\n}}"),
        json!({"records": [{"value": exotic}]}).to_string().replace('/', "\\/"),
    ];
    for body in &bodies {
        let (status, answer) = api.post(&topic, JSON_V2, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    // Through the local MSK event source mapping and the sink to bronze, then the daily job's silver.
    let dir = pinpipe_tests::temp_lake("topics-to-silver");
    let lake = pinpipe::lake::Lake::open(dir.to_str().unwrap()).unwrap();
    let sink = pinpipe::sink::BatchSink::new(lake.clone());
    let mut poller =
        pinpipe_local::kafka_poller::KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 10).await.unwrap();
    use pinpipe_local::polling::Poller;
    let sink = &sink;
    poller.run_until_idle(|event| async move { sink.handle(&event).await.0 }, 10).await.unwrap();
    let counts =
        pinpipe::silver::catch_up(&lake, pinpipe::config::Names { id: &id }, pinpipe::Kind::Pin).await.unwrap();
    assert_eq!((counts.rows_cleaned, counts.quarantined), (3, 0), "{counts:?}");
    let silver = pinpipe_tests::readers::duckdb_delta(dir.join(format!("delta/batch/{id}_pin")).to_str().unwrap());
    let mut expected: Vec<i64> =
        pins[..3].iter().map(|p| serde_json::from_str::<Value>(p).unwrap()["index"].as_i64().unwrap()).collect();
    expected.sort();
    assert_eq!(silver.inds, expected);
}

/// A tansu broker of the test's own on a free loopback port (the stack's binary),
/// stopped when dropped.
struct Broker {
    child: std::process::Child,
}

impl Broker {
    fn start(port: u16) -> Broker {
        let tansu = std::env::var("PINPIPE_TANSU").unwrap_or_else(|_| {
            format!("{}/.cache/pinpipe/tansu-0.6.0/bin/tansu", std::env::var("HOME").unwrap_or_default())
        });
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the tansu binary the stack built (PINPIPE_TANSU)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Broker { child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_down_at_cold_start_then_up_recovers_without_a_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bootstrap = format!("127.0.0.1:{port}");
    let connect: pinpipe::ingest::kafka::Connect = {
        let bootstrap = bootstrap.clone();
        Arc::new(move || {
            let bootstrap = bootstrap.clone();
            Box::pin(async move { KafkaProducer::connect(&bootstrap).await.map_err(|e| e.to_string()) })
        })
    };
    let producer = Arc::new(pinpipe::ingest::kafka::ReconnectingProducer::new(connect));
    let api = Api { ingest: Ingest::new(stack::kinesis().await).with_kafka(producer), doc: openapi::document() };
    let geo = sample_lines("sample_geo.jsonl")[0].clone();
    let body = format!(r#"{{"records":[{{"value":{geo}}}]}}"#);
    // Nothing listens yet: a retryable 503, as the instance started without Kafka.
    let (status, answer) = api.post("0a1b2c3d4e5f.geo", JSON_V2, &body).await;
    assert_eq!((status, answer["retryable"].as_bool()), (StatusCode::SERVICE_UNAVAILABLE, Some(true)), "{answer}");
    // The broker comes up: the same instance produces.
    let _broker = tokio::task::block_in_place(|| Broker::start(port));
    let client = ClientBuilder::new(vec![bootstrap]).build().await.unwrap();
    client.controller_client().unwrap().create_topic("0a1b2c3d4e5f.geo", 1, 1, 5_000).await.unwrap();
    let (status, answer) = api.post("0a1b2c3d4e5f.geo", JSON_V2, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["offsets"][0]["offset"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn big_records_are_413s_and_big_requests_are_split() {
    let api = Api::new().await;
    let topic = topic("pin", 2).await;
    let mut pin: Value = serde_json::from_str(&sample_lines("sample_pin.jsonl")[0]).unwrap();
    // Under Kinesis' 1 MiB but over what one Kafka message may hold: a 413, never a retryable 503.
    pin["description"] = "x".repeat(pinpipe::ingest::KAFKA_MAX_RECORD_BYTES).into();
    let (status, answer) = api.post(&topic, JSON_V2, &json!({"records": [{"value": pin}]}).to_string()).await;
    assert_eq!((status, answer["error_code"].as_i64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(41301)), "{answer}");
    assert_eq!(answer["field"], "records[0].value", "{answer}");
    assert!(answer.get("retryable").is_none_or(|r| r == false), "{answer}");
    // 1,500 records of ~2 KB to one partition (3 MB): split into requests under the limit, offsets in order.
    pin["description"] = "y".repeat(2_000).into();
    let records: Vec<Value> = (0..1_500).map(|_| json!({"value": pin, "partition": 1})).collect();
    let (status, answer) = api.post(&topic, JSON_V2, &json!({"records": records}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{}", answer.to_string().chars().take(500).collect::<String>());
    let offsets: Vec<i64> =
        answer["offsets"].as_array().unwrap().iter().map(|o| o["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, (0..1_500).collect::<Vec<i64>>());
    assert!(answer["offsets"].as_array().unwrap().iter().all(|o| o["partition"] == 1));
}
