//! The bronze layout (SPEC §6): raw values as Kafka Connect's S3 sink lands them,
//! `topics/<topic>/partition=<p>/<topic>+<p>+<first offset:010>.json`. One object
//! per batch, its lines the batch's values in offset order, each ending in a newline.
//! The zero-padded first offset makes key order offset order, so S3's `start-after`
//! a key lists the objects after an offset. The batch sink writes this layout,
//! bronze → silver and `pinpipe land-bronze` read and write it through here.

use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::lake::{Lake, LakeError};

/// `topics/<topic>/`.
pub fn topic_prefix(topic: &str) -> String {
    format!("topics/{topic}/")
}

/// The bronze prefix of a deployment's topic of `kind`: `topics/<id>.pin/`.
pub fn kind_prefix(names: crate::config::Names<'_>, kind: crate::kind::Kind) -> String {
    topic_prefix(&names.topic(kind))
}

/// `topics/<topic>/partition=<p>/`.
pub fn partition_prefix(topic: &str, partition: i32) -> String {
    format!("topics/{topic}/partition={partition}/")
}

/// The key of the object whose first record is at `first_offset`.
pub fn object_key(topic: &str, partition: i32, first_offset: i64) -> String {
    format!("{}{topic}+{partition}+{first_offset:010}.json", partition_prefix(topic, partition))
}

/// The partition a delimited listing's common prefix names (`…/partition=<p>/`).
pub fn partition_of(common_prefix: &Path) -> Option<i32> {
    common_prefix.filename()?.strip_prefix("partition=")?.parse().ok()
}

/// One bronze object, named as Kafka Connect's S3 sink names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BronzeObject {
    pub key: String,
    pub topic: String,
    pub partition: i32,
    pub first_offset: i64,
}

impl BronzeObject {
    /// Parses an object key; other keys (temporary files, markers) are not bronze objects.
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
}

/// An object's body: each value on its own line, each line ending in a newline.
pub fn object_body<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for value in values {
        body.extend_from_slice(value);
        body.push(b'\n');
    }
    body
}

/// The records an object holds: its newline-ended lines (text after the last
/// newline is not a record).
pub fn line_count(body: &[u8]) -> i64 {
    body.iter().filter(|&&b| b == b'\n').count() as i64
}

/// A partition's objects in key order (offset order), after the object starting at
/// `after` (all of them for `None`): S3's `start-after`, so a listing costs what
/// follows the offset, not the partition's history. Keys that are not bronze
/// objects come too; [`BronzeObject::parse`] tells them apart.
pub fn list_partition(
    lake: &Lake,
    topic: &str,
    partition: i32,
    after: Option<i64>,
) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
    let prefix = Path::from(partition_prefix(topic, partition));
    // The whole partition: every key under the prefix sorts after the prefix itself.
    let start = after.map_or_else(|| prefix.clone(), |offset| Path::from(object_key(topic, partition, offset)));
    lake.store().list_with_offset(Some(&prefix), &start)
}

/// One past the highest offset landed in any partition of `topic` (0 when nothing
/// is): one delimited listing for the partitions, then each partition's last object.
pub async fn topic_end(lake: &Lake, topic: &str) -> Result<i64, LakeError> {
    let prefix = topic_prefix(topic);
    let listed = lake
        .store()
        .list_with_delimiter(Some(&Path::from(prefix.as_str())))
        .await
        .map_err(|source| LakeError::Object { key: prefix.clone(), source })?;
    let mut end = 0;
    for partition in listed.common_prefixes.iter().filter_map(partition_of) {
        let objects: Vec<_> = list_partition(lake, topic, partition, None)
            .try_collect()
            .await
            .map_err(|source| LakeError::Object { key: partition_prefix(topic, partition), source })?;
        let last = objects
            .iter()
            .filter_map(|meta| BronzeObject::parse(meta.location.as_ref()))
            .max_by_key(|o| o.first_offset);
        if let Some(last) = last {
            let body = lake.get(&last.key).await?.ok_or(LakeError::Vanished { key: last.key.clone() })?;
            end = end.max(last.first_offset + line_count(&body));
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kafka_connects_and_parse_back() {
        let names = crate::config::Names { id: "0a1b2c3d4e5f" };
        assert_eq!(kind_prefix(names, crate::kind::Kind::Pin), "topics/0a1b2c3d4e5f.pin/");
        let key = object_key("0a1b2c3d4e5f.pin", 2, 1234);
        assert_eq!(key, "topics/0a1b2c3d4e5f.pin/partition=2/0a1b2c3d4e5f.pin+2+0000001234.json");
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
        // Key order is offset order.
        assert!(object_key("t", 0, 999) < object_key("t", 0, 1000));
    }

    #[test]
    fn bodies_end_every_value_with_a_newline() {
        let body = object_body([&b"{\"a\":1}"[..], b"{}"]);
        assert_eq!(body, b"{\"a\":1}\n{}\n");
        assert_eq!(line_count(&body), 2);
        assert_eq!(line_count(b"{}\n{\"half\""), 1);
    }
}
