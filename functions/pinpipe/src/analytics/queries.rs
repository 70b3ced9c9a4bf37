//! SPEC §4's eight questions over the silver tables, as Polars lazy queries.
//!
//! Every question starts from the posts counted once (first row per `ind`), joins
//! inner on `ind`, leaves nulls out of every grouping and value column, breaks ties
//! on the name ascending and sorts by the group columns (age groups in age order).
//!
//! Long (some 420 lines before its tests) because the eight questions share their
//! partials and merges; apart, each question's merge would sit away from its query.

use polars::prelude::*;

use crate::kind::Kind;

/// The silver columns the questions read, per kind: named here, typed by the one
/// table schema ([`crate::record::columnar::schema`]).
pub fn input_schema(kind: Kind) -> Schema {
    let read: &[&str] = match kind {
        Kind::Pin => &["ind", "follower_count", "poster_name", "category"],
        Kind::Geo => &["ind", "country", "timestamp"],
        Kind::User => &["ind", "user_name", "age", "date_joined"],
    };
    let table = crate::record::columnar::schema::of(kind);
    Schema::from_iter(read.iter().filter_map(|name| {
        let field = table.field_with_name(name).ok()?;
        Some(Field::new((*name).into(), polars_type(field.data_type())?))
    }))
}

/// The Polars type of a silver column's Arrow type (the few SPEC §3 uses, lists aside).
fn polars_type(arrow: &arrow_schema::DataType) -> Option<DataType> {
    use arrow_schema::DataType as Arrow;
    match arrow {
        Arrow::Int64 => Some(DataType::Int64),
        Arrow::Float64 => Some(DataType::Float64),
        Arrow::Utf8 => Some(DataType::String),
        Arrow::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(zone)) if zone.as_ref() == "UTC" => {
            Some(DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))
        }
        _ => None,
    }
}

/// The eight questions (3 has two parts), in SPEC §4's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    Q1,
    Q2,
    Q3a,
    Q3b,
    Q4,
    Q5,
    Q6,
    Q7,
    Q8,
}

impl Question {
    pub const ALL: [Question; 9] = [
        Question::Q1,
        Question::Q2,
        Question::Q3a,
        Question::Q3b,
        Question::Q4,
        Question::Q5,
        Question::Q6,
        Question::Q7,
        Question::Q8,
    ];

    /// The output file's stem (SPEC §4).
    pub fn file_stem(self) -> &'static str {
        match self {
            Question::Q1 => "q1_category_by_country",
            Question::Q2 => "q2_category_by_year",
            Question::Q3a => "q3a_top_user_by_country",
            Question::Q3b => "q3b_top_country",
            Question::Q4 => "q4_category_by_age_group",
            Question::Q5 => "q5_median_followers_by_age_group",
            Question::Q6 => "q6_users_joined_by_year",
            Question::Q7 => "q7_median_followers_by_join_year",
            Question::Q8 => "q8_median_followers_by_age_group_and_join_year",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Question::Q1 => "1. Most popular category per country",
            Question::Q2 => "2. Most popular category per year, 2018–2022",
            Question::Q3a => "3a. User with the most followers per country",
            Question::Q3b => "3b. The country whose top user has the most followers",
            Question::Q4 => "4. Most popular category per age group",
            Question::Q5 => "5. Median follower count per age group",
            Question::Q6 => "6. Users who joined each year, 2015–2020",
            Question::Q7 => "7. Median follower count per join year, 2015–2020",
            Question::Q8 => "8. Median follower count per age group and join year, 2015–2020",
        }
    }
}

/// The posts, each `ind` once (the first row delivered for it), per kind.
#[derive(Clone)]
pub struct Posts {
    pub pin: DataFrame,
    pub geo: DataFrame,
    pub user: DataFrame,
}

