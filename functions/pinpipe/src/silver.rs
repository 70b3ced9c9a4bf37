//! Bronze → silver (SPEC §6): the raw objects the batch sink landed under
//! `topics/<id>.<kind>/partition=<p>/…` are cleaned and appended to the silver Delta
//! table `delta/batch/<id>_<kind>`, each object exactly once.
//!
//! The sink writes a partition's objects in offset order, named by their first
//! offset, so a partition's progress is one number: the first offset of the last
//! object taken in, kept as that partition's writer mark (a `txn` whose version is
//! the offset, see [`crate::lake::marks`]). Each pass lists a partition only after its mark
//! (S3 `start-after`), so a day's work does not grow with bronze's history; two
//! overlapping passes race on the same mark through [`crate::lake::exactly_once`], and the
//! loser takes in only what is left.
//!
//! Bad days: an object's lines that cannot be cleaned go to one quarantine object per
//! bronze object (`quarantine/object/<key>.jsonl`, a line each with its reason and line
//! number), written once per commit, not once per line. An object listed but gone
//! when read is quarantined as vanished and passed. A partition that cannot go on (an
//! object that cannot be read, a commit that fails) stops where it is — its mark is
//! before what it could not take in, so the next run tries again — and is reported;
//! the other partitions and kinds go on.

use std::collections::HashMap;

use futures::TryStreamExt;
use object_store::path::Path;

use arrow_array::RecordBatch;

use crate::config::Names;
use crate::kind::Kind;
use crate::lake::bronze::{self, BronzeObject};
use crate::lake::delta::CleanTable;
use crate::lake::exactly_once::{self, Staged, WriteError};
use crate::lake::marks::{KafkaPartition, Offset};
use crate::lake::{Lake, LakeError};
use crate::record::clean::QuarantineReason;
use crate::record::columnar::{CleanedBatch, clean_batch};
use crate::record::quarantine::{Origin, Quarantined};

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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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
    /// Objects listed but gone when read: quarantined as vanished and passed.
    pub objects_vanished: u64,
    /// Partitions that stopped (what they could not take in waits for the next run).
    pub partitions_stopped: u64,
    /// Why, one sentence each.
    pub problems: Vec<String>,
}

