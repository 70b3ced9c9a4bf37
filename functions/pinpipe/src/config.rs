//! SPEC §10: one configuration contract for the functions, the CLI, the template
//! and the tests, read once from the environment; and the names SPEC §1 and §6
//! derive from the deployment id.

use std::env;

use crate::kind::Kind;

pub const DEFAULT_ID: &str = "0a1b2c3d4e5f";
pub const DEFAULT_LAKE: &str = "./lake";

/// How the Kafka producer authenticates (`PINPIPE_KAFKA_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaAuth {
    /// Plain TCP (tansu locally).
    None,
    /// SASL/OAUTHBEARER with MSK IAM tokens.
    Iam,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `PINPIPE_ID`: names streams, topics and tables.
    pub id: String,
    /// `PINPIPE_LAKE`: `s3://bucket[/prefix]` or a local directory.
    pub lake: String,
    /// `PINPIPE_KAFKA_BOOTSTRAP`: comma-separated `host:port`s.
    pub kafka_bootstrap: Option<String>,
    /// `PINPIPE_MSK_CLUSTER_ARN`: discover the bootstrap servers through the MSK API.
    pub msk_cluster_arn: Option<String>,
    pub kafka_auth: KafkaAuth,
    /// `PINPIPE_LOG_RETENTION_DAYS`: Delta log files older than this are removed by maintenance.
    pub log_retention_days: f64,
    /// `PINPIPE_VACUUM_RETENTION_DAYS`: unreferenced data files older than this are vacuumed.
    pub vacuum_retention_days: f64,
    /// `PINPIPE_ANALYTICS_PART_ROWS`: silver rows the daily job answers at once; more
    /// are answered in parts (bounded memory, SPEC §11).
    pub analytics_part_rows: u64,
}

pub const DEFAULT_LOG_RETENTION_DAYS: f64 = 7.0;
pub const DEFAULT_VACUUM_RETENTION_DAYS: f64 = 7.0;
/// Silver rows the daily job answers at once (peak RSS ~0.45–0.6 GB at this size,
/// BENCHMARKS.md "analytics").
pub const DEFAULT_ANALYTICS_PART_ROWS: u64 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {why}")]
    Invalid { name: &'static str, value: String, why: &'static str },
}

impl Config {
    /// Reads SPEC §10's variables; unset means the local default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Like [`Config::from_env`], over any lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let id = get("PINPIPE_ID").unwrap_or_else(|| DEFAULT_ID.to_owned());
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError::Invalid {
                name: "PINPIPE_ID",
                value: id,
                why: "use letters, digits and '-' only (it names streams, topics and tables)",
            });
        }
        let kafka_auth = match get("PINPIPE_KAFKA_AUTH").as_deref() {
            None | Some("none") => KafkaAuth::None,
            Some("iam") => KafkaAuth::Iam,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PINPIPE_KAFKA_AUTH",
                    value: other.to_owned(),
                    why: "expected `iam` or `none`",
                });
            }
        };
        let days = |name: &'static str, default: f64| match get(name) {
            None => Ok(default),
            Some(text) => text.parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 0.0).ok_or(ConfigError::Invalid {
                name,
                value: text,
                why: "expected a number of days, 0 or more",
            }),
        };
        let analytics_part_rows = match get("PINPIPE_ANALYTICS_PART_ROWS") {
            None => DEFAULT_ANALYTICS_PART_ROWS,
            Some(text) => text.parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                name: "PINPIPE_ANALYTICS_PART_ROWS",
                value: text,
                why: "expected a whole number of rows, 1 or more",
            })?,
        };
        Ok(Config {
            analytics_part_rows,
            log_retention_days: days("PINPIPE_LOG_RETENTION_DAYS", DEFAULT_LOG_RETENTION_DAYS)?,
            vacuum_retention_days: days("PINPIPE_VACUUM_RETENTION_DAYS", DEFAULT_VACUUM_RETENTION_DAYS)?,
            id,
            lake: get("PINPIPE_LAKE").unwrap_or_else(|| DEFAULT_LAKE.to_owned()),
            kafka_bootstrap: get("PINPIPE_KAFKA_BOOTSTRAP"),
            msk_cluster_arn: get("PINPIPE_MSK_CLUSTER_ARN"),
            kafka_auth,
        })
    }

    pub fn names(&self) -> Names<'_> {
        Names { id: &self.id }
    }

    /// Table maintenance's retentions (SPEC §11).
    #[cfg(feature = "maintenance")]
    pub fn retention(&self) -> crate::maintenance::Retention {
        crate::maintenance::Retention::days(self.log_retention_days, self.vacuum_retention_days)
    }
}