impl Posts {
    /// Keeps the first row of each `ind` in every frame, in input order.
    pub fn dedupe(pin: LazyFrame, geo: LazyFrame, user: LazyFrame) -> PolarsResult<Posts> {
        let [pin, geo, user] = on_threads([pin, geo, user].map(|lf| move || first_row_per_ind(lf.collect()?)))?;
        Ok(Posts { pin, geo, user })
    }

    fn pin(&self) -> LazyFrame {
        self.pin.clone().lazy()
    }
    fn geo(&self) -> LazyFrame {
        self.geo.clone().lazy()
    }
    fn user(&self) -> LazyFrame {
        self.user.clone().lazy()
    }
}

/// What one part of the posts contributes to the answers. Parts split by `ind` hold
/// disjoint posts, so their partials merge exactly ([`Partials::merge`]): counts add
/// up, the top user per country is the top of the parts' tops, and a median is read
/// from the summed histogram of follower counts (one row per distinct count, so it
/// stays small however many posts there are). Question 6 counts distinct users, who
/// recur across posts: its rows ([`Partials::users`]) are regrouped by user before
/// counting ([`users_joined_by_year`]).
pub struct Partials {
    /// Questions 1, 2 and 4: (group…, category, category_count).
    pub q1: DataFrame,
    pub q2: DataFrame,
    pub q4: DataFrame,
    /// Question 3a's candidates: the top user per country in this part.
    pub q3a: DataFrame,
    /// Questions 5, 7 and 8: (group…, follower_count, n).
    pub q5: DataFrame,
    pub q7: DataFrame,
    pub q8: DataFrame,
    /// Question 6's rows: distinct (user_name, date_joined, post_year) in 2015–2020.
    pub users: DataFrame,
}

/// Question 5's, 7's and 8's groups: the columns grouped by and those shown.
const Q5_GROUP: (&[&str], &[&str]) = (&["age_order", "age_group"], &["age_group"]);
const Q7_GROUP: (&[&str], &[&str]) = (&["post_year"], &["post_year"]);
const Q8_GROUP: (&[&str], &[&str]) = (&["age_order", "age_group", "post_year"], &["age_group", "post_year"]);
const Q4_GROUP: (&[&str], &[&str]) = (&["age_order", "age_group"], &["age_group"]);

impl Partials {
    /// The partial answers over `posts` (one part, or all of them).
    pub fn of(posts: &Posts) -> PolarsResult<Partials> {
        // Each join once, with only the columns the questions read: three questions
        // read pin–geo and four pin–user, and a lazy join is redone per query.
        let [pin_geo, pin_user] = collect_all([pin_geo(posts), pin_user(posts)])?;
        let pin_geo = || pin_geo.clone().lazy();
        let pin_user = || pin_user.clone().lazy();
        let joined_users = || in_years(pin_user(), "date_joined", 2015..=2020);
        let [q1, q2, q4, q3a, q5, q7, q8, users] = collect_all([
            category_counts(pin_geo(), &["country"]),
            category_counts(in_years(pin_geo(), "timestamp", 2018..=2022), &["post_year"]),
            category_counts(with_age_group(pin_user()), Q4_GROUP.0),
            top_user_by_country(pin_geo()),
            follower_histogram(with_age_group(pin_user()), Q5_GROUP.0),
            follower_histogram(joined_users(), Q7_GROUP.0),
            follower_histogram(with_age_group(joined_users()), Q8_GROUP.0),
            distinct_users(posts),
        ])?;
        Ok(Partials { q1, q2, q4, q3a, q5, q7, q8, users })
    }

