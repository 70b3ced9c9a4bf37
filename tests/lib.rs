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

    /// S3 client for moto (it needs path-style addressing).
    pub async fn s3() -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&aws_config().await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn kinesis() -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&aws_config().await)
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