// Not derived like the other counts: `problems` are appended, not added.
impl std::ops::AddAssign for SilverCounts {
    fn add_assign(&mut self, o: Self) {
        self.objects_listed += o.objects_listed;
        self.objects_read += o.objects_read;
        self.objects_skipped += o.objects_skipped;
        self.lines_read += o.lines_read;
        self.rows_cleaned += o.rows_cleaned;
        self.quarantined += o.quarantined;
        self.objects_vanished += o.objects_vanished;
        self.partitions_stopped += o.partitions_stopped;
        self.problems.extend(o.problems);
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
/// Parquet encoding use every core; a partition that fails stops alone (counted and
/// said in `problems`).
pub async fn catch_up(lake: &Lake, names: Names<'_>, kind: Kind) -> Result<SilverCounts, SilverError> {
    let relative = names.batch_table(kind);
    // Create the table once, before the partitions' writers race to append.
    CleanTable::create_or_open(lake, &relative, kind).await?;
    let topic = names.topic(kind);
    let writers: Vec<_> = list_partitions(lake, &bronze::kind_prefix(names, kind))
        .await?
        .into_iter()
        .map(|partition| {
            let (lake, relative, topic) = (lake.clone(), relative.clone(), topic.clone());
            tokio::spawn(async move {
                catch_up_opened(lake, relative, kind, topic, partition).await.map_err(|e| (partition, e))
            })
        })
        .collect();
    let mut counts = SilverCounts::default();
    for writer in writers {
        match writer.await.map_err(|e| SilverError::Task(e.to_string()))? {
            Ok(partition) => counts += partition,
            Err((partition, error)) => {
                tracing::error!(%topic, partition, %error, "a partition stopped; the others go on");
                counts.partitions_stopped += 1;
                counts
                    .problems
                    .push(format!("partition {partition} of {topic} stopped and waits for the next run: {error}"));
            }
        }
    }
    Ok(counts)
}

/// Opens the table (a writer of its own) and takes in one partition.
async fn catch_up_opened(
    lake: Lake,
    relative: String,
    kind: Kind,
    topic: String,
    partition: i32,
) -> Result<SilverCounts, SilverError> {
    let mut table = CleanTable::create_or_open(&lake, &relative, kind).await?;
    catch_up_partition(&lake, &mut table, kind, &topic, partition).await
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
        let read = std::sync::Mutex::new((0u64, 0u64));
        let read_ref = &read;
        let stage = |fresh: Vec<_>| async move {
            let (staged, lines, vanished) = stage_objects(lake, kind, &fresh).await?;
            *read_ref.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (lines, vanished);
            Ok(staged)
        };
        let written = exactly_once::append(table, &writer, chunk, |o| &o.offset, stage, None).await?;
        if written.committed.is_some() {
            let (lines, vanished) = read.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            counts.objects_read += chunk.len() as u64 - written.duplicates - vanished;
            counts.objects_vanished += vanished;
            counts.lines_read += lines;
        }
        counts.objects_skipped += written.duplicates;
        counts.rows_cleaned += written.rows;
        counts.quarantined += written.quarantined;
    }
    Ok(counts)
}

/// Fetches and cleans objects, quarantining the lines that cannot be cleaned (one
/// quarantine object per bronze object) and the objects that vanished; also returns
/// how many lines were read and how many objects had vanished.
async fn stage_objects(lake: &Lake, kind: Kind, objects: &[&Listed]) -> Result<(Staged, u64, u64), LakeError> {
    let fetched = fetch(lake, objects).await?;
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut origins: Vec<(usize, u64)> = Vec::new();
    for (index, (_, body)) in fetched.iter().enumerate() {
        let Some(body) = body else { continue };
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
    // Each bronze object's quarantined lines, in one object.
    let mut by_object: std::collections::BTreeMap<usize, Vec<u8>> = std::collections::BTreeMap::new();
    for (position, reason) in &cleaned.quarantined {
        let (index, line) = origins[*position];
        let origin = Origin::Object { key: fetched[index].0.key.clone(), line };
        let text = by_object.entry(index).or_default();
        text.extend(Quarantined::new(reason, lines[*position], origin).to_json());
        text.push(b'\n');
    }
    let mut vanished = 0;
    for (index, (object, body)) in fetched.iter().enumerate() {
        if body.is_none() {
            vanished += 1;
            tracing::warn!(key = %object.key, "a bronze object listed but gone when read: quarantined as vanished");
            let q = Quarantined::with_reason(
                "vanished",
                "the bronze object was listed but was gone when read (deleted?); nothing of it was taken in".into(),
                None,
                b"",
                Origin::Object { key: object.key.clone(), line: 0 },
            );
            let mut text = q.to_json();
            text.push(b'\n');
            by_object.insert(index, text);
        }
    }
    let writes: Vec<(String, Vec<u8>)> =
        by_object.into_iter().map(|(index, text)| (Quarantined::object_key(&fetched[index].0.key), text)).collect();
    for group in writes.chunks(FETCH_CONCURRENCY) {
        futures::future::try_join_all(group.iter().map(|(key, text)| lake.put(key, text.clone()))).await?;
    }
    let keys: Vec<serde_json::Value> =
        fetched.iter().filter(|(_, body)| body.is_some()).map(|(o, _)| o.key.clone().into()).collect();
    let staged = Staged {
        batches: cleaned.batches,
        notes: HashMap::from([(OBJECTS_KEY.to_owned(), serde_json::Value::Array(keys))]),
        quarantined: cleaned.quarantined.len() as u64,
    };
    Ok((staged, lines.len() as u64, vanished))
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

/// The objects' bodies (`None`: listed but gone), in the given order, a few at a time.
async fn fetch(lake: &Lake, objects: &[&Listed]) -> Result<Vec<(BronzeObject, Option<bytes::Bytes>)>, LakeError> {
    let mut fetched = Vec::with_capacity(objects.len());
    for group in objects.chunks(FETCH_CONCURRENCY) {
        let bodies = group.iter().map(|listed| fetch_one(lake.clone(), listed.object.clone()));
        fetched.extend(futures::future::try_join_all(bodies).await?);
    }
    Ok(fetched)
}

async fn fetch_one(lake: Lake, object: BronzeObject) -> Result<(BronzeObject, Option<bytes::Bytes>), LakeError> {
    let body = lake.get(&object.key).await?;
    Ok((object, body))
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
