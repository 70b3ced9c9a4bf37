//! Bronze → silver (SPEC §6): the raw objects the batch sink landed under
//! `topics/<id>.<kind>/partition=<p>/…` are cleaned and appended to the silver Delta
//! table `delta/batch/<id>_<kind>`, each object exactly once.
//!
//! The sink writes a partition's objects in offset order, named by their first
//! offset, so a partition's progress is one number: the first offset of the last
//! object taken in, kept as that partition's writer mark (a `txn` whose version is
//! the offset, see [`crate::marks`]). Each pass lists a partition only after its mark
//! (S3 `start-after`), so a day's work does not grow with bronze's history; two
//! overlapping passes race on the same mark through [`crate::exactly_once`], and the
//! loser takes in only what is left.

use std::collections::HashMap;

use futures::TryStreamExt;
use object_store::path::Path;

use arrow_array::RecordBatch;

use crate::bronze::{self, BronzeObject};
use crate::clean::QuarantineReason;
use crate::columnar::{CleanedBatch, clean_batch};
use crate::config::Names;
use crate::delta::CleanTable;
use crate::exactly_once::{self, Staged, WriteError};
use crate::kind::Kind;
use crate::lake::{Lake, LakeError};
use crate::marks::{KafkaPartition, Offset};
use crate::quarantine::{Origin, Quarantined};

/// At most this many raw bytes go into one commit, so a long backlog is taken in
/// several commits instead of all in memory at once.
const MAX_COMMIT_BYTES: u64 = 64 << 20;
/// Objects fetched at once.
const FETCH_CONCURRENCY: usize = 16;
/// commitInfo key listing the bronze objects a commit took in.
const OBJECTS_KEY: &str = "pinpipe.bronzeObjects";

/// A bronze object and its size as listed.
#[derive(Debug)]
struct Listed {
    object: BronzeObject,
    offset: Offset,
    size: u64,
}

/// What one bronze → silver pass did for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SilverCounts {
    /// Bronze objects listed: only those after each partition's mark.
    pub objects_listed: u64,
    /// Objects read and taken in by this pass.
    pub objects_read: u64,
    /// Objects listed but taken in meanwhile by an overlapping pass.
    pub objects_skipped: u64,
    pub lines_read: u64,
    pub rows_cleaned: u64,
    pub quarantined: u64,
}

impl std::ops::AddAssign for SilverCounts {
    fn add_assign(&mut self, o: Self) {
        self.objects_listed += o.objects_listed;
        self.objects_read += o.objects_read;
        self.objects_skipped += o.objects_skipped;
        self.lines_read += o.lines_read;
        self.rows_cleaned += o.rows_cleaned;
        self.quarantined += o.quarantined;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SilverError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("listing {prefix}: {source}")]
    List { prefix: String, source: object_store::Error },
    #[error("a partition's writer task failed: {0}")]
    Task(String),
}

/// Takes every bronze object of `kind` not yet in its silver table into it.
/// Partitions are taken in concurrently (each its own writer), so cleaning and
/// Parquet encoding use every core.
pub async fn catch_up(lake: &Lake, names: Names<'_>, kind: Kind) -> Result<SilverCounts, SilverError> {
    let relative = names.batch_table(kind);
    // Create the table once, before the partitions' writers race to append.
    CleanTable::create_or_open(lake, &relative, kind).await?;
    let topic = names.topic(kind);
    let writers: Vec<_> = list_partitions(lake, &names.bronze_prefix(kind))
        .await?
        .into_iter()
        .map(|partition| {
            let (lake, relative, topic) = (lake.clone(), relative.clone(), topic.clone());
            tokio::spawn(async move {
                let mut table = CleanTable::create_or_open(&lake, &relative, kind).await?;
                catch_up_partition(&lake, &mut table, kind, &topic, partition).await
            })
        })
        .collect();
    let mut counts = SilverCounts::default();
    for writer in writers {
        counts += writer.await.map_err(|e| SilverError::Task(e.to_string()))??;
    }
    Ok(counts)
}

