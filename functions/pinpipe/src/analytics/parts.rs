//! Silver answered in parts, so a run's memory follows the part size, not history.
//!
//! Every question joins the three kinds on `ind` and counts each `ind` once, so rows
//! bucketed by `ind` can be answered part by part and the partial answers merged
//! exactly ([`Partials`]). With one part (until silver outgrows the part size,
//! `PINPIPE_ANALYTICS_PART_ROWS`) silver is read straight into memory. With more, one
//! pass splits each kind's files, a row group at a time, into local spill files (Parquet,
//! LZ4; `/tmp` on Lambda), which are then read back one part at a time. Question 6
//! counts distinct users, who recur across posts: its rows are split a second time,
//! by user name, and counted part by part.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use polars::prelude::*;

use super::error::AnalyticsError;
use super::queries::{self, Partials, Posts, Question};
use crate::delivery::partitioner;
use crate::kind::Kind;
use crate::lake::Lake;
use crate::lake::delta::DataFile;

/// Silver files fetched at once when reading it whole.
const FETCH_CONCURRENCY: usize = 8;
/// Silver files fetched ahead while splitting (each is held until split).
const SPLIT_FETCH_AHEAD: usize = 2;
/// When a file's log entry has no row count, its rows are estimated as its bytes
/// over this (a low guess per row: more parts, never too few).
const BYTES_PER_ROW_GUESS: u64 = 16;

/// One kind's silver data files, as of the version read.
#[derive(Clone)]
pub struct SilverFiles {
    pub kind: Kind,
    pub files: Vec<DataFile>,
}

impl SilverFiles {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows.unwrap_or(f.bytes / BYTES_PER_ROW_GUESS)).sum()
    }
}

/// The parts `rows` of the largest kind are answered in, `part_rows` at most each.
pub fn parts_for(rows: u64, part_rows: u64) -> usize {
    usize::try_from(rows.div_ceil(part_rows.max(1))).unwrap_or(usize::MAX).max(1)
}

/// The answers and what they were computed over.
pub struct Answered {
    pub answers: Vec<(Question, DataFrame)>,
    /// Per kind: rows in silver, and rows left as the first of their `ind`.
    pub rows: [(u64, u64); 3],
    pub parts: usize,
}

/// Answers the questions over `silver` (pin, geo, user) in `parts` parts.
pub async fn answer(lake: &Lake, silver: &[SilverFiles; 3], parts: usize) -> Result<Answered, AnalyticsError> {
    if parts <= 1 {
        let (pin, geo, user) = futures::try_join!(
            read_whole(lake, &silver[0]),
            read_whole(lake, &silver[1]),
            read_whole(lake, &silver[2])
        )?;
        tracing::info!(rows = pin.height() + geo.height() + user.height(), "silver read");
        let (rows, partial) = answer_part([pin, geo, user])?;
        return Ok(Answered { answers: queries::answer_whole(partial)?, rows, parts: 1 });
    }
    let spill = tempfile::tempdir().map_err(|e| AnalyticsError::Spill(e.to_string()))?;
    let dir = spill.path();
    // Each kind is split on a thread of its own: splitting is decoding and encoding
    // Parquet, CPU-bound, and one task would run the three kinds on one core.
    let runtime = tokio::runtime::Handle::current();
    let splits: Vec<_> = silver
        .iter()
        .map(|kind| {
            let (lake, files, dir, runtime) = (lake.clone(), kind.clone(), dir.to_owned(), runtime.clone());
            tokio::task::spawn_blocking(move || runtime.block_on(split_kind(&lake, &files, parts, &dir)))
        })
        .collect();
    // Every split is awaited before the spill directory can go, errors or not.
    let mut split = Ok(());
    for task in splits {
        let result = task.await.map_err(|e| AnalyticsError::Task(e.to_string())).and_then(|r| r);
        split = split.and(result);
    }
    split?;
    let mut rows = [(0u64, 0u64); 3];
    let mut partials = Vec::with_capacity(parts);
    let mut users: Option<PartWriters> = None;
    for part in 0..parts {
        let [pin, geo, user] =
            [Kind::Pin, Kind::Geo, Kind::User].map(|kind| read_spilled(&spill_path(dir, kind, part)));
        let (part_rows, mut partial) = answer_part([pin?, geo?, user?])?;
        for (total, counted) in rows.iter_mut().zip(part_rows) {
            total.0 += counted.0;
            total.1 += counted.1;
        }
        let users_out = match &mut users {
            Some(writers) => writers,
            None => users.insert(PartWriters::create(dir, "users", partial.users.schema(), parts)?),
        };
        users_out.write(&partial.users, "user_name")?;
        partial.users = partial.users.clear();
        partials.push(partial);
    }
    if let Some(writers) = users {
        writers.finish()?;
    }
    let mut joined = Vec::with_capacity(parts);
    for part in 0..parts {
        let users = read_spilled(&dir.join(format!("users-{part}.parquet")))?;
        joined.push(queries::users_joined_by_year(users.lazy()).collect()?);
    }
    let q6 = queries::add_users_joined(joined)?;
    let answers = Partials::merge(partials, q6)?;
    Ok(Answered { answers, rows, parts })
}

/// One part's (or all of silver's) pin, geo and user rows: per kind the rows and
/// those left as the first of their `ind`, and the part's partial answers.
fn answer_part([pin, geo, user]: [DataFrame; 3]) -> Result<([(u64, u64); 3], Partials), AnalyticsError> {
    let heights = [pin.height(), geo.height(), user.height()];
    let posts = Posts::dedupe(pin.lazy(), geo.lazy(), user.lazy())?;
    let kept = [posts.pin.height(), posts.geo.height(), posts.user.height()];
    let rows = std::array::from_fn(|i| (heights[i] as u64, kept[i] as u64));
    Ok((rows, Partials::of(&posts)?))
}