    /// All nine answers from every part's partials, in [`Question::ALL`]'s order.
    /// `q6` is question 6's answer, counted from [`Partials::users`] regrouped by user.
    pub fn merge(parts: Vec<Partials>, q6: DataFrame) -> PolarsResult<Vec<(Question, DataFrame)>> {
        let stacked = |pick: fn(&Partials) -> &DataFrame| -> PolarsResult<LazyFrame> {
            let frames: Vec<LazyFrame> = parts.iter().map(|p| pick(p).clone().lazy()).collect();
            concat(frames, UnionArgs::default())
        };
        let q3a = top_user_by_country(stacked(|p| &p.q3a)?).collect()?;
        let q3b = top_country(q3a.clone().lazy()).collect()?;
        Ok(vec![
            (Question::Q1, most_popular(stacked(|p| &p.q1)?, &["country"], &["country"]).collect()?),
            (Question::Q2, most_popular(stacked(|p| &p.q2)?, &["post_year"], &["post_year"]).collect()?),
            (Question::Q3a, q3a),
            (Question::Q3b, q3b),
            (Question::Q4, most_popular(stacked(|p| &p.q4)?, Q4_GROUP.0, Q4_GROUP.1).collect()?),
            (Question::Q5, median_followers(stacked(|p| &p.q5)?, Q5_GROUP.0, Q5_GROUP.1).collect()?),
            (Question::Q6, q6),
            (Question::Q7, median_followers(stacked(|p| &p.q7)?, Q7_GROUP.0, Q7_GROUP.1).collect()?),
            (Question::Q8, median_followers(stacked(|p| &p.q8)?, Q8_GROUP.0, Q8_GROUP.1).collect()?),
        ])
    }
}

/// All nine answers from the partials of all the posts (one part).
pub fn answer_whole(partials: Partials) -> PolarsResult<Vec<(Question, DataFrame)>> {
    let q6 = users_joined_by_year(partials.users.clone().lazy()).collect()?;
    Partials::merge(vec![partials], q6)
}

/// Runs `tasks` side by side, as many at a time as there are cores, and returns their
/// results in order. Polars parallelises within a query, but one query alone left a
/// core idle ~25% of the answering (BENCHMARKS.md "analytics"); more at a time than
/// cores were no faster and held more intermediate frames at once (~200 MB at 1M posts).
fn on_threads<T: Send, F: FnOnce() -> PolarsResult<T> + Send, const N: usize>(tasks: [F; N]) -> PolarsResult<[T; N]> {
    let width = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, N.max(1));
    let queue = std::sync::Mutex::new(tasks.into_iter().enumerate());
    let next = || queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
    let mut done: Vec<(usize, PolarsResult<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..width)
            .map(|_| scope.spawn(|| std::iter::from_fn(next).map(|(i, task)| (i, task())).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    let values = done.into_iter().map(|(_, result)| result).collect::<PolarsResult<Vec<T>>>()?;
    Ok(values.try_into().unwrap_or_else(|_| unreachable!("one result per task")))
}

/// Collects `queries` side by side ([`on_threads`]).
fn collect_all<const N: usize>(queries: [LazyFrame; N]) -> PolarsResult<[DataFrame; N]> {
    on_threads(queries.map(|query| move || query.collect()))
}

/// The first row of each `ind`, in input order, in one pass with a set of the `ind`s
/// seen (Polars' stable unique groups every row, then sorts the groups by first row).
fn first_row_per_ind(frame: DataFrame) -> PolarsResult<DataFrame> {
    let inds = frame.column("ind")?.i64()?;
    let mut seen = PlHashSet::with_capacity(inds.len());
    let mut null_seen = false;
    let keep: Vec<bool> = inds
        .iter()
        .map(|ind| match ind {
            Some(ind) => seen.insert(ind),
            None => !std::mem::replace(&mut null_seen, true),
        })
        .collect();
    if keep.iter().all(|k| *k) {
        return Ok(frame);
    }
    frame.filter(&BooleanChunked::from_slice(PlSmallStr::EMPTY, &keep))
}

/// Posts with their pin and geo rows: what questions 1, 2 and 3 read.
fn pin_geo(posts: &Posts) -> LazyFrame {
    posts.pin().join(
        posts.geo().select([col("ind"), col("country"), col("timestamp")]),
        [col("ind")],
        [col("ind")],
        JoinArgs::new(JoinType::Inner),
    )
}

/// Posts with their pin and user rows: what questions 4, 5, 7 and 8 read.
fn pin_user(posts: &Posts) -> LazyFrame {
    posts.pin().select([col("ind"), col("follower_count"), col("category")]).join(
        posts.user().select([col("ind"), col("age"), col("date_joined")]),
        [col("ind")],
        [col("ind")],
        JoinArgs::new(JoinType::Inner),
    )
}

fn columns(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n)).collect()
}

