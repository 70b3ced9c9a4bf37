//! The functions served by `cargo lambda watch`, driven with `cargo lambda invoke`
//! and the sample events in `events/`, against the local stack: what a developer
//! does by hand (README, SPEC §8).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pinpipe_tests::readers::{duckdb_delta, python};
use pinpipe_tests::{stack, temp_lake};

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
}

impl Watch {
    fn start(lake: &Path) -> Watch {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(cargo_lambda())
            .args(["lambda", "watch", "-A", "127.0.0.1", "-P", &port.to_string()])
            .current_dir(workspace())
            .env("PINPIPE_LAKE", lake)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo-lambda is installed by `infra/stack.sh up` (PINPIPE_CARGO_LAMBDA)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        Watch { child, port }
    }

    /// `cargo lambda invoke NAME --data-file events/FILE`: the function's answer.
    fn invoke(&self, function: &str, event_file: &str) -> serde_json::Value {
        let out = Command::new(cargo_lambda())
            .args([
                "lambda",
                "invoke",
                function,
                "--data-file",
                event_file,
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
    // Build first, as STACK.md advises: the first invoke otherwise compiles for minutes.
    let built = Command::new("cargo")
        .args(["build", "-q", "-p", "stream-cleaner", "-p", "ingest"])
        .current_dir(workspace())
        .status()
        .unwrap();
    assert!(built.success());
    let kinesis = stack::kinesis().await;
    // The sample event's stream, as the original project names it.
    let _ = kinesis.create_stream().stream_name("streaming-0a1b2c3d4e5f-pin").shard_count(1).send().await;
    let lake = temp_lake("watch");
    let watch = tokio::task::block_in_place(|| Watch::start(&lake));

    let answer = tokio::task::block_in_place(|| watch.invoke("stream-cleaner", "events/kinesis-batch.json"));
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{answer}");
    let read = duckdb_delta(lake.join("delta/stream/0a1b2c3d4e5f_geo_table").to_str().unwrap());
    assert_eq!(read.rows, 3);

    let answer = tokio::task::block_in_place(|| watch.invoke("ingest", "events/apigw-put-record.json"));
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let put: serde_json::Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert!(put["SequenceNumber"].is_string(), "{put}");

    // And as a client would: an HTTP PUT to ingest's function URL on watch.
    let stream = format!("streaming-{}-geo", stack::unique_name("w").replace('-', ""));
    kinesis.create_stream().stream_name(&stream).shard_count(1).send().await.unwrap();
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
    let shard = kinesis.list_shards().stream_name(&stream).send().await.unwrap().shards()[0].shard_id().to_owned();
    let it = kinesis
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = kinesis.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(got.records().len(), 1);
    let stored: serde_json::Value = serde_json::from_slice(got.records()[0].data().as_ref()).unwrap();
    assert_eq!(stored["ind"], 7);
    drop(watch);
}
