//! Hostile and broken input (SPEC §5, §7): arbitrary requests on every route and
//! method through the ingest handler, and arbitrary record bytes through the stream
//! cleaner and the batch sink. Never a panic, never a 500; a 5xx only as an upstream
//! 502/503 with `retryable`; every answer JSON; and exactly what was answered 2xx
//! reached the stream or topic (counted by the services behind the handler).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use lambda_http::http::StatusCode;
use pinpipe::Kind;
use pinpipe::ingest::Ingest;
use pinpipe::ingest::services::{
    EntryFailure, Placed, ServiceError, StreamEntry, StreamService, StreamSummary, TopicRecord, TopicService,
};
use pinpipe::lake::Lake;
use pinpipe::sink::BatchSink;
use pinpipe::stream::StreamCleaner;
use pinpipe_tests::apigw::{v1, v2};
use pinpipe_tests::{kafka, kinesis, sample_lines, temp_lake};
use proptest::prelude::*;
use serde_json::Value;

const ID: &str = "fuzz";

/// Streams that exist and count what is put into them, and what was put that the
/// stream cleaner could not clean as the stream's kind.
#[derive(Default)]
struct CountingStreams {
    records: AtomicU64,
    sequence: AtomicUsize,
    not_of_its_kind: AtomicU64,
}

/// Whether `data` is a record the cleaner takes as `name`'s kind (the kind check ingest makes).
fn of_its_kind(name: &str, data: &[u8]) -> bool {
    Kind::from_suffix(name).is_none_or(|kind| pinpipe::clean_record(kind, data).is_ok())
}

