//! SPEC §3 on the real records in `../shared/data`: rows written by hand from the
//! spec for the sample lines that carry each dirty value, and every dirty value of
//! DIRTY_VALUES.md checked across all 240 real posts.

use std::collections::HashMap;

use pinpipe::record::catalogue::PLACEHOLDERS;
use pinpipe::record::clean::{clean_geo, clean_pin, clean_user};
use pinpipe::{GeoRow, Kind, PinRow, UserRow, clean_batch};
use pinpipe_tests::sample_lines;
use serde_json::Value;

fn raw_by_id(file: &str, id_field: &str) -> HashMap<i64, String> {
    sample_lines(file)
        .into_iter()
        .map(|line| {
            let value: Value = serde_json::from_str(&line).unwrap();
            (value[id_field].as_i64().unwrap(), line)
        })
        .collect()
}

fn pin(ind: i64) -> PinRow<'static> {
    let pins = raw_by_id("sample_pin.jsonl", "index");
    clean_pin(pins[&ind].as_bytes()).unwrap().into_owned()
}

fn s(text: &'static str) -> Option<std::borrow::Cow<'static, str>> {
    Some(text.into())
}

/// Microseconds of a UTC wall-clock time, written out by hand.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, se: u32) -> Option<i64> {
    Some(
        chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, se).unwrap().and_utc().timestamp_micros(),
    )
}

#[test]
fn a_clean_pin_with_a_trailing_nbsp_and_a_millions_count() {
    assert_eq!(
        pin(1),
        PinRow {
            ind: 1,
            unique_id: s("79dbcedb-4f96-4fcc-bcb2-70dc82f646e1"),
            title: s("Meet The Enigmatic Aykut Aydoğdu Illustrations"),
            description: s(
                "This Turkish, Istanbul-based illustrator Aykut Aydoğdu has developed a unique style creating surreal, enigmatic illustrations that reflect the most intense and incomprehensible…"
            ),
            follower_count: Some(2_000_000),
            poster_name: s("Bored Panda"),
            tag_list: s(
                "Surealism Art,Surreal Artwork,Artwork Paintings,Digital Paintings,Illustrator,Psy Art,Illustration Vector,Portrait Illustration,Art Illustrations"
            ),
            is_image_or_video: s("image"),
            image_src: s("https://i.pinimg.com/originals/ae/99/06/ae9906f31466e095dff2e29e57df92a0.jpg"),
            save_location: s("/data/art"),
            category: s("art"),
        }
    );
}

#[test]
fn the_all_errors_row_is_all_nulls_but_what_is_real() {
    assert_eq!(
        pin(302),
        PinRow {
            ind: 302,
            unique_id: s("72c5e48f-2413-4c40-8724-71c11a87e80b"),
            title: None,
            description: None,
            follower_count: None,
            poster_name: None,
            tag_list: None,
            is_image_or_video: s("multi-video(story page format)"),
            image_src: None,
            save_location: s("/data/art"),
            category: s("art"),
        }
    );
}

#[test]
fn empty_title_story_format_and_image_error() {
    assert_eq!(
        pin(5658),
        PinRow {
            ind: 5658,
            unique_id: s("742e2019-6a68-44ad-a143-1b90e1fa4afa"),
            title: None,
            description: None,
            follower_count: Some(57_000),
            poster_name: s("GenTwenty | Personal Growth, Self-Care, and Money"),
            tag_list: s(
                "Ways To Save Money,Money Tips,Money Saving Tips,Money Hacks,Saving Ideas,Budgeting Finances,Budgeting Tips,Planning Budget,Money Saving Challenge"
            ),
            is_image_or_video: s("multi-video(story page format)"),
            image_src: None,
            save_location: s("/data/finance"),
            category: s("finance"),
        }
    );
}

#[test]
fn untitled_as_a_whole_value_and_counts_in_digits() {
    let description_untitled = pin(1014);
    assert_eq!(
        (description_untitled.title.as_deref(), description_untitled.description),
        (Some("Hairstyles & Beauty"), None)
    );
    assert_eq!(description_untitled.follower_count, Some(0));
    let title_untitled = pin(10983);
    assert_eq!((title_untitled.title, title_untitled.description.as_deref()), (None, Some("Tumblr Blog")));
    assert_eq!(title_untitled.follower_count, Some(323));
    assert_eq!(pin(17).description, None, "No description available");
    assert_eq!(pin(17).follower_count, Some(89));
}

#[test]
fn white_space_is_trimmed_nbsp_too_and_inner_text_kept_byte_for_byte() {
    assert_eq!(pin(2711).title.as_deref(), Some("TIE DYE\u{a0}\n\u{a0}T-SHIRTS"));
    assert_eq!(pin(2711).follower_count, Some(583_000));
    assert_eq!(pin(1418).title.as_deref(), Some("How To Apply Your Cream For Better Results"));
    assert_eq!(pin(2106).poster_name.as_deref(), Some("The Sun"));
    assert!(pin(2106).description.unwrap().ends_with("crashing to the floor. How…"));
    assert_eq!(pin(3239).title.as_deref(), Some("Resin Mosaic Coasters"));
    // The source spells é decomposed (e + U+0301): kept as it came.
    assert_eq!(pin(4367).title.as_deref(), Some("Rose\u{301}, candy, and\nall the colors 🌈"));
}

