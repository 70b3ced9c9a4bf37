//! Shared helpers for the integration tests: where the real samples are, and how
//! to reach the local stack that `infra/stack.sh up` starts on 127.0.0.1.

use std::path::PathBuf;

/// `../shared/data` beside the repository (CI has it there too), or `PINPIPE_SHARED_DATA`.
pub fn shared_data(file: &str) -> PathBuf {
    let dir = std::env::var_os("PINPIPE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.join(file)
}

/// The lines of a real sample file, e.g. `sample_pin.jsonl`.
pub fn sample_lines(file: &str) -> Vec<String> {
    let path = shared_data(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e} (the real samples live in ../shared/data)", path.display()));
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// The local stack's addresses (`infra/stack.sh env`), with its defaults.
pub mod stack {
    pub fn aws_endpoint() -> String {
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:5001".into())
    }

    pub fn kafka_bootstrap() -> String {
        std::env::var("PINPIPE_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
    }

    /// AWS SDK configuration for moto: dummy credentials, us-east-1, the local endpoint.
    pub async fn aws_config() -> aws_config::SdkConfig {
        let endpoint = aws_endpoint();
        assert!(
            endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
            "tests only ever talk to 127.0.0.1, not {endpoint}"
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "pinpipe-tests",
            ))
            .load()
            .await
    }

    /// A metrics table as the template declares it (keys, the profile index), on moto.
    pub async fn create_metrics_table(table: &str) -> aws_sdk_dynamodb::Client {
        let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
        pinpipe::metrics::dynamo::DynamoMetrics::create_table(&client, table)
            .await
            .unwrap_or_else(|e| panic!("{}", not_running("moto DynamoDB", e)));
        client
    }

    /// S3 client for moto (it needs path-style addressing).
    pub async fn s3() -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&aws_config().await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn kinesis() -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&aws_config().await)
    }

    /// Every record in a stream as (sequence number, data), shard by shard from
    /// TRIM_HORIZON, each shard in sequence order.
    pub async fn read_stream(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let shards = kinesis.list_shards().stream_name(stream).send().await.expect("ListShards");
        for shard in shards.shards() {
            let iterator = kinesis
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("GetShardIterator");
            let got = kinesis
                .get_records()
                .shard_iterator(iterator.shard_iterator().unwrap_or_default())
                .send()
                .await
                .expect("GetRecords");
            out.extend(got.records().iter().map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec())));
        }
        out
    }

    /// A name no other test run uses, so tests need no reset between them.
    pub fn unique_name(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        format!("{prefix}-{}-{nanos}", std::process::id())
    }

    /// The message to fail with when a stack server does not answer.
    pub fn not_running(what: &str, error: impl std::fmt::Display) -> String {
        format!("{what} is not reachable ({error}); start the local stack with `infra/stack.sh up`")
    }
}

/// Kinesis events as Lambda delivers them, for the stream cleaner.
pub mod kinesis {
    use aws_lambda_events::event::kinesis::KinesisEvent;

    /// A real-looking 56-digit sequence number (moto's are tiny): `shard` picks the
    /// prefix, `n` the position.
    pub fn sequence_number(shard: u32, n: u64) -> String {
        format!("4954698668313554428650745793632162567570019247115{shard:01}{n:06}")
    }

    /// A Kinesis event of `records` (sequence number, data) from one shard, built as
    /// the local event source mapping builds it.
    pub fn event(stream: &str, shard: &str, records: &[(String, Vec<u8>)]) -> KinesisEvent {
        let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
        let records = records.iter().map(|(sequence_number, data)| pinpipe_local::kinesis_poller::ShardRecord {
            sequence_number,
            partition_key: "1",
            data,
            arrival: 1_700_000_000.123,
        });
        pinpipe_local::kinesis_poller::kinesis_event(&arn, shard, records)
    }
}

pub mod kafka {
    use aws_lambda_events::event::kafka::KafkaEvent;
    use rskafka::record::{Record, RecordAndOffset};

    /// An MSK event as Lambda delivers it: `records` (offset, value; `None` is a
    /// tombstone) of one topic-partition, built as the local event source mapping
    /// builds it.
    pub fn event(topic: &str, partition: i32, records: &[(i64, Option<Vec<u8>>)]) -> KafkaEvent {
        let records: Vec<RecordAndOffset> = records
            .iter()
            .map(|(offset, value)| RecordAndOffset {
                record: Record {
                    key: None,
                    value: value.clone(),
                    headers: Default::default(),
                    timestamp: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("a valid time"),
                },
                offset: *offset,
            })
            .collect();
        pinpipe_local::kafka_poller::kafka_event(topic, "b-1.pinpipe.local:9098", partition, &records)
    }
}

