//! Where the emulator's posts come from: the generator, or a MySQL database holding
//! the original project's three tables (`pinterest_data`, `geolocation_data`,
//! `user_data`), read as its script read them — one random row offset per post,
//! `SELECT * FROM <table> LIMIT <row>, 1` from each table — and turned into the JSON
//! its `json.dumps(…, default=str)` sent: columns in table order, datetimes as
//! `YYYY-MM-DD HH:MM:SS`.

use std::path::Path;

use mysql_async::prelude::Queryable;
use pinpipe::Kind;
use pinpipe::record::generate::{GenerateOptions, Generator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::value::RawValue;

/// One post: its pin, geo and user records as JSON objects.
pub type PostRecords = [Box<RawValue>; 3];

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("MySQL: {0}")]
    MySql(#[from] mysql_async::Error),
    #[error("the MySQL URL {0:?}: {1}")]
    Url(String, String),
    #[error("the credentials file {path}: {why}")]
    Credentials { path: String, why: String },
    #[error("table {0} is empty")]
    EmptyTable(&'static str),
    #[error("a {0} row is not a JSON object: {1}")]
    Json(&'static str, serde_json::Error),
}

/// The original project's table for each kind.
pub fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Pin => "pinterest_data",
        Kind::Geo => "geolocation_data",
        Kind::User => "user_data",
    }
}

/// Posts from the generator, with the original emulator's re-sends.
pub struct GeneratedSource {
    posts: Box<dyn Iterator<Item = pinpipe::record::generate::Post> + Send>,
}

impl GeneratedSource {
    pub fn new(posts: u64, seed: u64) -> Self {
        let generator = Generator::new(GenerateOptions { posts, seed, resend: true });
        let posts: Vec<_> = generator.posts().collect();
        GeneratedSource { posts: Box::new(posts.into_iter()) }
    }

    pub fn next_post(&mut self) -> Option<PostRecords> {
        let post = self.posts.next()?;
        let raw = |kind| RawValue::from_string(post.record(kind).to_owned()).expect("the generator writes JSON");
        Some([raw(Kind::Pin), raw(Kind::Geo), raw(Kind::User)])
    }
}

/// Connection settings, as the original `db_creds.yaml` holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
}

impl Credentials {
    /// Reads a flat YAML file of `KEY: value` lines (`HOST`, `PORT`, `USER`, `PASSWORD`,
    /// `DATABASE`), as the original project's `db_creds.yaml`.
    pub fn from_file(path: &Path) -> Result<Self, SourceError> {
        let fail = |why: String| SourceError::Credentials { path: path.display().to_string(), why };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let mut credentials = Credentials::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(fail(format!("line {} is not `KEY: value`", number + 1)));
            };
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
            match key.trim().to_ascii_uppercase().as_str() {
                "HOST" => credentials.host = Some(value),
                "PORT" => {
                    credentials.port = Some(value.parse().map_err(|_| fail(format!("PORT {value:?} is not a port")))?)
                }
                "USER" => credentials.user = Some(value),
                "PASSWORD" => credentials.password = Some(value),
                "DATABASE" => credentials.database = Some(value),
                other => return Err(fail(format!("unknown key {other} on line {}", number + 1))),
            }
        }
        Ok(credentials)
    }

    /// Fills what `self` lacks from `other`.
    pub fn or(self, other: Credentials) -> Credentials {
        Credentials {
            host: self.host.or(other.host),
            port: self.port.or(other.port),
            user: self.user.or(other.user),
            password: self.password.or(other.password),
            database: self.database.or(other.database),
        }
    }
}

