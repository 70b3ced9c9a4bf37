//! The ingest function's HTTP API (SPEC §5): the `/streams` routes the original
//! project's scripts call, in front of Kinesis ([`streams`]), and the Kafka REST proxy
//! v2 produce route `POST /topics/{topic}` in front of Kafka (MSK; tansu locally;
//! [`topics`]). Every answer is JSON; bad input is a 4xx naming the problem
//! ([`error`]) and nothing is half-written: every record of a request is checked
//! ([`body`]) before anything is sent. Routing and access are in [`routes`]; the
//! real-time metrics routes `GET /metrics/…` (SPEC §12) in [`metrics`].

mod body;
mod cache;
mod error;
pub mod kafka;
mod metrics;
mod routes;
pub mod services;
mod streams;
mod topics;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub use body::single_line;
pub use error::{ApiError, Envelope};
use routes::{Route, request_path, require_iam, route_of};

use crate::ingest::services::{StreamService, TopicService};
use crate::kind::Kind;
use crate::metrics::store::MetricsStore;

/// Kinesis' own limits, checked before calling it.
pub use body::MAX_RECORD_BYTES;
pub const MAX_PUT_RECORDS: usize = 500;
pub const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
/// The most one Kafka record (key and value) or one produce request to a partition
/// may hold: under MSK's default `message.max.bytes` (1 MiB + 12) with room for the
/// record batch's own overhead. Larger requests are split; a larger record is a 413.
pub const KAFKA_MAX_RECORD_BYTES: usize = 1_000_000;
/// The live metrics page (`GET /dashboard`): one self-contained file whose script reads
/// the `/metrics/…` routes beside it (relative URLs, so the stage prefix and `cargo
/// lambda watch`'s function URL work alike) every few seconds.
const DASHBOARD: &str = include_str!("dashboard.html");

fn dashboard() -> Response<Body> {
    let mut response = Response::new(Body::from(DASHBOARD));
    let headers = response.headers_mut();
    headers.insert("content-type", "text/html; charset=utf-8".parse().expect("static"));
    // Nothing but this page and its own origin: no script, font or image from elsewhere.
    headers.insert(
        "content-security-policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"
            .parse()
            .expect("static"),
    );
    headers.insert("cache-control", "no-cache".parse().expect("static"));
    response
}

/// Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6_000_000;

/// The ingest function's state, built once per Lambda instance.
#[derive(Clone)]
pub struct Ingest {
    /// Kinesis (`aws_sdk_kinesis::Client`), or the demo's in-process streams.
    streams: Arc<dyn StreamService>,
    /// Kafka; `None` when none is configured (the topic route says so).
    kafka: Option<Arc<dyn TopicService>>,
    /// Records without a key or partition go to the topic's partitions in turn.
    round_robin: Arc<AtomicUsize>,
    /// When set, only this deployment's streams and topics exist for the API
    /// (`streaming-<id>-{pin,geo,user}`, `<id>.{pin,geo,user}`); others are 404s.
    deployment: Option<String>,
    /// The real-time metrics (SPEC §12); `None`: the metrics routes say so.
    metrics: Option<Arc<dyn MetricsStore>>,
    /// The reading routes' recent answers ([`cache`]).
    read: Arc<ReadAnswers>,
}

/// What the reading routes keep for a few seconds.
#[derive(Default)]
struct ReadAnswers {
    streams: cache::Answers<(), Vec<String>>,
    summaries: cache::Answers<String, crate::ingest::services::StreamSummary>,
    /// A leaderboard's first and last bucket and its top keys, by dimension and window.
    boards: cache::Answers<(crate::metrics::Dimension, &'static str), (i64, i64, Vec<crate::metrics::Total>)>,
}

impl Ingest {
    pub fn new(streams: impl StreamService + 'static) -> Self {
        Ingest {
            streams: Arc::new(streams),
            kafka: None,
            round_robin: Arc::default(),
            deployment: None,
            metrics: None,
            read: Arc::default(),
        }
    }

    /// Serves only deployment `id`'s streams and topics (the Lambda: other
    /// deployments' and the account's other streams are not this API's to list or write).
    pub fn for_deployment(mut self, id: &str) -> Self {
        self.deployment = Some(id.to_owned());
        self
    }

    /// Serves `POST /topics/{topic}` through `kafka` (a `KafkaProducer`, or the demo's topics).
    pub fn with_kafka(mut self, kafka: Arc<dyn TopicService>) -> Self {
        self.kafka = Some(kafka);
        self
    }

    /// Serves `GET /metrics/…` from `metrics` (DynamoDB, or the demo's in-process store).
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsStore>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Whether `name` (a stream or a topic) belongs to this API.
    fn serves(&self, name: &str) -> bool {
        let Some(id) = &self.deployment else { return true };
        let names = crate::config::Names { id };
        Kind::ALL.into_iter().any(|kind| name == names.stream(kind) || name == names.topic(kind))
    }

    /// Answers one request; every failure is a JSON error response, never a panic or a bare 500.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.dispatch(&request).await {
            Ok(response) => response,
            Err(error) => {
                if error.status().is_server_error() {
                    tracing::warn!(status = %error.status(), message = %error.message(), "upstream failure");
                }
                // The Kafka REST routes answer every error in Confluent's envelope.
                let envelope = match route_of(&request) {
                    Some(Route::Topic(_)) => Envelope::Confluent,
                    _ => Envelope::Plain,
                };
                error.into_response(envelope)
            }
        }
    }

    async fn dispatch(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let path = request_path(request);
        let Some(route) = route_of(request) else { return Err(ApiError::NoRoute { path: path.to_owned() }) };
        let method = request.method();
        if !route.allowed().contains(method) {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                path: path.to_owned(),
                allow: route.allowed().iter().map(Method::as_str).collect::<Vec<_>>().join(", "),
            });
        }
        let body = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(format!("the body is {} bytes; the limit is {MAX_BODY_BYTES}", body.len())));
        }
        if let Some(name) = route.name()
            && !self.serves(name)
        {
            return Err(match route {
                Route::Topic(_) => ApiError::TopicNotFound { name: name.to_owned() },
                _ => ApiError::StreamNotFound { name: name.to_owned() },
            });
        }
        match (route, method) {
            (Route::Streams, _) => self.list_streams().await,
            (Route::Stream(name), &Method::GET) => self.describe_stream(name, require_iam(request).is_ok()).await,
            (Route::Stream(name), &Method::POST) => {
                require_iam(request)?;
                self.create_stream(name, body).await
            }
            (Route::Stream(name), _) => {
                require_iam(request)?;
                self.delete_stream(name).await
            }
            (Route::Record(name), _) => self.put_record(name, body).await,
            (Route::Records(name), _) => self.put_records(name, body).await,
            (Route::Topic(topic), _) => {
                let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok());
                self.produce(topic, content_type, body).await
            }
            (Route::MetricsTop(dimension), _) => self.metrics_top(dimension, request).await,
            (Route::ProfileMetrics(name), _) => self.profile_metrics(name, request).await,
            (Route::Dashboard, _) => Ok(dashboard()),
        }
    }
}
