//! `pinpipe generate` and `pinpipe clean` as a user runs them (SPEC §8).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn pinpipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pinpipe")).args(args).output().expect("running pinpipe")
}

fn sample(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(file).display().to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pinpipe-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn clean_prints_spec_rows_for_each_real_sample() {
    for (kind, file, ind, expected) in [
        (
            "geo",
            "sample_geo.jsonl",
            1,
            r#"{"ind":1,"country":"Albania","coordinates":[-88.8298,-170.188],"timestamp":"2021-09-26T19:49:23Z"}"#,
        ),
        (
            "user",
            "sample_user.jsonl",
            2711,
            r#"{"ind":2711,"user_name":"Adrian Baker","age":24,"date_joined":"2015-12-04T05:17:24Z"}"#,
        ),
        (
            "pin",
            "sample_pin.jsonl",
            302,
            r#"{"ind":302,"unique_id":"72c5e48f-2413-4c40-8724-71c11a87e80b","title":null,"description":null,"follower_count":null,"poster_name":null,"tag_list":null,"is_image_or_video":"multi-video(story page format)","image_src":null,"save_location":"/data/art","category":"art"}"#,
        ),
    ] {
        let out = pinpipe(&["clean", "--kind", kind, "--in", &sample(file)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 240, "{kind}");
        let line = stdout.lines().find(|l| l.starts_with(&format!("{{\"ind\":{ind},"))).unwrap();
        assert_eq!(line, expected);
        assert!(String::from_utf8_lossy(&out.stderr).contains("240 rows cleaned, 0 lines quarantined"));
    }
}

#[test]
fn clean_reports_quarantined_lines_on_stderr_and_keeps_the_rest() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .args(["clean", "--kind", "user"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap()
        .write_all(b"{\"ind\":1,\"first_name\":\"Ann\",\"last_name\":\"Lee\",\"age\":\"31\",\"date_joined\":null}\nnot json\n\n{\"first_name\":\"x\"}\r\n{\"ind\":2,\"first_name\":null,\"last_name\":null,\"age\":\"old\",\"date_joined\":null}\n{\"ind\":3,\"timestamp\":null,\"latitude\":1,\"longitude\":2,\"country\":\"Chad\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"ind\":1,\"user_name\":\"Ann Lee\",\"age\":31,\"date_joined\":null}\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("quarantined line 2 (not_json)"), "{stderr}");
    assert!(stderr.contains("quarantined line 4 (missing_field): missing required field `ind`"), "{stderr}");
    assert!(
        stderr.contains("quarantined line 5 (wrong_type): field `age`: expected an integer, found \"old\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("quarantined line 6 (wrong_kind): not a user record: it lacks `first_name`, `last_name`, `age` and `date_joined`; it looks like a geo record"),
        "{stderr}"
    );
    assert!(stderr.contains("1 rows cleaned, 4 lines quarantined"), "{stderr}");
}

#[test]
fn generate_is_deterministic_and_its_output_cleans() {
    let (a, b) = (temp_dir("a"), temp_dir("b"));
    for dir in [&a, &b] {
        let out = pinpipe(&["generate", "--posts", "500", "--seed", "7", "--resend", "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for kind in ["pin", "geo", "user"] {
        let file = format!("{kind}.jsonl");
        let bytes = std::fs::read(a.join(&file)).unwrap();
        assert_eq!(bytes, std::fs::read(b.join(&file)).unwrap(), "{file}");
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 500);
        let out = pinpipe(&["clean", "--kind", kind, "--in", a.join(&file).to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("500 rows cleaned, 0 lines quarantined"));
    }
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = pinpipe(&["clean", "--kind", "post"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown record kind `post`"));
    let out = pinpipe(&["clean", "--kind", "pin", "--in", "/nonexistent/file.jsonl"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening /nonexistent/file.jsonl"));
}

#[test]
fn analytics_over_the_real_samples_as_bronze_prints_the_eight_answers() {
    let raw = temp_dir("analytics-raw");
    std::fs::create_dir_all(&raw).unwrap();
    for kind in ["pin", "geo", "user"] {
        std::fs::copy(sample(&format!("sample_{kind}.jsonl")), raw.join(format!("{kind}.jsonl"))).unwrap();
    }
    let lake = temp_dir("analytics-lake");
    let (raw_arg, lake_arg) = (raw.display().to_string(), lake.display().to_string());
    let landed = pinpipe(&["land-bronze", "--in", &raw_arg, "--lake", &lake_arg, "--records-per-object", "100"]);
    assert!(landed.status.success(), "{}", String::from_utf8_lossy(&landed.stderr));

    // Today (the default): over the latest silver; a past date would time-travel.
    let run = pinpipe(&["analytics", "--lake", &lake_arg, "--id", "0a1b2c3d4e5f"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    let sections: Vec<&str> = stdout.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(sections.len(), 9, "{stdout}");
    assert!(sections[0].contains("Most popular category per country"));
    assert!(stdout.contains("| age_group | category | category_count |\n|---|---|---|\n| 18-24 |"), "{stdout}");
    assert!(stderr.contains("9 new bronze objects read, 720 rows cleaned, 0 quarantined"), "{stderr}");
    let today = chrono::Utc::now().date_naive();
    let pointer: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lake.join(format!("analytics/run_date={today}/_latest.json"))).expect("the run is published"),
    )
    .unwrap();
    assert!(lake.join(pointer["prefix"].as_str().unwrap()).join("report.md").exists(), "{pointer}");

    // Run again: nothing new to read, the same answers.
    let again = pinpipe(&["analytics", "--lake", &lake_arg, "--id", "0a1b2c3d4e5f"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 new bronze objects read"));
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);

    let bad = pinpipe(&["analytics", "--lake", &lake_arg, "--date", "2026-13-01"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--date"), "{}", String::from_utf8_lossy(&bad.stderr));
}