/// Posts per (`group`…, category), nulls left out.
fn category_counts(lf: LazyFrame, group: &[&str]) -> LazyFrame {
    let not_null = group.iter().fold(col("category").is_not_null(), |acc, c| acc.and(col(*c).is_not_null()));
    let mut by = columns(group);
    by.push(col("category"));
    lf.filter(not_null).group_by(by).agg([len().cast(DataType::Int64).alias("category_count")])
}

/// The one most frequent category per group, from (possibly repeated) counts: highest
/// total, ties to the category ascending. `group` columns are sorted ascending;
/// `shown` are the group columns output.
fn most_popular(counts: LazyFrame, group: &[&str], shown: &[&str]) -> LazyFrame {
    let keys = columns(group);
    let mut by = keys.clone();
    by.push(col("category"));
    let mut order = keys.clone();
    order.extend([col("category_count"), col("category")]);
    let mut descending = vec![false; group.len()];
    descending.extend([true, false]);
    let mut output = columns(shown);
    output.extend([col("category"), col("category_count")]);
    counts
        .group_by(by)
        .agg([col("category_count").sum()])
        .sort_by_exprs(order, SortMultipleOptions::default().with_order_descending_multi(descending))
        .unique_stable_generic(Some(keys), UniqueKeepStrategy::First)
        .select(output)
}

/// Calendar year (UTC) of a timestamp column, as `post_year`, kept within `years`.
fn in_years(lf: LazyFrame, timestamp: &str, years: std::ops::RangeInclusive<i32>) -> LazyFrame {
    lf.with_column(col(timestamp).dt().year().alias("post_year"))
        .filter(col("post_year").gt_eq(lit(*years.start())).and(col("post_year").lt_eq(lit(*years.end()))))
}

