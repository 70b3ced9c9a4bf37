//! Cleaning is total: any JSON value (or any bytes) gives a row or a reason, never
//! a panic, always the same answer; the generator's output always cleans.

use pinpipe::record::generate::{GenerateOptions, Generator};
use pinpipe::{Kind, clean_batch, clean_record};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("7k"), Just("1.2M"), Just("User Info Error"), Just("2020-08-28T03:52:47Z"), Just(" \u{a0}")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let field = prop_oneof![
            Just("index"),
            Just("ind"),
            Just("title"),
            Just("follower_count"),
            Just("latitude"),
            Just("timestamp"),
            Just("age"),
            Just("date_joined"),
            Just("first_name"),
            Just("x"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field.prop_map(String::from), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn any_json_value_gives_a_row_or_a_reason(value in json_value()) {
        let bytes = value.to_string();
        let wrapped = serde_json::to_string(&bytes).unwrap();
        for kind in Kind::ALL {
            let first = clean_record(kind, bytes.as_bytes());
            prop_assert_eq!(&first, &clean_record(kind, bytes.as_bytes()), "a pure function");
            if let Err(reason) = &first {
                prop_assert!(!reason.to_string().is_empty());
            }
            // The string-wrapped form means the same record.
            if value.is_object() {
                prop_assert_eq!(&first, &clean_record(kind, wrapped.as_bytes()));
            }
        }
    }

    #[test]
    fn any_bytes_give_a_row_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for kind in Kind::ALL {
            let cleaned = clean_batch(kind, [bytes.as_slice()]);
            prop_assert_eq!(cleaned.batch.num_rows() + cleaned.quarantined.len(), 1);
        }
    }

    #[test]
    fn generated_posts_always_clean(seed in any::<u64>(), resend in any::<bool>()) {
        let generator = Generator::new(GenerateOptions { posts: 300, seed, resend });
        let posts: Vec<_> = generator.posts().collect();
        for kind in Kind::ALL {
            let cleaned = clean_batch(kind, posts.iter().map(|p| p.record(kind).as_bytes()));
            prop_assert_eq!(cleaned.quarantined, vec![]);
            prop_assert_eq!(cleaned.batch.num_rows(), 300);
        }
    }
}
