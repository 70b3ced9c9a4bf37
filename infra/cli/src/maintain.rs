//! `pinpipe maintain --lake DIR|s3://… --id ID`: table maintenance by hand — the same
//! code the table-maintenance Lambda runs (SPEC §11) — then what it did, per table.

use anyhow::Context;
use pinpipe::config::{DEFAULT_ID, DEFAULT_LAKE, DEFAULT_LOG_RETENTION_DAYS, DEFAULT_VACUUM_RETENTION_DAYS, Names};
use pinpipe::lake::Lake;
use pinpipe::maintenance::{self, Retention};

#[derive(clap::Args)]
pub struct Args {
    /// The lake: a local directory or s3://bucket[/prefix].
    #[arg(long, env = "PINPIPE_LAKE", default_value = DEFAULT_LAKE)]
    pub lake: String,
    /// Deployment id: names the tables.
    #[arg(long, env = "PINPIPE_ID", default_value = DEFAULT_ID)]
    pub id: String,
    /// Log files (commits, old checkpoints) older than this many days are removed.
    #[arg(long, env = "PINPIPE_LOG_RETENTION_DAYS", default_value_t = DEFAULT_LOG_RETENTION_DAYS)]
    pub log_retention_days: f64,
    /// Unreferenced data files older than this many days are vacuumed. Below the
    /// longest append (15 minutes on Lambda) it can delete an append in flight.
    #[arg(long, env = "PINPIPE_VACUUM_RETENTION_DAYS", default_value_t = DEFAULT_VACUUM_RETENTION_DAYS)]
    pub vacuum_retention_days: f64,
    /// Print the reports as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.log_retention_days >= 0.0 && args.vacuum_retention_days >= 0.0,
        "retentions are a number of days, 0 or more"
    );
    let lake = Lake::open(&args.lake)?;
    let retention = Retention::days(args.log_retention_days, args.vacuum_retention_days);
    let reports =
        maintenance::maintain_all(&lake, Names { id: &args.id }, retention).await.context("maintaining the tables")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else if reports.is_empty() {
        println!("no tables of deployment {} in {}", args.id, lake.root());
    } else {
        print!("{}", maintenance::render(&reports));
    }
    Ok(())
}
