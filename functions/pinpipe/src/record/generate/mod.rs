//! Realistic raw posts (SPEC §8 `pinpipe generate`), reproducing the distributions
//! measured on the original project's real data (`shared/data/DIRTY_VALUES.md`):
//! placeholders at their rates and in the rows they co-occur in, follower counts
//! as k/M/digit strings, the 13 categories, the 243-country long tail, ages 20–60,
//! join dates 2015–2017, post timestamps 2017–2022, and people who post many times.
//!
//! Every post is a pure function of `(seed, posts, id)` and every person and poster
//! of `(seed, their number)`, each drawn from its own ChaCha stream (the number of
//! posts sizes the pools of people and posters), so output is deterministic for a
//! seed and the re-send pattern re-sends identical records.
//!
//! Long (some 480 lines) because each of DIRTY_VALUES.md's measured distributions is a
//! few lines here, next to the others it co-occurs with; the word lists are in `data/`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::DateTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::kind::Kind;
use crate::record::catalogue::{
    CATEGORIES, IMAGE_SRC_ERROR, MEDIA_TYPES, NO_DESCRIPTION, NO_DESCRIPTION_STORY, NO_TAGS, NO_TITLE,
    SAVE_LOCATION_PREFIX, UNTITLED, USER_INFO_ERROR,
};

/// Measured rates (shares of all rows) that the catalogue's placeholders do not
/// already carry.
mod rates {
    /// Rows with every error value at once (title, poster, followers, tags, image).
    pub const BROKEN: f64 = 0.008;
    /// `Image src error.` (always story-format rows; includes the broken ones).
    pub const IMAGE_ERROR: f64 = 0.024;
    /// `No description available` (image rows).
    pub const NO_DESCRIPTION: f64 = 0.017;
    /// Tag placeholder outside the broken rows.
    pub const NO_TAGS_ALONE: f64 = 0.007;
    /// Follower counts as `<n>M` and as plain digits; the rest is `<n>k`.
    pub const FOLLOWERS_M: f64 = 0.08;
    pub const FOLLOWERS_DIGITS: f64 = 0.17;
    /// Rare values: an empty title, `Untitled` title or description.
    pub const RARE: f64 = 0.001;
    /// Descriptions cut short with `…` and a no-break space.
    pub const TRUNCATED_DESCRIPTION: f64 = 0.31;
    /// Titles with a trailing space, an inner newline, or NBSP around a newline.
    pub const ODD_TITLE: f64 = 0.02;
    /// Poster names with a trailing space.
    pub const ODD_POSTER: f64 = 0.01;
    /// Distinct people per post (5,307 in 11,154 real rows).
    pub const PEOPLE_PER_POST: f64 = 0.476;
}

/// First post timestamp and join date, and the span of each (seconds).
const POSTED_FROM: i64 = 1_508_371_200; // 2017-10-19 00:00:00
const POSTED_SPAN: i64 = 1_666_223_999 - POSTED_FROM; // .. 2022-10-19 23:59:59
const JOINED_FROM: i64 = 1_445_385_600; // 2015-10-21 00:00:00
const JOINED_SPAN: i64 = 1_508_543_999 - JOINED_FROM; // .. 2017-10-20 23:59:59

/// The lists the generator draws from: Faker's en_US names and countries (what the
/// original data was made with) and words, tags and posters from the real samples.
struct Corpus {
    countries: Vec<&'static str>,
    first_names: Vec<&'static str>,
    last_names: Vec<&'static str>,
    /// Per category (in [`CATEGORIES`] order): words, tags, poster names.
    words: Vec<Vec<&'static str>>,
    tags: Vec<Vec<&'static str>>,
    posters: Vec<Vec<&'static str>>,
}

