//! SPEC §10: one configuration contract for the functions, the CLI, the template
//! and the tests, and the names SPEC §1 and §6 derive from the deployment id. This is
//! the one place that reads the environment: one `clap` struct, each flag backed by
//! its variable — the CLI flattens it into each subcommand, the Lambdas read the
//! variables alone through [`Config::from_env`] — with the defaults and checks below;
//! and the AWS endpoint overrides and log format, for the few places that need them.

use std::env;

use crate::kind::Kind;

pub const DEFAULT_ID: &str = "0a1b2c3d4e5f";
pub const DEFAULT_LAKE: &str = "./lake";
pub const DEFAULT_LOG_RETENTION_DAYS: f64 = 7.0;
pub const DEFAULT_VACUUM_RETENTION_DAYS: f64 = 7.0;
/// Table maintenance's compaction target: a file stops being rewritten once past it.
pub const DEFAULT_COMPACT_TARGET_MB: u64 = 16;
/// Silver rows the daily job answers at once (peak RSS ~0.45–0.6 GB at this size,
/// BENCHMARKS.md "analytics").
pub const DEFAULT_ANALYTICS_PART_ROWS: u64 = 1_000_000;

/// How the Kafka producer authenticates (`PINPIPE_KAFKA_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaAuth {
    /// Plain TCP (tansu locally).
    None,
    /// SASL/OAUTHBEARER with MSK IAM tokens.
    Iam,
}

/// Where the daily job answers the questions (`PINPIPE_ANALYTICS_ENGINE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsEngine {
    /// Polars in the daily Lambda itself.
    Polars,
    /// The template's Athena named queries (`EnableAthena=true`), for history past one Lambda.
    Athena,
}

/// SPEC §10's variables. As CLI arguments, each `--flag` falls back to its variable,
/// then to the local default.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Config {
    /// Deployment id: names the streams, topics and tables.
    #[arg(long, env = "PINPIPE_ID", default_value = DEFAULT_ID, value_parser = parse_id)]
    pub id: String,
    /// The lake: a local directory or s3://bucket[/prefix].
    #[arg(long, env = "PINPIPE_LAKE", default_value = DEFAULT_LAKE)]
    pub lake: String,
    /// Kafka bootstrap servers, comma-separated host:port.
    #[arg(long, env = "PINPIPE_KAFKA_BOOTSTRAP")]
    pub kafka_bootstrap: Option<String>,
    /// An MSK cluster whose bootstrap servers are discovered through the MSK API.
    #[arg(long, env = "PINPIPE_MSK_CLUSTER_ARN")]
    pub msk_cluster_arn: Option<String>,
    /// How the Kafka producer authenticates: none or iam.
    #[arg(long, env = "PINPIPE_KAFKA_AUTH", default_value = "none", value_parser = parse_kafka_auth)]
    pub kafka_auth: KafkaAuth,
    /// Table maintenance: Delta log files older than this many days are removed.
    #[arg(long, env = "PINPIPE_LOG_RETENTION_DAYS", default_value_t = DEFAULT_LOG_RETENTION_DAYS, value_parser = parse_days)]
    pub log_retention_days: f64,
    /// Table maintenance: unreferenced data files older than this many days are
    /// vacuumed. Below the longest append (15 minutes on Lambda) it can delete an
    /// append in flight.
    #[arg(long, env = "PINPIPE_VACUUM_RETENTION_DAYS", default_value_t = DEFAULT_VACUUM_RETENTION_DAYS, value_parser = parse_days)]
    pub vacuum_retention_days: f64,
    /// Table maintenance: files under this many MB are compacted into files of up to it.
    #[arg(long, env = "PINPIPE_COMPACT_TARGET_MB", default_value_t = DEFAULT_COMPACT_TARGET_MB, value_parser = parse_megabytes)]
    pub compact_target_mb: u64,
    /// The daily job: silver rows answered at once; more are answered in parts
    /// (bounded memory, SPEC §11).
    #[arg(long = "part-rows", env = "PINPIPE_ANALYTICS_PART_ROWS", default_value_t = DEFAULT_ANALYTICS_PART_ROWS, value_parser = parse_part_rows)]
    pub analytics_part_rows: u64,
    /// Where the daily job answers: polars (in the Lambda) or athena (SPEC §11).
    #[arg(long, env = "PINPIPE_ANALYTICS_ENGINE", default_value = "polars", value_parser = parse_analytics_engine)]
    pub analytics_engine: AnalyticsEngine,
    /// The metrics table (SPEC §12; default `pinpipe-<id>-metrics`).
    #[arg(long, env = "PINPIPE_METRICS_TABLE")]
    pub metrics_table: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{name}={value:?} is not valid: {why}. Help: set {name} as the README's Configuration section (SPEC §10) describes"
    )]
    Invalid { name: String, value: String, why: String },
}

