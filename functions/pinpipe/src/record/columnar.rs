//! Cleaned rows as Arrow `RecordBatch`es with exactly SPEC §3's columns, order and
//! types. Arrow is the one representation downstream: deltalake appends these
//! batches as they are, and the analytics hand them to Polars without JSON.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::kind::Kind;
use crate::record::clean::{GeoRow, PinRow, QuarantineReason, Text, UserRow, clean_geo, clean_pin, clean_user};

/// SPEC §3's schemas. Timestamps are microseconds, UTC; the list item is named
/// `element`, as Delta and Parquet name it.
pub mod schema {
    use super::*;

    pub fn timestamp_utc() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    pub fn coordinates_item() -> Arc<Field> {
        Arc::new(Field::new("element", DataType::Float64, true))
    }

    pub fn of(kind: Kind) -> SchemaRef {
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        let ind = Field::new("ind", DataType::Int64, false);
        Arc::new(Schema::new(match kind {
            Kind::Pin => vec![
                ind,
                text("unique_id"),
                text("title"),
                text("description"),
                Field::new("follower_count", DataType::Int64, true),
                text("poster_name"),
                text("tag_list"),
                text("is_image_or_video"),
                text("image_src"),
                text("save_location"),
                text("category"),
            ],
            Kind::Geo => vec![
                ind,
                text("country"),
                Field::new("coordinates", DataType::List(coordinates_item()), true),
                Field::new("timestamp", timestamp_utc(), true),
            ],
            Kind::User => vec![
                ind,
                text("user_name"),
                Field::new("age", DataType::Int64, true),
                Field::new("date_joined", timestamp_utc(), true),
            ],
        }))
    }
}

/// The result of cleaning a batch of raw records: the clean rows as one Arrow
/// batch, and each record that could not be cleaned by its position in the input.
#[derive(Debug)]
pub struct CleanedBatch {
    pub kind: Kind,
    pub batch: RecordBatch,
    pub quarantined: Vec<(usize, QuarantineReason)>,
}

/// Cleans raw records of one kind into one Arrow batch; what cannot be cleaned
/// is returned with its reason, never dropped. Rows borrow their text from the
/// records, and each column is built once at its final size.
pub fn clean_batch<'a>(kind: Kind, records: impl IntoIterator<Item = &'a [u8]>) -> CleanedBatch {
    let mut quarantined = Vec::new();
    let batch = match kind {
        Kind::Pin => pin_batch(&collect(records, clean_pin, &mut quarantined)),
        Kind::Geo => geo_batch(&collect(records, clean_geo, &mut quarantined)),
        Kind::User => user_batch(&collect(records, clean_user, &mut quarantined)),
    };
    CleanedBatch { kind, batch, quarantined }
}

fn collect<'a, R>(
    records: impl IntoIterator<Item = &'a [u8]>,
    clean: fn(&'a [u8]) -> Result<R, QuarantineReason>,
    quarantined: &mut Vec<(usize, QuarantineReason)>,
) -> Vec<R> {
    let records = records.into_iter();
    let mut rows = Vec::with_capacity(records.size_hint().0);
    for (position, bytes) in records.enumerate() {
        match clean(bytes) {
            Ok(row) => rows.push(row),
            Err(reason) => quarantined.push((position, reason)),
        }
    }
    rows
}

/// Text columns of `rows`, one per accessor, filled row by row: a row's fields lie
/// together in its record, so one pass reads each record once (a pass per column
/// read every record again, from memory, per column).
fn text_columns<'r, T: 'r, const N: usize>(rows: &'r [T], fields: [fn(&'r T) -> &'r Text<'r>; N]) -> [ArrayRef; N] {
    let mut columns = fields.map(|f| {
        let bytes = rows.iter().map(|r| f(r).as_ref().map_or(0, |t| t.len())).sum();
        StringBuilder::with_capacity(rows.len(), bytes)
    });
    for row in rows {
        for (column, f) in columns.iter_mut().zip(&fields) {
            column.append_option(f(row).as_deref());
        }
    }
    columns.map(|mut column| Arc::new(column.finish()) as ArrayRef)
}