#[test]
fn geo_rows_by_hand() {
    let geos = raw_by_id("sample_geo.jsonl", "ind");
    assert_eq!(
        clean_geo(geos[&1].as_bytes()).unwrap(),
        GeoRow {
            ind: 1,
            country: s("Albania"),
            coordinates: Some([Some(-88.8298), Some(-170.188)]),
            timestamp: utc(2021, 9, 26, 19, 49, 23),
        }
    );
    assert_eq!(
        clean_geo(geos[&5658].as_bytes()).unwrap(),
        GeoRow {
            ind: 5658,
            country: s("Cote d'Ivoire"),
            coordinates: Some([Some(-74.0172), Some(-109.979)]),
            timestamp: utc(2019, 4, 5, 4, 50, 37),
        }
    );
}

#[test]
fn user_rows_by_hand() {
    let users = raw_by_id("sample_user.jsonl", "ind");
    assert_eq!(
        clean_user(users[&2711].as_bytes()).unwrap(),
        UserRow { ind: 2711, user_name: s("Adrian Baker"), age: Some(24), date_joined: utc(2015, 12, 4, 5, 17, 24) }
    );
}

#[test]
fn every_timestamp_form_of_the_catalogue_on_a_real_record() {
    let geos = raw_by_id("sample_geo.jsonl", "ind");
    let real: Value = serde_json::from_str(&geos[&1]).unwrap();
    assert_eq!(real["timestamp"], "2021-09-26 19:49:23");
    for form in [
        "2021-09-26 19:49:23",
        "2021-09-26T19:49:23",
        "2021-09-26T19:49:23.000+0000",
        "2021-09-26T19:49:23Z",
        "2021-09-26T19:49:23+00:00",
        "2021-09-26 19:49:23.000000",
    ] {
        let mut record = real.clone();
        record["timestamp"] = form.into();
        let bytes = record.to_string();
        let row = clean_geo(bytes.as_bytes()).unwrap();
        assert_eq!(row.timestamp, utc(2021, 9, 26, 19, 49, 23), "{form}");
    }
    let mut record = real.clone();
    record["timestamp"] = "2018-01-31".into();
    assert_eq!(clean_geo(record.to_string().as_bytes()).unwrap().timestamp, utc(2018, 1, 31, 0, 0, 0));
}

#[test]
fn numbers_as_strings_and_ind_as_index_on_real_records() {
    let users = raw_by_id("sample_user.jsonl", "ind");
    let mut real: Value = serde_json::from_str(&users[&2711]).unwrap();
    let expected = clean_user(users[&2711].as_bytes()).unwrap();
    real["age"] = "24".into();
    let id = real.as_object_mut().unwrap().remove("ind").unwrap();
    real["index"] = Value::String(id.to_string());
    real["not_in_the_spec"] = serde_json::json!({"ignored": [1, 2]});
    assert_eq!(clean_user(real.to_string().as_bytes()).unwrap(), expected);
    // And as the original streaming script sent it: json.dumps of the record.
    let wrapped = serde_json::to_string(&real.to_string()).unwrap();
    assert_eq!(clean_user(wrapped.as_bytes()).unwrap(), expected);
}

/// Every value of the catalogue, wherever it occurs in the real samples, is null
/// once cleaned; every other text is its trimmed self.
#[test]
fn every_dirty_value_in_the_samples_is_null_and_nothing_else_is() {
    let mut seen = HashMap::<&str, usize>::new();
    for line in sample_lines("sample_pin.jsonl") {
        let raw: Value = serde_json::from_str(&line).unwrap();
        let row = serde_json::to_value(clean_pin(line.as_bytes()).unwrap()).unwrap();
        for column in ["title", "description", "poster_name", "tag_list", "image_src", "category", "is_image_or_video"]
        {
            let text = raw[column].as_str().unwrap();
            let trimmed = text.trim_matches(|c: char| c.is_whitespace());
            match PLACEHOLDERS.iter().find(|p| p.value == trimmed) {
                Some(p) => {
                    *seen.entry(p.value).or_default() += 1;
                    assert_eq!(row[column], Value::Null, "{column} of {line}");
                }
                None if trimmed.is_empty() => assert_eq!(row[column], Value::Null),
                None => assert_eq!(row[column], trimmed, "{column} of {line}"),
            }
        }
        if raw["follower_count"] == "User Info Error" {
            assert_eq!(row["follower_count"], Value::Null);
        } else {
            assert!(row["follower_count"].is_i64(), "{line}");
        }
    }
    for p in PLACEHOLDERS {
        assert!(seen.contains_key(p.value), "the samples carry {:?}", p.value);
    }
}

#[test]
fn all_real_samples_clean_into_spec_batches_with_nothing_quarantined() {
    for (kind, file) in
        [(Kind::Pin, "sample_pin.jsonl"), (Kind::Geo, "sample_geo.jsonl"), (Kind::User, "sample_user.jsonl")]
    {
        let lines = sample_lines(file);
        let cleaned = clean_batch(kind, lines.iter().map(|l| l.as_bytes()));
        assert_eq!(cleaned.quarantined, vec![], "{file}");
        assert_eq!(cleaned.batch.num_rows(), 240, "{file}");
        assert_eq!(cleaned.batch.schema(), pinpipe::schema::of(kind));
    }
}
