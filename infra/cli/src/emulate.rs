//! `pinpipe emulate --api URL --mode batch|stream [--posts N] [--rate R]
//! [--source generated|mysql://…]` (SPEC §8): the original project's user posting
//! emulation against any base URL — `cargo lambda watch`
//! (`http://127.0.0.1:9000/lambda-url/ingest`) or a deployed API (the stack's `ApiUrl`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe::Kind;
use pinpipe::config::Config;
use pinpipe_local::emulator::{Api, HttpApi, Mode, Tally, request_for};
use pinpipe_local::source::{Credentials, GeneratedSource, MySqlSource, PostRecords, redacted};

#[derive(clap::Args)]
pub struct Args {
    /// The API's base URL (a stage URL, or cargo lambda watch's /lambda-url/ingest).
    #[arg(long, env = "PINPIPE_API_URL")]
    api: String,
    /// The stack's API key, sent as `x-api-key` (a stack deployed with ApiAuth=api-key).
    #[arg(long, env = "PINPIPE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// batch: POST /topics/<id>.pin|geo|user; stream: PUT /streams/streaming-<id>-*/record.
    #[arg(long, value_enum)]
    mode: Mode,
    /// How many posts to send (each its pin, geo and user record).
    #[arg(long, default_value_t = 100)]
    posts: u64,
    /// Posts per second (0: as fast as the API answers).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// `generated`, or a MySQL database with the original three tables:
    /// `mysql://[user[:password]@]host[:port]/db`, or `mysql` (all from --db-creds).
    #[arg(long, default_value = "generated")]
    source: String,
    /// The original project's db_creds.yaml (HOST, PORT, USER, PASSWORD, DATABASE); keep it
    /// out of git. PINPIPE_MYSQL_USER and PINPIPE_MYSQL_PASSWORD fill what it lacks.
    #[arg(long)]
    db_creds: Option<PathBuf>,
    /// MySQL user, where --source and --db-creds give none.
    #[arg(long, env = "PINPIPE_MYSQL_USER")]
    mysql_user: Option<String>,
    /// MySQL password, where --source and --db-creds give none.
    #[arg(long, env = "PINPIPE_MYSQL_PASSWORD", hide_env_values = true)]
    mysql_password: Option<String>,
    #[command(flatten)]
    config: Config,
    /// Seeds the generator, or the random row offsets of the MySQL source.
    #[arg(long, default_value_t = 100, env = "PINPIPE_SEED")]
    seed: u64,
}

enum Source {
    Generated(GeneratedSource),
    MySql(MySqlSource),
}

impl Source {
    async fn next_post(&mut self) -> anyhow::Result<Option<PostRecords>> {
        Ok(match self {
            Source::Generated(generated) => generated.next_post(),
            Source::MySql(mysql) => Some(mysql.next_post().await?),
        })
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let names = args.config.names();
    let mut source = if args.source == "generated" {
        Source::Generated(GeneratedSource::new(args.posts, args.seed))
    } else if args.source == "mysql" || args.source.starts_with("mysql://") {
        let from_file = match &args.db_creds {
            Some(path) => Credentials::from_file(path)?,
            None => Credentials::default(),
        };
        let mysql = MySqlSource::connect(
            &args.source,
            from_file.or(Credentials {
                user: args.mysql_user.clone(),
                password: args.mysql_password.clone(),
                ..Default::default()
            }),
            args.seed,
        )
        .await
        .context("opening the MySQL source")?;
        eprintln!("MySQL source: {} rows per table", mysql.rows());
        Source::MySql(mysql)
    } else {
        anyhow::bail!("--source {:?}: use `generated`, `mysql` or mysql://…", redacted(&args.source));
    };
    let api = HttpApi::new(&args.api).with_api_key(args.api_key.clone());
    let progress = ProgressBar::new(args.posts).with_style(
        ProgressStyle::with_template("{spinner} posting [{bar:30}] {pos}/{len} posts {per_sec} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut tally = Tally::default();
    for sent in 0..args.posts {
        if args.rate > 0.0 {
            let due = started + Duration::from_secs_f64(sent as f64 / args.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let Some(records) = source.next_post().await? else { break };
        for (kind, record) in Kind::ALL.into_iter().zip(&records) {
            tally.count(kind, api.send(request_for(args.mode, names, kind, record)).await);
        }
        progress.inc(1);
        progress.set_message(format!("{} rejected", tally.rejected_total()));
    }
    progress.finish_and_clear();
    println!(
        "{:?} mode, {} posts to {} in {:.1?}: {tally}",
        args.mode,
        progress.position(),
        args.api,
        started.elapsed()
    );
    // Scripts and CI see a rejection in the exit status too.
    anyhow::ensure!(
        tally.rejected_total() == 0,
        "{} of the records were rejected (reasons above)",
        tally.rejected_total()
    );
    Ok(())
}