static CORPUS: LazyLock<Corpus> = LazyLock::new(|| {
    let lines = |text: &'static str| text.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>();
    let mut corpus = Corpus {
        countries: lines(include_str!("data/countries.txt")),
        first_names: lines(include_str!("data/first_names.txt")),
        last_names: lines(include_str!("data/last_names.txt")),
        words: vec![Vec::new(); CATEGORIES.len()],
        tags: vec![Vec::new(); CATEGORIES.len()],
        posters: vec![Vec::new(); CATEGORIES.len()],
    };
    for line in include_str!("data/corpus.tsv").lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(category), Some(what), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some(c) = CATEGORIES.iter().position(|k| *k == category) else { continue };
        match what {
            "word" => corpus.words[c].push(value),
            "tag" => corpus.tags[c].push(value),
            "poster" => corpus.posters[c].push(value),
            _ => {}
        }
    }
    corpus
});

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// How many posts to emit (each is a pin, a geo and a user record).
    pub posts: u64,
    pub seed: u64,
    /// The original emulator's pattern: emit `posts` draws, with replacement, from
    /// post ids `0..posts`, so posts are re-sent as exact duplicates.
    pub resend: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { posts: 2_000, seed: 42, resend: false }
    }
}

/// One post: its three records as JSON (no trailing newline), in the source's field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: u64,
    pub pin: String,
    pub geo: String,
    pub user: String,
}

impl Post {
    pub fn record(&self, kind: Kind) -> &str {
        match kind {
            Kind::Pin => &self.pin,
            Kind::Geo => &self.geo,
            Kind::User => &self.user,
        }
    }
}

#[derive(Serialize)]
struct PinOut<'a> {
    index: u64,
    unique_id: &'a str,
    title: &'a str,
    description: &'a str,
    poster_name: &'a str,
    follower_count: &'a str,
    tag_list: &'a str,
    is_image_or_video: &'a str,
    image_src: &'a str,
    downloaded: u8,
    save_location: &'a str,
    category: &'a str,
}

#[derive(Serialize)]
struct GeoOut<'a> {
    ind: u64,
    timestamp: &'a str,
    latitude: f64,
    longitude: f64,
    country: &'a str,
}

#[derive(Serialize)]
struct UserOut<'a> {
    ind: u64,
    first_name: &'a str,
    last_name: &'a str,
    age: u32,
    date_joined: &'a str,
}

/// A person who posts: the same name, age, join date and place on every post.
struct Person {
    first_name: &'static str,
    last_name: &'static str,
    age: u32,
    date_joined: String,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

/// A poster account of a category, with a fixed follower count.
struct Poster {
    name: String,
    follower_count: String,
}

// Each entity draws from its own ChaCha stream; the low bits say which kind.
const POST_STREAM: u64 = 0;
const PERSON_STREAM: u64 = 1;
const POSTER_STREAM: u64 = 2;
const ORDER_STREAM: u64 = 3;

/// Generates posts deterministically for a seed.
#[derive(Debug, Clone)]
pub struct Generator {
    options: GenerateOptions,
    people: u64,
    posters_per_category: u64,
}

impl Generator {
    pub fn new(options: GenerateOptions) -> Self {
        let corpus = &*CORPUS;
        let most_posters = corpus.posters.iter().map(Vec::len).max().unwrap_or(1) as u64;
        Generator {
            options,
            people: ((options.posts as f64 * rates::PEOPLE_PER_POST) as u64).max(1),
            posters_per_category: most_posters.max(options.posts / 60),
        }
    }

    fn rng(&self, stream: u64, number: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed);
        rng.set_stream((number << 2) | stream);
        rng
    }

    /// The post ids in the order they are emitted.
    pub fn ids(&self) -> impl Iterator<Item = u64> + use<> {
        let (n, resend) = (self.options.posts, self.options.resend);
        let mut order = self.rng(ORDER_STREAM, 0);
        (0..n).map(move |i| if resend { order.random_range(0..n) } else { i })
    }

