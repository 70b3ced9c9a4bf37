//! The batch sink (SPEC §6, §7): an MSK batch → each record's value, exactly the
//! produced bytes, one per line, in Kafka Connect's S3 layout
//! `topics/<topic>/partition=<p>/<topic>+<p>+<first offset:010>.json`, exactly once.
//!
//! Lambda redelivers and re-cuts batches, and may run the same batch twice at once,
//! so deterministic names are not enough. Every object is written create-only (S3
//! `If-None-Match: *`, a local create-new) and covers a run of consecutive offsets,
//! one line each, so its end offset is its first offset plus its line count. Before
//! writing, the sink finds where the partition's landed data ends and skips what is
//! below it; when the object it is about to write already exists, it reads that
//! object's end and continues after it — never overwriting, never skipping a record
//! that has not landed.
//!
//! Assumes the topic's offsets are consecutive (no transactions, no compaction),
//! as they are for what the ingest API and the original scripts produce.
//!
//! Long (some 430 lines before its tests): landing exactly once takes the redelivery,
//! re-cut and recreated-topic checks against what landed, each a few lines, in one place.

use std::collections::BTreeMap;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use futures::TryStreamExt;
use object_store::path::Path;

use crate::delivery::lanes::{self, Counted, KafkaBatchResponse, by_partition};
use crate::lake::bronze::{self, BronzeObject, line_count, object_body};
use crate::lake::{Lake, LakeError};
use crate::record::quarantine::{Origin, Quarantined};

/// The most records Lambda puts in one MSK batch (the event source mapping's
/// largest `BatchSize`), so the most one object holds.
pub const MAX_BATCH_RECORDS: i64 = 10_000;
/// Keys before a batch's first offset listed first to find where landed data ends;
/// widened ×16 up to [`MAX_BATCH_RECORDS`] only when nothing there reaches it.
const FIRST_WINDOW: i64 = 16;

/// Counts of one invocation (also emitted as CloudWatch embedded metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, derive_more::AddAssign)]
pub struct SinkCounts {
    pub records_in: u64,
    pub records_written: u64,
    pub objects_written: u64,
    pub duplicates_skipped: u64,
    pub quarantined: u64,
    pub failed: u64,
}

impl std::fmt::Display for SinkCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records in, {} written in {} objects, {} quarantined, {} duplicates skipped, {} failed (redelivered)",
            self.records_in,
            self.records_written,
            self.objects_written,
            self.quarantined,
            self.duplicates_skipped,
            self.failed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("listing {prefix}: {source}")]
    List { prefix: String, source: object_store::Error },
    #[error("object {key} exists but could not be read back")]
    Vanished { key: String },
    /// A record at an offset already landed, with other content: the topic was
    /// deleted and created again and its offsets restarted. Its records are not
    /// skipped as duplicates nor written over the old ones: the partition stops here.
    #[error(
        "{topic} partition {partition} offset {offset} was landed before with other content: the topic was \
         deleted and created again (its offsets restarted), so its new records would be taken for the old \
         ones. Nothing of the partition is landed from here; deploy under a new DeploymentId (new topics and \
         tables), or move the old bronze objects and silver table aside (README, \"A recreated topic\")"
    )]
    Recreated { topic: String, partition: i32, offset: i64 },
}