#[async_trait]
impl StreamService for CountingStreams {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        Ok(Kind::ALL.iter().map(|k| format!("streaming-{ID}-{k}")).collect())
    }
    async fn describe_stream(&self, name: &str) -> Result<StreamSummary, ServiceError> {
        Ok(StreamSummary {
            name: name.into(),
            arn: format!("arn:aws:kinesis:us-east-1:123456789012:stream/{name}"),
            status: "ACTIVE".into(),
            open_shards: 1,
            retention_hours: 24,
            encryption: None,
        })
    }
    async fn create_stream(&self, _: &str, _: i32) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn delete_stream(&self, _: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn put_record(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError> {
        if !of_its_kind(name, &entry.data) {
            self.not_of_its_kind.fetch_add(1, Ordering::SeqCst);
        }
        self.records.fetch_add(1, Ordering::SeqCst);
        let n = self.sequence.fetch_add(1, Ordering::SeqCst);
        Ok(Placed { sequence_number: n.to_string(), shard_id: "shardId-000000000000".into() })
    }
    async fn put_records(
        &self,
        name: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        let mut out = Vec::new();
        for entry in entries {
            out.push(Ok(self.put_record(name, entry).await?));
        }
        Ok(out)
    }
}

/// Topics with two partitions that count what is produced to them.
#[derive(Default)]
struct CountingTopics {
    records: AtomicU64,
    not_of_its_kind: AtomicU64,
}

#[async_trait]
impl TopicService for CountingTopics {
    async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, ServiceError> {
        Ok(topic.starts_with(&format!("{ID}.")).then(|| vec![0, 1]))
    }
    async fn produce(&self, topic: &str, _: i32, records: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError> {
        let wrong = records.iter().filter(|r| !of_its_kind(topic, &r.value)).count() as u64;
        self.not_of_its_kind.fetch_add(wrong, Ordering::SeqCst);
        let first = self.records.fetch_add(records.len() as u64, Ordering::SeqCst) as i64;
        Ok((first..first + records.len() as i64).collect())
    }
}

/// Values a hostile client might put where a record goes, as JSON text.
fn hostile_value() -> impl Strategy<Value = String> {
    let real = |file: &'static str| {
        let lines = sample_lines(file);
        (0..lines.len()).prop_map(move |i| lines[i].clone())
    };
    prop_oneof![
        real("sample_pin.jsonl"),
        real("sample_geo.jsonl"),
        real("sample_user.jsonl"),
        real("sample_geo.jsonl").prop_map(|l| serde_json::to_string(&l).unwrap()),
        Just(r#""\udc00""#.to_owned()),
        Just(r#""\ud800x""#.to_owned()),
        Just(r#"{"ind": "\udc00", "country": "\ud83d"}"#.to_owned()),
        Just(r#""{\"ind\": 1}""#.to_owned()),
        Just("null".to_owned()),
        Just("[1, 2, 3]".to_owned()),
        Just("1e999".to_owned()),
        Just("-0".to_owned()),
        (1usize..300).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..300).prop_map(|depth| format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))),
        (0usize..2_000_000).prop_map(|n| format!(r#"{{"ind": 1, "country": "{}"}}"#, "x".repeat(n % 1_200_000))),
        ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

/// A request body: one of the routes' shapes around hostile values, or junk.
fn hostile_body() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just(r#""k""#.to_owned()),
        Just("null".to_owned()),
        Just("7".to_owned()),
        Just(r#""\udc00""#.to_owned()),
        Just(r#""""#.to_owned())
    ];
    prop_oneof![
        (hostile_value(), key.clone()).prop_map(|(v, k)| format!(r#"{{"Data": {v}, "PartitionKey": {k}}}"#)),
        prop::collection::vec((hostile_value(), key.clone()), 0..4).prop_map(|records| {
            let records: Vec<String> =
                records.iter().map(|(v, k)| format!(r#"{{"data": {v}, "partition-key": {k}}}"#)).collect();
            format!(r#"{{"records": [{}]}}"#, records.join(","))
        }),
        prop::collection::vec(
            (
                hostile_value(),
                key,
                prop_oneof![Just("null"), Just("0"), Just("1"), Just("9"), Just("-1"), Just("\"x\"")]
            ),
            0..4
        )
        .prop_map(|records| {
            let records: Vec<String> =
                records.iter().map(|(v, k, p)| format!(r#"{{"value": {v}, "key": {k}, "partition": {p}}}"#)).collect();
            format!(r#"{{"records": [{}]}}"#, records.join(","))
        }),
        Just(r#"{"ShardCount": 2}"#.to_owned()),
        ".{0,64}",
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just(format!("streaming-{ID}-pin")),
        Just(format!("streaming-{ID}-geo")),
        Just(format!("streaming-{ID}-user")),
        Just(format!("{ID}.pin")),
        Just(format!("{ID}.geo")),
        Just("streaming-other-pin".to_owned()),
        Just("%00".to_owned()),
        Just("a".repeat(300)),
        "[a-z.-]{0,12}",
    ];
    (
        name,
        prop_oneof![Just(""), Just("/record"), Just("/records"), Just("/x/y")],
        prop_oneof![Just("/streams/"), Just("/topics/"), Just("/Prod/streams/"), Just("/")],
    )
        .prop_map(|(name, tail, head)| format!("{head}{name}{tail}"))
}

fn accepted(status: StatusCode, path: &str, answer: &Value) -> u64 {
    if !status.is_success() {
        return 0;
    }
    if path.ends_with("/record") {
        1
    } else if path.ends_with("/records") {
        answer["Records"].as_array().map_or(0, |r| r.iter().filter(|r| r["SequenceNumber"].is_string()).count() as u64)
    } else if path.contains("/topics/") {
        answer["offsets"].as_array().map_or(0, |o| o.iter().filter(|o| o["offset"].is_i64()).count() as u64)
    } else {
        0
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, .. ProptestConfig::default() })]

    #[test]
    fn ingest_never_panics_never_500s_and_writes_exactly_what_it_accepts(
        method in prop_oneof![Just("GET"), Just("PUT"), Just("POST"), Just("DELETE"), Just("PATCH")],
        path in hostile_path(),
        body in hostile_body(),
        rest_api in any::<bool>(),
        content_type in prop_oneof![Just(None), Just(Some("application/vnd.kafka.json.v2+json")), Just(Some("text/plain"))],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let streams = Arc::new(CountingStreams::default());
        let topics = Arc::new(CountingTopics::default());
        let ingest = Ingest::new(Shared(streams.clone())).with_kafka(topics.clone()).for_deployment(ID);
        let mut request = if rest_api { v1(method, &path, &body, true) } else { v2(method, &path, &body) };
        if let Some(content_type) = content_type {
            request.headers_mut().insert("content-type", content_type.parse().unwrap());
        }
        let response = runtime.block_on(ingest.handle(request));
        let status = response.status();
        prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        prop_assert_eq!(response.headers()["content-type"].to_str().unwrap(), "application/json");
        let answer: Value = serde_json::from_slice(response.body().as_ref()).expect("every answer is JSON");
        if status.is_server_error() {
            prop_assert!(matches!(status.as_u16(), 502 | 503), "{status}: {answer}");
            prop_assert!(answer["retryable"].is_boolean(), "{answer}");
        }
        if status.is_client_error() {
            prop_assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        }
        let reached = streams.records.load(Ordering::SeqCst) + topics.records.load(Ordering::SeqCst);
        prop_assert_eq!(reached, accepted(status, &path, &answer), "{} {} -> {}: {}", method, path, status, answer);
        let wrong = streams.not_of_its_kind.load(Ordering::SeqCst) + topics.not_of_its_kind.load(Ordering::SeqCst);
        prop_assert_eq!(wrong, 0, "a record not of its stream's or topic's kind got through: {} {}", method, path);
    }
}

/// Streams behind an `Arc`, so the test keeps a handle on them (their counts).
struct Shared<T>(Arc<T>);

#[async_trait]
impl<T: StreamService> StreamService for Shared<T> {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        self.0.list_streams().await
    }
    async fn describe_stream(&self, name: &str) -> Result<StreamSummary, ServiceError> {
        self.0.describe_stream(name).await
    }
    async fn create_stream(&self, name: &str, shards: i32) -> Result<(), ServiceError> {
        self.0.create_stream(name, shards).await
    }
    async fn delete_stream(&self, name: &str) -> Result<(), ServiceError> {
        self.0.delete_stream(name).await
    }
    async fn put_record(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError> {
        self.0.put_record(name, entry).await
    }
    async fn put_records(
        &self,
        name: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        self.0.put_records(name, entries).await
    }
}

/// Record bytes a producer that is not ours might send.
fn hostile_record() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        hostile_value().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..128),
        Just(b"{\"ind\": 1,\n \"country\": \"Chad\"}".to_vec()),
        Just(Vec::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn the_cleaner_and_the_sink_account_for_every_record(
        records in prop::collection::vec(hostile_record(), 1..12),
        kind in prop_oneof![Just(Kind::Pin), Just(Kind::Geo), Just(Kind::User)],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = temp_lake("hostile");
        let lake = Lake::open(dir.to_str().unwrap()).unwrap();

        // Kinesis: each record lands, or is quarantined with its reason; nothing fails.
        let sequenced: Vec<(String, Vec<u8>)> =
            records.iter().enumerate().map(|(i, r)| (kinesis::sequence_number(0, i as u64), r.clone())).collect();
        let event = kinesis::event(&format!("streaming-{ID}-{kind}"), "shardId-000000000000", &sequenced);
        let (response, counts) = runtime.block_on(StreamCleaner::new(lake.clone(), ID).handle(&event));
        prop_assert!(response.batch_item_failures.is_empty(), "{response:?}");
        prop_assert_eq!(counts.records_in, records.len() as u64);
        prop_assert_eq!(counts.rows_written + counts.quarantined, records.len() as u64, "{:?}", counts);

        // MSK: each value is written to bronze byte for byte, or quarantined.
        let offsets: Vec<(i64, Option<Vec<u8>>)> =
            records.iter().enumerate().map(|(i, r)| (i as i64, Some(r.clone()))).collect();
        let event = kafka::event(&format!("{ID}.{kind}"), 0, &offsets);
        let (response, counts) = runtime.block_on(BatchSink::new(lake).handle(&event));
        prop_assert!(response.batch_item_failures.is_empty(), "{response:?}");
        prop_assert_eq!(counts.records_written + counts.quarantined, records.len() as u64, "{:?}", counts);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Upstream texts as AWS and Kafka write them: an ARN, an account id, a broker host.
const LEAKY: &str = "User arn:aws:sts::123456789012:assumed-role/ingest is not authorized on \
    arn:aws:kinesis:us-east-1:123456789012:stream/x (account 123456789012) via \
    b-1.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098";

/// Every failure a service can report, each carrying [`LEAKY`].
fn every_failure() -> Vec<ServiceError> {
    let text = || LEAKY.to_owned();
    vec![
        ServiceError::NotFound(text()),
        ServiceError::AccessDenied(text()),
        ServiceError::InUse(text()),
        ServiceError::Invalid(text()),
        ServiceError::Throttled(text()),
        ServiceError::TooLarge(text()),
        ServiceError::Refused { code: "KMSAccessDeniedException".into(), message: text() },
        ServiceError::Refused { code: LEAKY.into(), message: text() },
        ServiceError::Unreachable(text()),
        ServiceError::Unreadable(text()),
    ]
}

/// Kinesis, Kafka and the metrics store failing with `failure`; PutRecords failing
/// each entry on its own when `per_entry`.
struct Failing {
    failure: ServiceError,
    per_entry: bool,
    partitions_fail: bool,
}

#[async_trait]
impl StreamService for Failing {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        Err(self.failure.clone())
    }
    async fn describe_stream(&self, _: &str) -> Result<StreamSummary, ServiceError> {
        Err(self.failure.clone())
    }
    async fn create_stream(&self, _: &str, _: i32) -> Result<(), ServiceError> {
        Err(self.failure.clone())
    }
    async fn delete_stream(&self, _: &str) -> Result<(), ServiceError> {
        Err(self.failure.clone())
    }
    async fn put_record(&self, _: &str, _: StreamEntry) -> Result<Placed, ServiceError> {
        Err(self.failure.clone())
    }
    async fn put_records(
        &self,
        _: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        if !self.per_entry {
            return Err(self.failure.clone());
        }
        Ok(entries
            .iter()
            .map(|_| Err(EntryFailure { code: "ProvisionedThroughputExceededException".into(), message: LEAKY.into() }))
            .collect())
    }
}

#[async_trait]
impl TopicService for Failing {
    async fn partitions_of(&self, _: &str) -> Result<Option<Vec<i32>>, ServiceError> {
        if self.partitions_fail { Err(self.failure.clone()) } else { Ok(Some(vec![0, 1])) }
    }
    async fn produce(&self, _: &str, _: i32, _: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError> {
        Err(self.failure.clone())
    }
}

#[async_trait]
impl pinpipe::metrics::store::MetricsStore for Failing {
    async fn mark(
        &self,
        _: &str,
    ) -> Result<Option<pinpipe::metrics::store::ShardMark>, pinpipe::metrics::store::StoreError> {
        Err(pinpipe::metrics::store::StoreError::Failed(LEAKY.into()))
    }
    async fn counted(
        &self,
        _: Kind,
        _: &[i64],
        _: i64,
    ) -> Result<std::collections::HashSet<i64>, pinpipe::metrics::store::StoreError> {
        Err(pinpipe::metrics::store::StoreError::Failed(LEAKY.into()))
    }
    async fn commit(
        &self,
        _: &str,
        _: Option<&pinpipe::metrics::store::ShardMark>,
        _: pinpipe::metrics::store::Commit,
        _: i64,
    ) -> Result<(), pinpipe::metrics::store::StoreError> {
        Err(pinpipe::metrics::store::StoreError::Failed(LEAKY.into()))
    }
    async fn buckets(
        &self,
        _: &pinpipe::metrics::Series,
        _: i64,
        _: i64,
    ) -> Result<Vec<pinpipe::metrics::BucketRow>, pinpipe::metrics::store::StoreError> {
        Err(pinpipe::metrics::store::StoreError::Failed(LEAKY.into()))
    }
}

/// What an answer must never carry: an ARN, a 12-digit number (an account id), a broker host.
fn leaks(body: &str) -> Option<&'static str> {
    let twelve_digits = body.as_bytes().windows(12).any(|w| w.iter().all(u8::is_ascii_digit));
    if body.contains("arn:") {
        Some("an ARN")
    } else if twelve_digits {
        Some("a 12-digit number")
    } else if body.contains("amazonaws.com") || body.contains("b-1.") {
        Some("a broker host")
    } else {
        None
    }
}

#[tokio::test]
async fn no_answer_names_an_account_an_arn_or_a_broker() {
    let pin = &sample_lines("sample_pin.jsonl")[0];
    let put = format!(r#"{{"Data": {pin}, "PartitionKey": "k"}}"#);
    let put_many =
        format!(r#"{{"records": [{{"data": {pin}, "partition-key": "k"}}, {{"data": {pin}, "partition-key": "j"}}]}}"#);
    let produce = format!(r#"{{"records": [{{"value": {pin}}}, {{"value": {pin}, "partition": 1}}]}}"#);
    let stream = format!("streaming-{ID}-pin");
    let topic = format!("{ID}.pin");
    let requests: Vec<(&str, String, &str)> = vec![
        ("GET", "/streams".into(), ""),
        ("GET", format!("/streams/{stream}"), ""),
        ("POST", format!("/streams/{stream}"), r#"{"ShardCount": 1}"#),
        ("DELETE", format!("/streams/{stream}"), ""),
        ("PUT", format!("/streams/{stream}/record"), &put),
        ("PUT", format!("/streams/{stream}/records"), &put_many),
        ("POST", format!("/topics/{topic}"), &produce),
        ("GET", "/metrics/profiles/top?window=7d".into(), ""),
        ("GET", "/metrics/countries/top".into(), ""),
        ("GET", "/metrics/profiles/Ann%20Lee".into(), ""),
    ];
    let mut answers = 0;
    for failure in every_failure() {
        for (per_entry, partitions_fail) in [(false, false), (true, true)] {
            let failing = || Arc::new(Failing { failure: failure.clone(), per_entry, partitions_fail });
            let ingest =
                Ingest::new(Shared(failing())).with_kafka(failing()).with_metrics(failing()).for_deployment(ID);
            for (method, path, body) in &requests {
                for rest_api in [false, true] {
                    let (path, query) = path.split_once('?').unwrap_or((path, ""));
                    let mut request = if rest_api {
                        v1(method, path, body, true)
                    } else {
                        v2(method, &format!("{path}?{query}"), body)
                    };
                    if path.starts_with("/topics") {
                        request
                            .headers_mut()
                            .insert("content-type", "application/vnd.kafka.json.v2+json".parse().unwrap());
                    }
                    let response = ingest.handle(request).await;
                    let status = response.status();
                    let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
                    assert!(
                        status.is_client_error() || status.is_server_error() || text.contains("ErrorCode"),
                        "{method} {path} with {failure:?}: {status} {text}"
                    );
                    assert_eq!(leaks(&text), None, "{method} {path} with {failure:?} answered {status} {text}");
                    answers += 1;
                }
            }
        }
    }
    assert_eq!(answers, every_failure().len() * 2 * 10 * 2);
}
