//! `pinpipe metrics top [--dimension profiles|categories|countries] [--window 1h]`:
//! the real-time metrics (SPEC §12) from the deployment's DynamoDB table
//! (`PINPIPE_METRICS_TABLE`, endpoint from `AWS_ENDPOINT_URL`), as the API's
//! `GET /metrics/…/top` answers them.

use anyhow::Context;
use pinpipe::config::Config;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::store::MetricsStore;
use pinpipe::metrics::{Dimension, Series, Window, totals};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Query,
}

#[derive(clap::Subcommand)]
enum Query {
    /// The top keys of a window: profiles by popularity, categories and countries by posts.
    Top {
        #[arg(long, value_enum, default_value = "profiles")]
        dimension: Which,
        /// 5m, 1h, 24h or 7d.
        #[arg(long, default_value = "1h", value_parser = parse_window)]
        window: Window,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        config: Config,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    Profiles,
    Categories,
    Countries,
}

fn parse_window(text: &str) -> Result<Window, String> {
    Window::parse(text).ok_or_else(|| format!("{text:?}: use 5m, 1h, 24h or 7d"))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Query::Top { dimension, window, limit, config } = args.command;
    let dimension = match dimension {
        Which::Profiles => Dimension::Profile,
        Which::Categories => Dimension::Category,
        Which::Countries => Dimension::Country,
    };
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = config.metrics_table();
    let store = DynamoMetrics::new(aws_sdk_dynamodb::Client::new(&aws), &table);
    let (first, last) = window.buckets_at(chrono::Utc::now().timestamp_millis());
    let rows = store
        .buckets(&Series::Board(dimension, window.resolution()), first, last)
        .await
        .with_context(|| format!("reading {table}"))?;
    let profiles = dimension == Dimension::Profile;
    println!("| {} | posts |{}", dimension.as_str(), if profiles { " follower count | popularity |" } else { "" });
    println!("|---|---:|{}", if profiles { "---:|---:|" } else { "" });
    for total in totals(rows, profiles, limit) {
        match total.popularity {
            Some(popularity) => println!(
                "| {} | {} | {} | {popularity:.2} |",
                total.key,
                total.posts,
                total.follower_count.map_or_else(String::new, |f| f.to_string())
            ),
            None => println!("| {} | {} |", total.key, total.posts),
        }
    }
    Ok(())
}
