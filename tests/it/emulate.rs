//! The emulator's MySQL source against a real MariaDB (`infra/stack.sh` loads the
//! real samples into the original three tables). The emulator end to end, over HTTP,
//! is in `lambda_watch`.

use pinpipe_local::source::{Credentials, MySqlSource};
use pinpipe_tests::sample_lines;

fn mysql_url() -> String {
    std::env::var("PINPIPE_MYSQL_URL").expect("PINPIPE_MYSQL_URL from `infra/stack.sh env`")
}

#[tokio::test]
async fn the_mysql_source_sends_rows_as_the_original_script_did() {
    let mut source = MySqlSource::connect(&mysql_url(), Credentials::default(), 100).await.unwrap();
    assert_eq!(source.rows(), 240);
    let samples =
        [sample_lines("sample_pin.jsonl"), sample_lines("sample_geo.jsonl"), sample_lines("sample_user.jsonl")];
    let mut rows_seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let post = source.next_post().await.unwrap();
        // json.dumps(dict(row), default=str): the sample line itself, byte for byte.
        let line = samples[0].iter().position(|l| l == post[0].get()).unwrap_or_else(|| panic!("{}", post[0].get()));
        assert_eq!(post[1].get(), samples[1][line], "the geo row at the same offset");
        assert_eq!(post[2].get(), samples[2][line], "the user row at the same offset");
        rows_seen.insert(line);
    }
    assert!(rows_seen.len() > 20, "random offsets, with replacement: {rows_seen:?}");

    // The same seed draws the same rows, as the original script's fixed seed did.
    let mut again = MySqlSource::connect(&mysql_url(), Credentials::default(), 100).await.unwrap();
    let mut first = MySqlSource::connect(&mysql_url(), Credentials::default(), 100).await.unwrap();
    for _ in 0..5 {
        assert_eq!(again.next_post().await.unwrap()[0].get(), first.next_post().await.unwrap()[0].get());
    }
}

#[tokio::test]
async fn wrong_mysql_credentials_are_a_clear_error() {
    let url = mysql_url();
    let (_, host_db) = url.trim_start_matches("mysql://").split_once('@').unwrap();
    let wrong = format!("mysql://pinpipe:wrong@{host_db}");
    let error = MySqlSource::connect(&wrong, Credentials::default(), 1).await.err().expect("refused");
    assert!(error.to_string().contains("Access denied"), "{error}");
}