/// Readers that are not ours, run from the test venv (`infra/stack.sh`).
pub mod readers {
    use std::process::Command;

    pub fn python() -> String {
        std::env::var("PINPIPE_PYTHON")
            .unwrap_or_else(|_| format!("{}/.cache/pinpipe/venv/bin/python", std::env::var("HOME").unwrap_or_default()))
    }

    /// What DuckDB's delta extension reads from a Delta table.
    #[derive(Debug, serde::Deserialize)]
    pub struct DeltaReadout {
        pub columns: Vec<(String, String)>,
        pub rows: usize,
        pub inds: Vec<i64>,
        pub first: Option<Vec<String>>,
    }

    pub fn duckdb_delta(table_uri: &str) -> DeltaReadout {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/read_delta.py");
        let out = Command::new(python())
            .arg(script)
            .arg(table_uri)
            .output()
            .unwrap_or_else(|e| panic!("running {} ({e}); install the stack with `infra/stack.sh up`", python()));
        assert!(out.status.success(), "DuckDB could not read {table_uri}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("read_delta.py prints JSON")
    }
}

/// Upkeep of a local Delta table by another engine (Python deltalake): `steps` of
/// `tests/python/delta_upkeep.py`; what it did, as JSON.
pub fn delta_upkeep(table: &str, steps: &[&str]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/delta_upkeep.py");
    let out = std::process::Command::new(readers::python()).arg(script).arg(table).args(steps).output().unwrap();
    assert!(out.status.success(), "upkeep of {table} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("delta_upkeep.py prints JSON")
}

/// What DuckDB's `read_json` reads from NDJSON objects under a prefix (a local
/// directory or s3://…): the row count and each record's `index`/`ind`, sorted.
pub mod json_reader {
    #[derive(Debug, serde::Deserialize)]
    pub struct JsonReadout {
        pub rows: usize,
        pub inds: Vec<i64>,
    }

    pub fn duckdb_read_json(prefix: &str) -> JsonReadout {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/read_json.py");
        let out = std::process::Command::new(super::readers::python()).arg(script).arg(prefix).output().unwrap();
        assert!(out.status.success(), "DuckDB could not read {prefix}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("read_json.py prints JSON")
    }
}

/// A fresh local directory for a test's lake.
pub fn temp_lake(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(stack::unique_name(&format!("pinpipe-lake-{name}")));
    std::fs::create_dir_all(&dir).expect("creating a temp lake");
    dir
}

/// The published run of `run_date` in a local lake (`analytics/run_date=D/_latest.json`):
/// the pointer and the directory holding that run's files.
pub fn published_run(lake: &std::path::Path, run_date: &str) -> (serde_json::Value, PathBuf) {
    let date_dir = lake.join(format!("analytics/run_date={run_date}"));
    let pointer =
        std::fs::read(date_dir.join("_latest.json")).unwrap_or_else(|e| panic!("{run_date}: no pointer: {e}"));
    let pointer: serde_json::Value = serde_json::from_slice(&pointer).expect("the pointer is JSON");
    let dir = lake.join(pointer["prefix"].as_str().expect("a prefix"));
    (pointer, dir)
}

/// Today in UTC: a run for it answers over the latest silver (a past date time-travels).
pub fn today() -> String {
    chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

/// API Gateway requests as lambda_http receives them: REST API (v1, stage in the
/// path, IAM identity when authorised) and HTTP API (v2, what `cargo lambda watch` sends).
pub mod apigw {
    use lambda_http::Request;

    /// A REST API request through the resource API Gateway would match for `path`
    /// (the OpenAPI document's paths; a literal segment before a `{parameter}`), or
    /// through a `/{proxy+}` resource when none matches.
    pub fn v1(method: &str, path: &str, body: &str, iam: bool) -> Request {
        let (resource, parameters) = match resource_of(path) {
            Some((resource, parameters)) => (resource, serde_json::Value::Object(parameters)),
            None => ("/{proxy+}".to_owned(), serde_json::json!({"proxy": path.trim_start_matches('/')})),
        };
        v1_through(method, path, &resource, parameters, body, iam)
    }

    /// A REST API request that API Gateway matched to `resource`.
    pub fn v1_through(
        method: &str,
        path: &str,
        resource: &str,
        parameters: serde_json::Value,
        body: &str,
        iam: bool,
    ) -> Request {
        let identity = if iam {
            serde_json::json!({"userArn": "arn:aws:iam::123456789012:user/admin", "accessKey": "AKIAEXAMPLE", "sourceIp": "127.0.0.1"})
        } else {
            serde_json::json!({"sourceIp": "127.0.0.1"})
        };
        let event = serde_json::json!({
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": {"content-type": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"content-type": ["application/json"], "Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
            "queryStringParameters": null,
            "pathParameters": parameters,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r1", "stage": "Prod", "requestId": "req",
                "identity": identity, "resourcePath": resource, "httpMethod": method,
                "apiId": "abc123", "path": format!("/Prod{path}"), "protocol": "HTTP/1.1"
            },
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v1 event")
    }

    /// The OpenAPI path `path` matches as API Gateway matches resources, and its parameters.
    fn resource_of(path: &str) -> Option<(String, serde_json::Map<String, serde_json::Value>)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let doc = super::openapi::document();
        let mut matches: Vec<(String, serde_json::Map<String, serde_json::Value>, usize)> = Vec::new();
        for template in doc["paths"].as_object()?.keys() {
            let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut parameters = serde_json::Map::new();
            let mut literals = 0;
            let fits = parts.iter().zip(&segments).all(|(part, segment)| {
                match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) => {
                        !segment.is_empty() && parameters.insert(name.to_owned(), (*segment).into()).is_none()
                    }
                    None => {
                        literals += 1;
                        part == segment
                    }
                }
            });
            if fits {
                matches.push((template.clone(), parameters, literals));
            }
        }
        matches.into_iter().max_by_key(|(_, _, literals)| *literals).map(|(t, p, _)| (t, p))
    }

    /// `path` may carry a query string (`/metrics/countries/top?window=1h`).
    pub fn v2(method: &str, path: &str, body: &str) -> Request {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let parameters: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect();
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "queryStringParameters": parameters,
            "headers": {"content-type": "application/json", "host": "127.0.0.1:9000"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
                "requestId": "req", "routeKey": "$default", "stage": "$default",
                "time": "22/Nov/2026:14:00:00 +0000", "timeEpoch": 1795356000000u64
            },
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
    }
}

/// The API's OpenAPI document (`functions/ingest/openapi.json`), as a test oracle:
/// every answer's status must be documented for its path and method, and its body
/// must carry the documented schema's required properties.
pub mod openapi {
    use serde_json::Value;

    pub fn document() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions/ingest/openapi.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("the OpenAPI document")).expect("valid JSON")
    }

    fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target = r.trim_start_matches("#/").split('/').fold(doc, |n, key| &n[key]);
                resolve(doc, target)
            }
            None => node,
        }
    }

    fn required(doc: &Value, schema: &Value) -> Vec<String> {
        let schema = resolve(doc, schema);
        let mut names: Vec<String> =
            schema["required"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            names.extend(required(doc, part));
        }
        names
    }

    /// The documented path template a concrete path matches (`/streams/{stream-name}/record`).
    fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        doc["paths"].as_object()?.keys().map(String::as_str).find(|t| {
            let parts: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
            parts.len() == segments.len() && parts.iter().zip(&segments).all(|(p, s)| p.starts_with('{') || p == s)
        })
    }

    /// Panics unless the answer conforms to the document. Paths that are not
    /// documented must be answered 404, methods that are not 405.
    pub fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
        let Some(template) = template(doc, path) else {
            assert_eq!(status, 404, "{method} {path}: undocumented paths are 404");
            return;
        };
        let Some(operation) = doc["paths"][template].get(method.to_ascii_lowercase()) else {
            assert_eq!(status, 405, "{method} {path}: undocumented methods are 405");
            return;
        };
        let response = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {template}: status {status} is not documented ({body})"));
        let response = resolve(doc, response);
        let schema = &response["content"]["application/json"]["schema"];
        for name in required(doc, schema) {
            assert!(body.get(&name).is_some(), "{method} {template} {status}: the body lacks `{name}`: {body}");
        }
    }
}

