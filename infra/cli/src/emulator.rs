//! The original project's user posting emulation (SPEC §8): each post's three records
//! sent as its scripts sent them — batch mode POSTs the Kafka REST v2 body to
//! `/topics/<id>.pin|geo|user`; stream mode PUTs `/streams/streaming-<id>-*/record` —
//! and every answer tallied as accepted or rejected with its reason. The requests go
//! over HTTP to any base URL ([`HttpApi`]), or straight into the ingest handler
//! ([`InProcessApi`], what `pinpipe demo` uses).

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::ingest::Ingest;
use serde_json::value::RawValue;

/// Which of the two pipelines the posts go into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Kafka REST proxy v2 produce to the topics (the batch path).
    Batch,
    /// Kinesis PutRecord through the `/streams` routes (the streaming path).
    Stream,
}

/// One request, independent of how it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// From the API's root, e.g. `/topics/0a1b2c3d4e5f.pin`.
    pub path: String,
    pub content_type: &'static str,
    pub body: String,
}

/// The request the original scripts send for one record (`record` is its JSON object).
pub fn request_for(mode: Mode, names: Names<'_>, kind: Kind, record: &RawValue) -> ApiRequest {
    match mode {
        Mode::Batch => ApiRequest {
            method: "POST",
            path: format!("/topics/{}", names.topic(kind)),
            content_type: "application/vnd.kafka.json.v2+json",
            body: format!(r#"{{"records": [{{"value": {}}}]}}"#, record.get()),
        },
        Mode::Stream => {
            let stream = names.stream(kind);
            ApiRequest {
                method: "PUT",
                path: format!("/streams/{stream}/record"),
                content_type: "application/json",
                body: format!(
                    r#"{{"StreamName": "{stream}", "Data": {}, "PartitionKey": "partition-1"}}"#,
                    record.get()
                ),
            }
        }
    }
}

/// What came back: the status and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The request could not be sent or answered at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Where the requests go.
#[async_trait]
pub trait Api: Send + Sync {
    async fn send(&self, request: ApiRequest) -> Result<ApiAnswer, TransportError>;
}

/// A deployed API, or `cargo lambda watch` (`http://127.0.0.1:9000/lambda-url/ingest`).
pub struct HttpApi {
    base: String,
    client: reqwest::Client,
    /// Sent as `x-api-key` (a stack deployed with ApiAuth=api-key).
    api_key: Option<String>,
}

impl HttpApi {
    pub fn new(base: &str) -> Self {
        HttpApi { base: base.trim_end_matches('/').to_owned(), client: reqwest::Client::new(), api_key: None }
    }

    pub fn with_api_key(mut self, api_key: Option<String>) -> Self {
        self.api_key = api_key;
        self
    }
}

#[async_trait]
impl Api for HttpApi {
    async fn send(&self, request: ApiRequest) -> Result<ApiAnswer, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a valid method");
        let mut http = self
            .client
            .request(method, format!("{}{}", self.base, request.path))
            .header("content-type", request.content_type);
        if let Some(key) = &self.api_key {
            http = http.header("x-api-key", key);
        }
        let response =
            http.body(request.body).send().await.map_err(|e| TransportError(format!("{}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| TransportError(e.to_string()))?.to_vec();
        Ok(ApiAnswer { status, body })
    }
}

/// The ingest handler itself, as API Gateway would invoke it.
pub struct InProcessApi(pub Ingest);

#[async_trait]
impl Api for InProcessApi {
    async fn send(&self, request: ApiRequest) -> Result<ApiAnswer, TransportError> {
        let http = lambda_http::http::Request::builder()
            .method(request.method)
            .uri(format!("https://in-process{}", request.path))
            .header("content-type", request.content_type)
            .body(lambda_http::Body::from(request.body))
            .map_err(|e| TransportError(e.to_string()))?;
        let response = self.0.handle(http).await;
        Ok(ApiAnswer { status: response.status().as_u16(), body: response.body().to_vec() })
    }
}

/// Accepted and rejected records, the rejections by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub accepted: BTreeMap<Kind, u64>,
    pub rejected: BTreeMap<String, u64>,
}

impl Tally {
    pub fn accepted_total(&self) -> u64 {
        self.accepted.values().sum()
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one answer. Accepted means a 2xx whose body reports no per-record error.
    pub fn count(&mut self, kind: Kind, answer: Result<ApiAnswer, TransportError>) {
        match answer {
            Ok(answer) => match rejection(&answer) {
                None => *self.accepted.entry(kind).or_default() += 1,
                Some(reason) => *self.rejected.entry(format!("{kind}: {reason}")).or_default() += 1,
            },
            Err(error) => *self.rejected.entry(format!("{kind}: not sent: {error}")).or_default() += 1,
        }
    }
}

/// Why an answer is a rejection, from its status and JSON body (SPEC §5's error shapes).
fn rejection(answer: &ApiAnswer) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&answer.status) {
        // Kafka REST answers 200 with per-record errors; PutRecords with a failed count.
        let failed_offset = body["offsets"].as_array().into_iter().flatten().find(|o| !o["error_code"].is_null());
        return failed_offset.map(|o| format!("error_code {}: {}", o["error_code"], o["error"].as_str().unwrap_or("")));
    }
    let message = body["message"].as_str().or(body["error"].as_str()).unwrap_or("no JSON error body");
    let field = body["field"].as_str().map(|f| format!(" (field {f})")).unwrap_or_default();
    Some(format!("{} {message}{field}", answer.status))
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accepted: Vec<String> = self.accepted.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        write!(f, "accepted {} records ({})", self.accepted_total(), accepted.join(", "))?;
        write!(f, "; rejected {}", self.rejected_total())?;
        for (reason, n) in &self.rejected {
            write!(f, "\n  {n} × {reason}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    /// One HTTP request read off a real socket, answered 200 `{}`: its head, lowercased.
    async fn one_request_head(listener: tokio::net::TcpListener) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client hung up mid-request");
            head.extend_from_slice(&buf[..n]);
        }
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await.unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    }

    #[tokio::test]
    async fn an_api_key_is_sent_only_when_given() {
        for key in [Some("k3y"), None] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(one_request_head(listener));
            let api = HttpApi::new(&base).with_api_key(key.map(str::to_owned));
            let record = raw(r#"{"ind": 1}"#);
            let answer = api.send(request_for(Mode::Stream, Names { id: "abcd" }, Kind::Pin, &record)).await.unwrap();
            assert_eq!(answer.status, 200);
            let head = server.await.unwrap();
            assert!(head.starts_with("put /streams/streaming-abcd-pin/record "), "{head}");
            assert_eq!(head.contains("\r\nx-api-key: k3y\r\n"), key.is_some(), "{head}");
            assert_eq!(head.contains("x-api-key"), key.is_some(), "{head}");
        }
    }

    #[test]
    fn requests_have_the_original_scripts_shapes() {
        let names = Names { id: "0a1b2c3d4e5f" };
        let record = raw(r#"{"ind": 7, "country": "Albania"}"#);
        let batch = request_for(Mode::Batch, names, Kind::Geo, &record);
        assert_eq!((batch.method, batch.path.as_str()), ("POST", "/topics/0a1b2c3d4e5f.geo"));
        assert_eq!(batch.content_type, "application/vnd.kafka.json.v2+json");
        let body: serde_json::Value = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(body["records"][0]["value"]["ind"], 7);
        let stream = request_for(Mode::Stream, names, Kind::Geo, &record);
        assert_eq!((stream.method, stream.path.as_str()), ("PUT", "/streams/streaming-0a1b2c3d4e5f-geo/record"));
        let body: serde_json::Value = serde_json::from_str(&stream.body).unwrap();
        assert_eq!(body["StreamName"], "streaming-0a1b2c3d4e5f-geo");
        assert_eq!(body["Data"]["country"], "Albania");
        assert_eq!(body["PartitionKey"], "partition-1");
    }

    #[test]
    fn answers_are_tallied_with_their_reasons() {
        let mut tally = Tally::default();
        let ok = |body: &str| Ok(ApiAnswer { status: 200, body: body.as_bytes().to_vec() });
        tally.count(Kind::Pin, ok(r#"{"offsets":[{"partition":0,"offset":3,"error_code":null}]}"#));
        tally.count(Kind::Pin, ok(r#"{"offsets":[{"partition":0,"offset":null,"error_code":50003,"error":"down"}]}"#));
        tally.count(
            Kind::Geo,
            Ok(ApiAnswer { status: 400, body: br#"{"message":"no ind","field":"Data.ind"}"#.to_vec() }),
        );
        tally.count(Kind::User, Err(TransportError("connection refused".into())));
        assert_eq!(tally.accepted_total(), 1);
        assert_eq!(tally.rejected_total(), 3);
        assert_eq!(tally.rejected["geo: 400 no ind (field Data.ind)"], 1);
        assert_eq!(tally.rejected["pin: error_code 50003: down"], 1);
        assert!(tally.to_string().contains("1 × user: not sent: connection refused"), "{tally}");
    }
}
