//! The one key → bucket hash: Kafka record keys to partitions at the REST proxy,
//! partition keys to shards in the embedded Kinesis, silver rows to the daily job's
//! parts. FNV-1a: small and stable across processes and releases (std's hasher is
//! seeded per process).

/// FNV-1a over `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The bucket of `key` among `buckets` (at least one).
pub fn bucket(key: &[u8], buckets: usize) -> usize {
    (fnv1a(key) % buckets.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pick_stable_buckets() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(bucket(b"a", 1), 0);
        assert_eq!(bucket(b"a", 0), 0);
        assert_eq!(bucket(b"a", 7), (0xaf63_dc4c_8601_ec8c_u64 % 7) as usize);
    }
}
