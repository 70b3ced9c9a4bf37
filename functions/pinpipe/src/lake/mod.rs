//! The storage floor. [`Lake`]: the lake of SPEC §6, an S3 bucket
//! (`s3://bucket[/prefix]`) or a local directory, reached through one `object_store` —
//! for plain objects (quarantine, bronze, reports) and, handed to deltalake, for the
//! Delta tables — so every request the pipeline makes goes through one place (tests
//! wrap it to count them). Beside it, what is kept in it:
//!
//! - [`bronze`]: the bronze layout (Kafka Connect's S3 sink): keys, bodies, where data ends;
//! - [`delta`]: the clean Delta tables (SPEC §3's schema): open, append, read;
//! - [`marks`]: each writer's position, kept in the table's own transaction log;
//! - [`exactly_once`]: staged work committed together with the next mark, retried on a race.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use url::Url;

use local_dir::LocalDir;

pub mod bronze;
pub mod delta;
pub mod exactly_once;
mod local_dir;
pub mod marks;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(
        "PINPIPE_LAKE={0:?} is neither s3://bucket[/prefix] nor a usable local directory: {1}. Help: set PINPIPE_LAKE \
         to an s3:// URL or a directory this process may create and write"
    )]
    BadRoot(String, String),
    #[error("lake object {key}: {source}")]
    Object { key: String, source: object_store::Error },
    #[error("Delta table {table}: {source}")]
    Delta { table: String, source: Box<deltalake::DeltaTableError> },
    #[error("Delta table {table}: {detail}")]
    Inconsistent { table: String, detail: String },
    #[error("lake object {key} disappeared while being read")]
    Vanished { key: String },
}

impl LakeError {
    pub(crate) fn delta(table: &Url, source: deltalake::DeltaTableError) -> Self {
        LakeError::Delta { table: table.to_string(), source: Box::new(source) }
    }
}

/// The lake root and its store.
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
    /// The bucket's (or file system's) root store: what deltalake wants, with the
    /// table's URL, to find a table in it.
    bucket: Arc<dyn ObjectStore>,
    /// `bucket` under the lake's prefix: keys are relative to the lake root.
    store: Arc<dyn ObjectStore>,
}

impl Lake {
    /// Opens `PINPIPE_LAKE`'s value. S3 settings come from the AWS environment
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL[_S3]`, as the SDKs read them).
    pub fn open(uri: &str) -> Result<Lake, LakeError> {
        let bad = |why: String| LakeError::BadRoot(uri.to_owned(), why);
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket".into()));
            }
            // deltalake resolves s3:// table URLs through handlers registered at run time.
            deltalake::aws::register_handlers(None);
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = crate::config::aws_endpoint("S3") {
                let http = endpoint.starts_with("http://");
                builder = builder.with_endpoint(&endpoint).with_allow_http(http);
            }
            let s3 = builder.build().map_err(|e| bad(e.to_string()))?;
            let prefix = prefix.trim_end_matches('/');
            let root = Url::parse(&format!(
                "s3://{bucket}/{}",
                if prefix.is_empty() { String::new() } else { format!("{prefix}/") }
            ))
            .map_err(|e| bad(e.to_string()))?;
            Ok(Lake::over(root, Arc::new(s3)))
        } else {
            let dir = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
            std::fs::create_dir_all(&dir).map_err(|e| bad(e.to_string()))?;
            let dir = dir.canonicalize().map_err(|e| bad(e.to_string()))?;
            let root = Url::from_directory_path(&dir).map_err(|()| bad("not an absolute path".into()))?;
            Ok(Lake::over(root, Arc::new(LocalDir::new())))
        }
    }

    /// The lake at `root` (a directory URL) in `bucket`, the store of the bucket or
    /// file system `root` names.
    fn over(root: Url, bucket: Arc<dyn ObjectStore>) -> Lake {
        // The URL's path is percent-encoded; the store's keys are not.
        let prefix = Path::from_url_path(root.path()).unwrap_or_else(|_| Path::from(root.path()));
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            bucket.clone()
        } else {
            Arc::new(PrefixStore::new(bucket.clone(), prefix))
        };
        Lake { root, bucket, store }
    }

    /// The same lake with its store wrapped, e.g. to count or fail requests in tests.
    pub fn with_store_layer(&self, layer: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>) -> Lake {
        Lake::over(self.root.clone(), layer(self.bucket.clone()))
    }

    /// The lake root as a URL ending in `/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of a path relative to the root (`delta/stream/…`).
    pub fn url(&self, relative: &str) -> Url {
        let mut url = self.root.join(relative.trim_start_matches('/')).expect("relative lake paths join");
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        url
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<(), LakeError> {
        let payload = PutPayload::from_bytes(bytes.into());
        self.store
            .put(&Path::from(key), payload)
            .await
            .map(drop)
            .map_err(|source| LakeError::Object { key: key.into(), source })
    }

    /// Writes the object only if no object has that key (S3 `If-None-Match: *`, a
    /// local create-new). `false` when one already existed: it is left as it was.
    pub async fn put_new(&self, key: &str, bytes: impl Into<Bytes>) -> Result<bool, LakeError> {
        let payload = PutPayload::from_bytes(bytes.into());
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&Path::from(key), payload, options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(source) => Err(LakeError::Object { key: key.into(), source }),
        }
    }

    /// The object's bytes and the version they are (for [`Lake::put_if`]), or `None`
    /// when it does not exist.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, UpdateVersion)>, LakeError> {
        let error = |source| LakeError::Object { key: key.into(), source };
        match self.store.get(&Path::from(key)).await {
            Ok(result) => {
                let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
                Ok(Some((result.bytes().await.map_err(error)?, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(error(source)),
        }
    }

    /// Writes the object only if it is still the version read (`Some`), or still
    /// absent (`None`): S3's `If-Match` / `If-None-Match: *`, a locked compare on a
    /// local lake. `false` when it changed meanwhile (it is left as it is).
    pub async fn put_if(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
        read: Option<UpdateVersion>,
    ) -> Result<bool, LakeError> {
        let payload = PutPayload::from_bytes(bytes.into());
        let mode = read.map_or(PutMode::Create, PutMode::Update);
        match self.store.put_opts(&Path::from(key), payload, PutOptions { mode, ..Default::default() }).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(source) => Err(LakeError::Object { key: key.into(), source }),
        }
    }

    /// Copies an object within the lake (S3: server-side).
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), LakeError> {
        self.store
            .copy(&Path::from(from), &Path::from(to))
            .await
            .map_err(|source| LakeError::Object { key: from.into(), source })
    }

    /// The object's bytes, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, LakeError> {
        match self.store.get(&Path::from(key)).await {
            Ok(result) => {
                result.bytes().await.map(Some).map_err(|source| LakeError::Object { key: key.into(), source })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(LakeError::Object { key: key.into(), source }),
        }
    }
}
