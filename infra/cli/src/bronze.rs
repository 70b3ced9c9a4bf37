//! Lands raw NDJSON in the lake as bronze objects, in Kafka Connect's S3 layout
//! (SPEC §6) — what the batch sink does with records read from MSK, for running
//! the daily job locally on files (`pinpipe land-bronze`) and in tests.

use pinpipe::lake::bronze::{object_body, object_key};
use pinpipe::lake::{Lake, LakeError};

/// Writes `lines` of `topic` as objects of at most `per_object` lines, spread over
/// `partitions` partitions in turn (as a keyless producer would), with offsets
/// counting from `first_offset` in each partition. Returns the keys written.
pub async fn land(
    lake: &Lake,
    topic: &str,
    lines: &[&[u8]],
    per_object: usize,
    partitions: i32,
    first_offset: i64,
) -> Result<Vec<String>, LakeError> {
    let partitions = partitions.max(1);
    let per_object = per_object.max(1);
    let mut keys = Vec::new();
    for partition in 0..partitions {
        let mine: Vec<&[u8]> =
            lines.iter().enumerate().filter(|(n, _)| *n as i32 % partitions == partition).map(|(_, l)| *l).collect();
        for (index, chunk) in mine.chunks(per_object).enumerate() {
            let offset = first_offset + (index * per_object) as i64;
            let key = object_key(topic, partition, offset);
            lake.put(&key, object_body(chunk.iter().copied())).await?;
            keys.push(key);
        }
    }
    Ok(keys)
}
