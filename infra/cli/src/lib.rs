//! Local stand-ins for what AWS runs around the functions: event-source pollers that
//! feed the same Lambda event types to the same handlers.

pub mod bronze;
pub mod counting;
pub mod dynamo_rules;
pub mod embedded;
pub mod emulator;
pub mod kafka_poller;
pub mod kinesis_poller;
pub mod polling;
pub mod source;
