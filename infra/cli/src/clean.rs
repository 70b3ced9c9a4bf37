//! `pinpipe clean --kind pin|geo|user [--in FILE] [--out FILE]`

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use pinpipe::{Kind, clean_record};

#[derive(clap::Args)]
pub struct Args {
    /// Which record kind the input holds.
    #[arg(long)]
    kind: Kind,
    /// NDJSON input (standard input when absent).
    #[arg(long = "in")]
    input: Option<PathBuf>,
    /// Cleaned NDJSON output (standard output when absent).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = match &args.input {
        Some(path) => {
            Box::new(BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?))
        }
        None => Box::new(io::stdin().lock()),
    };
    let output: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut output = BufWriter::new(output);
    let mut stderr = io::stderr().lock();
    let (mut cleaned, mut quarantined) = (0u64, 0u64);
    for (number, line) in input.split(b'\n').enumerate() {
        let line = line.context("reading input")?;
        let record = line.strip_suffix(b"\r").unwrap_or(&line);
        if record.iter().all(u8::is_ascii_whitespace) {
            continue; // a blank line holds no record
        }
        match clean_record(args.kind, record) {
            Ok(row) => {
                serde_json::to_writer(&mut output, &row)?;
                output.write_all(b"\n")?;
                cleaned += 1;
            }
            Err(reason) => {
                quarantined += 1;
                writeln!(stderr, "quarantined line {} ({}): {reason}", number + 1, reason.code())?;
            }
        }
    }
    output.flush()?;
    writeln!(stderr, "{} records: {cleaned} rows cleaned, {quarantined} lines quarantined", args.kind)?;
    Ok(())
}