fn ints<T>(rows: &[T], f: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Int64Array>())
}

fn times<T>(rows: &[T], f: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
}

fn ids<T>(rows: &[T], f: impl Fn(&T) -> i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
}

fn batch(kind: Kind, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema::of(kind), columns).expect("columns are built to the schema")
}

fn pin_batch(rows: &[PinRow]) -> RecordBatch {
    let [unique_id, title, description, poster_name, tag_list, is_image_or_video, image_src, save_location, category] =
        text_columns(
            rows,
            [
                |r| &r.unique_id,
                |r| &r.title,
                |r| &r.description,
                |r| &r.poster_name,
                |r| &r.tag_list,
                |r| &r.is_image_or_video,
                |r| &r.image_src,
                |r| &r.save_location,
                |r| &r.category,
            ],
        );
    batch(
        Kind::Pin,
        vec![
            ids(rows, |r| r.ind),
            unique_id,
            title,
            description,
            ints(rows, |r| r.follower_count),
            poster_name,
            tag_list,
            is_image_or_video,
            image_src,
            save_location,
            category,
        ],
    )
}

fn geo_batch(rows: &[GeoRow]) -> RecordBatch {
    let [country] = text_columns(rows, [|r| &r.country]);
    let mut coordinates = ListBuilder::with_capacity(Float64Builder::with_capacity(rows.len() * 2), rows.len())
        .with_field(schema::coordinates_item());
    for row in rows {
        match row.coordinates {
            Some([lat, lon]) => {
                coordinates.values().append_option(lat);
                coordinates.values().append_option(lon);
                coordinates.append(true);
            }
            None => coordinates.append_null(),
        }
    }
    batch(Kind::Geo, vec![ids(rows, |r| r.ind), country, Arc::new(coordinates.finish()), times(rows, |r| r.timestamp)])
}

fn user_batch(rows: &[UserRow]) -> RecordBatch {
    let [user_name] = text_columns(rows, [|r| &r.user_name]);
    batch(Kind::User, vec![ids(rows, |r| r.ind), user_name, ints(rows, |r| r.age), times(rows, |r| r.date_joined)])
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;

    use super::*;

    #[test]
    fn schemas_are_spec_section_3s() {
        let names = |k| schema::of(k).fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>().join(",");
        assert_eq!(
            names(Kind::Pin),
            "ind,unique_id,title,description,follower_count,poster_name,tag_list,is_image_or_video,image_src,save_location,category"
        );
        assert_eq!(names(Kind::Geo), "ind,country,coordinates,timestamp");
        assert_eq!(names(Kind::User), "ind,user_name,age,date_joined");
        let geo = schema::of(Kind::Geo);
        assert_eq!(geo.field(2).data_type(), &DataType::List(schema::coordinates_item()));
        assert_eq!(geo.field(3).data_type(), &schema::timestamp_utc());
    }

    #[test]
    fn batch_keeps_rows_and_reports_the_rest_by_position() {
        let lines: Vec<&[u8]> = vec![
            br#"{"ind":1,"latitude":1.5,"longitude":-2,"country":"Chad","timestamp":"2020-01-01"}"#,
            b"not json",
            br#"{"ind":2,"latitude":null,"longitude":null,"country":null,"timestamp":null}"#,
            br#"{"ind":"x"}"#,
            br#"{"ind":3}"#,
        ];
        let cleaned = clean_batch(Kind::Geo, lines);
        assert_eq!(cleaned.batch.num_rows(), 2);
        let inds = cleaned.batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
        assert_eq!(inds.values().to_vec(), vec![1, 2], "the clean rows, in input order");
        assert_eq!(
            cleaned.quarantined.iter().map(|(i, r)| (*i, r.code())).collect::<Vec<_>>(),
            vec![(1, "not_json"), (3, "wrong_type"), (4, "wrong_kind")]
        );
        let coordinates = cleaned.batch.column(2).as_list::<i32>();
        assert_eq!(coordinates.value(0).as_primitive::<Float64Type>().values().to_vec(), vec![1.5, -2.0]);
        assert!(coordinates.is_null(1));
        assert!(cleaned.batch.column(3).is_null(1));
    }
}
