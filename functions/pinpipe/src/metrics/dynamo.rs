//! The metrics store on DynamoDB (SPEC §12): one table, key `pk` (S) + `sk` (S), TTL
//! on `expires`.
//! - a shard's mark: `pk = mark#<stream>/<shard>`, `sk = mark`, `seq` (S) and `created`
//!   (N, the stream's incarnation; 0 unknown);
//! - a post counted: `pk = post#<kind>#<ind>`, `sk = post`, `expires` (7 days on);
//! - a shard's part of a bucket: `pk` = its board (`profile#m`, `category#h`,
//!   `country#d`, …), `sk = <start:013>#<key>#<stream>/<shard>`, with `posts` (N, added
//!   to), `followers`, `followers_at` and `followers_seq` (the shard's latest record's),
//!   `start`, `key` and `expires` (7 days after the bucket ends); a profile board's items
//!   also `gpk = profile:<name>#<resolution>` and `gsk = <start:013>#<shard>`, the keys of
//!   the global secondary index [`PROFILE_INDEX`] that one profile's buckets are
//!   queried through (eventually consistent: a profile's own answer may trail the board
//!   by DynamoDB's index lag).
//!
//! A commit is one `TransactWriteItems` (up to 100 items): the mark put on the
//! condition that it is still the one read, the posts' markers on the condition that
//! none is there or it has expired, and the shard's bucket parts' updates. Cancellation
//! reasons come back in item order, so a cancelled commit says which marker's post
//! another shard counted first, or that another transaction held an item.
//!
//! Long (some 400 lines) because it is the one place that knows DynamoDB's item shapes:
//! the mark, the markers and the bucket parts are written and read side by side.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};

use super::store::{Commit, MetricsStore, ShardMark, StoreError, counted_until, part_sort_key};
use super::{BucketRow, Dimension, Followers, RETENTION_MS, Series};
use crate::delivery::sequence::{Incarnation, SequenceNumber};
use crate::kind::Kind;

/// The global secondary index of one profile's buckets (`gpk`, `gsk`; all attributes).
pub const PROFILE_INDEX: &str = "profile-buckets";

/// BatchGetItem takes 100 keys.
const MAX_KEYS_PER_GET: usize = 100;

/// Metrics in a DynamoDB table.
#[derive(Clone)]
pub struct DynamoMetrics {
    client: Client,
    table: String,
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A failed request, classified: throttling passes on retry.
fn failed<E: ProvideErrorMetadata + std::error::Error>(operation: &str, error: E) -> StoreError {
    let text = format!("DynamoDB {operation}: {}", DisplayErrorContext(&error));
    match error.code() {
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled(text)
        }
        _ => StoreError::Failed(text),
    }
}

fn post_key(kind: Kind, ind: i64) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(format!("post#{kind}#{ind}"))), ("sk".to_owned(), s("post"))])
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// What a cancelled commit's reasons (one per item, in the transaction's order: the
/// mark, the markers, the bucket parts) say.
fn cancelled(reasons: &[Option<String>], commit: &Commit, detail: &str) -> StoreError {
    let code = |i: usize| reasons.get(i).and_then(|c| c.as_deref());
    if code(0) == Some("ConditionalCheckFailed") {
        return StoreError::MarkMoved;
    }
    let taken: Vec<(Kind, i64)> = commit
        .counted
        .iter()
        .enumerate()
        .filter(|(i, _)| code(i + 1) == Some("ConditionalCheckFailed"))
        .map(|(_, post)| *post)
        .collect();
    if !taken.is_empty() {
        return StoreError::AlreadyCounted(taken);
    }
    let has = |wanted: &str| reasons.iter().flatten().any(|c| c == wanted);
    if has("TransactionConflict") {
        StoreError::Conflict(detail.to_owned())
    } else if has("ThrottlingError") || has("ProvisionedThroughputExceeded") {
        StoreError::Throttled(detail.to_owned())
    } else {
        StoreError::Failed(format!("DynamoDB TransactWriteItems: {detail}"))
    }
}

