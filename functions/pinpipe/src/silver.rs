//! Bronze → silver (SPEC §6): the raw objects the batch sink landed under
//! `topics/<id>.<kind>/partition=<p>/…` are cleaned and appended to the silver Delta
//! table `delta/batch/<id>_<kind>`, each object exactly once.
//!
//! The sink writes a partition's objects in offset order, named by their first
//! offset, so a partition's progress is one number: the first offset of the last
//! object taken in. It is kept the way the stream tables keep a shard's (see
//! [`crate::delta`]): a `txn` per partition (app id `bronze/<topic>/partition=<p>`)
//! and, in the same commit, that offset plus the object keys the commit took in.
//! Two overlapping runs therefore race on the same app id, and the loser re-reads
//! the mark and takes in only what is left.

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt;
use object_store::path::Path;

use arrow_array::RecordBatch;

use crate::clean::QuarantineReason;
use crate::columnar::{CleanedBatch, clean_batch};
use crate::config::Names;
use crate::delta::{AppendError, Appended, CleanTable};
use crate::kind::Kind;
use crate::lake::{Lake, LakeError};
use crate::quarantine::{Origin, Quarantined};
use crate::sequence::SequenceNumber;

/// How often a partition's append is retried after losing a commit race.
const CONFLICT_RETRIES: usize = 5;
/// At most this many raw bytes go into one commit, so a long backlog is taken in
/// several commits instead of all in memory at once.
const MAX_COMMIT_BYTES: u64 = 64 << 20;
/// Objects fetched at once.
const FETCH_CONCURRENCY: usize = 16;
/// commitInfo key listing the bronze objects a commit took in.
const OBJECTS_KEY: &str = "pinpipe.bronzeObjects";

/// One bronze object, named as Kafka Connect's S3 sink names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BronzeObject {
    pub key: String,
    pub topic: String,
    pub partition: i32,
    pub first_offset: i64,
}

impl BronzeObject {
    /// Parses `topics/<topic>/partition=<p>/<topic>+<p>+<offset>.json`; other keys are
    /// not bronze objects.
    pub fn parse(key: &str) -> Option<BronzeObject> {
        let rest = key.strip_prefix("topics/")?;
        let (topic, rest) = rest.split_once('/')?;
        let (dir, file) = rest.split_once('/')?;
        let partition: i32 = dir.strip_prefix("partition=")?.parse().ok()?;
        let stem = file.strip_suffix(".json")?;
        let (name, offset) = stem.rsplit_once('+')?;
        let (name_topic, name_partition) = name.rsplit_once('+')?;
        if name_topic != topic || name_partition.parse::<i32>().ok()? != partition {
            return None;
        }
        let first_offset: i64 = offset.parse().ok().filter(|o| *o >= 0)?;
        Some(BronzeObject { key: key.to_owned(), topic: topic.to_owned(), partition, first_offset })
    }

    fn offset_mark(&self) -> SequenceNumber {
        SequenceNumber::parse(&self.first_offset.to_string()).expect("a non-negative integer is a sequence number")
    }
}

/// A bronze object and its size as listed.
#[derive(Debug)]
struct Listed {
    object: BronzeObject,
    size: u64,
}

/// What one bronze → silver pass did for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SilverCounts {
    /// Objects read and taken in by this pass.
    pub objects_read: u64,
    /// Objects found already taken in (by an earlier or overlapping run).
    pub objects_skipped: u64,
    pub lines_read: u64,
    pub rows_cleaned: u64,
    pub quarantined: u64,
}

