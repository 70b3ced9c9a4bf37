//! One integration-test binary (keeps link time down): every module is a behaviour.

mod properties;
mod samples;
mod stack_smoke;
mod stream_cleaner;