/// The columns the questions read of every file of one kind, stacked in file order.
async fn read_whole(lake: &Lake, silver: &SilverFiles) -> Result<DataFrame, AnalyticsError> {
    let schema = queries::input_schema(silver.kind);
    let columns = column_names(&schema);
    let frames: Vec<DataFrame> = futures::stream::iter(&silver.files)
        .map(|file| {
            let columns = columns.clone();
            async move {
                let bytes = fetch(lake, &file.key).await?;
                ParquetReader::new(Cursor::new(bytes))
                    .with_columns(Some(columns))
                    .finish()
                    .map_err(|source| AnalyticsError::SilverFile { key: file.key.clone(), source })
            }
        })
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    let mut all = DataFrame::empty_with_schema(&schema);
    for frame in &frames {
        all.vstack_mut(frame)?;
    }
    all.rechunk_mut();
    Ok(all)
}

/// Splits one kind's files by `ind` into `parts` spill files, a row group at a time,
/// keeping file order within each part (so "the first row of an `ind`" is unchanged).
async fn split_kind(lake: &Lake, silver: &SilverFiles, parts: usize, dir: &Path) -> Result<(), AnalyticsError> {
    let schema = queries::input_schema(silver.kind);
    let columns = column_names(&schema);
    let mut writers = PartWriters::create(dir, &silver.kind.to_string(), &schema, parts)?;
    let mut files = futures::stream::iter(&silver.files)
        .map(|file| async move { Ok::<_, AnalyticsError>((file, fetch(lake, &file.key).await?)) })
        .buffered(SPLIT_FETCH_AHEAD);
    while let Some((file, bytes)) = files.try_next().await? {
        let failed = |source| AnalyticsError::SilverFile { key: file.key.clone(), source };
        let mut reader = ParquetReader::new(Cursor::new(bytes.clone()));
        let metadata = reader.get_metadata().map_err(failed)?.clone();
        let mut offset = 0;
        for group in &metadata.row_groups {
            let mut reader = ParquetReader::new(Cursor::new(bytes.clone()));
            reader.set_metadata(metadata.clone());
            let slice = reader
                .with_columns(Some(columns.clone()))
                .with_slice(Some((offset, group.num_rows())))
                .finish()
                .map_err(failed)?;
            offset += group.num_rows();
            writers.write(&slice.select(columns.clone())?, "ind")?;
        }
    }
    writers.finish()
}

/// One spill file per part, filled with the rows whose key falls in that part.
struct PartWriters {
    writers: Vec<polars::io::parquet::write::BatchedWriter<File>>,
}

impl PartWriters {
    fn create(dir: &Path, name: &str, schema: &Schema, parts: usize) -> Result<Self, AnalyticsError> {
        let writers = (0..parts)
            .map(|part| {
                let path = dir.join(format!("{name}-{part}.parquet"));
                let file =
                    File::create(&path).map_err(|e| AnalyticsError::Spill(format!("{}: {e}", path.display())))?;
                Ok(ParquetWriter::new(file).with_compression(ParquetCompression::Lz4Raw).batched(schema)?)
            })
            .collect::<Result<_, AnalyticsError>>()?;
        Ok(PartWriters { writers })
    }

    /// Appends each row of `frame` to the part its `key` column hashes to.
    fn write(&mut self, frame: &DataFrame, key: &str) -> Result<(), AnalyticsError> {
        let parts = split(frame, key, self.writers.len())?;
        for (writer, rows) in self.writers.iter_mut().zip(parts) {
            if rows.height() > 0 {
                writer.write_batch(&rows)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), AnalyticsError> {
        for writer in &self.writers {
            writer.finish()?;
        }
        Ok(())
    }
}

fn spill_path(dir: &Path, kind: Kind, part: usize) -> PathBuf {
    dir.join(format!("{kind}-{part}.parquet"))
}

fn read_spilled(path: &Path) -> Result<DataFrame, AnalyticsError> {
    let file = File::open(path).map_err(|e| AnalyticsError::Spill(format!("{}: {e}", path.display())))?;
    Ok(ParquetReader::new(file).finish()?)
}

/// `frame`'s rows in `parts` frames by the hash of `key` (an integer or string column;
/// nulls go to the first part), each in the original order.
pub(crate) fn split(frame: &DataFrame, key: &str, parts: usize) -> PolarsResult<Vec<DataFrame>> {
    let column = frame.column(key)?.as_materialized_series();
    let buckets: Vec<usize> = match column.dtype() {
        DataType::String => {
            column.str()?.iter().map(|v| v.map_or(0, |name| partitioner::bucket(name.as_bytes(), parts))).collect()
        }
        _ => column
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or(0, |ind| partitioner::bucket(&ind.to_le_bytes(), parts)))
            .collect(),
    };
    let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); parts];
    for (row, bucket) in buckets.into_iter().enumerate() {
        rows[bucket].push(row as IdxSize);
    }
    rows.into_iter().map(|idx| frame.take(&IdxCa::from_vec(PlSmallStr::EMPTY, idx))).collect()
}

async fn fetch(lake: &Lake, key: &str) -> Result<Bytes, AnalyticsError> {
    lake.get(key).await?.ok_or_else(|| AnalyticsError::MissingFile(key.to_owned()))
}

fn column_names(schema: &Schema) -> Vec<String> {
    schema.iter_names().map(|n| n.to_string()).collect()
}
