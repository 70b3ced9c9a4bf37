//! A local lake's store: object_store's `LocalFileSystem` with a listing from an
//! offset that costs what S3's `start-after` costs. `LocalFileSystem` walks and
//! stats every entry under the prefix whatever the offset, so on a local lake each
//! Delta log refresh (deltalake lists `_delta_log` from the loaded version) and each
//! sink delivery (it lists a partition from the batch's window) would cost the whole
//! history: one-commit-per-record runs grew with the square of the commits. Here the
//! prefix directory's names are read (no stat), those at or before the offset are
//! skipped, and only the rest are stat'ed, in the same blocking task (as
//! `LocalFileSystem`'s own listing does: looking each up with `head` opened every file,
//! one blocking task apiece). Listings from an offset come in key order, as S3's do
//! (the sink relies on it to stop early).
//!
//! A Delta log listed from a version (`_delta_log/<20 digits>`, how delta-kernel lists)
//! is not read as a directory at all: reading an ext4 directory costs every name in it
//! (~0.9 µs each), and a log keeps a retention period of commits, so each listing would
//! still cost the whole week. The names that can follow a version are known —
//! `<v>.checkpoint.parquet`, `<v>.json`, then `_last_checkpoint` — so they are looked up
//! version by version until one has neither. Files other engines may add (multi-part or
//! v2 checkpoints, compacted logs, `.crc`) are optional for a reader, except a checkpoint
//! `_last_checkpoint` names: when it names parts or a v2 checkpoint, when nothing is
//! found at the first version (a cleaned-up log listed from before its start), or when
//! the gap that ends the probing lies below the checkpoint it names (log cleanup ran
//! meanwhile), the directory is read as above.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::{Path, PathPart};
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, UpdateVersion,
};

/// Subdirectories listed at once after the offset.
const TREE_CONCURRENCY: usize = 8;

#[derive(Debug)]
pub(super) struct LocalDir {
    fs: Arc<LocalFileSystem>,
}

impl LocalDir {
    pub(super) fn new() -> Self {
        LocalDir { fs: Arc::new(LocalFileSystem::new()) }
    }
}

impl LocalDir {
    /// `PutMode::Update` on a local lake (`LocalFileSystem` has none): under an
    /// exclusive lock on a file of the machine's temp dir named after the object (so
    /// processes of the machine serialise, and the lake holds no lock files), the
    /// object's e-tag is compared with the one read, then the object is replaced by a
    /// rename into place.
    async fn put_if_unchanged(
        &self,
        location: &Path,
        payload: PutPayload,
        expected: UpdateVersion,
    ) -> Result<PutResult> {
        let file = self.fs.path_to_filesystem(location)?;
        let location = location.clone();
        let bytes: Vec<u8> = payload.iter().flat_map(|chunk| chunk.iter().copied()).collect();
        let generic = |e: std::io::Error| object_store::Error::Generic { store: "LocalDir", source: Box::new(e) };
        tokio::task::spawn_blocking(move || {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            let locks = std::env::temp_dir().join("pinpipe-lake-locks");
            std::fs::create_dir_all(&locks).map_err(generic)?;
            let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(&file);
            let lock = std::fs::File::create(locks.join(format!("{hash:016x}.lock"))).map_err(generic)?;
            lock.lock().map_err(generic)?;
            let current = object_meta(&file, location.clone()).map_err(generic)?;
            let matches = current.as_ref().is_some_and(|meta| meta.e_tag.is_some() && meta.e_tag == expected.e_tag);
            if !matches {
                return Err(object_store::Error::Precondition {
                    path: location.to_string(),
                    source: format!("e-tag {:?} is not {:?}", current.and_then(|m| m.e_tag), expected.e_tag).into(),
                });
            }
            // `<name>#<digits>`, which listings skip, as `LocalFileSystem`'s own staging files.
            let mut staging = file.clone().into_os_string();
            staging.push(format!("#{}", std::process::id()));
            std::fs::write(&staging, &bytes).map_err(generic)?;
            std::fs::rename(&staging, &file).map_err(generic)?;
            let written = object_meta(&file, location).map_err(generic)?;
            Ok(PutResult { e_tag: written.and_then(|m| m.e_tag), version: None })
        })
        .await
        .map_err(|e| object_store::Error::Generic { store: "LocalDir", source: Box::new(e) })?
    }
}

impl std::fmt::Display for LocalDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalDir({})", self.fs)
    }
}