impl std::ops::AddAssign for SilverCounts {
    fn add_assign(&mut self, o: Self) {
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
    Append(#[from] AppendError),
    #[error("listing {prefix}: {source}")]
    List { prefix: String, source: object_store::Error },
    #[error("a partition's writer task failed: {0}")]
    Task(String),
    #[error("bronze object {0} disappeared while being read")]
    Vanished(String),
    #[error("partition writer {0} kept losing commit races after {CONFLICT_RETRIES} attempts")]
    Contended(String),
}

/// Takes every bronze object of `kind` not yet in its silver table into it.
/// Partitions are taken in concurrently (each its own writer), so cleaning and
/// Parquet encoding use every core.
pub async fn ingest(lake: &Lake, names: Names<'_>, kind: Kind) -> Result<SilverCounts, SilverError> {
    let relative = names.batch_table(kind);
    // Create the table once, before the partitions' writers race to append.
    CleanTable::open(lake, &relative, kind).await?;
    let writers: Vec<_> = list_partitions(lake, &names.bronze_prefix(kind))
        .await?
        .into_values()
        .map(|objects| {
            let (lake, relative) = (lake.clone(), relative.clone());
            tokio::spawn(async move {
                let mut table = CleanTable::open(&lake, &relative, kind).await?;
                ingest_partition(&lake, &mut table, kind, &objects).await
            })
        })
        .collect();
    let mut counts = SilverCounts::default();
    for writer in writers {
        counts += writer.await.map_err(|e| SilverError::Task(e.to_string()))??;
    }
    Ok(counts)
}

/// The bronze objects under `prefix`, by (topic, partition), each in offset order.
async fn list_partitions(lake: &Lake, prefix: &str) -> Result<BTreeMap<(String, i32), Vec<Listed>>, SilverError> {
    let listed: Vec<_> = lake
        .store()
        .list(Some(&Path::from(prefix)))
        .try_collect()
        .await
        .map_err(|source| SilverError::List { prefix: prefix.to_owned(), source })?;
    let mut partitions: BTreeMap<(String, i32), Vec<Listed>> = BTreeMap::new();
    for meta in listed {
        match BronzeObject::parse(meta.location.as_ref()) {
            Some(object) => {
                let size = meta.size;
                partitions.entry((object.topic.clone(), object.partition)).or_default().push(Listed { object, size })
            }
            None => tracing::warn!(key = %meta.location, "not a bronze object name; left alone"),
        }
    }
    for objects in partitions.values_mut() {
        objects.sort_by_key(|o| o.object.first_offset);
    }
    Ok(partitions)
}

async fn ingest_partition(
    lake: &Lake,
    table: &mut CleanTable,
    kind: Kind,
    objects: &[Listed],
) -> Result<SilverCounts, SilverError> {
    let Some(Listed { object: first, .. }) = objects.first() else { return Ok(SilverCounts::default()) };
    let app_id = format!("bronze/{}/partition={}", first.topic, first.partition);
    let mut counts = SilverCounts::default();
    let mut attempts = 0;
    loop {
        let mark = table.mark(&app_id).await?;
        let pending: Vec<&Listed> =
            objects.iter().filter(|o| mark.as_ref().is_none_or(|m| o.object.offset_mark() > m.last_sequence)).collect();
        if pending.is_empty() {
            // Whatever this pass did not read, an earlier or overlapping run did.
            counts.objects_skipped = objects.len() as u64 - counts.objects_read;
            return Ok(counts);
        }
        // Take in a bounded slice of the backlog per commit.
        let mut take = 0;
        let mut bytes = 0;
        while take < pending.len() && (take == 0 || bytes + pending[take].size <= MAX_COMMIT_BYTES) {
            bytes += pending[take].size;
            take += 1;
        }
        let chunk = fetch(lake, &pending[..take]).await?;
        let mut lines: Vec<&[u8]> = Vec::new();
        let mut origins: Vec<(usize, u64)> = Vec::new();
        for (index, (_, body)) in chunk.iter().enumerate() {
            for (number, line) in body.split(|&b| b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                lines.push(line);
                origins.push((index, number as u64 + 1));
            }
        }
        let cleaned = clean_on_every_core(kind, &lines)?;
        for (position, reason) in &cleaned.quarantined {
            let (index, line) = origins[*position];
            let origin = Origin::Object { key: chunk[index].0.key.clone(), line };
            let q = Quarantined::new(reason, lines[*position], origin);
            lake.put(&q.key(), q.to_json()).await?;
        }
        let last = chunk.last().expect("take >= 1").0.offset_mark();
        let keys: Vec<serde_json::Value> = chunk.iter().map(|(o, _)| o.key.clone().into()).collect();
        let notes = HashMap::from([(OBJECTS_KEY.to_owned(), serde_json::Value::Array(keys))]);
        let rows = cleaned.batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        match table.append(&app_id, mark.as_ref(), &last, cleaned.batches, notes, None).await {
            Ok(Appended::Committed { version, .. }) => {
                tracing::info!(%app_id, version, objects = chunk.len(), rows, "bronze objects taken into silver");
                counts.objects_read += chunk.len() as u64;
                counts.lines_read += lines.len() as u64;
                counts.rows_cleaned += rows;
                counts.quarantined += cleaned.quarantined.len() as u64;
                attempts = 0;
            }
            // An overlapping run took them in first: re-read the mark and go on.
            Ok(Appended::AlreadyCommitted) | Err(AppendError::Conflict { .. }) => {
                attempts += 1;
                if attempts > CONFLICT_RETRIES {
                    return Err(SilverError::Contended(app_id));
                }
            }
            Err(e) => return Err(e.into()),
        }
        table.refresh().await?;
    }
}

/// Cleaned lines: Arrow batches in input order, and what could not be cleaned by
/// its position in the input.
struct CleanedLines {
    batches: Vec<RecordBatch>,
    quarantined: Vec<(usize, QuarantineReason)>,
}

/// Cleans `lines` in slices on scoped threads, one per core: a day of bronze is
/// CPU-bound parsing, and one partition may hold most of it.
fn clean_on_every_core(kind: Kind, lines: &[&[u8]]) -> Result<CleanedLines, SilverError> {
    const MIN_SLICE: usize = 8_192;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = lines.len().div_ceil(cores).max(MIN_SLICE);
    let parts = std::thread::scope(|scope| -> Result<Vec<CleanedBatch>, SilverError> {
        let workers: Vec<_> =
            lines.chunks(slice).map(|part| scope.spawn(move || clean_batch(kind, part.iter().copied()))).collect();
        // Cleaning is property-tested never to panic; if it ever did, fail the run, not the process.
        workers.into_iter().map(|w| w.join().map_err(|_| SilverError::Task("cleaning panicked".into()))).collect()
    })?;
    let mut cleaned = CleanedLines { batches: Vec::with_capacity(parts.len()), quarantined: Vec::new() };
    for (index, part) in parts.into_iter().enumerate() {
        let start = index * slice;
        cleaned.quarantined.extend(part.quarantined.into_iter().map(|(position, reason)| (start + position, reason)));
        cleaned.batches.push(part.batch);
    }
    Ok(cleaned)
}

/// The objects' bodies, in the given order, a few at a time.
async fn fetch(lake: &Lake, objects: &[&Listed]) -> Result<Vec<(BronzeObject, bytes::Bytes)>, SilverError> {
    let mut fetched = Vec::with_capacity(objects.len());
    for group in objects.chunks(FETCH_CONCURRENCY) {
        let bodies = group.iter().map(|listed| fetch_one(lake.clone(), listed.object.clone()));
        fetched.extend(futures::future::try_join_all(bodies).await?);
    }
    Ok(fetched)
}

async fn fetch_one(lake: Lake, object: BronzeObject) -> Result<(BronzeObject, bytes::Bytes), SilverError> {
    match lake.get(&object.key).await? {
        Some(body) => Ok((object, body)),
        None => Err(SilverError::Vanished(object.key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::bronze_object_key;

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
        let cleaned = clean_on_every_core(Kind::Geo, &lines).unwrap();
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

    #[test]
    fn parses_exactly_kafka_connects_names() {
        let key = bronze_object_key("0a1b2c3d4e5f.pin", 2, 1234);
        assert_eq!(
            BronzeObject::parse(&key),
            Some(BronzeObject { key: key.clone(), topic: "0a1b2c3d4e5f.pin".into(), partition: 2, first_offset: 1234 })
        );
        for other in [
            "topics/0a1b2c3d4e5f.pin/partition=2/0a1b2c3d4e5f.pin+3+0000001234.json",
            "topics/0a1b2c3d4e5f.pin/partition=2/other+2+0000001234.json",
            "topics/0a1b2c3d4e5f.pin/partition=x/0a1b2c3d4e5f.pin+2+0000001234.json",
            "topics/0a1b2c3d4e5f.pin/partition=2/0a1b2c3d4e5f.pin+2+0000001234.json.tmp",
            "topics/0a1b2c3d4e5f.pin/partition=2/0a1b2c3d4e5f.pin+2+-1.json",
            "topics/0a1b2c3d4e5f.pin/_SUCCESS",
        ] {
            assert_eq!(BronzeObject::parse(other), None, "{other}");
        }
    }
}