fn parse_id(text: &str) -> Result<String, &'static str> {
    if text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(text.to_owned())
    } else {
        Err("use letters, digits and '-' only (it names streams, topics and tables)")
    }
}

fn parse_kafka_auth(text: &str) -> Result<KafkaAuth, &'static str> {
    match text {
        "none" => Ok(KafkaAuth::None),
        "iam" => Ok(KafkaAuth::Iam),
        _ => Err("expected `iam` or `none`"),
    }
}

fn parse_analytics_engine(text: &str) -> Result<AnalyticsEngine, &'static str> {
    match text {
        "polars" => Ok(AnalyticsEngine::Polars),
        "athena" => Ok(AnalyticsEngine::Athena),
        _ => Err("expected `polars` or `athena`"),
    }
}

fn parse_days(text: &str) -> Result<f64, &'static str> {
    text.parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 0.0).ok_or("expected a number of days, 0 or more")
}

fn parse_megabytes(text: &str) -> Result<u64, &'static str> {
    text.parse::<u64>().ok().filter(|n| (1..=4096).contains(n)).ok_or("expected a whole number of MB, 1 to 4096")
}

fn parse_part_rows(text: &str) -> Result<u64, &'static str> {
    text.parse::<u64>().ok().filter(|n| *n > 0).ok_or("expected a whole number of rows, 1 or more")
}

impl Config {
    /// Reads SPEC §10's variables; unset means the local default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Like [`Config::from_env`], over any lookup (tests pass a map). The variables
    /// are clap's own list (each argument's `env`), read through `lookup` instead of the
    /// process's environment, so the Lambdas and the CLI read one contract, parsed,
    /// defaulted and checked in one place.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        use clap::{Args, FromArgMatches};
        let command = Config::augment_args(clap::Command::new("pinpipe"));
        let mut args = vec!["pinpipe".to_owned()];
        let mut variables = Vec::new();
        for arg in command.get_arguments() {
            let (Some(variable), Some(long)) = (arg.get_env().and_then(|v| v.to_str()), arg.get_long()) else {
                continue;
            };
            variables.push((format!("--{long}"), variable.to_owned()));
            if let Some(value) = lookup(variable).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                args.push(format!("--{long}={value}"));
            }
        }
        let command = command.mut_args(|arg| arg.env(None::<&'static str>));
        let invalid = |error: clap::Error| {
            let context = |kind| error.get(kind).map(ToString::to_string).unwrap_or_default();
            let flag = context(clap::error::ContextKind::InvalidArg);
            let name = variables.iter().find(|(long, _)| flag.split(' ').next() == Some(long.as_str()));
            ConfigError::Invalid {
                name: name.map_or(flag.clone(), |(_, variable)| variable.clone()),
                value: context(clap::error::ContextKind::InvalidValue),
                why: std::error::Error::source(&error).map_or_else(|| error.kind().to_string(), ToString::to_string),
            }
        };
        let matches = command.try_get_matches_from(args).map_err(invalid)?;
        Config::from_arg_matches(&matches).map_err(invalid)
    }

    /// The metrics table: `PINPIPE_METRICS_TABLE`, or the deployment's default name.
    pub fn metrics_table(&self) -> String {
        self.metrics_table.clone().unwrap_or_else(|| format!("pinpipe-{}-metrics", self.id))
    }

    pub fn names(&self) -> Names<'_> {
        Names { id: &self.id }
    }
}