impl DynamoMetrics {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoMetrics { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as the template declares it (keys, the profile index, on
    /// demand): for local stacks, tests and benches.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType,
        };
        let string = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Failed(e.to_string());
        let index = GlobalSecondaryIndex::builder()
            .index_name(PROFILE_INDEX)
            .key_schema(key("gpk", KeyType::Hash).map_err(built)?)
            .key_schema(key("gsk", KeyType::Range).map_err(built)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(built)?;
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                ["pk", "sk", "gpk", "gsk"].into_iter().map(string).collect::<Result<_, _>>().map_err(built)?,
            ))
            .key_schema(key("pk", KeyType::Hash).map_err(built)?)
            .key_schema(key("sk", KeyType::Range).map_err(built)?)
            .global_secondary_indexes(index)
            .send()
            .await
            .map_err(|e| failed("CreateTable", e))?;
        Ok(())
    }

    /// The commit as one transaction: the mark, then the markers, then the bucket parts
    /// (the order [`cancelled`] reads the reasons in).
    fn transaction(
        &self,
        shard: &str,
        expected: Option<&ShardMark>,
        commit: &Commit,
        now: i64,
    ) -> Vec<TransactWriteItem> {
        let written = items(shard, commit, now);
        let mark = &written[0];
        let mut transaction = Vec::with_capacity(commit.items() + 1);
        // The mark, on the condition that it is still the one read.
        let mut put = Put::builder().table_name(&self.table).set_item(Some(mark.attributes.clone()));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(expected) => {
                let put = put
                    .expression_attribute_values(":expected", s(expected.sequence.as_str()))
                    .expression_attribute_values(":created", n(expected.incarnation.0));
                if expected.incarnation == Incarnation::UNKNOWN {
                    put.condition_expression(
                        "seq = :expected AND (created = :created OR attribute_not_exists(created))",
                    )
                } else {
                    put.condition_expression("seq = :expected AND created = :created")
                }
            }
        };
        transaction.push(TransactWriteItem::builder().put(put.build().expect("table and item are set")).build());
        let (markers, parts) = written[1..].split_at(commit.counted.len());
        // Each post's marker, on the condition that none is there or it has expired.
        for marker in markers {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(marker.attributes.clone()))
                .condition_expression("attribute_not_exists(pk) OR expires <= :now")
                .expression_attribute_values(":now", n(now / 1000))
                .build()
                .expect("table and item are set");
            transaction.push(TransactWriteItem::builder().put(put).build());
        }
        // The shard's part of each bucket: `posts` added to, the rest set (a shard's
        // commits are in its order: its later commit's latest follower count stands).
        for part in parts {
            let mut update = Update::builder().table_name(&self.table);
            let mut sets = Vec::new();
            for (i, (name, value)) in part.attributes.iter().enumerate() {
                match name.as_str() {
                    "pk" | "sk" => update = update.key(name, value.clone()),
                    "posts" => update = update.expression_attribute_values(":posts", value.clone()),
                    _ => {
                        sets.push(format!("#a{i} = :a{i}"));
                        update = update
                            .expression_attribute_names(format!("#a{i}"), name)
                            .expression_attribute_values(format!(":a{i}"), value.clone());
                    }
                }
            }
            let expression = format!("ADD posts :posts SET {}", sets.join(", "));
            let update = update.update_expression(expression).build().expect("table, key and expression are set");
            transaction.push(TransactWriteItem::builder().update(update).build());
        }
        transaction
    }
}

/// An item a commit writes: its key (`pk`, `sk` joined by `|`) and, for sizing, its
/// attributes as they stand after the write (a bucket part's as first written: later
/// updates keep its size but for the growing `posts`).
pub struct ItemWrite {
    pub key: String,
    pub attributes: HashMap<String, AttributeValue>,
}

impl ItemWrite {
    /// DynamoDB's item size: each attribute's name plus its value (strings by their
    /// UTF-8 bytes, numbers by about one byte per two digits plus one).
    pub fn size(&self) -> usize {
        self.attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(text) => text.len(),
                        AttributeValue::N(number) => number.trim_start_matches('-').len().div_ceil(2) + 1,
                        _ => 1,
                    }
            })
            .sum()
    }
}

/// The items `commit` writes as `shard` at `now`: the mark, each marker, each bucket part.
pub fn items(shard: &str, commit: &Commit, now: i64) -> Vec<ItemWrite> {
    let with_key = |attributes: HashMap<String, AttributeValue>| {
        let key = |name: &str| attributes.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        ItemWrite { key: format!("{}|{}", key("pk"), key("sk")), attributes }
    };
    let mark = commit.mark.as_ref();
    let mut items = vec![with_key(HashMap::from([
        ("pk".to_owned(), s(format!("mark#{shard}"))),
        ("sk".to_owned(), s("mark")),
        ("seq".to_owned(), s(mark.map_or("", |m| m.sequence.as_str()))),
        ("created".to_owned(), n(mark.map_or(0, |m| m.incarnation.0))),
    ]))];
    for (kind, ind) in &commit.counted {
        let mut item = post_key(*kind, *ind);
        item.insert("expires".into(), n(counted_until(now) / 1000));
        items.push(with_key(item));
    }
    for (bucket, increment) in &commit.increments {
        let resolution = bucket.series.resolution();
        let mut item = HashMap::from([
            ("pk".to_owned(), s(bucket.series.key())),
            ("sk".to_owned(), s(part_sort_key(bucket, shard))),
            ("posts".to_owned(), n(increment.posts)),
            ("start".to_owned(), n(bucket.start)),
            ("key".to_owned(), s(&bucket.key)),
            ("expires".to_owned(), n((bucket.start + resolution.millis() + RETENTION_MS) / 1000)),
        ]);
        if bucket.series == Series::Board(Dimension::Profile, resolution) {
            item.insert("gpk".into(), s(Series::Profile(bucket.key.clone(), resolution).key()));
            item.insert("gsk".into(), s(format!("{:013}#{shard}", bucket.start)));
        }
        if let Some(followers) = &increment.followers {
            item.insert("followers".into(), n(followers.count));
            item.insert("followers_at".into(), n(followers.at));
            item.insert("followers_seq".into(), s(followers.sequence.as_str()));
        }
        items.push(with_key(item));
    }
    items
}

