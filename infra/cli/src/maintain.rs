//! `pinpipe maintain --lake DIR|s3://… --id ID`: table maintenance by hand — the same
//! code the table-maintenance Lambda runs (SPEC §11) — then what it did, per table.

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::deployment::Deployment;
use pinpipe::maintenance;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: Config,
    /// Print the reports as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = &args.config;
    let deployment = Deployment::new(config.clone())?;
    let retention = deployment.retention()?;
    let all = maintenance::maintain_all(&deployment.lake, deployment.names(), retention).await;
    let reports = &all.reports;
    if args.json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    } else if reports.is_empty() && all.failures.is_empty() {
        println!("no tables of deployment {} in {}", config.id, deployment.lake.root());
    } else {
        print!("{}", maintenance::render(reports));
    }
    // Every table was tried; those that failed are named, each with its error.
    all.into_result().context("maintaining the tables")?;
    Ok(())
}