/// The AWS SDKs' endpoint override for `service` (`S3`, `KINESIS`), as they read it:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL` (SPEC §10; moto locally).
pub fn aws_endpoint(service: &str) -> Option<String> {
    [format!("AWS_ENDPOINT_URL_{service}"), "AWS_ENDPOINT_URL".to_owned()]
        .iter()
        .find_map(|name| env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// The servers of a `PINPIPE_KAFKA_BOOTSTRAP` list (comma-separated `host:port`s).
pub fn brokers(bootstrap: &str) -> Vec<String> {
    bootstrap.split(',').map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned).collect()
}

/// Whether logs are JSON: `AWS_LAMBDA_LOG_FORMAT=JSON`, as Lambda sets it.
pub fn json_logs() -> bool {
    env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
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
        assert_eq!(c.analytics_engine, AnalyticsEngine::Polars);
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
        assert_eq!(
            config(&[("PINPIPE_ANALYTICS_ENGINE", "athena")]).unwrap().analytics_engine,
            AnalyticsEngine::Athena
        );
        assert!(config(&[("PINPIPE_ANALYTICS_ENGINE", "spark")]).unwrap_err().to_string().contains("polars"));
        let c = config(&[("PINPIPE_LOG_RETENTION_DAYS", "0"), ("PINPIPE_VACUUM_RETENTION_DAYS", "0.5")]).unwrap();
        assert_eq!((c.log_retention_days, c.vacuum_retention_days), (0.0, 0.5));
        for bad in ["-1", "seven", "inf"] {
            let error = config(&[("PINPIPE_VACUUM_RETENTION_DAYS", bad)]).unwrap_err().to_string();
            assert!(error.contains("PINPIPE_VACUUM_RETENTION_DAYS"), "{error}");
        }
    }

    /// The CLI's flags and the Lambdas' variables are one contract: the same values,
    /// defaults and refusals.
    #[test]
    fn the_cli_arguments_read_as_the_variables_do() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let parse = |args: &[&str]| Cli::try_parse_from(std::iter::once("pinpipe").chain(args.iter().copied()));
        // Both fall back to the process's own variables (the test stack sets some).
        let config = |vars: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = vars.iter().copied().collect();
            Config::from_lookup(|k| map.get(k).map(|v| v.to_string()).or_else(|| env::var(k).ok()))
        };
        assert_eq!(parse(&[]).unwrap().config, config(&[]).unwrap());
        let flags = [
            "--id",
            "abc",
            "--lake",
            "s3://l/p",
            "--kafka-auth",
            "iam",
            "--part-rows",
            "5",
            "--analytics-engine",
            "athena",
        ];
        let vars = [
            ("PINPIPE_ANALYTICS_ENGINE", "athena"),
            ("PINPIPE_ID", "abc"),
            ("PINPIPE_LAKE", "s3://l/p"),
            ("PINPIPE_KAFKA_AUTH", "iam"),
            ("PINPIPE_ANALYTICS_PART_ROWS", "5"),
        ];
        assert_eq!(parse(&flags).unwrap().config, config(&vars).unwrap());
        for (flag, value, var) in [
            ("--id", "a/b", "PINPIPE_ID"),
            ("--kafka-auth", "scram", "PINPIPE_KAFKA_AUTH"),
            ("--vacuum-retention-days", "-1", "PINPIPE_VACUUM_RETENTION_DAYS"),
            ("--part-rows", "0", "PINPIPE_ANALYTICS_PART_ROWS"),
            ("--analytics-engine", "spark", "PINPIPE_ANALYTICS_ENGINE"),
        ] {
            assert!(parse(&[flag, value]).is_err(), "{flag} {value}");
            assert!(config(&[(var, value)]).is_err(), "{var}={value}");
        }
        assert_eq!(brokers(" a:1, b:2 ,,"), ["a:1", "b:2"]);
    }

    #[test]
    fn names_follow_the_original_project() {
        let n = Names { id: "0a1b2c3d4e5f" };
        assert_eq!(n.stream(Kind::Pin), "streaming-0a1b2c3d4e5f-pin");
        assert_eq!(n.topic(Kind::Geo), "0a1b2c3d4e5f.geo");
        assert_eq!(n.stream_table(Kind::User), "delta/stream/0a1b2c3d4e5f_user_table");
        assert_eq!(n.batch_table(Kind::Pin), "delta/batch/0a1b2c3d4e5f_pin");
    }
}
