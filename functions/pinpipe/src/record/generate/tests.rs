use std::collections::{HashMap, HashSet};

use super::*;
use crate::record::catalogue::{PLACEHOLDERS, is_placeholder};

fn generator(posts: u64, seed: u64, resend: bool) -> Generator {
    Generator::new(GenerateOptions { posts, seed, resend })
}

fn field<'a>(record: &'a serde_json::Value, name: &str) -> &'a str {
    record[name].as_str().unwrap_or_default()
}

#[test]
fn corpus_has_the_measured_lists() {
    let corpus = &*CORPUS;
    assert_eq!(corpus.countries.len(), 243);
    assert_eq!(corpus.countries.iter().collect::<HashSet<_>>().len(), 243);
    for name in ["Antarctica (the territory South of 60 deg S)", "Cote d'Ivoire", "Holy See (Vatican City State)"] {
        assert!(corpus.countries.contains(&name), "{name}");
    }
    for c in 0..CATEGORIES.len() {
        assert!(!corpus.words[c].is_empty() && !corpus.tags[c].is_empty() && !corpus.posters[c].is_empty());
    }
}

#[test]
fn same_seed_same_posts_other_seed_other_posts() {
    let a: Vec<_> = generator(300, 7, true).posts().collect();
    let b: Vec<_> = generator(300, 7, true).posts().collect();
    let c: Vec<_> = generator(300, 8, true).posts().collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // A post is a function of (seed, size, id) alone, whatever order it is emitted in.
    assert_eq!(generator(300, 7, false).post(42), generator(300, 7, true).post(42));
}

#[test]
fn resend_repeats_identical_records_like_the_original_emulator() {
    let posts: Vec<_> = generator(2_000, 1, true).posts().collect();
    let distinct: HashSet<_> = posts.iter().map(|p| p.id).collect();
    // Draws with replacement: about 1 - 1/e of the ids appear.
    assert!((1_150..1_380).contains(&distinct.len()), "{}", distinct.len());
    let mut seen = HashMap::new();
    for post in &posts {
        if let Some(earlier) = seen.insert(post.id, post.clone()) {
            assert_eq!(earlier, *post);
        }
    }
    let plain: Vec<_> = generator(2_000, 1, false).ids().collect();
    assert_eq!(plain, (0..2_000).collect::<Vec<_>>());
}

#[test]
fn distributions_match_the_measured_ones() {
    let n = 20_000;
    let mut count = HashMap::<&str, usize>::new();
    let mut followers = [0usize; 3]; // k, M, digits
    let mut countries = HashSet::new();
    let mut people = HashMap::<(String, String, u64, String), usize>::new();
    let (mut min_age, mut max_age) = (u64::MAX, 0);
    let (mut first_post, mut last_post) = (String::from("9"), String::new());
    let (mut first_join, mut last_join) = (String::from("9"), String::new());
    let mut below_minus_60 = 0;
    for post in generator(n, 3, false).posts() {
        let pin: serde_json::Value = serde_json::from_str(&post.pin).unwrap();
        let geo: serde_json::Value = serde_json::from_str(&post.geo).unwrap();
        let user: serde_json::Value = serde_json::from_str(&post.user).unwrap();
        let title = field(&pin, "title");
        for p in PLACEHOLDERS {
            for column in p.columns {
                if field(&pin, column) == p.value {
                    *count.entry(p.value).or_default() += 1;
                }
            }
        }
        if title == NO_TITLE {
            // The broken rows carry every error value at once.
            assert_eq!(field(&pin, "poster_name"), USER_INFO_ERROR);
            assert_eq!(field(&pin, "tag_list"), NO_TAGS);
            assert_eq!(field(&pin, "image_src"), IMAGE_SRC_ERROR);
        }
        let story = field(&pin, "is_image_or_video") == "multi-video(story page format)";
        assert_eq!(story, field(&pin, "description") == NO_DESCRIPTION_STORY);
        assert_eq!(field(&pin, "image_src") == IMAGE_SRC_ERROR, pin["downloaded"] == 0);
        if field(&pin, "image_src") == IMAGE_SRC_ERROR {
            assert!(story);
        }
        let category = field(&pin, "category");
        assert_eq!(field(&pin, "save_location"), format!("Local save in /data/{category}"));
        let fc = field(&pin, "follower_count");
        if fc.ends_with('k') {
            followers[0] += 1
        } else if fc.ends_with('M') {
            followers[1] += 1
        } else if fc.bytes().all(|b| b.is_ascii_digit()) {
            followers[2] += 1
        }
        countries.insert(field(&geo, "country").to_owned());
        let lat = geo["latitude"].as_f64().unwrap();
        assert!((-89.98..=89.99).contains(&lat));
        below_minus_60 += usize::from(lat < -60.0);
        let ts = field(&geo, "timestamp").to_owned();
        first_post = first_post.min(ts.clone());
        last_post = last_post.max(ts);
        let age = user["age"].as_u64().unwrap();
        min_age = min_age.min(age);
        max_age = max_age.max(age);
        let joined = field(&user, "date_joined").to_owned();
        first_join = first_join.min(joined.clone());
        last_join = last_join.max(joined.clone());
        *people
            .entry((field(&user, "first_name").into(), field(&user, "last_name").into(), age, joined))
            .or_default() += 1;
    }
    let share = |k: &str| count.get(k).copied().unwrap_or(0) as f64 / n as f64;
    let near = |got: f64, want: f64| (got - want).abs() <= want * 0.25 + 0.001;
    for p in PLACEHOLDERS.iter().filter(|p| p.share > 0.0) {
        let got = share(p.value) / p.columns.len() as f64;
        assert!(near(got, p.share), "{}: {got} vs {}", p.value, p.share);
    }
    let f = |i: usize| followers[i] as f64 / n as f64;
    assert!(near(f(0), 0.74) && near(f(1), 0.08) && near(f(2), 0.17), "{followers:?}");
    assert!(countries.len() > 200, "{}", countries.len());
    assert!(near(below_minus_60 as f64 / n as f64, 0.5));
    assert_eq!((min_age, max_age), (20, 60));
    assert!(first_post.starts_with("2017-10-") && last_post.starts_with("2022-10-"), "{first_post} {last_post}");
    assert!(first_join.starts_with("2015-10-") && last_join.starts_with("2017-10-"), "{first_join} {last_join}");
    // People post many times: well under one person per post, and a heavy poster.
    assert!(people.len() < n as usize * 6 / 10, "{}", people.len());
    assert!(people.values().max().copied().unwrap_or(0) > 20);
}

#[test]
fn text_oddities_appear() {
    let posts: Vec<_> = generator(5_000, 9, false).posts().collect();
    assert!(posts.iter().any(|p| p.pin.contains("…\u{a0}")));
    assert!(posts.iter().any(|p| p.pin.contains(r#"\n"#)));
    assert!(posts.iter().any(|p| {
        let pin: serde_json::Value = serde_json::from_str(&p.pin).unwrap();
        let poster = field(&pin, "poster_name");
        poster != poster.trim() && !is_placeholder(poster.trim())
    }));
}
