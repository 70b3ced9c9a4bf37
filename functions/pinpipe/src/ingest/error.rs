//! The API's errors: one enum, each variant with its status, stable code and the
//! field it names, rendered once into either envelope — plain JSON
//! (`{"error", "message", "field"?, "retryable"?}`) on the `/streams` routes, or
//! Confluent's (`{"error_code", "message"}`) on the Kafka REST routes. Upstream
//! failures arrive typed ([`ServiceError`]) and are mapped here, once per service.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::ingest::services::ServiceError;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    NoRoute {
        path: String,
    },
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
    /// A body or a request over a limit.
    TooLarge(String),
    /// One record over a limit.
    RecordTooLarge {
        field: String,
        message: String,
    },
    MalformedJson(String),
    /// A field of the request is missing or wrong (400).
    BadField {
        field: String,
        message: String,
    },
    /// A record of a produce request cannot be taken (Kafka REST proxy's 422).
    InvalidRecord {
        field: String,
        message: String,
    },
    UnsupportedMediaType(String),
    Forbidden(String),
    StreamNotFound {
        name: String,
    },
    TopicNotFound {
        name: String,
    },
    PartitionNotFound {
        topic: String,
        partition: i32,
        field: String,
    },
    StreamInUse(String),
    /// The upstream service found the request invalid.
    Invalid(String),
    /// Kafka refused for a reason a retry cannot fix (413 too large, 404 unknown).
    KafkaRefused {
        status: StatusCode,
        message: String,
    },
    /// A query parameter is wrong (400, naming it).
    BadParameter {
        field: String,
        message: String,
    },
    /// The upstream service failed: 503 when a retry may pass, 502 otherwise.
    Upstream {
        status: StatusCode,
        retryable: bool,
        message: String,
    },
}

/// Which envelope an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    Plain,
    /// Confluent's, on the Kafka REST proxy routes.
    Confluent,
}

impl ApiError {
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadField { field: field.into(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoRoute { .. }
            | ApiError::StreamNotFound { .. }
            | ApiError::TopicNotFound { .. }
            | ApiError::PartitionNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) | ApiError::RecordTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MalformedJson(_)
            | ApiError::BadField { .. }
            | ApiError::BadParameter { .. }
            | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidRecord { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::StreamInUse(_) => StatusCode::CONFLICT,
            ApiError::KafkaRefused { status, .. } | ApiError::Upstream { status, .. } => *status,
        }
    }

