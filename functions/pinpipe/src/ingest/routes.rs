//! The routes of SPEC §5, found in a request's raw path, and who may take them.

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::error::ApiError;
use crate::metrics::Dimension;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route<'p> {
    Streams,
    Stream(&'p str),
    Record(&'p str),
    Records(&'p str),
    Topic(&'p str),
    /// `GET /metrics/{profiles,categories,countries}/top` (SPEC §12).
    MetricsTop(Dimension),
    /// `GET /metrics/profiles/{poster_name}`.
    ProfileMetrics(&'p str),
}

impl Route<'_> {
    pub(super) fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Streams => &[Method::GET],
            Route::Stream(_) => &[Method::GET, Method::POST, Method::DELETE],
            Route::Record(_) | Route::Records(_) => &[Method::PUT],
            Route::Topic(_) => &[Method::POST],
            Route::MetricsTop(_) | Route::ProfileMetrics(_) => &[Method::GET],
        }
    }

    /// The stream or topic the route names.
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Route::Stream(name) | Route::Record(name) | Route::Records(name) | Route::Topic(name) => Some(name),
            Route::Streams | Route::MetricsTop(_) | Route::ProfileMetrics(_) => None,
        }
    }
}

/// Finds the route in a path: `/streams/…`, `/topics/…` or `/metrics/…`, wherever it starts —
/// a REST API (v1) puts its stage first (`/Prod/streams/…`), `cargo lambda watch`
/// its function URL prefix.
pub(super) fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments.iter().position(|s| ["streams", "topics", "metrics"].contains(s))?;
    match &segments[start..] {
        ["streams"] => Some(Route::Streams),
        ["streams", name] => Some(Route::Stream(name)),
        ["streams", name, "record"] => Some(Route::Record(name)),
        ["streams", name, "records"] => Some(Route::Records(name)),
        ["topics", topic] => Some(Route::Topic(topic)),
        ["metrics", "profiles", "top"] => Some(Route::MetricsTop(Dimension::Profile)),
        ["metrics", "categories", "top"] => Some(Route::MetricsTop(Dimension::Category)),
        ["metrics", "countries", "top"] => Some(Route::MetricsTop(Dimension::Country)),
        ["metrics", "profiles", name] => Some(Route::ProfileMetrics(name)),
        _ => None,
    }
}

pub(super) fn request_path(request: &Request) -> &str {
    let raw_path = request.raw_http_path();
    if raw_path.is_empty() { request.uri().path() } else { raw_path }
}

/// Creating and deleting streams is for callers API Gateway authenticated with IAM.
pub(super) fn require_iam(request: &Request) -> Result<(), ApiError> {
    let authorised = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.user_arn.is_some() || ctx.identity.access_key.is_some(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().is_some_and(|a| a.iam.is_some()),
        _ => false,
    };
    if authorised {
        Ok(())
    } else {
        Err(ApiError::Forbidden("creating and deleting streams needs a caller with IAM authorisation".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_on_the_raw_path_with_or_without_a_stage() {
        assert_eq!(route("/streams"), Some(Route::Streams));
        assert_eq!(route("/Prod/streams/s-pin/record"), Some(Route::Record("s-pin")));
        assert_eq!(route("/lambda-url/ingest/streams/s-pin/records"), Some(Route::Records("s-pin")));
        assert_eq!(route("/streams/s-pin/"), Some(Route::Stream("s-pin")));
        assert_eq!(route("/topics/0a1b.pin"), Some(Route::Topic("0a1b.pin")));
        assert_eq!(route("/streams/a/b/c"), None);
        assert_eq!(route("/prod/metrics/countries/top"), Some(Route::MetricsTop(Dimension::Country)));
        assert_eq!(route("/metrics/profiles/Ann%20Lee"), Some(Route::ProfileMetrics("Ann%20Lee")));
        assert_eq!(route("/nothing"), None);
    }
}