/// The partitions under a topic's prefix (one delimited listing: `partition=<p>/`).
async fn list_partitions(lake: &Lake, prefix: &str) -> Result<Vec<i32>, SilverError> {
    let listed = lake
        .store()
        .list_with_delimiter(Some(&Path::from(prefix)))
        .await
        .map_err(|source| SilverError::List { prefix: prefix.to_owned(), source })?;
    let mut partitions: Vec<i32> = listed.common_prefixes.iter().filter_map(bronze::partition_of).collect();
    partitions.sort();
    Ok(partitions)
}

/// A partition's bronze objects after `mark`, in offset order, listed from the mark on.
async fn list_after(
    lake: &Lake,
    topic: &str,
    partition: i32,
    mark: Option<Offset>,
) -> Result<Vec<Listed>, SilverError> {
    let listed: Vec<_> = bronze::list_partition(lake, topic, partition, mark.map(|Offset(offset)| offset))
        .try_collect()
        .await
        .map_err(|source| SilverError::List { prefix: bronze::partition_prefix(topic, partition), source })?;
    let mut objects = Vec::with_capacity(listed.len());
    for meta in listed {
        match BronzeObject::parse(meta.location.as_ref()) {
            Some(object) if object.topic == topic && object.partition == partition => {
                let offset = Offset(object.first_offset);
                if mark.is_none_or(|m| offset > m) {
                    objects.push(Listed { offset, object, size: meta.size })
                }
            }
            _ => tracing::warn!(key = %meta.location, "not a bronze object name; left alone"),
        }
    }
    objects.sort_by_key(|o| o.object.first_offset);
    Ok(objects)
}

async fn catch_up_partition(
    lake: &Lake,
    table: &mut CleanTable,
    kind: Kind,
    topic: &str,
    partition: i32,
) -> Result<SilverCounts, SilverError> {
    let writer = KafkaPartition::new(topic, partition);
    let mark = table.mark(&writer).await?.map(|m| m.position);
    let objects = list_after(lake, topic, partition, mark).await?;
    let mut counts = SilverCounts { objects_listed: objects.len() as u64, ..Default::default() };
    let mut pending = &objects[..];
    while !pending.is_empty() {
        // Take in a bounded slice of the backlog per commit.
        let mut take = 0;
        let mut bytes = 0;
        while take < pending.len() && (take == 0 || bytes + pending[take].size <= MAX_COMMIT_BYTES) {
            bytes += pending[take].size;
            take += 1;
        }
        let (chunk, rest) = pending.split_at(take);
        pending = rest;
        let lines_read = std::sync::atomic::AtomicU64::new(0);
        let lines_read_ref = &lines_read;
        let stage = |fresh: Vec<_>| async move {
            let (staged, lines) = stage_objects(lake, kind, &fresh).await?;
            lines_read_ref.store(lines, std::sync::atomic::Ordering::Relaxed);
            Ok(staged)
        };
        let written = exactly_once::append(table, &writer, chunk, |o| &o.offset, stage, None).await?;
        if written.committed.is_some() {
            counts.objects_read += chunk.len() as u64 - written.duplicates;
            counts.lines_read += lines_read.into_inner();
        }
        counts.objects_skipped += written.duplicates;
        counts.rows_cleaned += written.rows;
        counts.quarantined += written.quarantined;
    }
    Ok(counts)
}