    /// The stable code of the plain envelope's `error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NoRoute { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::TooLarge(_) | ApiError::RecordTooLarge { .. } => "too_large",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BadField { .. } | ApiError::Invalid(_) => "invalid_request",
            ApiError::BadParameter { .. } => "invalid_parameter",
            ApiError::InvalidRecord { .. } => "invalid_record",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::StreamNotFound { .. } => "stream_not_found",
            ApiError::TopicNotFound { .. } => "topic_not_found",
            ApiError::PartitionNotFound { .. } => "partition_not_found",
            ApiError::StreamInUse(_) => "stream_in_use",
            ApiError::KafkaRefused { .. } => "kafka_refused",
            ApiError::Upstream { retryable: true, .. } => "upstream_unavailable",
            ApiError::Upstream { retryable: false, .. } => "upstream_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::NoRoute { path } => format!("no route for {path}: see SPEC §5"),
            ApiError::MethodNotAllowed { method, path, allow } => {
                format!("{method} is not allowed on {path}; use {allow}")
            }
            ApiError::StreamNotFound { name } => format!("stream {name:?} does not exist"),
            ApiError::TopicNotFound { name } => format!("Topic {name} not found."),
            ApiError::PartitionNotFound { topic, partition, .. } => {
                format!("Partition {partition} of topic {topic} not found.")
            }
            ApiError::TooLarge(message)
            | ApiError::RecordTooLarge { message, .. }
            | ApiError::MalformedJson(message)
            | ApiError::BadField { message, .. }
            | ApiError::BadParameter { message, .. }
            | ApiError::InvalidRecord { message, .. }
            | ApiError::UnsupportedMediaType(message)
            | ApiError::Forbidden(message)
            | ApiError::StreamInUse(message)
            | ApiError::Invalid(message)
            | ApiError::KafkaRefused { message, .. }
            | ApiError::Upstream { message, .. } => message.clone(),
        }
    }

    /// The request field the error names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::MalformedJson(_) => Some("body"),
            ApiError::BadField { field, .. }
            | ApiError::BadParameter { field, .. }
            | ApiError::RecordTooLarge { field, .. }
            | ApiError::InvalidRecord { field, .. }
            | ApiError::PartitionNotFound { field, .. } => Some(field),
            ApiError::StreamNotFound { .. } => Some("stream-name"),
            ApiError::TopicNotFound { .. } => Some("topic"),
            _ => None,
        }
    }

    /// Whether the caller may retry: said of upstream failures only.
    pub fn retryable(&self) -> Option<bool> {
        match self {
            ApiError::Upstream { retryable, .. } => Some(*retryable),
            _ => None,
        }
    }

    /// Confluent's `error_code`: the status and a two-digit detail (40401 unknown
    /// topic, 40402 unknown partition, 42201 bad record…).
    pub fn confluent_code(&self) -> u32 {
        let detail = match self {
            ApiError::PartitionNotFound { .. } => 2,
            _ => 1,
        };
        u32::from(self.status().as_u16()) * 100 + detail
    }

    pub fn into_response(self, envelope: Envelope) -> Response<Body> {
        let mut body = match envelope {
            Envelope::Confluent => json!({ "error_code": self.confluent_code(), "message": self.message() }),
            Envelope::Plain => json!({ "error": self.code(), "message": self.message() }),
        };
        if let Some(field) = self.field() {
            body["field"] = field.into();
        }
        if let Some(retryable) = self.retryable() {
            body["retryable"] = retryable.into();
        }
        let mut response = json_response(self.status(), &body);
        if let ApiError::MethodNotAllowed { allow, .. } = &self
            && let Ok(value) = allow.parse()
        {
            response.headers_mut().insert("allow", value);
        }
        response
    }

    /// A Kinesis failure, in our words: the upstream text (which may name the account,
    /// a role or an ARN) goes to the logs only. A missing stream — or one this function
    /// may not touch (another deployment's) — is a 404; throttling and an unreachable
    /// service are retryable 503s; other upstream failures 502s.
    pub fn from_kinesis(error: ServiceError, stream: Option<&str>) -> Self {
        let name = stream.unwrap_or_default().to_owned();
        tracing::warn!(stream = %name, %error, "Kinesis failure");
        match error {
            ServiceError::NotFound(_) | ServiceError::AccessDenied(_) => ApiError::StreamNotFound { name },
            ServiceError::InUse(_) => ApiError::StreamInUse(format!(
                "stream {name:?} exists already, or is being created or deleted; try again later"
            )),
            ServiceError::Invalid(_) => ApiError::Invalid(format!("Kinesis found the request for {name:?} invalid")),
            ServiceError::Throttled(_) => upstream(true, "Kinesis is throttling this API's requests; try again".into()),
            ServiceError::Unreachable(_) => upstream(true, "Kinesis could not be reached; try again".into()),
            ServiceError::Unreadable(_) => unreadable("Kinesis answered with something unreadable; try again".into()),
            ServiceError::TooLarge(_) => upstream(false, "Kinesis refused the records as too large".into()),
            ServiceError::Refused { code, .. } => {
                upstream(false, format!("Kinesis refused the request ({})", safe_code(&code)))
            }
        }
    }

    /// A Kafka failure, in our words (broker hosts, the cluster's ARN and Kafka's own
    /// texts go to the logs only): what may pass on retry (the broker unreachable, a
    /// leader moving, throttling) is a retryable 503; a record over the broker's limit
    /// is a 413 and an unknown topic a 404, neither worth retrying.
    pub fn from_kafka(error: ServiceError) -> Self {
        tracing::warn!(%error, "Kafka failure");
        match &error {
            ServiceError::Unreachable(_) | ServiceError::Throttled(_) => {
                upstream(true, "Kafka could not be reached; try again".into())
            }
            ServiceError::TooLarge(_) => ApiError::KafkaRefused {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: "Kafka refused the records as too large".into(),
            },
            ServiceError::NotFound(_) => ApiError::KafkaRefused {
                status: StatusCode::NOT_FOUND,
                message: "Kafka does not know the topic or partition".into(),
            },
            ServiceError::Unreadable(_) => unreadable("Kafka answered with something unreadable; try again".into()),
            ServiceError::Refused { code, .. } => {
                upstream(false, format!("Kafka refused the request ({})", safe_code(code)))
            }
            _ => upstream(false, "Kafka refused the request".into()),
        }
    }
}

/// An upstream error name (`ProvisionedThroughputExceededException`,
/// `InvalidRecord`), passed on only when it is one: a name, never a text.
pub(super) fn safe_code(code: &str) -> &str {
    let is_name = (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if is_name { code } else { "an upstream error" }
}

/// 503 when the service is unreachable or throttling (retry), 502 when it answered badly.
fn upstream(retryable: bool, message: String) -> ApiError {
    let status = if retryable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_GATEWAY };
    ApiError::Upstream { status, retryable, message }
}

/// An unreadable answer: a 502, though a retry may pass.
fn unreadable(message: String) -> ApiError {
    ApiError::Upstream { status: StatusCode::BAD_GATEWAY, retryable: true, message }
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/json".parse().expect("static"));
    response
}