/// An entry of the prefix directory after the offset.
enum After {
    File(ObjectMeta),
    /// A subtree left to `LocalFileSystem` (which filters its objects by the offset):
    /// a subdirectory, or the whole prefix when a name does not map plainly to a key
    /// (its rules for such names are its own).
    Tree(Path),
}

/// The entries of `dir` (the directory of `prefix`) whose keys sort after `offset`,
/// in key order; none when the directory does not exist, as `LocalFileSystem` lists.
fn entries_after(dir: std::path::PathBuf, prefix: &Path, offset: &Path) -> std::io::Result<Vec<After>> {
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    // The offset below the prefix, when it is there: a file name compares with it as
    // text, so entries at or before it cost no key (a Delta log or a bronze partition
    // holds thousands of them, and this runs on every refresh and delivery).
    let offset_below = match prefix.as_ref() {
        "" => Some(offset.as_ref()),
        prefix => offset.as_ref().strip_prefix(prefix).and_then(|rest| rest.strip_prefix('/')),
    };
    let mut after = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { return Ok(vec![After::Tree(prefix.clone())]) };
        let is_dir = entry.file_type()?.is_dir();
        if !is_dir && offset_below.is_some_and(|offset| name <= offset) {
            continue;
        }
        let Ok(part) = PathPart::parse(name) else { return Ok(vec![After::Tree(prefix.clone())]) };
        let location = prefix.clone().join(part);
        if is_dir {
            // Keys under a directory may sort after the offset even when its own does
            // not ('/' sorts after '-'): `LocalFileSystem` filters them.
            after.push(After::Tree(location));
        } else if location > *offset && !is_staging(&location) {
            // Removed since the directory was read: not listed, as on S3.
            if let Some(meta) = object_meta(&entry.path(), location)? {
                after.push(After::File(meta));
            }
        }
    }
    after.sort_by(|a, b| key(a).cmp(key(b)));
    Ok(after)
}

/// The version a Delta log is listed from, when `offset` is `<prefix>/<20 digits>` and
/// `prefix` a `_delta_log` directory.
fn log_version(prefix: &Path, offset: &Path) -> Option<u64> {
    if prefix.filename() != Some("_delta_log") {
        return None;
    }
    let name = offset.as_ref().strip_prefix(prefix.as_ref())?.strip_prefix('/')?;
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit())).then(|| name.parse().ok())?
}

/// The objects of the Delta log in `dir` from version `from` on, in key order, found
/// by looking up the names that can follow each version; `None` when the directory
/// must be read instead (see the module's doc).
fn log_entries_from(dir: &std::path::Path, prefix: &Path, from: u64) -> std::io::Result<Option<Vec<After>>> {
    if checkpoint_hint(dir)? == Hint::Other {
        return Ok(None);
    }
    let mut found = Vec::new();
    for version in from.. {
        let before = found.len();
        for name in [format!("{version:020}.checkpoint.parquet"), format!("{version:020}.json")] {
            if let Some(meta) = object_meta(&dir.join(&name), prefix.clone().join(name.as_str()))? {
                found.push(After::File(meta));
            }
        }
        if found.len() == before {
            // Nothing at the first version: the log starts later (cleaned up), or ends before it.
            if version == from {
                return Ok(None);
            }
            // Log cleanup removes commits below a checkpoint: when one at or past this gap
            // is named now, the gap opened while probing, and is not the log's end.
            if matches!(checkpoint_hint(dir)?, Hint::Classic(at) if at >= version) {
                return Ok(None);
            }
            break;
        }
    }
    let hint = prefix.clone().join("_last_checkpoint");
    if let Some(meta) = object_meta(&dir.join("_last_checkpoint"), hint)? {
        found.push(After::File(meta));
    }
    Ok(Some(found))
}

/// What `_delta_log/_last_checkpoint` names.
#[derive(Debug, PartialEq, Eq)]
enum Hint {
    /// No checkpoint yet.
    None,
    /// A single-file checkpoint `<v>.checkpoint.parquet`.
    Classic(u64),
    /// Multi-part or v2 checkpoint files, or a hint that cannot be read: only reading
    /// the directory finds them.
    Other,
}

fn checkpoint_hint(dir: &std::path::Path) -> std::io::Result<Hint> {
    let bytes = match std::fs::read(dir.join("_last_checkpoint")) {
        Ok(bytes) => bytes,
        Err(e) if is_missing(&e) => {
            return Ok(Hint::None);
        }
        Err(e) => return Err(e),
    };
    let Ok(hint) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Ok(Hint::Other) };
    if ["parts", "v2Checkpoint"].iter().any(|key| hint.get(key).is_some_and(|v| !v.is_null())) {
        return Ok(Hint::Other);
    }
    Ok(hint.get("version").and_then(serde_json::Value::as_u64).map_or(Hint::Other, Hint::Classic))
}

