//! One integration-test binary (keeps link time down): every module is a behaviour.

mod analytics;
mod athena;
mod batch_sink;
mod browser;
mod demo;
mod emulate;
mod hostile_input;
mod ingest_streams;
mod ingest_topics;
mod kafka_poller;
mod kinesis_poller;
mod lambda_watch;
mod maintenance;
mod metrics;
mod properties;
mod samples;
mod stack_smoke;
mod stream_cleaner;