/// The names SPEC §1 and §6 derive from a deployment id.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub id: &'a str,
}

impl Names<'_> {
    /// Kinesis stream: `streaming-<id>-pin`.
    pub fn stream(&self, kind: Kind) -> String {
        format!("streaming-{}-{kind}", self.id)
    }
    /// Kafka topic: `<id>.pin`.
    pub fn topic(&self, kind: Kind) -> String {
        format!("{}.{kind}", self.id)
    }
    /// Streaming Delta table, relative to the lake root: `delta/stream/<id>_pin_table`.
    pub fn stream_table(&self, kind: Kind) -> String {
        format!("delta/stream/{}_{kind}_table", self.id)
    }
    /// Silver Delta table, relative to the lake root: `delta/batch/<id>_pin`.
    pub fn batch_table(&self, kind: Kind) -> String {
        format!("delta/batch/{}_{kind}", self.id)
    }
    /// Bronze prefix of a topic: `topics/<id>.pin/`.
    pub fn bronze_prefix(&self, kind: Kind) -> String {
        crate::bronze::topic_prefix(&self.topic(kind))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_spec_section_10s() {
        let c = config(&[]).unwrap();
        assert_eq!((c.id.as_str(), c.lake.as_str()), ("0a1b2c3d4e5f", "./lake"));
        assert_eq!(c.kafka_auth, KafkaAuth::None);
        assert_eq!(c.kafka_bootstrap, None);
        assert_eq!((c.log_retention_days, c.vacuum_retention_days), (7.0, 7.0));
    }

    #[test]
    fn reads_and_checks_every_variable() {
        let c = config(&[
            ("PINPIPE_ID", "abc"),
            ("PINPIPE_LAKE", "s3://lake/p"),
            ("PINPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            ("PINPIPE_KAFKA_AUTH", "iam"),
        ])
        .unwrap();
        assert_eq!(c.lake, "s3://lake/p");
        assert_eq!(c.kafka_auth, KafkaAuth::Iam);
        assert!(config(&[("PINPIPE_KAFKA_AUTH", "scram")]).unwrap_err().to_string().contains("PINPIPE_KAFKA_AUTH"));
        assert!(config(&[("PINPIPE_ID", "a/b")]).is_err());
        let c = config(&[("PINPIPE_LOG_RETENTION_DAYS", "0"), ("PINPIPE_VACUUM_RETENTION_DAYS", "0.5")]).unwrap();
        assert_eq!((c.log_retention_days, c.vacuum_retention_days), (0.0, 0.5));
        for bad in ["-1", "seven", "inf"] {
            let error = config(&[("PINPIPE_VACUUM_RETENTION_DAYS", bad)]).unwrap_err().to_string();
            assert!(error.contains("PINPIPE_VACUUM_RETENTION_DAYS"), "{error}");
        }
    }

    #[test]
    fn names_follow_the_original_project() {
        let n = Names { id: "0a1b2c3d4e5f" };
        assert_eq!(n.stream(Kind::Pin), "streaming-0a1b2c3d4e5f-pin");
        assert_eq!(n.topic(Kind::Geo), "0a1b2c3d4e5f.geo");
        assert_eq!(n.stream_table(Kind::User), "delta/stream/0a1b2c3d4e5f_user_table");
        assert_eq!(n.batch_table(Kind::Pin), "delta/batch/0a1b2c3d4e5f_pin");
        assert_eq!(n.bronze_prefix(Kind::Pin), "topics/0a1b2c3d4e5f.pin/");
    }
}
