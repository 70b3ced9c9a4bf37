//! Runs a local event-source poller over a handler, as `poll-stream`, `poll-topic` and
//! `demo` do: until idle, or for ever with `--follow`, summing the handler's counts.

use std::cell::Cell;
use std::fmt::Display;
use std::future::Future;
use std::ops::AddAssign;
use std::time::Duration;

use pinpipe_local::polling::{Poller, Round};

/// How a local event source mapping runs, as `poll-stream` and `poll-topic` take it.
#[derive(clap::Args)]
pub struct MappingArgs {
    /// Records per invocation, as the event source mapping's BatchSize.
    #[arg(long, default_value_t = 100)]
    pub batch_size: u16,
    /// Seconds a batch under the batch size waits for more records, as the mapping's
    /// MaximumBatchingWindowInSeconds (the template's: 5 for the stream cleaner, 1 for
    /// stream-metrics); 0 delivers at once.
    #[arg(long, default_value_t = 0)]
    pub batching_window: u64,
    /// Keep polling instead of stopping when the source is idle.
    #[arg(long)]
    pub follow: bool,
    /// With --follow, milliseconds between polls of an idle source: 1000 as Lambda
    /// polls a shard; 100 stands in for enhanced fan-out, which pushes records (~70 ms).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval_ms: u64,
}

impl MappingArgs {
    /// How often an idle source is polled again: `None` to stop when idle.
    pub fn following(&self) -> Option<Duration> {
        self.follow.then(|| Duration::from_millis(self.poll_interval_ms))
    }
}

/// What a handler counts per invocation (`StreamCounts`, `SinkCounts`).
pub trait Counts: Copy + Default + AddAssign + Display {}
impl<T: Copy + Default + AddAssign + Display> Counts for T {}

/// Polls until idle; the rounds' totals and the sum of the handler's counts, each
/// invocation's counts also handed to `on_counts` as they come (a progress bar).
pub async fn drain<P, C, H, Fut>(poller: &mut P, handle: H, on_counts: impl Fn(&C)) -> anyhow::Result<(Round, C)>
where
    P: Poller<Error: std::error::Error + Send + Sync + 'static>,
    C: Counts,
    H: Fn(P::Event) -> Fut,
    Fut: Future<Output = (P::Response, C)>,
{
    let total = Cell::new(C::default());
    let round = poller
        .run_until_idle(
            |event| {
                let (handle, total, on_counts) = (&handle, &total, &on_counts);
                async move {
                    let (response, counts) = handle(event).await;
                    on_counts(&counts);
                    let mut sum = total.get();
                    sum += counts;
                    total.set(sum);
                    response
                }
            },
            100_000,
        )
        .await?;
    Ok((round, total.get()))
}

/// Drains, and with `follow` keeps polling at that interval, printing `source`'s
/// running totals after each busy stretch.
pub async fn drive<P: Poller<Error: std::error::Error + Send + Sync + 'static>, C: Counts, Fut>(
    poller: &mut P,
    follow: Option<Duration>,
    source: &str,
    handle: impl Fn(P::Event) -> Fut,
) -> anyhow::Result<()>
where
    Fut: Future<Output = (P::Response, C)>,
{
    let mut total = C::default();
    loop {
        let (round, counts) = drain(poller, &handle, |_| {}).await?;
        total += counts;
        if round.records > 0 || follow.is_none() {
            eprintln!("{source}: {total}");
        }
        let Some(interval) = follow else { return Ok(()) };
        tokio::time::sleep(interval).await;
    }
}