/// The `pinpipe` CLI binary `cargo test` built beside this test binary.
pub fn pinpipe_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/it-<hash> → target/<profile>/pinpipe
    let bin = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>").join("pinpipe");
    assert!(bin.exists(), "{} is missing: run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// Each generated post's `index`/`ind` per kind, in the order sent.
pub fn generated_inds(posts: u64, seed: u64) -> [Vec<i64>; 3] {
    use pinpipe::Kind;
    use pinpipe::record::generate::{GenerateOptions, Generator};
    let generator = Generator::new(GenerateOptions { posts, seed, resend: true });
    let mut inds: [Vec<i64>; 3] = Default::default();
    for post in generator.posts() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let record: serde_json::Value = serde_json::from_str(post.record(kind)).expect("generated JSON");
            let ind = record.get("index").or(record.get("ind")).expect("an index");
            inds[i].push(ind.as_i64().or_else(|| ind.as_str()?.parse().ok()).expect("a numeric index"));
        }
    }
    inds
}

/// The request-counting object store (`pinpipe_local::counting`), beside the other local stand-ins.
pub use pinpipe_local::counting;

/// Pages in a real browser: Debian's Chromium, headless (`infra/stack.sh` installs it),
/// driven through its command line — the rendered DOM after the page's scripts ran,
/// what the page logged to its console, every request the page made (Chromium's own net
/// log), and screenshots at a desktop's and a phone's width.
pub mod browser {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub struct Rendered {
        /// The DOM after the page's scripts ran.
        pub dom: String,
        /// Console messages (errors, uncaught exceptions, logs), one per line.
        pub console: Vec<String>,
        /// The URLs of the requests the page made (not the browser's own).
        pub requests: Vec<String>,
        /// The screenshots: 1280×800 and 600×900.
        pub screenshots: Vec<PathBuf>,
    }

    fn chromium() -> String {
        std::env::var("PINPIPE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
    }

    /// Chromium headless as the machine allows it (root, no GPU, no network of its own).
    fn headless(profile: &Path) -> Command {
        let mut command = Command::new(chromium());
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]);
        command.arg(format!("--user-data-dir={}", profile.display()));
        command
    }

    /// Opens `url`, lets its scripts run for `settle_ms` of virtual time, and saves its
    /// screenshots as `<artifacts>/<name>-<width>x<height>.png` (paths printed).
    pub fn open(url: &str, artifacts: &Path, name: &str, settle_ms: u32) -> Rendered {
        std::fs::create_dir_all(artifacts).unwrap();
        let net_log = artifacts.join(format!("{name}-netlog.json"));
        let out = headless(&artifacts.join(format!("{name}-profile")))
            .args(["--enable-logging=stderr", "--v=0", "--window-size=1280,800", "--dump-dom"])
            .arg(format!("--virtual-time-budget={settle_ms}"))
            .arg(format!("--log-net-log={}", net_log.display()))
            .arg(url)
            .output()
            .unwrap_or_else(|e| panic!("{} (Chromium: infra/stack.sh installs it): {e}", chromium()));
        assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
        let console = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|line| line.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect();
        let mut screenshots = Vec::new();
        for (width, height) in [(1280, 800), (600, 900)] {
            let path = artifacts.join(format!("{name}-{width}x{height}.png"));
            let out = headless(&artifacts.join(format!("{name}-profile-{width}")))
                .arg(format!("--window-size={width},{height}"))
                .arg(format!("--virtual-time-budget={settle_ms}"))
                .arg(format!("--screenshot={}", path.display()))
                .arg(url)
                .output()
                .unwrap();
            assert!(out.status.success() && path.exists(), "screenshot: {}", String::from_utf8_lossy(&out.stderr));
            eprintln!("screenshot: {}", path.display());
            screenshots.push(path);
        }
        Rendered {
            dom: String::from_utf8_lossy(&out.stdout).into_owned(),
            console,
            requests: requests(&net_log),
            screenshots,
        }
    }

    /// The URLs the page asked for: requests started with a page as their initiator
    /// (the browser's own carry none).
    fn requests(net_log: &Path) -> Vec<String> {
        let log: serde_json::Value =
            serde_json::from_slice(&std::fs::read(net_log).expect("Chromium's net log")).expect("a JSON net log");
        let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_i64();
        log["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"].as_i64() == start_job)
            .filter(|e| e["params"]["initiator"].as_str().is_some_and(|i| i != "not an origin"))
            .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// The values of attribute `name` of every element whose opening tag contains
    /// `marker`, in document order.
    pub fn attributes<'a>(dom: &'a str, marker: &str, name: &str) -> Vec<&'a str> {
        let needle = format!("{name}=\"");
        dom.split('<')
            .filter(|tag| tag.split('>').next().is_some_and(|open| open.contains(marker)))
            .filter_map(|tag| {
                let open = tag.split('>').next()?;
                let start = open.find(&needle)? + needle.len();
                Some(&open[start..start + open[start..].find('"')?])
            })
            .collect()
    }
}
