//! An object store that counts the requests made through it, by kind, so tests can
//! bound what an operation costs and the cost bench can price them (wrap a lake with
//! `Lake::with_store_layer`); it can also fail GETs of chosen keys (tests of bad days).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Requests so far, by kind.
#[derive(Debug, Default)]
pub struct Counts {
    pub gets: AtomicU64,
    pub puts: AtomicU64,
    pub lists: AtomicU64,
    pub others: AtomicU64,
    /// Objects the listings returned (what a LIST's pages cost on S3).
    pub listed: AtomicU64,
    /// GETs of keys ending so fail: as gone (`NotFound`, true) or as an S3 error.
    pub failing_gets: std::sync::Mutex<Vec<(String, bool)>>,
}

impl Counts {
    pub fn total(&self) -> u64 {
        [&self.gets, &self.puts, &self.lists, &self.others].iter().map(|c| c.load(Ordering::SeqCst)).sum()
    }
    pub fn reset(&self) {
        for c in [&self.gets, &self.puts, &self.lists, &self.others, &self.listed] {
            c.store(0, Ordering::SeqCst);
        }
    }
    pub fn summary(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        format!(
            "{} GET/HEAD, {} PUT, {} LIST ({} objects listed), {} other",
            get(&self.gets),
            get(&self.puts),
            get(&self.lists),
            get(&self.listed),
            get(&self.others)
        )
    }
}

#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    pub counts: Arc<Counts>,
}

impl CountingStore {
    pub fn wrap(inner: Arc<dyn ObjectStore>, counts: Arc<Counts>) -> Arc<dyn ObjectStore> {
        Arc::new(CountingStore { inner, counts })
    }
    fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    fn counted(&self, listing: BoxStream<'static, Result<ObjectMeta>>) -> BoxStream<'static, Result<ObjectMeta>> {
        use futures::StreamExt;
        let counts = Arc::clone(&self.counts);
        listing.inspect(move |_| _ = counts.listed.fetch_add(1, Ordering::SeqCst)).boxed()
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.count(&self.counts.puts);
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.count(&self.counts.puts);
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.count(&self.counts.gets);
        let failing = self
            .counts
            .failing_gets
            .lock()
            .unwrap()
            .iter()
            .find(|(end, _)| location.as_ref().ends_with(end.as_str()))
            .cloned();
        match failing {
            Some((_, true)) => Err(object_store::Error::NotFound {
                path: location.to_string(),
                source: "gone (a test's failing GET)".into(),
            }),
            Some((_, false)) => Err(object_store::Error::Generic {
                store: "S3",
                source: "AccessDenied: KMS key disabled (a test's failing GET)".into(),
            }),
            None => self.inner.get_opts(location, options).await,
        }
    }
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.count(&self.counts.gets);
        self.inner.get_ranges(location, ranges).await
    }
    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.count(&self.counts.others);
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.count(&self.counts.lists);
        self.counted(self.inner.list(prefix))
    }
    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.count(&self.counts.lists);
        self.counted(self.inner.list_with_offset(prefix, offset))
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.count(&self.counts.lists);
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.count(&self.counts.others);
        self.inner.copy_opts(from, to, options).await
    }
    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.count(&self.counts.others);
        self.inner.rename_opts(from, to, options).await
    }
}