/// Fetches and cleans objects, quarantining the lines that cannot be cleaned; also
/// returns how many lines were read.
async fn stage_objects(lake: &Lake, kind: Kind, objects: &[&Listed]) -> Result<(Staged, u64), LakeError> {
    let fetched = fetch(lake, objects).await?;
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut origins: Vec<(usize, u64)> = Vec::new();
    for (index, (_, body)) in fetched.iter().enumerate() {
        let mut start = 0;
        for (number, end) in memchr::memchr_iter(b'\n', body).chain([body.len()]).enumerate() {
            let line = &body[start..end];
            start = end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            lines.push(line);
            origins.push((index, number as u64 + 1));
        }
    }
    let cleaned = clean_on_every_core(kind, &lines);
    for (position, reason) in &cleaned.quarantined {
        let (index, line) = origins[*position];
        let origin = Origin::Object { key: fetched[index].0.key.clone(), line };
        let q = Quarantined::new(reason, lines[*position], origin);
        lake.put(&q.key(), q.to_json()).await?;
    }
    let keys: Vec<serde_json::Value> = fetched.iter().map(|(o, _)| o.key.clone().into()).collect();
    let staged = Staged {
        batches: cleaned.batches,
        notes: HashMap::from([(OBJECTS_KEY.to_owned(), serde_json::Value::Array(keys))]),
        quarantined: cleaned.quarantined.len() as u64,
    };
    Ok((staged, lines.len() as u64))
}

/// Cleaned lines: Arrow batches in input order, and what could not be cleaned by
/// its position in the input.
struct CleanedLines {
    batches: Vec<RecordBatch>,
    quarantined: Vec<(usize, QuarantineReason)>,
}

/// Cleans `lines` in slices on scoped threads, one per core: a day of bronze is
/// CPU-bound parsing, and one partition may hold most of it.
fn clean_on_every_core(kind: Kind, lines: &[&[u8]]) -> CleanedLines {
    const MIN_SLICE: usize = 8_192;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = lines.len().div_ceil(cores).max(MIN_SLICE);
    // Cleaning is property-tested never to panic; a panic in a scoped thread propagates.
    let parts: Vec<CleanedBatch> = std::thread::scope(|scope| {
        let workers: Vec<_> =
            lines.chunks(slice).map(|part| scope.spawn(move || clean_batch(kind, part.iter().copied()))).collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut cleaned = CleanedLines { batches: Vec::with_capacity(parts.len()), quarantined: Vec::new() };
    for (index, part) in parts.into_iter().enumerate() {
        let start = index * slice;
        cleaned.quarantined.extend(part.quarantined.into_iter().map(|(position, reason)| (start + position, reason)));
        cleaned.batches.push(part.batch);
    }
    cleaned
}

/// The objects' bodies, in the given order, a few at a time.
async fn fetch(lake: &Lake, objects: &[&Listed]) -> Result<Vec<(BronzeObject, bytes::Bytes)>, LakeError> {
    let mut fetched = Vec::with_capacity(objects.len());
    for group in objects.chunks(FETCH_CONCURRENCY) {
        let bodies = group.iter().map(|listed| fetch_one(lake.clone(), listed.object.clone()));
        fetched.extend(futures::future::try_join_all(bodies).await?);
    }
    Ok(fetched)
}

async fn fetch_one(lake: Lake, object: BronzeObject) -> Result<(BronzeObject, bytes::Bytes), LakeError> {
    match lake.get(&object.key).await? {
        Some(body) => Ok((object, body)),
        None => Err(LakeError::Vanished { key: object.key }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_in_slices_keeps_order_and_positions() {
        let good: Vec<String> = (0..20_000)
            .map(|i| {
                format!(
                    r#"{{"ind":{i},"timestamp":"2020-01-01 00:00:00","latitude":1.0,"longitude":2.0,"country":"Chad"}}"#
                )
            })
            .collect();
        let mut lines: Vec<&[u8]> = good.iter().map(|l| l.as_bytes()).collect();
        lines[5] = b"not json";
        lines[15_000] = b"{}";
        let cleaned = clean_on_every_core(Kind::Geo, &lines);
        let positions: Vec<usize> = cleaned.quarantined.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, [5, 15_000]);
        let inds: Vec<i64> = cleaned
            .batches
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect();
        let expected: Vec<i64> = (0..20_000).filter(|i| *i != 5 && *i != 15_000).collect();
        assert_eq!(inds, expected);
    }
}
