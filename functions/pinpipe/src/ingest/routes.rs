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
    /// `GET /dashboard`: the live metrics page.
    Dashboard,
}

impl Route<'_> {
    pub(super) fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Streams => &[Method::GET],
            Route::Stream(_) => &[Method::GET, Method::POST, Method::DELETE],
            Route::Record(_) | Route::Records(_) => &[Method::PUT],
            Route::Topic(_) => &[Method::POST],
            Route::MetricsTop(_) | Route::ProfileMetrics(_) | Route::Dashboard => &[Method::GET],
        }
    }

    /// The API Gateway resource (and OpenAPI path) of the route.
    pub(super) fn resource(&self) -> &'static str {
        match self {
            Route::Streams => "/streams",
            Route::Stream(_) => "/streams/{stream-name}",
            Route::Record(_) => "/streams/{stream-name}/record",
            Route::Records(_) => "/streams/{stream-name}/records",
            Route::Topic(_) => "/topics/{topic}",
            Route::MetricsTop(Dimension::Profile) => "/metrics/profiles/top",
            Route::MetricsTop(Dimension::Category) => "/metrics/categories/top",
            Route::MetricsTop(Dimension::Country) => "/metrics/countries/top",
            Route::ProfileMetrics(_) => "/metrics/profiles/{poster_name}",
            Route::Dashboard => "/dashboard",
        }
    }

    /// The stream or topic the route names.
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Route::Stream(name) | Route::Record(name) | Route::Records(name) | Route::Topic(name) => Some(name),
            Route::Streams | Route::MetricsTop(_) | Route::ProfileMetrics(_) | Route::Dashboard => None,
        }
    }
}

/// The route a request takes, or `None` (a JSON 404). Exact: the path, after the
/// stage (a REST API's `/prod`, when the path carries it), must *be* one of SPEC §5's
/// routes — `cargo lambda watch` has already removed its `/lambda-url/<function>`
/// prefix. A REST API (v1) request must also have come through that route's own API
/// Gateway resource (`requestContext.resourcePath`), whose method carries the
/// route's auth (`ApiAuth`): a request that reached the function through any other
/// resource (a `/{proxy+}`, say) never takes a route, whatever its path says.
pub(super) fn route_of(request: &Request) -> Option<Route<'_>> {
    let (stage, resource) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => (ctx.stage.as_deref(), Some(ctx.resource_path.as_deref())),
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.stage.as_deref(), None),
        _ => (None, None),
    };
    let route = route(without_stage(request_path(request), stage))?;
    match resource {
        // A v1 event names the resource API Gateway matched; hand-made events may not.
        Some(Some(resource)) if !resource.is_empty() && resource != route.resource() => None,
        _ => Some(route),
    }
}

/// `path` without a leading `/<stage>` (`$default` is no prefix).
fn without_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    match stage {
        Some(stage) if !stage.is_empty() && stage != "$default" => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(path),
        _ => path,
    }
}

/// The route a path (without stage or prefix) is, exactly.
pub(super) fn route(path: &str) -> Option<Route<'_>> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    match segments[..] {
        ["streams"] => Some(Route::Streams),
        ["streams", name] => Some(Route::Stream(name)),
        ["streams", name, "record"] => Some(Route::Record(name)),
        ["streams", name, "records"] => Some(Route::Records(name)),
        ["topics", topic] => Some(Route::Topic(topic)),
        ["metrics", "profiles", "top"] => Some(Route::MetricsTop(Dimension::Profile)),
        ["metrics", "categories", "top"] => Some(Route::MetricsTop(Dimension::Category)),
        ["metrics", "countries", "top"] => Some(Route::MetricsTop(Dimension::Country)),
        ["metrics", "profiles", name] => Some(Route::ProfileMetrics(name)),
        ["dashboard"] => Some(Route::Dashboard),
        _ => None,
    }
}

/// The request's raw path: API Gateway's `path` (v1) or `rawPath` (v2), or the URI's.
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
    fn a_route_is_the_whole_path() {
        assert_eq!(route("/streams"), Some(Route::Streams));
        assert_eq!(route("/streams/s-pin/record"), Some(Route::Record("s-pin")));
        assert_eq!(route("/streams/s-pin/records"), Some(Route::Records("s-pin")));
        assert_eq!(route("/streams/s-pin/"), Some(Route::Stream("s-pin")));
        assert_eq!(route("/topics/0a1b.pin"), Some(Route::Topic("0a1b.pin")));
        assert_eq!(route("/metrics/countries/top"), Some(Route::MetricsTop(Dimension::Country)));
        assert_eq!(route("/metrics/profiles/Ann%20Lee"), Some(Route::ProfileMetrics("Ann%20Lee")));
        assert_eq!(route("/dashboard"), Some(Route::Dashboard));
        // What an anonymous caller could once send past a route's auth: a route anywhere in the path.
        for bypass in [
            "/anything/streams/s-pin/record",
            "/x/topics/0a1b.pin",
            "/Prod/streams/s-pin/records",
            "/lambda-url/ingest/streams/s-pin/record",
            "/streams/a/b/c",
            "//streams/s-pin/record",
            "/streams//record",
            "streams/s-pin/record",
            "/nothing",
            "",
            "/",
        ] {
            assert_eq!(route(bypass), None, "{bypass}");
        }
    }

    #[test]
    fn only_the_requests_stage_is_taken_off() {
        assert_eq!(without_stage("/prod/streams", Some("prod")), "/streams");
        assert_eq!(without_stage("/prod", Some("prod")), "");
        assert_eq!(without_stage("/production/streams", Some("prod")), "/production/streams");
        assert_eq!(without_stage("/prod/streams", Some("$default")), "/prod/streams");
        assert_eq!(without_stage("/prod/streams", None), "/prod/streams");
    }
}