    /// Every post in emission order.
    pub fn posts(&self) -> impl Iterator<Item = Post> + '_ {
        self.ids().map(|id| self.post(id))
    }

    /// Post `id`: the same for the same seed and size, whenever it is asked for.
    pub fn post(&self, id: u64) -> Post {
        let corpus = &*CORPUS;
        let mut rng = self.rng(POST_STREAM, id);
        let category_index = rng.random_range(0..CATEGORIES.len());
        let category = CATEGORIES[category_index];

        let media = pick_weighted(&mut rng, MEDIA_TYPES);
        let story = media == MEDIA_TYPES[2].0;
        let story_share = MEDIA_TYPES[2].1;
        // The broken rows and the image errors are all story-format rows.
        let broken = story && rng.random_bool(rates::BROKEN / story_share);
        let image_error =
            broken || (story && rng.random_bool((rates::IMAGE_ERROR - rates::BROKEN) / (story_share - rates::BROKEN)));

        let title = if broken {
            NO_TITLE.to_owned()
        } else if rng.random_bool(rates::RARE) {
            String::new()
        } else if rng.random_bool(rates::RARE) {
            UNTITLED.to_owned()
        } else {
            let title = title_case(&words(&mut rng, &corpus.words[category_index], 3..10));
            odd_title(&mut rng, title)
        };
        let description = if story {
            NO_DESCRIPTION_STORY.to_owned()
        } else if rng.random_bool(rates::NO_DESCRIPTION / (1.0 - story_share)) {
            NO_DESCRIPTION.to_owned()
        } else if rng.random_bool(rates::RARE) {
            UNTITLED.to_owned()
        } else {
            let text = sentence(&words(&mut rng, &corpus.words[category_index], 8..40));
            if rng.random_bool(rates::TRUNCATED_DESCRIPTION) {
                let cut = text.char_indices().nth(120).map_or(text.len(), |(i, _)| i);
                format!("{}…\u{a0}", &text[..cut])
            } else {
                text
            }
        };
        let tag_list = if broken || rng.random_bool(rates::NO_TAGS_ALONE) {
            NO_TAGS.to_owned()
        } else {
            let tags = &corpus.tags[category_index];
            let n = rng.random_range(5..=10);
            (0..n).map(|_| tags[rng.random_range(0..tags.len())]).collect::<Vec<_>>().join(",")
        };
        let poster = self.poster(category_index, skewed(&mut rng, self.posters_per_category, 2.0));
        let (poster_name, follower_count) = if broken {
            (USER_INFO_ERROR.to_owned(), USER_INFO_ERROR.to_owned())
        } else {
            (poster.name, poster.follower_count)
        };
        let image_src = if image_error { IMAGE_SRC_ERROR.to_owned() } else { image_url(&mut rng) };
        let unique_id = uuid(&mut rng);
        let posted = DateTime::from_timestamp(POSTED_FROM + rng.random_range(0..=POSTED_SPAN), 0)
            .expect("in range")
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let person = self.person(skewed(&mut rng, self.people, 2.2));

        let pin = serde_json::to_string(&PinOut {
            index: id,
            unique_id: &unique_id,
            title: &title,
            description: &description,
            poster_name: &poster_name,
            follower_count: &follower_count,
            tag_list: &tag_list,
            is_image_or_video: media,
            image_src: &image_src,
            downloaded: u8::from(!image_error),
            save_location: &format!("{SAVE_LOCATION_PREFIX}/data/{category}"),
            category,
        });
        let geo = serde_json::to_string(&GeoOut {
            ind: id,
            timestamp: &posted,
            latitude: person.latitude,
            longitude: person.longitude,
            country: person.country,
        });
        let user = serde_json::to_string(&UserOut {
            ind: id,
            first_name: person.first_name,
            last_name: person.last_name,
            age: person.age,
            date_joined: &person.date_joined,
        });
        Post {
            id,
            pin: pin.expect("plain structs serialise"),
            geo: geo.expect("plain structs serialise"),
            user: user.expect("plain structs serialise"),
        }
    }

    fn person(&self, number: u64) -> Person {
        let corpus = &*CORPUS;
        let mut rng = self.rng(PERSON_STREAM, number);
        // Half of all latitudes lie below -60, whatever the country (as measured).
        let latitude =
            if rng.random_bool(0.5) { rng.random_range(-89.98..-60.0) } else { rng.random_range(-60.0..89.99) };
        Person {
            first_name: corpus.first_names[rng.random_range(0..corpus.first_names.len())],
            last_name: corpus.last_names[rng.random_range(0..corpus.last_names.len())],
            age: rng.random_range(20..=60),
            date_joined: DateTime::from_timestamp(JOINED_FROM + rng.random_range(0..=JOINED_SPAN), 0)
                .expect("in range")
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            country: corpus.countries[skewed(&mut rng, corpus.countries.len() as u64, 2.0) as usize],
            latitude: round4(latitude),
            longitude: round4(rng.random_range(-180.0..180.0)),
        }
    }

    fn poster(&self, category_index: usize, number: u64) -> Poster {
        let corpus = &*CORPUS;
        let mut rng = self.rng(POSTER_STREAM, (number << 4) | category_index as u64);
        let known = &corpus.posters[category_index];
        let mut name = match known.get(number as usize) {
            Some(name) => (*name).to_owned(),
            None => format!(
                "{} {}",
                corpus.first_names[rng.random_range(0..corpus.first_names.len())],
                corpus.last_names[rng.random_range(0..corpus.last_names.len())]
            ),
        };
        if rng.random_bool(rates::ODD_POSTER) {
            name.push(' ');
        }
        let r: f64 = rng.random();
        let follower_count = if r < rates::FOLLOWERS_DIGITS {
            rng.random_range(0..1000).to_string()
        } else if r < rates::FOLLOWERS_DIGITS + rates::FOLLOWERS_M {
            format!("{}M", skewed(&mut rng, 15, 2.0) + 1)
        } else {
            format!("{}k", rng.random_range(1..1000))
        };
        Poster { name, follower_count }
    }

    /// Writes `pin.jsonl`, `geo.jsonl` and `user.jsonl` under `dir`, one record a
    /// line, calling `progress` every 10,000 posts.
    pub fn write_ndjson(&self, dir: &Path, mut progress: impl FnMut(u64)) -> io::Result<[PathBuf; 3]> {
        fs::create_dir_all(dir)?;
        let paths = Kind::ALL.map(|kind| dir.join(format!("{kind}.jsonl")));
        let mut files = Vec::with_capacity(3);
        for path in &paths {
            files.push(BufWriter::with_capacity(1 << 20, File::create(path)?));
        }
        for (n, post) in self.posts().enumerate() {
            for (file, kind) in files.iter_mut().zip(Kind::ALL) {
                file.write_all(post.record(kind).as_bytes())?;
                file.write_all(b"\n")?;
            }
            if n % 10_000 == 9_999 {
                progress(n as u64 + 1);
            }
        }
        for mut file in files {
            file.flush()?;
        }
        progress(self.options.posts);
        Ok(paths)
    }
}

