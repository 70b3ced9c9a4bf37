//! The metrics store on DynamoDB (SPEC §12): one table, key `pk` (S) + `sk` (S), TTL
//! on `expires`.
//! - a shard's mark: `pk = mark#<stream>/<shard>`, `sk = mark`, `seq` (S);
//! - a post counted: `pk = post#<kind>#<ind>`, `sk = post` (kept 7 days);
//! - a bucket: `pk` = its board (`profile#m`, `category#h`, `country#d`, …),
//!   `sk = <start:013>#<key>`, with `posts` (N, added to), `followers` and
//!   `followers_at` (the latest record's), `start`, `key` and `expires` (7 days after
//!   the bucket ends); a profile board's items also `gpk = profile:<name>#<resolution>`
//!   and `gsk = <start:013>`, the keys of the global secondary index
//!   [`PROFILE_INDEX`] that one profile's buckets are queried through (eventually
//!   consistent: a profile's own answer may trail the board by DynamoDB's index lag).
//!
//! A commit is one `TransactWriteItems` (up to 100 items): the buckets' updates, the
//! posts counted, and the mark put on the condition that it is still the one read.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};

use super::store::{Commit, MetricsStore, StoreError};
use super::{BucketRow, Dimension, RETENTION_MS, Series};
use crate::kind::Kind;
use crate::sequence::SequenceNumber;

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

fn failed(operation: &str, error: impl std::error::Error) -> StoreError {
    StoreError::Failed(format!("DynamoDB {operation}: {}", DisplayErrorContext(error)))
}

fn post_key(kind: Kind, ind: i64) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(format!("post#{kind}#{ind}"))), ("sk".to_owned(), s("post"))])
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
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

    fn put(&self, item: HashMap<String, AttributeValue>) -> Put {
        Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set")
    }
}

#[async_trait]
impl MetricsStore for DynamoMetrics {
    async fn mark(&self, shard: &str) -> Result<Option<SequenceNumber>, StoreError> {
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
        let Some(seq) = answer.item().and_then(|item| item.get("seq")?.as_s().ok().cloned()) else { return Ok(None) };
        SequenceNumber::parse(&seq).map(Some).map_err(|e| StoreError::Failed(format!("shard {shard}'s mark: {e}")))
    }

    async fn counted(&self, kind: Kind, inds: &[i64]) -> Result<HashSet<i64>, StoreError> {
        let mut found = HashSet::new();
        for chunk in inds.chunks(MAX_KEYS_PER_GET) {
            let unique: HashSet<i64> = chunk.iter().copied().collect();
            let keys: Vec<_> = unique.iter().map(|ind| post_key(kind, *ind)).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("pk")
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

    async fn commit(&self, shard: &str, expected: Option<&SequenceNumber>, commit: Commit) -> Result<(), StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut items = Vec::with_capacity(commit.items() + 1);
        // The mark first: a cancelled transaction names its reasons in item order.
        let mark = commit.mark.as_ref().map_or_else(String::new, |m| m.as_str().to_owned());
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("mark#{shard}")))
            .item("sk", s("mark"))
            .item("seq", s(mark));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(seq) => {
                put.condition_expression("seq = :expected").expression_attribute_values(":expected", s(seq.as_str()))
            }
        };
        items.push(TransactWriteItem::builder().put(put.build().expect("table and item are set")).build());
        for (kind, ind) in &commit.counted {
            let mut item = post_key(*kind, *ind);
            item.insert("expires".into(), n((now + RETENTION_MS) / 1000));
            items.push(TransactWriteItem::builder().put(self.put(item)).build());
        }
        for (bucket, increment) in &commit.increments {
            let resolution = bucket.series.resolution();
            let mut expression = "ADD posts :posts SET #start = :start, #key = :key, expires = :expires".to_owned();
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(bucket.series.key()))
                .key("sk", s(bucket.sort_key()))
                .expression_attribute_names("#start", "start")
                .expression_attribute_names("#key", "key")
                .expression_attribute_values(":posts", n(increment.posts))
                .expression_attribute_values(":start", n(bucket.start))
                .expression_attribute_values(":key", s(&bucket.key))
                .expression_attribute_values(":expires", n((bucket.start + resolution.millis() + RETENTION_MS) / 1000));
            if bucket.series == Series::Board(Dimension::Profile, resolution) {
                expression.push_str(", gpk = :gpk, gsk = :gsk");
                update = update
                    .expression_attribute_values(":gpk", s(Series::Profile(bucket.key.clone(), resolution).key()))
                    .expression_attribute_values(":gsk", s(format!("{:013}", bucket.start)));
            }
            if let Some((at, count)) = increment.followers {
                expression.push_str(", followers = :followers, followers_at = :at");
                update = update
                    .expression_attribute_values(":followers", n(count))
                    .expression_attribute_values(":at", n(at));
            }
            let update = update.update_expression(expression).build().expect("table, key and expression are set");
            items.push(TransactWriteItem::builder().update(update).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let mark_moved = matches!(
                    error.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                );
                if mark_moved {
                    Err(StoreError::MarkMoved)
                } else {
                    let code = error.code().unwrap_or("").to_owned();
                    Err(StoreError::Failed(format!(
                        "DynamoDB TransactWriteItems {code}: {}",
                        DisplayErrorContext(error)
                    )))
                }
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
                let followers = number(item, "followers_at").zip(number(item, "followers"));
                rows.push(BucketRow {
                    start: number(item, "start").unwrap_or_default(),
                    key: item.get("key").and_then(|k| k.as_s().ok()).cloned().unwrap_or_default(),
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
