//! `pinpipe generate --posts N [--seed S] [--resend] --out DIR`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe::record::generate::{GenerateOptions, Generator};

#[derive(clap::Args)]
pub struct Args {
    /// How many posts (each a pin, a geo and a user record).
    #[arg(long, default_value_t = 2_000)]
    posts: u64,
    /// The same seed gives the same records, byte for byte.
    #[arg(long, default_value_t = 42, env = "PINPIPE_SEED")]
    seed: u64,
    /// Re-send like the original emulator: random post ids drawn with replacement.
    #[arg(long)]
    resend: bool,
    /// Directory for pin.jsonl, geo.jsonl and user.jsonl (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let generator = Generator::new(GenerateOptions { posts: args.posts, seed: args.seed, resend: args.resend });
    let bar = ProgressBar::new(args.posts).with_style(
        ProgressStyle::with_template("{spinner} generating {pos}/{len} posts [{bar:30}] {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let paths = generator
        .write_ndjson(&args.out, |done| bar.set_position(done))
        .with_context(|| format!("writing posts under {}", args.out.display()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    eprintln!(
        "generated {} posts (seed {}{}) in {:.2?} ({:.0} posts/s):",
        args.posts,
        args.seed,
        if args.resend { ", re-send pattern" } else { "" },
        elapsed,
        args.posts as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    for path in paths {
        println!("{}", path.display());
    }
    Ok(())
}
