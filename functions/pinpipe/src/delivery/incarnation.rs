//! Which incarnation of a Kinesis stream a shard's records belong to. A stream deleted
//! and created again under the same name keeps its ARN and restarts its sequence
//! numbers, so its records could look as if they had been taken in already. Writers
//! that keep a shard's mark (the stream cleaner in Delta, the metrics writer in
//! DynamoDB) label it with the stream's incarnation (when it was created, from
//! `DescribeStreamSummary`): a new incarnation's records come after every record of
//! the old one.
//!
//! `DescribeStreamSummary` allows 20 calls a second per account, shared with
//! everything else in it, so [`Incarnations`] asks only
//! - when the answer decides what is written: records would be skipped as landed, or
//!   the mark names another incarnation than the one known. Then the answer must be
//!   had: a throttled question is asked again (0.1 s, doubling, 5 times) before the
//!   shard fails (Lambda retries the batch);
//! - or to label a mark when no answer younger than a minute is known: best effort,
//!   once. Without an answer the mark is labelled [`Incarnation::UNKNOWN`], which
//!   compares by sequence number alone, as if in the incarnation of whoever reads it
//!   next; the next answered question labels it again.
//!
//! So a batch needs Kinesis only when it repeats records (a redelivery, or a recreated
//! stream's restarted numbers), and a writer with no Kinesis to ask still takes in
//! every fresh record. The one case an unknown label cannot tell: a stream recreated
//! right after a commit made while Kinesis did not answer, whose restarted numbers
//! fall below that commit's mark.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub use crate::delivery::sequence::Incarnation;

/// Where a writer learns when a stream was created.
#[async_trait::async_trait]
pub trait StreamCreation: Send + Sync {
    async fn created(&self, stream: &str) -> Result<Incarnation, CreationError>;
}

/// Why a stream's creation time could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationError {
    /// Over the account's request rate: passes if asked again a little later.
    pub throttled: bool,
    pub message: String,
}

#[async_trait::async_trait]
impl StreamCreation for aws_sdk_kinesis::Client {
    async fn created(&self, stream: &str) -> Result<Incarnation, CreationError> {
        use aws_sdk_kinesis::error::ProvideErrorMetadata;
        let answer = self.describe_stream_summary().stream_name(stream).send().await.map_err(|e| CreationError {
            throttled: matches!(e.code(), Some("LimitExceededException" | "ThrottlingException")),
            message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
        })?;
        let created = answer.stream_description_summary().map(|s| s.stream_creation_timestamp());
        let millis = created.map(|t| t.to_millis()).transpose();
        let fail = |message: String| CreationError { throttled: false, message };
        millis
            .map_err(|e| fail(e.to_string()))?
            .map(Incarnation)
            .ok_or_else(|| fail("the answer has no StreamCreationTimestamp".into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncarnationError {
    #[error("asking Kinesis when stream {stream} was created: {message}")]
    Unanswered { stream: String, message: String },
    #[error(
        "shard {shard} of stream {stream} has landed up to an incarnation created at {marked} ms, later than the \
         stream's own ({current} ms): refusing to write behind it"
    )]
    Behind { stream: String, shard: String, marked: i64, current: i64 },
}

/// How long a stream's creation time is trusted for labelling marks.
const TTL: Duration = Duration::from_secs(60);
/// Asking again after throttling when the answer is needed: 0.1 s, doubling, 5 times (~3 s).
const THROTTLED_ATTEMPTS: u32 = 5;
const FIRST_THROTTLE_BACKOFF: Duration = Duration::from_millis(100);

/// Streams' incarnations as a writer instance learns them (see the module's note).
#[derive(Default)]
pub struct Incarnations {
    creation: Option<Box<dyn StreamCreation>>,
    /// Each stream's incarnation, and when it was asked.
    answers: Mutex<HashMap<String, (Incarnation, Instant)>>,
}

impl Incarnations {
    /// Asks `creation` (a Kinesis client); without one, incarnations are not compared.
    pub fn asking(creation: impl StreamCreation + 'static) -> Self {
        Incarnations { creation: Some(Box::new(creation)), answers: Mutex::default() }
    }

    /// The incarnation a shard's records are written in, given its mark's (`None`: no
    /// mark yet) and whether any of them would be skipped as landed.
    pub async fn current(
        &self,
        stream: &str,
        shard: &str,
        marked: Option<Incarnation>,
        would_skip: bool,
    ) -> Result<Incarnation, IncarnationError> {
        let known = self.known(stream).await;
        let Some(marked) = marked else {
            // Nothing can be skipped: the answer only labels the first commit.
            return Ok(self.label(stream, known).await);
        };
        let decides = marked != Incarnation::UNKNOWN && (would_skip || known.is_some_and(|k| k != marked));
        let current = if self.creation.is_some() && decides {
            // Asked afresh even when known: a cached answer could hide a recreation.
            self.ask(stream, THROTTLED_ATTEMPTS).await?
        } else {
            self.label(stream, known).await
        };
        if marked != Incarnation::UNKNOWN && current != Incarnation::UNKNOWN {
            if marked > current {
                return Err(IncarnationError::Behind {
                    stream: stream.to_owned(),
                    shard: shard.to_owned(),
                    marked: marked.0,
                    current: current.0,
                });
            }
            if marked < current {
                tracing::warn!(
                    %stream, %shard, old = marked.0, new = current.0,
                    "stream was recreated: its records come after the old stream's"
                );
            }
        }
        Ok(current)
    }

    /// `stream`'s incarnation as last answered, if younger than the TTL.
    async fn known(&self, stream: &str) -> Option<Incarnation> {
        let answers = self.answers.lock().await;
        answers.get(stream).filter(|(_, asked)| asked.elapsed() < TTL).map(|(incarnation, _)| *incarnation)
    }

    /// Asks Kinesis for `stream`'s incarnation, `attempts` times while it throttles.
    async fn ask(&self, stream: &str, attempts: u32) -> Result<Incarnation, IncarnationError> {
        let Some(creation) = &self.creation else { return Ok(Incarnation::UNKNOWN) };
        let mut backoff = FIRST_THROTTLE_BACKOFF;
        let mut attempt = 1;
        let incarnation = loop {
            match creation.created(stream).await {
                Ok(incarnation) => break incarnation,
                Err(e) if e.throttled && attempt < attempts => {
                    tracing::info!(%stream, attempt, "DescribeStreamSummary throttled; asking again");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(IncarnationError::Unanswered { stream: stream.to_owned(), message: e.message });
                }
            }
        };
        self.answers.lock().await.insert(stream.to_owned(), (incarnation, Instant::now()));
        Ok(incarnation)
    }

    /// A label for a mark when none is known: asked once; unknown when Kinesis does not answer.
    async fn label(&self, stream: &str, known: Option<Incarnation>) -> Incarnation {
        if let Some(known) = known {
            return known;
        }
        match self.ask(stream, 1).await {
            Ok(incarnation) => incarnation,
            Err(e) => {
                tracing::warn!(%stream, error = %e, "commit labelled with no incarnation: Kinesis did not answer");
                Incarnation::UNKNOWN
            }
        }
    }
}