/// SPEC §4's age groups and their order; ages under 18 or null fall in none.
const AGE_GROUPS: [(&str, i64, i64); 4] =
    [("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, i64::MAX)];

/// Adds `age_group` and its position `age_order`, and leaves out rows in no group.
fn with_age_group(lf: LazyFrame) -> LazyFrame {
    let in_group = |low: i64, high: i64| col("age").gt_eq(lit(low)).and(col("age").lt_eq(lit(high)));
    let mut group = lit(NULL).cast(DataType::String);
    let mut order = lit(NULL).cast(DataType::Int32);
    for (position, (name, low, high)) in AGE_GROUPS.iter().enumerate().rev() {
        group = when(in_group(*low, *high)).then(lit(*name)).otherwise(group);
        order = when(in_group(*low, *high)).then(lit(position as i32)).otherwise(order);
    }
    lf.with_columns([group.alias("age_group"), order.alias("age_order")]).filter(col("age_group").is_not_null())
}

/// Posts per (`group`…, follower_count); a null count is kept as its own row so a
/// group of only nulls still shows (with a null median).
fn follower_histogram(lf: LazyFrame, group: &[&str]) -> LazyFrame {
    let mut by = columns(group);
    by.push(col("follower_count"));
    lf.group_by(by).agg([len().cast(DataType::Int64).alias("n")])
}

/// The exact median follower count per group from (possibly repeated) histogram rows:
/// nulls ignored, a group of only nulls is null, an even count averages the middle two.
fn median_followers(histogram: LazyFrame, group: &[&str], shown: &[&str]) -> LazyFrame {
    let keys = columns(group);
    let mut by = keys.clone();
    by.push(col("follower_count"));
    let summed = histogram.group_by(by.clone()).agg([col("n").sum()]);
    // Within a group, sorted by count: the value at 0-based position k is the one whose
    // rows span k (before ≤ k < upto). The middle positions of N values are
    // ⌊(N-1)/2⌋ and ⌊N/2⌋; for integers, before ≤ ⌊x/2⌋ < upto ⟺ 2·before ≤ x < 2·upto.
    let upto = col("n").cum_sum(false);
    let before = upto.clone() - col("n");
    let total = col("n").sum();
    let at = |twice_k: Expr| {
        let spans = (lit(2i64) * before.clone()).lt_eq(twice_k.clone()).and((lit(2i64) * upto.clone()).gt(twice_k));
        col("follower_count").filter(spans).first().cast(DataType::Float64)
    };
    let (lower, upper) = (total.clone() - lit(1i64), total);
    let medians = summed
        .clone()
        .filter(col("follower_count").is_not_null())
        .sort_by_exprs(by, SortMultipleOptions::default())
        .group_by_stable(keys.clone())
        .agg([((at(lower) + at(upper)) / lit(2.0)).alias("median_follower_count")]);
    let mut output = columns(shown);
    output.push(col("median_follower_count"));
    summed
        .select(keys.clone())
        .unique_stable(None, UniqueKeepStrategy::First)
        .join(medians, keys.clone(), keys.clone(), JoinArgs::new(JoinType::Left))
        .sort_by_exprs(keys, SortMultipleOptions::default())
        .select(output)
}

/// 3a: country, poster_name, follower_count (ties to the name ascending), over rows
/// holding those columns (the pin–geo join, or the parts' own tops).
pub fn top_user_by_country(lf: LazyFrame) -> LazyFrame {
    let counted = lf
        .filter(
            col("country").is_not_null().and(col("poster_name").is_not_null()).and(col("follower_count").is_not_null()),
        )
        .select([col("country"), col("poster_name"), col("follower_count")]);
    // The top count per country, then the first name holding it: two group-bys, not
    // a sort of every post by three columns.
    let top = counted.clone().group_by([col("country")]).agg([col("follower_count").max()]);
    let by = || [col("country"), col("follower_count")];
    counted
        .join(top, by(), by(), JoinArgs::new(JoinType::Inner))
        .group_by([col("country")])
        .agg([col("poster_name").min(), col("follower_count").first()])
        .sort(["country"], SortMultipleOptions::default())
        .select([col("country"), col("poster_name"), col("follower_count")])
}

/// 3b: country, follower_count — one row, from 3a (ties to the country ascending).
pub fn top_country(q3a: LazyFrame) -> LazyFrame {
    q3a.sort_by_exprs(
        [col("follower_count"), col("country")],
        SortMultipleOptions::default().with_order_descending_multi([true, false]),
    )
    .limit(1)
    .select([col("country"), col("follower_count")])
}

/// Question 6's rows: distinct (user_name, date_joined) with their join year, 2015–2020.
fn distinct_users(posts: &Posts) -> LazyFrame {
    let users = posts
        .user()
        .filter(col("user_name").is_not_null().and(col("date_joined").is_not_null()))
        .select([col("user_name"), col("date_joined")]);
    in_years(users, "date_joined", 2015..=2020).unique_stable(None, UniqueKeepStrategy::First)
}

/// 6: post_year, number_users_joined — distinct (user_name, date_joined) per join
/// year, over rows from [`Partials::users`] holding every row of each user they hold.
pub fn users_joined_by_year(users: LazyFrame) -> LazyFrame {
    users
        .unique_stable(None, UniqueKeepStrategy::First)
        .group_by([col("post_year")])
        .agg([len().cast(DataType::Int64).alias("number_users_joined")])
        .sort(["post_year"], SortMultipleOptions::default())
}

/// Question 6 from the counts of parts that split users apart: their sum per year.
pub fn add_users_joined(counts: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let frames: Vec<LazyFrame> = counts.into_iter().map(DataFrame::lazy).collect();
    concat(frames, UnionArgs::default())?
        .group_by([col("post_year")])
        .agg([col("number_users_joined").sum()])
        .sort(["post_year"], SortMultipleOptions::default())
        .collect()
}

#[cfg(test)]
mod tests {
    //! Hand-made posts; every expected row below is worked out by hand from SPEC §4.
    use super::*;

    #[test]
    fn the_questions_read_columns_typed_by_the_table_schema() {
        let widths: Vec<usize> = Kind::ALL.iter().map(|kind| input_schema(*kind).len()).collect();
        assert_eq!(widths, [4, 3, 4], "every column read is in the table schema, with a Polars type");
        let user = input_schema(Kind::User);
        assert_eq!(user.get("date_joined"), Some(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))));
        assert_eq!(user.get("age"), Some(&DataType::Int64));
    }
    use crate::record::timestamp::parse_micros;

    fn utc(lf: LazyFrame, column: &str) -> LazyFrame {
        lf.with_column(col(column).cast(DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))))
    }

    fn at(text: &str) -> Option<i64> {
        Some(parse_micros(text).expect("a test timestamp"))
    }

    /// Posts 1–10 (post 1 delivered twice), plus a user row (11) without a pin.
    fn rows() -> [DataFrame; 3] {
        let pin = df!(
            "ind" => [1i64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "follower_count" => [Some(100i64), Some(100), Some(500), Some(500), None, Some(10), Some(5000), Some(3000), Some(9999), Some(7), Some(1000)],
            "poster_name" => [Some("Zed"), Some("Zed"), Some("Bob"), Some("Amy"), Some("Nul"), Some("Cat"), None, Some("Dan"), Some("Fay"), Some("Eve"), Some("Bob")],
            "category" => [Some("art"), Some("art"), Some("art"), Some("travel"), Some("travel"), Some("travel"), None, None, Some("art"), Some("beauty"), Some("art")],
        )
        .unwrap();
        let geo = df!(
            "ind" => [1i64, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            "country" => [Some("X"), Some("X"), Some("X"), Some("X"), Some("X"), Some("Y"), Some("Y"), Some("Y"), None, Some("Z")],
            "timestamp" => [
                at("2018-01-01 00:00:00"), at("2018-01-01 00:00:00"), at("2017-12-31 23:59:59"), at("2022-12-31 23:59:59"),
                at("2022-03-03 00:00:00"), at("2023-01-01 00:00:00"), at("2018-06-01 00:00:00"), None,
                at("2022-05-05 00:00:00"), at("2018-03-03 00:00:00"),
            ],
        )
        .unwrap();
        let user = df!(
            "ind" => [1i64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            "user_name" => [Some("U1"), Some("U1"), Some("U2"), Some("U3"), Some("U4"), Some("U5"), Some("U6"), Some("U7"), Some("U8"), Some("U9"), Some("U2"), None],
            "age" => [Some(17i64), Some(17), Some(18), Some(24), Some(25), Some(35), Some(36), Some(50), Some(51), None, Some(18), Some(30)],
            "date_joined" => [
                at("2015-01-01 00:00:00"), at("2015-01-01 00:00:00"), at("2015-06-01 00:00:00"), at("2016-01-01 00:00:00"),
                at("2014-12-31 23:59:59"), at("2020-12-31 23:59:59"), at("2021-01-01 00:00:00"), at("2016-05-05 00:00:00"),
                at("2017-01-01 00:00:00"), at("2017-02-02 00:00:00"), at("2015-06-01 00:00:00"), at("2015-03-03 00:00:00"),
            ],
        )
        .unwrap();
        [pin, utc(geo.lazy(), "timestamp").collect().unwrap(), utc(user.lazy(), "date_joined").collect().unwrap()]
    }

    /// The answers over the hand-made rows in one part.
    fn whole() -> Vec<(Question, DataFrame)> {
        let [pin, geo, user] = rows();
        answer_whole(Partials::of(&Posts::dedupe(pin.lazy(), geo.lazy(), user.lazy()).unwrap()).unwrap()).unwrap()
    }

    /// The answers over the same rows split by `ind` into `parts`, as a large silver is:
    /// each part deduplicated and answered alone, question 6's users split again by name.
    fn in_parts(parts: usize) -> Vec<(Question, DataFrame)> {
        let split = |frame: &DataFrame, key: &str| crate::analytics::parts::split(frame, key, parts).unwrap();
        let [pin, geo, user] = rows().map(|frame| split(&frame, "ind"));
        let mut partials = Vec::new();
        let mut users = Vec::new();
        for ((pin, geo), user) in pin.into_iter().zip(geo).zip(user) {
            let partial = Partials::of(&Posts::dedupe(pin.lazy(), geo.lazy(), user.lazy()).unwrap()).unwrap();
            users.push(split(&partial.users, "user_name"));
            partials.push(partial);
        }
        let counts = (0..parts)
            .map(|part| {
                let rows: Vec<LazyFrame> = users.iter().map(|by_name| by_name[part].clone().lazy()).collect();
                users_joined_by_year(concat(rows, UnionArgs::default()).unwrap()).collect().unwrap()
            })
            .collect();
        Partials::merge(partials, add_users_joined(counts).unwrap()).unwrap()
    }

    /// `question`'s answer is `want` whether the posts are answered whole or in 2, 3 or 7 parts.
    fn check(question: Question, want: DataFrame) {
        for (parts, answers) in [(1, whole()), (2, in_parts(2)), (3, in_parts(3)), (7, in_parts(7))] {
            let got = &answers.iter().find(|(q, _)| *q == question).unwrap().1;
            assert!(got.equals_missing(&want), "{question:?} in {parts} parts: got\n{got}\nwant\n{want}");
        }
    }

    #[test]
    fn each_post_counts_once() {
        let [pin, geo, user] = rows();
        let posts = Posts::dedupe(pin.lazy(), geo.lazy(), user.lazy()).unwrap();
        assert_eq!((posts.pin.height(), posts.geo.height(), posts.user.height()), (10, 9, 11));
    }

    #[test]
    fn tasks_side_by_side_give_their_results_in_order_or_the_error() {
        let slow_first = |i: u64| {
            move || {
                std::thread::sleep(std::time::Duration::from_millis(30 - 5 * i));
                Ok(i)
            }
        };
        assert_eq!(on_threads([0, 1, 2, 3, 4].map(slow_first)).unwrap(), [0, 1, 2, 3, 4]);
        let failing = |i: u64| move || if i == 3 { Err(polars_err!(ComputeError: "task {i} failed")) } else { Ok(i) };
        let error = on_threads([0, 1, 2, 3, 4].map(failing)).unwrap_err();
        assert!(error.to_string().contains("task 3 failed"), "{error}");
    }

    #[test]
    fn the_first_row_of_each_ind_is_kept_in_input_order() {
        // A re-send may differ from the first delivery; the first one counts, wherever
        // the re-send falls. A null `ind` (not in silver, whose `ind` is required) is
        // one group, as Polars' unique has it.
        let rows = df!(
            "ind" => [Some(3i64), Some(1), Some(3), None, Some(2), Some(1), None],
            "seen" => ["3 first", "1 first", "3 again", "null first", "2 first", "1 again", "null again"],
        )
        .unwrap();
        let kept = first_row_per_ind(rows).unwrap();
        let seen: Vec<_> = kept.column("seen").unwrap().str().unwrap().iter().flatten().collect();
        assert_eq!(seen, ["3 first", "1 first", "null first", "2 first"]);
        let unique = df!("ind" => [5i64, 4]).unwrap();
        assert_eq!(first_row_per_ind(unique.clone()).unwrap(), unique, "nothing repeated, nothing dropped");
    }

    #[test]
    fn q1_most_popular_category_per_country_ties_to_the_name() {
        // X: art 2 (post 1 once), travel 2 → art; Y: travel 1 (nulls form no group); the null country is left out.
        let want = df!("country" => ["X", "Y", "Z"], "category" => ["art", "travel", "beauty"], "category_count" => [2i64, 1, 1]);
        check(Question::Q1, want.unwrap());
    }

    #[test]
    fn q2_years_2018_to_2022_inclusive() {
        // 2017-12-31 23:59:59 and 2023-01-01 fall outside; 2018: art 1, beauty 1 → art; 2022: travel 2, art 1.
        let want = df!("post_year" => [2018i32, 2022], "category" => ["art", "travel"], "category_count" => [1i64, 2]);
        check(Question::Q2, want.unwrap());
    }

    #[test]
    fn q3_top_user_ignores_null_counts_and_names_and_ties_to_the_name() {
        // X: Bob 500 and Amy 500 tie → Amy; Nul (null count) never wins. Y: the null-named
        // 5000 never wins → Dan 3000. The null country (Fay 9999) forms no group.
        let want = df!("country" => ["X", "Y", "Z"], "poster_name" => ["Amy", "Dan", "Eve"], "follower_count" => [500i64, 3000, 7]);
        check(Question::Q3a, want.unwrap());
        check(Question::Q3b, df!("country" => ["Y"], "follower_count" => [3000i64]).unwrap());
        let tied =
            df!("country" => ["B", "A", "C"], "poster_name" => ["b", "a", "c"], "follower_count" => [9i64, 9, 1])
                .unwrap();
        let top = top_country(tied.lazy()).collect().unwrap();
        assert!(top.equals(&df!("country" => ["A"], "follower_count" => [9i64]).unwrap()), "{top}");
    }

    #[test]
    fn q4_age_groups_in_age_order_at_their_bounds() {
        // 17 and null are in no group; 18, 24 → 18-24; 25, 35 → 25-35; 36, 50 → 36-50 (only
        // null categories: no row); 51 → +50.
        let want = df!("age_group" => ["18-24", "25-35", "+50"], "category" => ["art", "travel", "art"], "category_count" => [2i64, 2, 1]);
        check(Question::Q4, want.unwrap());
    }

    #[test]
    fn q5_exact_medians_odd_even_and_with_nulls() {
        // 18-24: 500, 500, 1000 → 500; 25-35: null, 10 → 10; 36-50: 5000, 3000 → 4000; +50: 9999.
        let want = df!("age_group" => ["18-24", "25-35", "36-50", "+50"], "median_follower_count" => [500.0, 10.0, 4000.0, 9999.0]);
        check(Question::Q5, want.unwrap());
    }

    #[test]
    fn q6_distinct_users_per_join_year() {
        // U2 twice (same name and date) counts once; 2014 and 2021 fall outside; a null name is no user.
        let want = df!("post_year" => [2015i32, 2016, 2017, 2020], "number_users_joined" => [2i64, 2, 2, 1]);
        check(Question::Q6, want.unwrap());
    }

    #[test]
    fn q7_and_q8_medians_by_join_year() {
        // 2015: 100, 500, 1000 → 500; 2016: 500, 3000 → 1750; 2017: 9999, 7 → 5003; 2020: 10.
        let want =
            df!("post_year" => [2015i32, 2016, 2017, 2020], "median_follower_count" => [500.0, 1750.0, 5003.0, 10.0]);
        check(Question::Q7, want.unwrap());
        let want = df!(
            "age_group" => ["18-24", "18-24", "25-35", "36-50", "+50"],
            "post_year" => [2015i32, 2016, 2020, 2016, 2017],
            "median_follower_count" => [750.0, 500.0, 10.0, 3000.0, 9999.0],
        );
        check(Question::Q8, want.unwrap());
    }

    #[test]
    fn empty_silver_gives_empty_answers() {
        let empty = |kind| DataFrame::empty_with_schema(&input_schema(kind)).lazy();
        let posts = Posts::dedupe(empty(Kind::Pin), empty(Kind::Geo), empty(Kind::User)).unwrap();
        for (question, frame) in answer_whole(Partials::of(&posts).unwrap()).unwrap() {
            assert_eq!(frame.height(), 0, "{question:?}");
        }
    }
}
