//! Records that cannot be cleaned (SPEC §6): kept with the reason, the original
//! bytes (base64 when not UTF-8) and where they came from, under `quarantine/`.
//! A record's quarantine key is a function of its origin, so a redelivered record
//! rewrites the same object instead of adding another.

use base64::Engine;
use serde::Serialize;

use crate::record::clean::QuarantineReason;

/// Where a quarantined record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Origin {
    Stream { stream: String, shard: String, sequence_number: String },
    Topic { topic: String, partition: i32, offset: i64 },
    Object { key: String, line: u64 },
}

/// One quarantined record, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quarantined {
    pub code: String,
    pub reason: String,
    pub field: Option<String>,
    /// The record as it arrived: text when UTF-8, else base64 (see `encoding`).
    pub original: String,
    pub encoding: &'static str,
    pub origin: Origin,
}

impl Quarantined {
    pub fn new(reason: &QuarantineReason, original: &[u8], origin: Origin) -> Self {
        Self::with_reason(reason.code(), reason.to_string(), reason.field().map(str::to_owned), original, origin)
    }

    /// For reasons that are not about the record's content (e.g. a stream whose
    /// name says no kind, or an unreadable sequence number).
    pub fn with_reason(code: &str, reason: String, field: Option<String>, original: &[u8], origin: Origin) -> Self {
        let (original, encoding) = match std::str::from_utf8(original) {
            Ok(text) => (text.to_owned(), "utf8"),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(original), "base64"),
        };
        Quarantined { code: code.to_owned(), reason, field, original, encoding, origin }
    }

    /// `quarantine/stream/<stream>/<shard>/<sequence>.json`,
    /// `quarantine/topic/<topic>/partition=<p>/<offset>.json`,
    /// `quarantine/object/<object key>/line-<n>.json` (a line alone; the daily job
    /// writes a bronze object's lines together under [`Quarantined::object_key`]).
    pub fn key(&self) -> String {
        match &self.origin {
            Origin::Stream { stream, shard, sequence_number } => {
                format!("quarantine/stream/{stream}/{shard}/{sequence_number}.json")
            }
            Origin::Topic { topic, partition, offset } => {
                format!("quarantine/topic/{topic}/partition={partition}/{offset:020}.json")
            }
            Origin::Object { key, line } => format!("quarantine/object/{key}/line-{line:010}.json"),
        }
    }

    /// `quarantine/object/<bronze object key>.jsonl`: every quarantined line of one
    /// bronze object (one JSON line each, see [`Origin::Object`]), written at once.
    pub fn object_key(bronze_key: &str) -> String {
        format!("quarantine/object/{bronze_key}.jsonl")
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_original_and_says_where_it_came_from() {
        let origin =
            Origin::Stream { stream: "s".into(), shard: "shardId-000000000001".into(), sequence_number: "42".into() };
        let q = Quarantined::new(&QuarantineReason::MissingField { field: "ind" }, b"{\"x\":1}", origin);
        assert_eq!(q.key(), "quarantine/stream/s/shardId-000000000001/42.json");
        let json: serde_json::Value = serde_json::from_slice(&q.to_json()).unwrap();
        assert_eq!(json["code"], "missing_field");
        assert_eq!(json["field"], "ind");
        assert_eq!(json["original"], "{\"x\":1}");
        assert_eq!(json["origin"]["source"], "stream");
        assert_eq!(json["origin"]["sequence_number"], "42");
        let binary = Quarantined::new(
            &QuarantineReason::NotJson { detail: "x".into() },
            &[0xff, 0x00],
            Origin::Topic { topic: "t".into(), partition: 2, offset: 7 },
        );
        assert_eq!((binary.original.as_str(), binary.encoding), ("/wA=", "base64"));
        assert_eq!(binary.key(), "quarantine/topic/t/partition=2/00000000000000000007.json");
    }
}