/// A record whose value can be landed, or why it cannot.
enum Value {
    Line(Vec<u8>),
    Bad { code: &'static str, reason: String, original: Vec<u8> },
}

/// The sink's state, built once per Lambda instance.
pub struct BatchSink {
    lake: Lake,
}

impl BatchSink {
    pub fn new(lake: Lake) -> Self {
        BatchSink { lake }
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Handles one MSK event, partition by partition. A partition that fails is
    /// reported from its first offset (the whole partition batch is safe to retry).
    pub async fn handle(&self, event: &KafkaEvent) -> (KafkaBatchResponse, SinkCounts) {
        let partitions = by_partition(event);
        lanes::handle(&partitions, |lane| {
            self.sink_partition(&lane.position.topic, lane.position.partition, &lane.records)
        })
        .await
    }

    async fn sink_partition(
        &self,
        topic: &str,
        partition: i32,
        records: &[&KafkaRecord],
    ) -> Result<SinkCounts, SinkError> {
        let mut counts = SinkCounts { records_in: records.len() as u64, ..Default::default() };
        let tail = self.landed_tail(topic, partition, records[0].offset).await?;
        let mut end = tail.end;
        // What is below the landed end was landed by an earlier delivery — unless the
        // topic is a new incarnation reusing the offsets: check the content first.
        let below: Vec<(i64, Vec<u8>)> = records
            .iter()
            .filter(|r| end.is_some_and(|e| r.offset < e))
            .filter_map(|r| match value_of(r) {
                Value::Line(line) => Some((r.offset, line)),
                Value::Bad { .. } => None,
            })
            .collect();
        self.check_landed(topic, partition, tail, &below).await?;
        // Runs of consecutive offsets whose values can be landed; a bad value ends a run.
        let mut run: Vec<(i64, Vec<u8>)> = Vec::new();
        for record in records {
            if end.is_some_and(|e| record.offset < e) {
                counts.duplicates_skipped += 1;
                continue;
            }
            match value_of(record) {
                Value::Line(line) => {
                    if run.last().is_some_and(|(last, _)| record.offset != last + 1) {
                        self.write_run(topic, partition, std::mem::take(&mut run), &mut end, &mut counts).await?;
                    }
                    run.push((record.offset, line));
                }
                Value::Bad { code, reason, original } => {
                    self.write_run(topic, partition, std::mem::take(&mut run), &mut end, &mut counts).await?;
                    let origin = Origin::Topic { topic: topic.to_owned(), partition, offset: record.offset };
                    let q = Quarantined::with_reason(code, reason, None, &original, origin);
                    self.lake.put(&q.key(), q.to_json()).await?;
                    counts.quarantined += 1;
                }
            }
        }
        self.write_run(topic, partition, run, &mut end, &mut counts).await?;
        Ok(counts)
    }

    /// Lands a run of consecutive records create-only, continuing after any object
    /// that another delivery wrote first.
    async fn write_run(
        &self,
        topic: &str,
        partition: i32,
        run: Vec<(i64, Vec<u8>)>,
        end: &mut Option<i64>,
        counts: &mut SinkCounts,
    ) -> Result<(), SinkError> {
        let mut rest: &[(i64, Vec<u8>)] = &run;
        while let Some((first, _)) = rest.first() {
            let key = bronze::object_key(topic, partition, *first);
            let body = object_body(rest.iter().map(|(_, line)| line.as_slice()));
            if self.lake.put_new(&key, body).await? {
                counts.records_written += rest.len() as u64;
                counts.objects_written += 1;
                *end = Some(first + rest.len() as i64);
                tracing::info!(%key, records = rest.len(), "landed");
                return Ok(());
            }
            // Another delivery landed an object here first: go on after its end.
            let existing = self.lake.get(&key).await?.ok_or_else(|| SinkError::Vanished { key: key.clone() })?;
            let existing_end = first + line_count(&existing);
            let skip = rest.iter().take_while(|(offset, _)| *offset < existing_end).count();
            if let Some(offset) = first_mismatch(*first, &existing, &rest[..skip]) {
                return Err(SinkError::Recreated { topic: topic.to_owned(), partition, offset });
            }
            counts.duplicates_skipped += skip as u64;
            *end = Some(existing_end.max(end.unwrap_or(existing_end)));
            rest = &rest[skip..];
        }
        Ok(())
    }

    /// Checks that `landed` (offset, value) pairs, all below the partition's landed
    /// end, are what was landed at those offsets, reading only the objects of `tail`
    /// that hold them (the last one is already read): a redelivery costs a few
    /// requests, not the partition's history.
    async fn check_landed(
        &self,
        topic: &str,
        partition: i32,
        tail: LandedTail,
        landed: &[(i64, Vec<u8>)],
    ) -> Result<(), SinkError> {
        let Some((high, _)) = landed.last() else { return Ok(()) };
        let mut firsts: Vec<i64> = tail.objects.iter().map(|o| o.first_offset).filter(|first| first <= high).collect();
        firsts.sort_unstable();
        let mut bodies = tail.bodies;
        let mut rest = landed;
        while let Some((offset, _)) = rest.first() {
            let recreated = |offset: i64| SinkError::Recreated { topic: topic.to_owned(), partition, offset };
            // The object holding `offset`: the last one starting at or before it; it
            // holds the records up to the next object's start.
            let Some(i) = firsts.iter().rposition(|&f| f <= *offset) else { return Err(recreated(*offset)) };
            let (first, next) = (firsts[i], firsts.get(i + 1).copied().unwrap_or(i64::MAX));
            let held = rest.iter().take_while(|(o, _)| *o < next).count();
            if !bodies.contains_key(&first) {
                let key = bronze::object_key(topic, partition, first);
                let body = self.lake.get(&key).await?.ok_or(SinkError::Vanished { key })?;
                bodies.insert(first, body.to_vec());
            }
            if let Some(offset) = first_mismatch(first, &bodies[&first], &rest[..held]) {
                return Err(recreated(offset));
            }
            rest = &rest[held..];
        }
        Ok(())
    }

    /// The partition's objects that may hold offset `from` or later, in key order. An
    /// object holds at most one batch, so keys before `from - MAX_BATCH_RECORDS`
    /// cannot; the listing starts [`FIRST_WINDOW`] keys before `from` and widens only
    /// while it finds no object starting at or before `from` (objects never overlap,
    /// so an earlier one cannot reach `from` then), each wider round listing only the
    /// keys before the last round's: one short LIST in the usual case, whatever the
    /// history. (The lake lists in key order: S3 does, and so does a local lake.)
    async fn objects_from(&self, topic: &str, partition: i32, from: i64) -> Result<Vec<BronzeObject>, SinkError> {
        let mut objects: Vec<BronzeObject> = Vec::new();
        let mut listed_from: Option<Path> = None;
        let mut window = FIRST_WINDOW;
        loop {
            let after = from - window - 1;
            let start = (after >= 0).then_some(after);
            let upto = listed_from.clone();
            let round: Vec<_> = bronze::list_partition(&self.lake, topic, partition, start)
                .try_take_while(|meta| std::future::ready(Ok(upto.as_ref().is_none_or(|u| meta.location <= *u))))
                .try_collect()
                .await
                .map_err(|source| SinkError::List { prefix: bronze::partition_prefix(topic, partition), source })?;
            let mut earlier: Vec<BronzeObject> = round
                .iter()
                .filter_map(|meta| BronzeObject::parse(meta.location.as_ref()))
                .filter(|o| o.topic == topic && o.partition == partition)
                .collect();
            earlier.append(&mut objects);
            objects = earlier;
            if start.is_none() || window >= MAX_BATCH_RECORDS || objects.iter().any(|o| o.first_offset <= from) {
                return Ok(objects);
            }
            listed_from = start.map(|after| Path::from(bronze::object_key(topic, partition, after)));
            window = (window * 16).min(MAX_BATCH_RECORDS);
        }
    }

    /// What the partition holds from a batch starting at `from` on: the objects that
    /// may overlap it and the end of the last one (read once, kept for
    /// [`BatchSink::check_landed`]).
    async fn landed_tail(&self, topic: &str, partition: i32, from: i64) -> Result<LandedTail, SinkError> {
        let objects = self.objects_from(topic, partition, from).await?;
        let mut bodies = BTreeMap::new();
        let mut end = None;
        if let Some(last) = objects.iter().max_by_key(|o| o.first_offset) {
            let body = self.lake.get(&last.key).await?.ok_or_else(|| SinkError::Vanished { key: last.key.clone() })?;
            end = Some(last.first_offset + line_count(&body));
            bodies.insert(last.first_offset, body.to_vec());
        }
        Ok(LandedTail { objects, bodies, end })
    }

    /// One past the last offset landed for the partition at or after what may
    /// overlap a batch starting at `from`, or `None` when nothing there is landed.
    /// The objects are the truth; the last one's line count gives its end.
    pub async fn landed_end(&self, topic: &str, partition: i32, from: i64) -> Result<Option<i64>, SinkError> {
        Ok(self.landed_tail(topic, partition, from).await?.end)
    }
}

/// A partition's objects from a batch's first offset on, and the bodies read so far.
struct LandedTail {
    objects: Vec<BronzeObject>,
    bodies: BTreeMap<i64, Vec<u8>>,
    end: Option<i64>,
}

/// The first of `records` whose value is not the line at its offset in the object
/// starting at `first` with `body` (or that the object does not reach).
fn first_mismatch(first: i64, body: &[u8], records: &[(i64, Vec<u8>)]) -> Option<i64> {
    // Every line ends with a newline: the text after the last one is not a line.
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').take(line_count(body) as usize).collect();
    records.iter().find_map(|(offset, value)| {
        let line = usize::try_from(offset - first).ok().and_then(|i| lines.get(i));
        (line != Some(&value.as_slice())).then_some(*offset)
    })
}

/// The record's value as produced: base64-decoded; it must fit on one line.
fn value_of(record: &KafkaRecord) -> Value {
    let Some(encoded) = record.value.as_deref() else {
        return Value::Bad {
            code: "no_value",
            reason: "the record has no value (a tombstone)".into(),
            original: vec![],
        };
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Err(e) => Value::Bad {
            code: "bad_base64",
            reason: format!("the event's value is not base64: {e}"),
            original: encoded.as_bytes().to_vec(),
        },
        Ok(bytes) if bytes.iter().any(|&b| b == b'\n' || b == b'\r') => Value::Bad {
            code: "multi_line_value",
            reason: "the value spans several lines, so it cannot be one line of NDJSON".into(),
            original: bytes,
        },
        Ok(bytes) => Value::Line(bytes),
    }
}

impl Counted for SinkCounts {
    fn failed(records: u64) -> Self {
        SinkCounts { records_in: records, failed: records, ..Default::default() }
    }
}
