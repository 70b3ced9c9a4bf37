//! Logging for every binary: `tracing` to stderr, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`
//! (as Lambda sets it) and plain text otherwise; level from `RUST_LOG` (default `info`, the Delta kernel's `warn`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    // The Delta kernel logs routine steps at info and expected misses (no table yet) as errors;
    // deltalake reports real failures to us as results, which we log.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,delta_kernel=off,buoyant_kernel=off,deltalake_core=warn"));
    let json = crate::config::json_logs();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().with_current_span(false).without_time().try_init() } else { builder.try_init() };
}

/// Emits counts as one CloudWatch embedded-metric-format line on stdout, which
/// Lambda's log pipeline turns into metrics (namespace `pinpipe`, dimension `function`).
pub fn emit_counts(function: &str, counts: &impl serde::Serialize) {
    let serde_json::Value::Object(values) = serde_json::to_value(counts).unwrap_or_default() else { return };
    let timestamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let metrics: Vec<_> = values.keys().map(|name| serde_json::json!({ "Name": name, "Unit": "Count" })).collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{ "Namespace": "pinpipe", "Dimensions": [["function"]], "Metrics": metrics }]
        },
        "function": function,
    });
    if let Some(object) = line.as_object_mut() {
        object.extend(values);
    }
    println!("{line}");
}
