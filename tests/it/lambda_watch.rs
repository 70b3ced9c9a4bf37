//! The functions served by `cargo lambda watch`, driven with `cargo lambda invoke`
//! and the sample events in `events/`, against the local stack: what a developer
//! does by hand (README, SPEC §8).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pinpipe::Kind;
use pinpipe_tests::readers::{duckdb_delta, python};
use pinpipe_tests::{generated_inds, pinpipe_bin, published_run, sample_lines, stack, temp_lake};

/// The cargo-lambda binary the stack installed (`infra/stack.sh env`).
fn cargo_lambda() -> String {
    std::env::var("PINPIPE_CARGO_LAMBDA").unwrap_or_else(|_| {
        format!("{}/.cache/pinpipe/venv/bin/cargo-lambda", std::env::var("HOME").unwrap_or_default())
    })
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `cargo lambda watch` on a free loopback port; stopped (with the functions it
/// started) when dropped.
struct Watch {
    child: Child,
    port: u16,
    /// The deployment the functions serve (`PINPIPE_ID`): the sample events are sent
    /// with their id `0a1b2c3d4e5f` replaced by it, so this test shares no stream,
    /// topic or table with the stack's default deployment.
    id: String,
    lake: PathBuf,
}

impl Watch {
    fn start(lake: &Path, id: &str) -> Watch {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The tests' own target directory: watch runs `cargo run --bin <function>` at the
        // workspace root, whose features unify over the default members exactly as
        // `cargo test --workspace` does, so every dependency is already built and only the
        // six function crates are (one build of the workspace, not two).
        let target =
            std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
        let log = lake.join("cargo-lambda-watch.log");
        let mut command = Command::new(cargo_lambda());
        // What cargo set for this test process (its package, its OUT_DIR): build scripts
        // such as ring's rerun when these differ from the shell the workspace was built
        // in, and everything above them would be built again.
        for (name, _) in std::env::vars() {
            let set_by_cargo_for_this_test = name == "OUT_DIR"
                || [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                    "CARGO_PRIMARY_",
                    "CARGO_TARGET_TMPDIR",
                ]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if set_by_cargo_for_this_test {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["lambda", "watch", "-A", "127.0.0.1", "-P", &port.to_string()])
            // (an env var: cargo-lambda 1.9 passes `--target-dir` on to `cargo metadata`, which refuses it)
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(workspace())
            .env("PINPIPE_LAKE", lake)
            .env("PINPIPE_ID", id)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("a log file for watch")))
            .spawn()
            .expect("cargo-lambda is installed by `infra/stack.sh up` (PINPIPE_CARGO_LAMBDA)");
        // With an empty target directory, watch compiles before it listens.
        let deadline = Instant::now() + Duration::from_secs(900);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("cargo lambda watch exited ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port} within 15 minutes");
            std::thread::sleep(Duration::from_millis(200));
        }
        Watch { child, port, id: id.to_owned(), lake: lake.to_path_buf() }
    }

    /// `events/FILE` (or any event file, by absolute path) for this test's deployment:
    /// written beside the lake, its path.
    fn sample(&self, event_file: &str) -> String {
        let text = std::fs::read_to_string(workspace().join(event_file)).expect("a sample event");
        let path = self.lake.join(Path::new(event_file).file_name().unwrap());
        std::fs::write(&path, text.replace("0a1b2c3d4e5f", &self.id)).unwrap();
        path.display().to_string()
    }

    /// Like [`Watch::invoke`], retried while watch compiles the function on its first
    /// invocation (minutes on a cold machine; invoke gives up sooner). Only for events
    /// that are safe to deliver twice.
    fn invoke_when_built(&self, function: &str, event_file: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::panic::catch_unwind(|| self.invoke(function, event_file)) {
                Ok(answer) => return answer,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_secs(5)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }

    /// `cargo lambda invoke NAME --data-file events/FILE`: the function's answer.
    fn invoke(&self, function: &str, event_file: &str) -> serde_json::Value {
        let data_file = self.sample(event_file);
        let out = Command::new(cargo_lambda())
            .args([
                "lambda",
                "invoke",
                function,
                "--data-file",
                &data_file,
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .current_dir(workspace())
            .output()
            .unwrap();
        assert!(out.status.success(), "invoke {function}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGTERM to watch alone: it stops the function processes it started.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_events_through_cargo_lambda_watch_reach_the_lake_and_kinesis() {
    let kinesis = stack::kinesis().await;
    // The sample events' streams, as the original project names them (the stream
    // cleaner asks Kinesis when its event's stream was created).
    let id = stack::unique_name("w").replace('-', "").chars().take(20).collect::<String>();
    for kind in ["pin", "geo"] {
        let _ = kinesis.create_stream().stream_name(format!("streaming-{id}-{kind}")).shard_count(1).send().await;
    }
    let lake = temp_lake("watch");
    let watch = tokio::task::block_in_place(|| Watch::start(&lake, &id));

    let answer = tokio::task::block_in_place(|| watch.invoke_when_built("stream-cleaner", "events/kinesis-batch.json"));
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{answer}");
    let read = duckdb_delta(lake.join(format!("delta/stream/{id}_geo_table")).to_str().unwrap());
    assert_eq!(read.rows, 3);

    let answer = tokio::task::block_in_place(|| watch.invoke_when_built("batch-sink", "events/msk-batch.json"));
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{answer}");
    let landed = std::fs::read_to_string(lake.join(format!("topics/{id}.geo/partition=0/{id}.geo+0+0000000000.json")))
        .expect("the sample's geo records in Kafka Connect's layout");
    let expected: String = sample_lines("sample_geo.jsonl")[..2].iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(landed, expected);

    // The daily job over what the sink just landed: 2 posts, each kind's 2 records.
    let answer =
        tokio::task::block_in_place(|| watch.invoke_when_built("daily-analytics", "events/eventbridge-daily.json"));
    assert_eq!(answer["run_date"], "2026-11-22", "{answer}");
    assert_eq!(answer["counts"]["rows_cleaned"], 6, "{answer}");
    // A past date: answered over silver as it stood then (nothing yet), and published.
    assert!(published_run(&lake, "2026-11-22").1.join("report.md").exists());

    // Table maintenance over the tables the cleaner and the daily job just wrote.
    let answer = tokio::task::block_in_place(|| {
        watch.invoke_when_built("table-maintenance", "events/eventbridge-hourly-maintenance.json")
    });
    let tables: Vec<&str> = answer["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .filter_map(|t| t["table"].as_str())
        .collect();
    assert!(tables.contains(&format!("delta/stream/{id}_geo_table").as_str()), "{answer}");
    assert!(tables.contains(&format!("delta/batch/{id}_pin").as_str()), "{answer}");

    // ingest is built on its first invocation: wait for that with a request that
    // changes nothing (an unknown path, a 404), so the PutRecord is sent once.
    let sample = std::fs::read_to_string(workspace().join("events/apigw-put-record.json")).unwrap();
    let mut warmup: serde_json::Value = serde_json::from_str(&sample).unwrap();
    warmup["path"] = "/warm-up".into();
    let warmup_file = lake.join("apigw-warm-up.json");
    std::fs::write(&warmup_file, warmup.to_string()).unwrap();
    let answer = tokio::task::block_in_place(|| watch.invoke_when_built("ingest", warmup_file.to_str().unwrap()));
    assert_eq!(answer["statusCode"], 404, "{answer}");
    let answer = tokio::task::block_in_place(|| watch.invoke("ingest", "events/apigw-put-record.json"));
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let put: serde_json::Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert!(put["SequenceNumber"].is_string(), "{put}");

    // And as a client would: an HTTP PUT to ingest's function URL on watch.
    let stream = format!("streaming-{id}-geo");
    let url = format!("http://127.0.0.1:{}/lambda-url/ingest/streams/{stream}/record", watch.port);
    let script = r#"
import json, sys, urllib.request
body = json.dumps({"Data": {"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": 1.5, "longitude": 2.5, "country": "Chad"}, "PartitionKey": "p"}).encode()
req = urllib.request.Request(sys.argv[1], data=body, method="PUT", headers={"content-type": "application/json"})
with urllib.request.urlopen(req, timeout=120) as r:
    print(r.status, r.read().decode())
"#;
    let out = tokio::task::block_in_place(|| Command::new(python()).args(["-c", script, &url]).output().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("200 "), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let records = stack::read_stream(&kinesis, &stream).await;
    assert_eq!(records.len(), 1);
    let stored: serde_json::Value = serde_json::from_slice(&records[0].1).unwrap();
    assert_eq!(stored["ind"], 7);

    emulate_through_watch(&watch, &kinesis).await;
    bypass_paths_through_watch(&watch, &kinesis).await;
    metrics_through_watch(&watch).await;
    drop(watch);
    tokio::task::block_in_place(readme_walkthrough);
}

/// The first ```sh block under README heading `heading`, line by line.
fn readme_block(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").unwrap_or_else(|| panic!("no sh block under {heading:?}")) + "```sh\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].lines().map(str::to_owned).collect()
}

/// The README's local streaming walkthrough, its commands taken from the README as
/// written (so the two cannot drift), on a fresh lake: only the port (this test's
/// watch) and `./lake` (a temp dir) are substituted. The deployment is the default
/// one, which `infra/stack.sh up` creates: this is what used to answer 404 for every
/// record on a fresh machine.
fn readme_walkthrough() {
    let lines = readme_block("## The streaming path, locally");
    let command = |line: &str| line.split("  #").next().unwrap().trim().to_owned();
    let [up, watch_line, invoke, expected] = &lines[..] else { panic!("the walkthrough changed shape: {lines:#?}") };

    // 1. The stack (already up for the tests: `up` is idempotent) and its variables.
    let out = Command::new("bash").args(["-c", &command(up)]).current_dir(workspace()).output().unwrap();
    assert!(out.status.success(), "{up}: {}", String::from_utf8_lossy(&out.stderr));

    // 2. watch, as this test's Watch runs it (with the README's flags).
    assert_eq!(command(watch_line), "$PINPIPE_CARGO_LAMBDA lambda watch -A 127.0.0.1 -P 9000 &");
    let lake = temp_lake("readme-walkthrough");
    let watch = Watch::start(&lake, pinpipe::config::DEFAULT_ID);
    let port = |line: String| {
        line.replace("-P 9000", &format!("-P {}", watch.port)).replace(":9000/", &format!(":{}/", watch.port))
    };

    // 3. The sample Kinesis batch through the stream cleaner: the answer and the rows the README promises.
    let (answer, rows_at) = expected
        .trim_start_matches("# → ")
        .split_once("; rows in ")
        .unwrap_or_else(|| panic!("the expected result changed shape: {expected}"));
    let deadline = Instant::now() + Duration::from_secs(900);
    let out = loop {
        let out = Command::new("bash")
            .args(["-c", &port(command(invoke))])
            .current_dir(workspace())
            .env("PINPIPE_CARGO_LAMBDA", cargo_lambda())
            .output()
            .unwrap();
        // watch builds the function on its first invocation; invoke may give up first.
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_secs(5));
    };
    assert!(out.status.success(), "{invoke}: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, serde_json::from_str::<serde_json::Value>(answer).unwrap(), "{invoke}");
    let table = lake.join(rows_at.trim().trim_start_matches("./lake/"));
    assert_eq!(duckdb_delta(table.to_str().unwrap()).rows, 3, "{rows_at}");

    // 4. Emulated users against ingest on watch, the README's first emulate command.
    let emulate = readme_block("## Emulating users: `pinpipe emulate`");
    let line = emulate.iter().find(|l| l.starts_with("pinpipe emulate") && l.contains("--mode stream")).unwrap();
    let args: Vec<String> = port(line.clone()).split_whitespace().skip(1).map(str::to_owned).collect();
    let out = Command::new(pinpipe_bin()).args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{line}: {text}");
    let posts: u64 = args.windows(2).find(|w| w[0] == "--posts").map(|w| w[1].parse().unwrap()).unwrap();
    assert!(
        text.contains(&format!("accepted {} records ({posts} pin, {posts} geo, {posts} user); rejected 0", posts * 3)),
        "{line}: {text}"
    );
}

/// `pinpipe emulate` against ingest on watch, as against a deployed API: stream mode
/// from generated posts, batch mode from the real samples in MariaDB.
async fn emulate_through_watch(watch: &Watch, kinesis: &aws_sdk_kinesis::Client) {
    // The deployment ingest serves on watch (it answers 404 for any other's streams).
    let id = watch.id.clone();
    let kafka = rskafka::client::ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    let mut before = Vec::new();
    for kind in Kind::ALL {
        let stream = format!("streaming-{id}-{kind}");
        let _ = kinesis.create_stream().stream_name(&stream).shard_count(1).send().await;
        before.push(stack::read_stream(kinesis, &stream).await.len());
        kafka.controller_client().unwrap().create_topic(format!("{id}.{kind}"), 1, 1, 5_000).await.unwrap();
    }
    let api = format!("http://127.0.0.1:{}/lambda-url/ingest", watch.port);
    let emulate_as = |id: &str, args: &[&str]| {
        let out = tokio::task::block_in_place(|| {
            Command::new(pinpipe_bin()).args(["emulate", "--api", &api, "--id", id]).args(args).output().unwrap()
        });
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let emulate = |args: &[&str]| emulate_as(&id, args);

    // Stream mode, generated posts: every record in its stream as plain JSON.
    let (ok, out) = emulate(&["--mode", "stream", "--posts", "15", "--seed", "7"]);
    assert!(ok, "{out}");
    assert!(out.contains("accepted 45 records (15 pin, 15 geo, 15 user); rejected 0"), "{out}");
    let expected = generated_inds(15, 7);
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let records = stack::read_stream(kinesis, &format!("streaming-{id}-{kind}")).await;
        let inds: Vec<i64> = records[before[i]..]
            .iter()
            .map(|(_, data)| {
                let value: serde_json::Value = serde_json::from_slice(data).expect("plain JSON in Kinesis");
                value.get("index").or(value.get("ind")).and_then(serde_json::Value::as_i64).unwrap()
            })
            .collect();
        assert_eq!(inds, expected[i], "{kind}: the posts in the order sent");
    }

    // Batch mode, the MySQL source: the rows reach Kafka byte-identical to the real samples.
    let mysql = std::env::var("PINPIPE_MYSQL_URL").expect("PINPIPE_MYSQL_URL from infra/stack.sh env");
    let (ok, out) = emulate(&["--mode", "batch", "--posts", "10", "--source", &mysql]);
    assert!(ok, "{out}");
    assert!(out.contains("accepted 30 records (10 pin, 10 geo, 10 user); rejected 0"), "{out}");
    // The credentials from a file like the original db_creds.yaml instead.
    let url = mysql.trim_start_matches("mysql://");
    let (user_pass, host_db) = url.split_once('@').unwrap();
    let (user, pass) = user_pass.split_once(':').unwrap();
    let (host_port, database) = host_db.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let creds = temp_lake("creds").join("db_creds.yaml");
    std::fs::write(
        &creds,
        format!("HOST: {host}\nPORT: {port}\nUSER: {user}\nPASSWORD: {pass}\nDATABASE: {database}\n"),
    )
    .unwrap();
    let (ok, out) =
        emulate(&["--mode", "batch", "--posts", "5", "--source", "mysql", "--db-creds", creds.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("accepted 15 records"), "{out}");
    let mut first_inds = Vec::new();
    for kind in Kind::ALL {
        let sample = sample_lines(&format!("sample_{kind}.jsonl"));
        let partition = kafka
            .partition_client(format!("{id}.{kind}"), 0, rskafka::client::partition::UnknownTopicHandling::Error)
            .await
            .unwrap();
        let (records, _) = partition.fetch_records(0, 1..4_000_000, 1_000).await.unwrap();
        assert_eq!(records.len(), 15, "{kind}");
        let mut inds = Vec::new();
        for record in &records {
            let value = String::from_utf8(record.record.value.clone().unwrap()).unwrap();
            assert!(sample.contains(&value), "{kind}: {value} is not a line of sample_{kind}.jsonl");
            let parsed: serde_json::Value = serde_json::from_str(&value).unwrap();
            inds.push(parsed.get("index").or(parsed.get("ind")).and_then(serde_json::Value::as_i64).unwrap());
        }
        first_inds.push(inds);
    }
    // One random row per post, the same row of each table: the three records belong together.
    assert_eq!(first_inds[0], first_inds[1]);
    assert_eq!(first_inds[1], first_inds[2]);

    // A stream that does not exist: every record rejected with the API's reason, and a failing exit.
    let (ok, out) = emulate_as("nosuchid", &["--mode", "stream", "--posts", "2"]);
    assert!(!ok, "{out}");
    assert!(out.contains("rejected 6"), "{out}");
    assert!(out.contains("404 stream \"streaming-nosuchid-pin\" does not exist (field stream-name)"), "{out}");
}

/// A route's auth cannot be gone round by putting the route after another path: what
/// once reached the record routes from anywhere in the path is a JSON 404, and
/// nothing reaches the stream or the topic.
async fn bypass_paths_through_watch(watch: &Watch, kinesis: &aws_sdk_kinesis::Client) {
    let id = &watch.id;
    let stream = format!("streaming-{id}-pin");
    let topic = format!("{id}.pin");
    let kafka = rskafka::client::ClientBuilder::new(vec![stack::kafka_bootstrap()]).build().await.unwrap();
    let partition = kafka
        .partition_client(topic.clone(), 0, rskafka::client::partition::UnknownTopicHandling::Error)
        .await
        .unwrap();
    let high = || async { partition.get_offset(rskafka::client::partition::OffsetAt::Latest).await.unwrap() };
    let (records_before, offset_before) = (stack::read_stream(kinesis, &stream).await.len(), high().await);
    let pin: serde_json::Value = serde_json::from_str(&sample_lines("sample_pin.jsonl")[0]).unwrap();
    let record = serde_json::json!({ "StreamName": stream, "Data": pin, "PartitionKey": "p" });
    let records = serde_json::json!({ "records": [{ "data": pin, "partition-key": "p" }] });
    let produce = serde_json::json!({ "records": [{ "value": pin }] });
    let api = format!("http://127.0.0.1:{}/lambda-url/ingest", watch.port);
    let http = reqwest::Client::new();
    for (method, path, body) in [
        ("PUT", format!("/anything/streams/{stream}/record"), &record),
        ("PUT", format!("/prod/x/streams/{stream}/records"), &records),
        ("PUT", format!("/streams/{stream}/record/extra"), &record),
        ("POST", format!("/x/topics/{topic}"), &produce),
        ("POST", format!("/metrics/topics/{topic}"), &produce),
    ] {
        let answer = http
            .request(method.parse().unwrap(), format!("{api}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let answer: serde_json::Value = answer.json().await.expect("a JSON answer");
        assert_eq!((status.as_u16(), answer["error"].as_str()), (404, Some("not_found")), "{method} {path}: {answer}");
    }
    assert_eq!(stack::read_stream(kinesis, &stream).await.len(), records_before, "nothing reached the stream");
    assert_eq!(high().await, offset_before, "nothing reached the topic");
}

/// stream-metrics as watch serves it, fed by `pinpipe poll-stream --invoke` as the event
/// source mapping, read back through ingest's metrics route on watch: a profile's posts
/// are counted once each (a re-sent post once), and again so after the whole stream is
/// delivered a second time (a new mapping starts at TRIM_HORIZON).
async fn metrics_through_watch(watch: &Watch) {
    let id = &watch.id;
    stack::create_metrics_table(&format!("pinpipe-{id}-metrics")).await;
    let stream = format!("streaming-{id}-pin");
    let api = format!("http://127.0.0.1:{}/lambda-url/ingest", watch.port);
    let poster = format!("Watch Poster {id}");
    let pin: serde_json::Value = serde_json::from_str(&sample_lines("sample_pin.jsonl")[0]).unwrap();
    let http = reqwest::Client::new();
    for ind in [9_000_001, 9_000_002, 9_000_001] {
        let mut record = pin.clone();
        record["poster_name"] = poster.clone().into();
        record["index"] = ind.into();
        let body = serde_json::json!({ "StreamName": stream, "Data": record, "PartitionKey": "p" });
        let answer = http.put(format!("{api}/streams/{stream}/record")).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    }
    let invoke = format!("http://127.0.0.1:{}/2015-03-31/functions/stream-metrics/invocations", watch.port);
    for delivery in 1..=2 {
        // The first invocation waits while watch compiles stream-metrics.
        let out = tokio::task::block_in_place(|| {
            Command::new(pinpipe_bin())
                .args(["poll-stream", "--stream", &stream, "--function", "stream-metrics", "--invoke", &invoke])
                .output()
                .unwrap()
        });
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "delivery {delivery}: {text}");
        // (The first may see an invocation fail while watch compiles; it is redelivered.)
        assert!(delivery == 1 || text.contains(" records, 0 failed"), "delivery {delivery}: {text}");
        let url = format!("{api}/metrics/profiles/{}?window=24h", poster.replace(' ', "%20"));
        let answer: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(answer["posts"], 2, "delivery {delivery}: {answer}");
        assert_eq!(answer["poster_name"], poster.as_str(), "{answer}");
    }
    dashboard_through_watch(&api).await;
}

/// The live metrics page as a browser opens it through watch: its bars are what the
/// `/metrics/…` routes beside it answer, it asks nothing of any other origin, and logs
/// nothing to its console.
async fn dashboard_through_watch(api: &str) {
    let http = reqwest::Client::new();
    let top: serde_json::Value =
        http.get(format!("{api}/metrics/profiles/top?window=1h&limit=10")).send().await.unwrap().json().await.unwrap();
    let first = top["items"][0]["key"].as_str().unwrap_or_else(|| panic!("no profile counted: {top}")).to_owned();
    let artifacts = temp_lake("dashboard");
    let rendered = tokio::task::block_in_place(|| {
        pinpipe_tests::browser::open(&format!("{api}/dashboard"), &artifacts, "dashboard", 4_000)
    });
    crate::browser::keep_for_the_docs(&rendered.screenshots, "dashboard");
    assert_eq!(rendered.console, Vec::<String>::new(), "nothing logged to the console");
    let origin = api.split("/lambda-url").next().unwrap();
    assert!(!rendered.requests.is_empty(), "the page read the metrics");
    assert!(rendered.requests.iter().all(|url| url.starts_with(&format!("{origin}/"))), "{:?}", rendered.requests);
    assert!(rendered.dom.contains("data-loaded=\"true\""), "the page loaded its data: {}", rendered.dom);
    let profiles = &rendered.dom[rendered.dom.find("id=\"profiles\"").unwrap()..];
    let labels = pinpipe_tests::browser::attributes(profiles, "bar-row", "data-label");
    assert_eq!(labels.first().copied(), Some(first.as_str()), "the page's first profile is the API's");
    let values = pinpipe_tests::browser::attributes(profiles, "bar-row", "data-value");
    assert_eq!(values.first().and_then(|v| v.parse::<u64>().ok()), top["items"][0]["posts"].as_u64());
}
