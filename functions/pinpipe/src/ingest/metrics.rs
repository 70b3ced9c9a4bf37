//! `GET /metrics/…` (SPEC §12): the real-time metrics, one store query per request.
//! `window` is `5m`, `1h` (the default), `24h` or `7d`; `limit` 1–100 (default 20).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use super::Ingest;
use super::error::{ApiError, json_response};
use crate::metrics::store::{MetricsStore, StoreError};
use crate::metrics::{Dimension, Series, Window, totals};

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

fn window(request: &Request) -> Result<Window, ApiError> {
    let params = request.query_string_parameters();
    match params.first("window") {
        None => Ok(Window::Hour),
        Some(text) => Window::parse(text).ok_or_else(|| ApiError::BadParameter {
            field: "window".into(),
            message: format!("window={text:?}: use 5m, 1h, 24h or 7d"),
        }),
    }
}

fn limit(request: &Request) -> Result<usize, ApiError> {
    let params = request.query_string_parameters();
    match params.first("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| ApiError::BadParameter {
            field: "limit".into(),
            message: format!("limit={text:?}: use 1 to {MAX_LIMIT}"),
        }),
    }
}

/// How long a leaderboard is reused: a week's board reads every key of the week, so
/// it is read at most once a minute per instance; a 5-minute board every 5 s.
fn board_ttl(window: Window) -> std::time::Duration {
    std::time::Duration::from_secs(match window {
        Window::FiveMinutes => 5,
        Window::Hour => 15,
        Window::Day | Window::Week => 60,
    })
}

fn unavailable(error: StoreError) -> ApiError {
    // The store's own text (a table ARN, the account) goes to the logs only.
    tracing::warn!(%error, "the metrics store could not answer");
    ApiError::Upstream {
        status: StatusCode::SERVICE_UNAVAILABLE,
        retryable: true,
        message: "the metrics store could not answer; try again".into(),
    }
}

impl Ingest {
    fn metrics_store(&self) -> Result<&dyn MetricsStore, ApiError> {
        self.metrics.as_deref().ok_or_else(|| ApiError::Upstream {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retryable: false,
            message: "metrics are not available to this function (see PINPIPE_METRICS_TABLE)".into(),
        })
    }

    pub(super) async fn metrics_top(
        &self,
        dimension: Dimension,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let (window, limit) = (window(request)?, limit(request)?);
        let store = self.metrics_store()?;
        let load = || async {
            let (first, last) = window.buckets_at(chrono::Utc::now().timestamp_millis());
            let rows = store.buckets(&Series::Board(dimension, window.resolution()), first, last).await?;
            Ok::<_, StoreError>((first, last, totals(rows, dimension == Dimension::Profile, MAX_LIMIT)))
        };
        let boards = &self.read.boards;
        let (first, last, mut items) =
            boards.get_or_load((dimension, window.as_str()), board_ttl(window), load).await.map_err(unavailable)?;
        items.truncate(limit);
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "dimension": dimension.as_str(),
                "window": window.as_str(),
                "from": first,
                "to": last + window.resolution().millis(),
                "items": items,
            }),
        ))
    }

    pub(super) async fn profile_metrics(&self, encoded: &str, request: &Request) -> Result<Response<Body>, ApiError> {
        let window = window(request)?;
        let name = percent_decode(encoded).ok_or_else(|| ApiError::BadParameter {
            field: "poster_name".into(),
            message: format!("{encoded:?} is not a percent-encoded UTF-8 name"),
        })?;
        let store = self.metrics_store()?;
        let now = chrono::Utc::now().timestamp_millis();
        let (first, last) = window.buckets_at(now);
        let rows = store.buckets(&Series::Profile(name.clone(), window.resolution()), first, last).await;
        let rows = rows.map_err(unavailable)?;
        // One row per shard's part of a bucket: summed per bucket.
        let mut by_start: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
        for row in &rows {
            *by_start.entry(row.start).or_default() += row.posts;
        }
        let buckets: Vec<_> =
            by_start.into_iter().map(|(start, posts)| json!({ "start": start, "posts": posts })).collect();
        let total = totals(rows, true, 1).into_iter().next();
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "poster_name": name,
                "window": window.as_str(),
                "from": first,
                "to": last + window.resolution().millis(),
                "posts": total.as_ref().map_or(0, |t| t.posts),
                "follower_count": total.as_ref().and_then(|t| t.follower_count),
                "popularity": total.as_ref().and_then(|t| t.popularity).unwrap_or(0.0),
                "buckets": buckets,
            }),
        ))
    }
}

/// A path segment's percent-encoding undone (`Ann%20Lee` → `Ann Lee`).
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_paths_are_percent_decoded() {
        assert_eq!(percent_decode("Ann%20Lee").as_deref(), Some("Ann Lee"));
        assert_eq!(percent_decode("Bj%C3%B6rk").as_deref(), Some("Björk"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