/// The object at `file`, as `LocalFileSystem` describes it (the same size, time and
/// e-tag: inode, mtime in µs and size, in hex); `None` when there is no file there.
fn object_meta(file: &std::path::Path, location: Path) -> std::io::Result<Option<ObjectMeta>> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Ok(None),
        Err(e) if is_missing(&e) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let modified = meta.modified()?;
    let micros = modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros();
    Ok(Some(ObjectMeta {
        location,
        last_modified: modified.into(),
        size: meta.len(),
        e_tag: Some(format!("{:x}-{micros:x}-{:x}", meta.ino(), meta.len())),
        version: None,
    }))
}

/// No such file or directory: nothing to list there, as `LocalFileSystem` lists.
fn is_missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

/// `LocalFileSystem` writes an object to `<name>#<digits>` and renames it into place;
/// such files are not objects (its listing skips them too).
fn is_staging(location: &Path) -> bool {
    location
        .filename()
        .and_then(|name| name.split_once('#'))
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

fn key(entry: &After) -> &Path {
    match entry {
        After::File(meta) => &meta.location,
        After::Tree(p) => p,
    }
}

#[async_trait]
impl ObjectStore for LocalDir {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        match opts.mode {
            PutMode::Update(expected) => self.put_if_unchanged(location, payload, expected).await,
            _ => self.fs.put_opts(location, payload, opts).await,
        }
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.fs.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.fs.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.fs.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.fs.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.fs.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let fs = Arc::clone(&self.fs);
        let prefix = prefix.cloned().unwrap_or_default();
        let offset = offset.clone();
        let dir = match fs.path_to_filesystem(&prefix) {
            Ok(dir) => dir,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        let listed = {
            let offset = offset.clone();
            async move {
                let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                    store: "LocalDir",
                    source: e,
                };
                tokio::task::spawn_blocking(move || match log_version(&prefix, &offset) {
                    Some(from) => match log_entries_from(&dir, &prefix, from)? {
                        Some(entries) => Ok(entries),
                        None => entries_after(dir, &prefix, &offset),
                    },
                    None => entries_after(dir, &prefix, &offset),
                })
                .await
                .map_err(|e| generic(Box::new(e)))?
                .map_err(|e| generic(Box::new(e)))
            }
        };
        stream::once(listed)
            .map_ok(move |entries| {
                let fs = Arc::clone(&fs);
                let offset = offset.clone();
                stream::iter(entries)
                    .map(move |entry| {
                        let (fs, offset) = (Arc::clone(&fs), offset.clone());
                        async move {
                            let objects = match entry {
                                After::File(meta) => vec![meta],
                                After::Tree(location) => {
                                    let mut under: Vec<ObjectMeta> =
                                        fs.list_with_offset(Some(&location), &offset).try_collect().await?;
                                    under.sort_by(|a, b| a.location.cmp(&b.location));
                                    under
                                }
                            };
                            Ok::<_, object_store::Error>(stream::iter(objects.into_iter().map(Ok)))
                        }
                    })
                    .buffered(TREE_CONCURRENCY)
                    .try_flatten()
            })
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.fs.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.fs.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.fs.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a listing tells of an object: key, size, e-tag and time.
    type Listed = (String, u64, Option<String>, chrono::DateTime<chrono::Utc>);

    /// Listed from `offset`, sorted.
    async fn listed(store: &dyn ObjectStore, prefix: &Path, offset: &Path) -> Vec<Listed> {
        let mut metas = as_listed(store, prefix, offset).await;
        metas.sort();
        metas
    }

    async fn as_listed(store: &dyn ObjectStore, prefix: &Path, offset: &Path) -> Vec<Listed> {
        store
            .list_with_offset(Some(prefix), offset)
            .map_ok(|m| (m.location.to_string(), m.size, m.e_tag, m.last_modified))
            .try_collect()
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lists_from_an_offset_as_local_file_system_does() {
        let root = std::env::temp_dir().join(format!("pinpipe-local-dir-{}", std::process::id()));
        let dir = root.join("p");
        std::fs::create_dir_all(dir.join("b-sub")).unwrap();
        std::fs::create_dir_all(dir.join("a")).unwrap();
        for (name, body) in [("a0", "1"), ("b", "22"), ("b-sub/x", "333"), ("a/y", "4"), ("c", "55555"), ("c#12", "")] {
            std::fs::write(dir.join(name), body).unwrap();
        }
        let prefix = Path::from_filesystem_path(&dir).unwrap();
        let ours = LocalDir::new();
        let theirs = LocalFileSystem::new();
        for offset in ["a", "a0", "a/y", "b", "b-sub", "b/", "c", "d", ""] {
            let offset = Path::from(format!("{prefix}/{offset}"));
            let expected = listed(&theirs, &prefix, &offset).await;
            // In key order, as S3 lists.
            assert_eq!(as_listed(&ours, &prefix, &offset).await, expected, "from {offset}");
        }
        // 'b-sub/x' sorts after 'b-sub' and 'b/': a directory's objects are filtered one by one.
        let from_b = listed(&ours, &prefix, &Path::from(format!("{prefix}/b"))).await;
        assert_eq!(from_b.iter().map(|(k, ..)| k.rsplit('/').next().unwrap()).collect::<Vec<_>>(), ["x", "c"]);
        let missing = Path::from(format!("{prefix}/missing"));
        assert!(listed(&ours, &missing, &Path::from(format!("{missing}/0"))).await.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A Delta log listed from a version, as delta-kernel lists it: the same objects as
    /// `LocalFileSystem` lists, found without reading the directory, and from the
    /// directory when `_last_checkpoint` names multi-part files or the log starts later.
    #[tokio::test(flavor = "multi_thread")]
    async fn lists_a_delta_log_from_a_version_as_local_file_system_does() {
        let root = std::env::temp_dir().join(format!("pinpipe-local-log-{}", std::process::id()));
        let log = root.join("t").join("_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        let write = |name: &str, body: &str| std::fs::write(log.join(name), body).unwrap();
        for v in 3..=12u64 {
            write(&format!("{v:020}.json"), "{}");
        }
        for v in [4u64, 9] {
            write(&format!("{v:020}.checkpoint.parquet"), "parquet");
        }
        write("_last_checkpoint", r#"{"version":9,"size":3}"#);
        let prefix = Path::from_filesystem_path(&log).unwrap();
        let ours = LocalDir::new();
        let theirs = LocalFileSystem::new();
        let from = |v: u64| Path::from(format!("{prefix}/{v:020}"));
        let names = |listed: Vec<Listed>| -> Vec<String> {
            listed.into_iter().map(|(k, ..)| k.rsplit('/').next().unwrap().to_owned()).collect()
        };
        // From before the log's start (0–2), inside it, and past its end (13, 14).
        for v in 0..=14 {
            let expected = listed(&theirs, &prefix, &from(v)).await;
            assert_eq!(as_listed(&ours, &prefix, &from(v)).await, expected, "from version {v}");
        }
        assert_eq!(
            names(as_listed(&ours, &prefix, &from(9)).await),
            [
                "00000000000000000009.checkpoint.parquet",
                "00000000000000000009.json",
                "00000000000000000010.json",
                "00000000000000000011.json",
                "00000000000000000012.json",
                "_last_checkpoint"
            ]
        );
        // A gap below the checkpoint `_last_checkpoint` names (log cleanup under way): not
        // taken for the log's end.
        std::fs::remove_file(log.join(format!("{:020}.json", 6))).unwrap();
        let expected = listed(&theirs, &prefix, &from(5)).await;
        assert_eq!(as_listed(&ours, &prefix, &from(5)).await, expected);
        assert!(names(expected).contains(&format!("{:020}.json", 12)));
        write(&format!("{:020}.json", 6), "{}");
        // Found without reading the directory: a file no version's names cover is not listed.
        write("00000000000000000010.crc", "{}");
        assert!(!names(as_listed(&ours, &prefix, &from(9)).await).iter().any(|n| n.ends_with(".crc")));
        // Another engine's two-part checkpoint, named by `_last_checkpoint`: read from the directory.
        let part = |i: u32| format!("00000000000000000012.checkpoint.{i:010}.0000000002.parquet");
        for i in [1, 2] {
            write(&part(i), "parquet");
        }
        write("_last_checkpoint", r#"{"version":12,"size":3,"parts":2}"#);
        for v in [0, 9, 12] {
            let expected = listed(&theirs, &prefix, &from(v)).await;
            assert_eq!(as_listed(&ours, &prefix, &from(v)).await, expected, "from version {v}, multi-part");
        }
        let from_12 = names(as_listed(&ours, &prefix, &from(12)).await);
        assert!(from_12.contains(&part(2)), "{from_12:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
