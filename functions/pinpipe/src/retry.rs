//! One retry rule for every writer that loses a race (a commit whose mark moved, a
//! cancelled transaction, throttling): exponential backoff from 20 ms, capped at 2 s,
//! with jitter (half to all of the step), so racing deliveries spread out instead of
//! colliding again.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(20);
const CAP: Duration = Duration::from_secs(2);

/// How long to wait before attempt `attempt + 1` (the first retry is attempt 0's).
pub fn backoff(attempt: u32) -> Duration {
    let step = FIRST.saturating_mul(1 << attempt.min(16)).min(CAP);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    step / 2 + step.mul_f64(f64::from(nanos % 1_000) / 2_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..12 {
            let b = backoff(attempt);
            let step = FIRST.saturating_mul(1 << attempt).min(CAP);
            assert!(b >= step / 2 && b <= step, "{attempt}: {b:?}");
        }
        assert!(backoff(30) <= CAP);
    }
}