/// `url` with its password replaced by `***`, for error messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    // The password may hold `/`, `?` or `@`: the user info ends at the last `@`.
    match rest.rsplit_once('@') {
        Some((user_info, host_and_path)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host_and_path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Rows of the original three tables, a random offset per post.
pub struct MySqlSource {
    conn: mysql_async::Conn,
    rows: u64,
    rng: ChaCha8Rng,
}

impl MySqlSource {
    /// Connects to `url` (`mysql://[user[:password]@]host[:port]/database`, or just
    /// `mysql` to take everything from `credentials`); what the URL leaves out comes
    /// from `credentials` (the creds file, then the environment).
    pub async fn connect(url: &str, credentials: Credentials, seed: u64) -> Result<Self, SourceError> {
        let builder = if url == "mysql" {
            mysql_async::OptsBuilder::default()
                .ip_or_hostname(credentials.host.unwrap_or_else(|| "127.0.0.1".into()))
                .tcp_port(credentials.port.unwrap_or(3306))
                .user(credentials.user)
                .pass(credentials.password)
                .db_name(credentials.database)
        } else {
            let parsed =
                mysql_async::Opts::from_url(url).map_err(|e| SourceError::Url(redacted(url), e.to_string()))?;
            let mut builder = mysql_async::OptsBuilder::from_opts(parsed.clone());
            if parsed.user().is_none() {
                builder = builder.user(credentials.user);
            }
            if parsed.pass().is_none() {
                builder = builder.pass(credentials.password);
            }
            if parsed.db_name().is_none() {
                builder = builder.db_name(credentials.database);
            }
            builder
        };
        let mut conn = mysql_async::Conn::new(builder).await?;
        // Every table must hold a row at each offset drawn: use the smallest.
        let mut rows = u64::MAX;
        for kind in Kind::ALL {
            let count: Option<u64> = conn.query_first(format!("SELECT COUNT(*) FROM {}", table(kind))).await?;
            rows = rows.min(count.unwrap_or(0));
            if rows == 0 {
                return Err(SourceError::EmptyTable(table(kind)));
            }
        }
        Ok(MySqlSource { conn, rows, rng: ChaCha8Rng::seed_from_u64(seed) })
    }

    /// Rows in each table the offsets are drawn from.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next post: one random offset, that row of each table.
    pub async fn next_post(&mut self) -> Result<PostRecords, SourceError> {
        let row = self.rng.random_range(0..self.rows);
        let mut records = Vec::with_capacity(3);
        for kind in Kind::ALL {
            // A prepared statement: the binary protocol gives typed values (the text one, strings).
            let found: Option<mysql_async::Row> =
                self.conn.exec_first(format!("SELECT * FROM {} LIMIT ?, 1", table(kind)), (row,)).await?;
            let found = found.ok_or(SourceError::EmptyTable(table(kind)))?;
            records.push(row_json(&found).map_err(|e| SourceError::Json(table(kind), e))?);
        }
        let [pin, geo, user]: [Box<RawValue>; 3] = records.try_into().expect("three kinds");
        Ok([pin, geo, user])
    }
}

/// A row as the original script's `json.dumps(dict(row), default=str)` wrote it.
fn row_json(row: &mysql_async::Row) -> Result<Box<RawValue>, serde_json::Error> {
    use mysql_async::Value;
    let mut text = String::from("{");
    for (i, column) in row.columns_ref().iter().enumerate() {
        let value = match row.as_ref(i) {
            None | Some(Value::NULL) => serde_json::Value::Null,
            Some(Value::Int(n)) => (*n).into(),
            Some(Value::UInt(n)) => (*n).into(),
            Some(Value::Float(x)) => {
                serde_json::Number::from_f64(f64::from(*x)).map_or(serde_json::Value::Null, Into::into)
            }
            Some(Value::Double(x)) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
            Some(Value::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned().into(),
            Some(Value::Date(y, mo, d, h, mi, s, micros)) => {
                let mut text = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
                if *micros > 0 {
                    text.push_str(&format!(".{micros:06}"));
                }
                text.into()
            }
            Some(Value::Time(negative, days, h, mi, s, _)) => {
                format!("{}{}:{mi:02}:{s:02}", if *negative { "-" } else { "" }, days * 24 + u32::from(*h)).into()
            }
        };
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(&serde_json::to_string(column.name_str().as_ref())?);
        text.push_str(": ");
        text.push_str(&serde_json::to_string(&value)?);
    }
    text.push('}');
    RawValue::from_string(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redacted("mysql://pinpipe:s3cret@127.0.0.1:3306/pinterest"),
            "mysql://pinpipe:***@127.0.0.1:3306/pinterest"
        );
        assert_eq!(redacted("mysql://u:p@ss:w0rd@db/x?a=b"), "mysql://u:***@db/x?a=b");
        assert_eq!(redacted("mysql://u:pa/ss@db/x"), "mysql://u:***@db/x");
        assert_eq!(redacted("mysql://pinpipe@db/pinterest"), "mysql://pinpipe@db/pinterest");
        assert_eq!(redacted("mysql://db/pinterest"), "mysql://db/pinterest");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn a_creds_file_like_the_original_is_read() {
        let path = std::env::temp_dir().join(format!("pinpipe-creds-{}.yaml", std::process::id()));
        std::fs::write(&path, "HOST: 127.0.0.1\nPASSWORD: 'p:w'\nUSER: pin\nDATABASE: pinterest_data\nPORT: 3306\n")
            .unwrap();
        let credentials = Credentials::from_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(credentials.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(credentials.password.as_deref(), Some("p:w"));
        assert_eq!(credentials.port, Some(3306));
        let bad = std::env::temp_dir().join(format!("pinpipe-creds-bad-{}.yaml", std::process::id()));
        std::fs::write(&bad, "HOST 127.0.0.1\n").unwrap();
        let error = Credentials::from_file(&bad).unwrap_err().to_string();
        std::fs::remove_file(&bad).unwrap();
        assert!(error.contains("line 1 is not `KEY: value`"), "{error}");
    }
}
