//! Runs a local event-source poller over a handler, as `poll-stream` and
//! `poll-topic` do: until idle, or for ever with `--follow`, summing the
//! handler's counts and reporting them after each busy stretch.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use pinpipe_local::polling::Poller;

pub async fn drive<P, C, H, Fut>(poller: &mut P, follow: bool, handle: H, report: impl Fn(&C)) -> anyhow::Result<()>
where
    P: Poller,
    P::Error: std::error::Error + Send + Sync + 'static,
    C: Copy + Default + std::ops::AddAssign,
    H: Fn(P::Event) -> Fut,
    Fut: Future<Output = (P::Response, C)>,
{
    let total = Cell::new(C::default());
    loop {
        let round = poller
            .run_until_idle(
                |event| {
                    let (handle, total) = (&handle, &total);
                    async move {
                        let (response, counts) = handle(event).await;
                        let mut sum = total.get();
                        sum += counts;
                        total.set(sum);
                        response
                    }
                },
                1_000,
            )
            .await?;
        if round.records > 0 || !follow {
            report(&total.get());
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