#[async_trait]
impl MetricsStore for DynamoMetrics {
    async fn mark(&self, shard: &str) -> Result<Option<ShardMark>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("mark#{shard}")))
            .key("sk", s("mark"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| failed("GetItem", e))?;
        let Some(item) = answer.item() else { return Ok(None) };
        let Some(seq) = item.get("seq").and_then(|v| v.as_s().ok()) else { return Ok(None) };
        let sequence =
            SequenceNumber::parse(seq).map_err(|e| StoreError::Failed(format!("shard {shard}'s mark: {e}")))?;
        let incarnation = number(item, "created").map_or(Incarnation::UNKNOWN, Incarnation);
        Ok(Some(ShardMark { incarnation, sequence }))
    }

    async fn counted(&self, kind: Kind, inds: &[i64], now: i64) -> Result<HashSet<i64>, StoreError> {
        let mut found = HashSet::new();
        for chunk in inds.chunks(MAX_KEYS_PER_GET) {
            let unique: HashSet<i64> = chunk.iter().copied().collect();
            let keys: Vec<_> = unique.iter().map(|ind| post_key(kind, *ind)).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("pk, expires")
                    .build()
                    .expect("keys are set"),
            );
            while let Some(keys) = request.take() {
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| failed("BatchGetItem", e))?;
                for item in answer.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    // Past its expiry it counts no more, whether or not TTL has swept it.
                    if number(item, "expires").is_some_and(|until| until * 1000 <= now) {
                        continue;
                    }
                    let ind = item.get("pk").and_then(|pk| pk.as_s().ok()).and_then(|pk| pk.rsplit('#').next());
                    if let Some(ind) = ind.and_then(|ind| ind.parse().ok()) {
                        found.insert(ind);
                    }
                }
                request = answer
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
            }
        }
        Ok(found)
    }

    async fn commit(
        &self,
        shard: &str,
        expected: Option<&ShardMark>,
        commit: Commit,
        now: i64,
    ) -> Result<(), StoreError> {
        let items = self.transaction(shard, expected, &commit, now);
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let reasons: Vec<Option<String>> = match error.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        c.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect()
                    }
                    _ => return Err(failed("TransactWriteItems", error)),
                };
                Err(cancelled(&reasons, &commit, &DisplayErrorContext(&error).to_string()))
            }
        }
    }

    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError> {
        let mut rows = Vec::new();
        let mut start_key = None;
        loop {
            let query = self.client.query().table_name(&self.table);
            let query = match series {
                Series::Board(..) => query.key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to"),
                Series::Profile(..) => {
                    query.index_name(PROFILE_INDEX).key_condition_expression("gpk = :pk AND gsk BETWEEN :from AND :to")
                }
            };
            let answer = query
                .expression_attribute_values(":pk", s(series.key()))
                .expression_attribute_values(":from", s(format!("{first:013}")))
                .expression_attribute_values(":to", s(format!("{last:013}~")))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| failed("Query", e))?;
            for item in answer.items() {
                let followers =
                    match (number(item, "followers_at"), number(item, "followers"), text(item, "followers_seq")) {
                        (Some(at), Some(count), Some(sequence)) => {
                            SequenceNumber::parse(sequence).ok().map(|sequence| Followers { at, sequence, count })
                        }
                        _ => None,
                    };
                rows.push(BucketRow {
                    start: number(item, "start").unwrap_or_default(),
                    key: text(item, "key").unwrap_or_default().to_owned(),
                    posts: number(item, "posts").unwrap_or_default().max(0) as u64,
                    followers,
                });
            }
            match answer.last_evaluated_key() {
                Some(key) if !key.is_empty() => start_key = Some(key.clone()),
                _ => return Ok(rows),
            }
        }
    }
}
