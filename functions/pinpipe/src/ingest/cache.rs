//! The reading routes' answers, kept for a few seconds per Lambda instance, so that
//! anonymous readers cannot spend the account's shared API limits that the writers
//! need (Kinesis `ListStreams`: 5 calls a second per account; `DescribeStreamSummary`:
//! 20, also asked by the stream cleaner) or read a week of leaderboard items per
//! request. API Gateway's per-method throttling (template.yaml) bounds the instances.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many answers are kept; beyond it the expired go, then all.
const MAX_ENTRIES: usize = 64;

/// Answers by key, each good for the time it was stored with.
pub(super) struct Answers<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Default for Answers<K, V> {
    fn default() -> Self {
        Answers { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Answers<K, V> {
    /// The answer kept for `key` if younger than `ttl`, else `load`'s (kept when it is one).
    pub(super) async fn get_or_load<E, F: Future<Output = Result<V, E>>>(
        &self,
        key: K,
        ttl: Duration,
        load: impl FnOnce() -> F,
    ) -> Result<V, E> {
        if let Some((at, value)) = self.lock().get(&key)
            && at.elapsed() < ttl
        {
            return Ok(value.clone());
        }
        let value = load().await?;
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value.clone()));
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic while holding the lock leaves only cached answers behind: keep going.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_is_kept_for_its_time_and_errors_are_not_kept() {
        let answers = Answers::<&str, u32>::default();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let load = || async { Ok::<_, ()>(calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) };
        assert_eq!(answers.get_or_load("a", Duration::from_secs(60), load).await, Ok(0));
        assert_eq!(answers.get_or_load("a", Duration::from_secs(60), load).await, Ok(0), "kept");
        assert_eq!(answers.get_or_load("b", Duration::from_secs(60), load).await, Ok(1), "by key");
        assert_eq!(answers.get_or_load("a", Duration::ZERO, load).await, Ok(2), "expired");
        assert_eq!(
            answers.get_or_load("c", Duration::from_secs(60), || async { Err::<u32, _>("down") }).await,
            Err("down")
        );
        assert_eq!(answers.get_or_load("c", Duration::from_secs(60), load).await, Ok(3), "an error is not kept");
        // Keys beyond the bound (a caller's own names): the kept answers stay bounded.
        let many = Answers::<String, u32>::default();
        for n in 0..(3 * MAX_ENTRIES as u32) {
            many.get_or_load(n.to_string(), Duration::from_secs(60), || async move { Ok::<_, ()>(n) }).await.unwrap();
            assert!(many.lock().len() <= MAX_ENTRIES);
        }
        assert_eq!(
            many.get_or_load("0".to_owned(), Duration::from_secs(60), || async { Ok::<_, ()>(99) }).await,
            Ok(99)
        );
    }
}