/// A number in `0..n`, small ones far more likely: a long tail like the real
/// countries, posters and people (`u^a` with `a > 1`).
fn skewed(rng: &mut ChaCha8Rng, n: u64, a: f64) -> u64 {
    let u: f64 = rng.random();
    ((n as f64 * u.powf(a)) as u64).min(n.saturating_sub(1))
}

fn pick_weighted<'a>(rng: &mut ChaCha8Rng, options: &[(&'a str, f64)]) -> &'a str {
    let mut r: f64 = rng.random();
    for (value, share) in options {
        if r < *share {
            return value;
        }
        r -= share;
    }
    options[0].0
}

fn words(rng: &mut ChaCha8Rng, vocabulary: &[&'static str], count: std::ops::Range<usize>) -> Vec<&'static str> {
    let n = rng.random_range(count);
    (0..n).map(|_| vocabulary[rng.random_range(0..vocabulary.len())]).collect()
}

fn title_case(words: &[&str]) -> String {
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn sentence(words: &[&str]) -> String {
    let mut text = title_case(&words[..1.min(words.len())]);
    for word in words.iter().skip(1) {
        text.push(' ');
        text.push_str(word);
    }
    text.push('.');
    text
}

/// The real titles' oddities: a trailing space, an inner newline, NBSP around a newline.
fn odd_title(rng: &mut ChaCha8Rng, mut title: String) -> String {
    if !rng.random_bool(rates::ODD_TITLE) {
        return title;
    }
    let at = title.find(' ');
    match (rng.random_range(0..3), at) {
        (0, _) | (_, None) => title.push(' '),
        (1, Some(at)) => title.replace_range(at..at + 1, "\n"),
        (_, Some(at)) => title.replace_range(at..at + 1, "\u{a0}\n\u{a0}"),
    }
    title
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn image_url(rng: &mut ChaCha8Rng) -> String {
    let h = hex(&rng.random::<[u8; 16]>());
    format!("https://i.pinimg.com/originals/{}/{}/{}/{h}.jpg", &h[..2], &h[2..4], &h[4..6])
}

#[cfg(test)]
mod tests;
