//! `pinpipe analytics --lake DIR|s3://… --id ID [--date YYYY-MM-DD]`: the daily job
//! by hand — the same code the daily-analytics Lambda runs — then the eight answers
//! (with `--analytics-engine athena`, where Athena put them).

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use pinpipe::Kind;
use pinpipe::analytics::report;
use pinpipe::config::Config;
use pinpipe::deployment::Deployment;
use pinpipe::lake::Lake;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: Config,
    /// The run date (default: today, UTC); a past date re-runs or backfills it.
    #[arg(long)]
    pub date: Option<NaiveDate>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deployment = Deployment::new(args.config.clone())?.with_aws(aws);
    let date = args.date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let job = deployment.daily_job();
    if let Some(athena) = deployment.athena()? {
        let report = job.run_on_athena(date, &athena).await.context("running the daily job on Athena")?;
        println!("{}", serde_json::to_string_pretty(&report.summary())?);
        return Ok(());
    }
    let report = job.run(date).await.context("running the daily job")?;
    for (question, frame) in &report.answers {
        println!("## {}\n", question.title());
        println!("{}", report::table(frame));
    }
    let totals = report.totals();
    eprintln!("run {date}: {totals}, in {:.2?}", report.elapsed);
    for notice in &report.notices {
        eprintln!("note: {notice}");
    }
    match &report.superseded_by {
        None => eprintln!("published: {}", deployment.lake.url(&pinpipe::analytics::output::date_prefix(date))),
        Some(by) => eprintln!("not published: run {by}, which started later, published {date} first"),
    }
    eprintln!("answers: {}", deployment.lake.url(&report.output_prefix));
    eprintln!("report:  {}report.html (and report.md)", deployment.lake.url(&report.output_prefix));
    Ok(())
}

/// `pinpipe land-bronze --in DIR`: lands DIR/{pin,geo,user}.jsonl (as `generate`
/// writes them) as bronze objects, as the batch sink would.
#[derive(clap::Args)]
pub struct LandArgs {
    /// Directory holding pin.jsonl, geo.jsonl and user.jsonl.
    #[arg(long = "in")]
    pub input: PathBuf,
    #[command(flatten)]
    pub config: Config,
    /// Records per object (the sink writes one object per batch).
    #[arg(long, default_value_t = 500)]
    pub records_per_object: usize,
    /// Partitions per topic.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
}

pub async fn land(args: LandArgs) -> anyhow::Result<()> {
    let lake = Lake::open(&args.config.lake)?;
    let names = args.config.names();
    for kind in Kind::ALL {
        let path = args.input.join(format!("{kind}.jsonl"));
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        // Continue after what an earlier landing of this topic wrote.
        let first_offset = pinpipe::lake::bronze::topic_end(&lake, &names.topic(kind)).await?;
        let keys = pinpipe_local::bronze::land(
            &lake,
            &names.topic(kind),
            &lines,
            args.records_per_object,
            args.partitions,
            first_offset,
        )
        .await?;
        eprintln!(
            "{kind}: {} records in {} objects under {}",
            lines.len(),
            keys.len(),
            lake.url(&pinpipe::lake::bronze::kind_prefix(names, kind))
        );
    }
    Ok(())
}
