//! `pinpipe demo [--posts N] [--lake DIR]` (SPEC §8): the whole system on the embedded
//! default. Generated posts go through the ingest handler on both paths; in-process
//! streams and topics carry them, as the Lambda event types, to the stream cleaner and
//! the batch sink (in batches, some redelivered); then the daily job answers the eight
//! questions. With `AWS_ENDPOINT_URL` (or real AWS credentials and `--streams kinesis`)
//! and `PINPIPE_KAFKA_BOOTSTRAP` the same steps run against real Kinesis and Kafka.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lambda_events::event::kafka::KafkaEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe::Kind;
use pinpipe::analytics::report;
use pinpipe::config::{self, Config, Names};
use pinpipe::deployment::Deployment;
use pinpipe::ingest::Ingest;
use pinpipe::ingest::kafka::KafkaProducer;
use pinpipe::ingest::services::{ServiceError, StreamService};
use pinpipe::lake::Lake;
use pinpipe::maintenance::{self, Retention};
use pinpipe::metrics::in_process::InProcessMetrics;
use pinpipe::metrics::store::MetricsStore;
use pinpipe::metrics::writer::{MetricsCounts, MetricsWriter};
use pinpipe::metrics::{Dimension, Series, Window, totals};
use pinpipe::record::generate::{GenerateOptions, Generator, Post};
use pinpipe::sink::{BatchSink, SinkCounts};
use pinpipe::stream::{StreamCleaner, StreamCounts};
use pinpipe_local::embedded::{InProcessStreams, InProcessTopics};
use pinpipe_local::emulator::{InProcessApi, Mode, Tally, request_for};
use pinpipe_local::kafka_poller::KafkaPoller;
use pinpipe_local::kinesis_poller::KinesisPoller;
use pinpipe_local::polling::{BatchSource, Mapping, Round};

use crate::drive::drain;
use serde_json::value::RawValue;

#[derive(clap::Args)]
pub struct Args {
    /// How many posts (each a pin, a geo and a user record), with the original emulator's re-sends.
    #[arg(long, default_value_t = 2_000)]
    posts: u64,
    #[command(flatten)]
    config: Config,
    #[arg(long, default_value_t = 42, env = "PINPIPE_SEED")]
    seed: u64,
    /// Where the streams are: in-process, or Kinesis (default when AWS_ENDPOINT_URL is set).
    #[arg(long, value_enum)]
    streams: Option<Backend>,
    /// Where the topics are: in-process, or Kafka at PINPIPE_KAFKA_BOOTSTRAP (default when set).
    #[arg(long, value_enum)]
    topics: Option<Backend>,
    /// Shards per in-process stream.
    #[arg(long, default_value_t = 2)]
    shards: i32,
    /// Partitions per topic.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Records per invocation, as the event source mappings' BatchSize.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// In-process only: every Nth batch is delivered again after it succeeded (0: never).
    #[arg(long, default_value_t = 4)]
    redeliver_every: usize,
    /// The daily job's run date (default: today, UTC).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Table maintenance during the run: after every N stream-cleaner invocations of a
    /// table (0: only at the end). The default, 360, is what the 15-minute schedule
    /// sees of a table fed by two busy shards at the 5 s batching window: a writer's
    /// commit costs more with every small file added since the last compaction.
    #[arg(long, default_value_t = 360)]
    maintain_every: u64,
    /// Print every row of the eight answers (by default: the counts and each answer's first rows).
    #[arg(long)]
    full: bool,
    /// Write what each step used — lake requests by kind, invocations, time — as JSON
    /// to this file (infra/bench/cost.sh prices it).
    #[arg(long)]
    usage: Option<std::path::PathBuf>,
}

/// What one step of the run used (the cost bench's input).
#[derive(Debug, Default, serde::Serialize)]
struct StepUsage {
    step: &'static str,
    /// Lambda invocations (ingest: one per request, as the original emulator sends).
    invocations: u64,
    records: u64,
    gets: u64,
    puts: u64,
    lists: u64,
    /// Deletes and copies.
    others: u64,
    seconds: f64,
}

/// Lake requests and time per step.
struct Meter {
    counts: std::sync::Arc<pinpipe_local::counting::Counts>,
    since: Instant,
    steps: Vec<StepUsage>,
}

impl Meter {
    fn step(&mut self, step: &'static str, invocations: u64, records: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        let c = &self.counts;
        self.steps.push(StepUsage {
            step,
            invocations,
            records,
            gets: c.gets.load(SeqCst),
            puts: c.puts.load(SeqCst),
            lists: c.lists.load(SeqCst),
            others: c.others.load(SeqCst),
            seconds: self.since.elapsed().as_secs_f64(),
        });
        c.reset();
        self.since = Instant::now();
    }
}

/// Rows of each answer the summary prints.
const SUMMARY_ROWS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// In this process (the embedded default).
    Embedded,
    /// The real service: Kinesis through the AWS SDK, or Kafka.
    Real,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!("{{spinner}} {what:<28} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}}"))
            .expect("a valid template")
            .progress_chars("=> "),
    )
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let names = args.config.names();
    let counts = std::sync::Arc::new(pinpipe_local::counting::Counts::default());
    let lake = Lake::open(&args.config.lake)?
        .with_store_layer(|inner| pinpipe_local::counting::CountingStore::wrap(inner, counts.clone()));
    let mut meter = Meter { counts, since: Instant::now(), steps: Vec::new() };
    let services = Services::open(&args).await?;
    eprintln!(
        "streams: {}; topics: {}; lake: {}",
        if services.kinesis.is_some() { "Kinesis (AWS SDK)" } else { "in-process" },
        if services.kafka.is_some() { "Kafka" } else { "in-process" },
        lake.root()
    );
    let earlier_run =
        !(services.kinesis.is_some() && services.kafka.is_some()) && holds_earlier_run(&lake, names).await?;
    if earlier_run {
        eprintln!(
            "note: this lake holds an earlier run. In-process streams and topics start again at the same \
             sequence numbers and offsets: with the same flags the cleaner and the sink take their records as \
             already landed (exactly once) and the answers are the earlier run's; with other flags the sink \
             refuses records that differ from what it landed at their offsets (as for a recreated topic). \
             Pass a fresh --lake to start over."
        );
    }

    // 1. Posts through the ingest handler, as the original emulator sends them, on both paths.
    meter.since = Instant::now();
    let tallies = send_posts(&args, &services).await;
    let requests: u64 = tallies.iter().map(|t| t.accepted_total() + t.rejected_total()).sum();
    meter.step("ingest", requests, requests);
    // 2. The stream cleaner over each stream, the batch sink over each topic.
    let retention = Retention::from_config(&args.config)?;
    let streamed = clean_streams(&args, &services, &lake, retention).await?;
    meter.step("stream-cleaner", streamed.deliveries.invocations as u64, streamed.deliveries.records as u64);
    let metrics = InProcessMetrics::new();
    let counted = count_metrics(&args, &services, &metrics).await?;
    meter.step("stream-metrics", counted.invocations as u64, counted.records as u64);
    let sunk = sink_topics(&args, &services, &lake).await?;
    meter.step("batch-sink", sunk.deliveries.invocations as u64, sunk.deliveries.records as u64);
    eprintln!(
        "deliveries: {} invocations, {} failed, {} batches delivered again after they succeeded",
        streamed.deliveries.invocations + sunk.deliveries.invocations,
        streamed.deliveries.failed_invocations + sunk.deliveries.failed_invocations,
        streamed.redelivered + sunk.redelivered
    );
    if sunk.counts.failed > 0 && earlier_run {
        anyhow::bail!(
            "the batch sink refused {} records: this lake holds an earlier run with other records at the same \
             offsets. Pass a fresh --lake.",
            sunk.counts.failed
        );
    }

    // 3. The daily job: bronze → silver → the eight answers.
    let spinner = ProgressBar::new_spinner().with_message("daily job: bronze → silver → eight answers");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let date = args.date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let job = Deployment::new(args.config.clone())?.with_lake(lake.clone()).daily_job();
    let run = job.run(date).await.context("running the daily job")?;
    spinner.finish_and_clear();
    for (question, frame) in &run.answers {
        println!("## {}\n", question.title());
        if args.full || frame.height() <= SUMMARY_ROWS {
            println!("{}", report::table(frame));
        } else {
            println!(
                "{}… {} more rows (--full prints them; report.html charts them)\n",
                report::table(&frame.head(Some(SUMMARY_ROWS))),
                frame.height() - SUMMARY_ROWS
            );
        }
    }
    let totals = run.totals();
    meter.step("daily-analytics", 1, totals.rows_cleaned);
    eprintln!("daily job: {totals}");

    // 4. Table maintenance, as the scheduled table-maintenance function runs it.
    let spinner = ProgressBar::new_spinner().with_message("table maintenance");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let reports =
        maintenance::maintain_all(&lake, names, retention).await.into_result().context("maintaining the tables")?;
    spinner.finish_and_clear();
    meter.step("table-maintenance", 1, reports.len() as u64);
    if let Some(path) = &args.usage {
        let usage = serde_json::json!({ "posts": args.posts, "batch_size": args.batch_size, "steps": meter.steps });
        std::fs::write(path, serde_json::to_vec_pretty(&usage)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "table maintenance (log retention {} days, vacuum retention {} days):\n{}",
        args.config.log_retention_days,
        args.config.vacuum_retention_days,
        maintenance::render(&reports)
    );
    for kind in Kind::ALL {
        eprintln!("stream table: {}", lake.url(&names.stream_table(kind)));
    }
    eprintln!("bronze:       {}", lake.url("topics/"));
    let shown = pinpipe::analytics::output::date_prefix(date);
    eprintln!("answers:      {} (this run: {})", lake.url(&shown), lake.url(&run.output_prefix));
    eprintln!("report:       {}report.html (and report.md beside it)", lake.url(&shown));
    eprintln!("demo finished in {:.1?}", started.elapsed());
    let rejected: u64 = tallies.iter().map(Tally::rejected_total).sum();
    anyhow::ensure!(rejected == 0, "ingest rejected {rejected} generated records (see above)");
    Ok(())
}

/// The services ingest writes to and the event sources read back: the real Kinesis
/// and Kafka of SPEC §10's variables, or in-process ones (the embedded default).
struct Services {
    kinesis: Option<aws_sdk_kinesis::Client>,
    kafka: Option<(Arc<KafkaProducer>, String)>,
    in_process_streams: InProcessStreams,
    in_process_topics: InProcessTopics,
    ingest: Ingest,
}

impl Services {
    /// Connects (or makes the in-process ones) and creates the deployment's streams and topics.
    async fn open(args: &Args) -> anyhow::Result<Self> {
        let names = args.config.names();
        let real_streams = args.streams.map_or(config::aws_endpoint("KINESIS").is_some(), |b| b == Backend::Real);
        let bootstrap = args.config.kafka_bootstrap.clone();
        let real_topics = args.topics.map_or(bootstrap.is_some(), |b| b == Backend::Real);
        let in_process_streams = InProcessStreams::new();
        let in_process_topics = InProcessTopics::new();
        let kinesis = if real_streams {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Some(aws_sdk_kinesis::Client::new(&aws))
        } else {
            None
        };
        let kafka = if real_topics {
            let bootstrap = bootstrap.context("--topics real needs PINPIPE_KAFKA_BOOTSTRAP")?;
            let producer =
                KafkaProducer::connect(&bootstrap).await.with_context(|| format!("connecting to {bootstrap}"))?;
            Some((Arc::new(producer), bootstrap))
        } else {
            None
        };
        let ingest = match &kinesis {
            Some(client) => Ingest::new(client.clone()),
            None => Ingest::new(in_process_streams.clone()),
        };
        let ingest = match &kafka {
            Some((producer, _)) => ingest.with_kafka(producer.clone()),
            None => ingest.with_kafka(Arc::new(in_process_topics.clone())),
        };
        for kind in Kind::ALL {
            let stream = names.stream(kind);
            match &kinesis {
                Some(client) => ensure_stream(client, &stream, args.shards).await?,
                None => ensure_stream(&in_process_streams, &stream, args.shards).await?,
            }
            match &kafka {
                Some((producer, _)) => producer.ensure_topic(&names.topic(kind), args.partitions).await?,
                None => in_process_topics.create_topic(&names.topic(kind), args.partitions),
            }
        }
        Ok(Services { kinesis, kafka, in_process_streams, in_process_topics, ingest })
    }
}

/// Every generated post through the ingest handler, on the stream path and then the
/// batch path; each path's tally.
async fn send_posts(args: &Args, services: &Services) -> Vec<Tally> {
    let names = args.config.names();
    let generator = Generator::new(GenerateOptions { posts: args.posts, seed: args.seed, resend: true });
    let api = InProcessApi(services.ingest.clone());
    let mut tallies = Vec::new();
    for mode in [Mode::Stream, Mode::Batch] {
        let progress =
            bar(args.posts, &format!("ingest, {} path", if mode == Mode::Stream { "stream" } else { "batch" }));
        let mut tally = Tally::default();
        for post in generator.posts() {
            send_post(&api, mode, names, &post, &mut tally).await;
            progress.inc(1);
        }
        progress.finish_and_clear();
        eprintln!("ingest ({mode:?}): {tally}");
        tallies.push(tally);
    }
    tallies
}

/// What draining one path's event sources did.
struct Drained<C> {
    deliveries: Round,
    counts: C,
    redelivered: usize,
}

/// Drains one event source into `handle`, counting new records on `progress`; in
/// process, every `redeliver_every`th batch that succeeded is delivered again.
async fn drain_source<S, C, H, Fut>(
    mapping: Mapping<S>,
    redeliver_every: usize,
    handle: H,
    progress: &ProgressBar,
) -> anyhow::Result<Drained<C>>
where
    S: BatchSource,
    S::Error: std::error::Error + Send + Sync + 'static,
    C: crate::drive::Counts + NewRecords,
    H: Fn(S::Event) -> Fut,
    Fut: Future<Output = (S::Response, C)>,
{
    let mut mapping = if redeliver_every > 0 { mapping.redelivering_every(redeliver_every) } else { mapping };
    let (deliveries, counts) = drain(&mut mapping, handle, |c: &C| progress.inc(c.new_records())).await?;
    Ok(Drained { deliveries, counts, redelivered: mapping.redelivered() })
}

/// Drains one stream into `handle`: through the Kinesis poller (real streams) or the
/// in-process one (with its redeliveries).
async fn drain_stream<C, H, Fut>(
    args: &Args,
    services: &Services,
    stream: &str,
    handle: H,
    progress: &ProgressBar,
) -> anyhow::Result<Drained<C>>
where
    C: crate::drive::Counts + NewRecords,
    H: Fn(KinesisEvent) -> Fut,
    Fut: Future<Output = (KinesisEventResponse, C)>,
{
    match &services.kinesis {
        Some(client) => {
            let mapping = KinesisPoller::new(client.clone(), stream, args.batch_size as i32).await?;
            drain_source(mapping, 0, handle, progress).await
        }
        None => {
            let mapping = services.in_process_streams.poller(stream, args.batch_size)?;
            drain_source(mapping, args.redeliver_every, handle, progress).await
        }
    }
}

/// The stream cleaner over each stream, with table maintenance every
/// `--maintain-every` invocations of a table, as the schedule would run it.
async fn clean_streams(
    args: &Args,
    services: &Services,
    lake: &Lake,
    retention: Retention,
) -> anyhow::Result<Drained<StreamCounts>> {
    let names = args.config.names();
    let mut cleaner = StreamCleaner::new(lake.clone(), args.config.id.clone());
    if let Some(client) = &services.kinesis {
        cleaner = cleaner.with_stream_creation(client.clone());
    }
    let progress = bar(args.posts * 3, "stream cleaner → Delta");
    let mut total = Drained { deliveries: Round::default(), counts: StreamCounts::default(), redelivered: 0 };
    let mut maintained = Vec::new();
    for kind in Kind::ALL {
        let stream = names.stream(kind);
        let invocations = std::cell::Cell::new(0u64);
        let maintenance_runs = std::cell::RefCell::new(Vec::new());
        let handle = |event: KinesisEvent| {
            let (cleaner, invocations, maintenance_runs) = (&cleaner, &invocations, &maintenance_runs);
            let every = args.maintain_every;
            async move {
                let answer = cleaner.handle(&event).await;
                invocations.set(invocations.get() + 1);
                if every > 0 && invocations.get() % every == 0 {
                    // As the schedule would, between two invocations of the table's writers.
                    let report = maintenance::maintain(lake, &names.stream_table(kind), kind, retention).await;
                    maintenance_runs.borrow_mut().push(report);
                }
                answer
            }
        };
        let drained = drain_stream(args, services, &stream, handle, &progress).await?;
        total.deliveries += drained.deliveries;
        total.counts += drained.counts;
        total.redelivered += drained.redelivered;
        for report in maintenance_runs.into_inner() {
            maintained.extend(report.context("maintaining a stream table during the run")?);
        }
    }
    progress.finish_and_clear();
    let counts = &total.counts;
    eprintln!("stream cleaner: {counts}");
    if !maintained.is_empty() {
        let totals = maintenance::Totals::of(&maintained);
        eprintln!(
            "maintenance during the run: {} runs (every {} invocations of a table), {} small files compacted",
            totals.tables, args.maintain_every, totals.files_compacted
        );
    }
    Ok(total)
}

/// The metrics writer over the pin and geo streams (its own mappings, as in the
/// template), into an in-process store; then the last hour's top profiles and
/// categories, as `GET /metrics/…/top?window=1h` answers them.
async fn count_metrics(args: &Args, services: &Services, store: &InProcessMetrics) -> anyhow::Result<Round> {
    let names = args.config.names();
    let writer = MetricsWriter::new(store.clone());
    let mut counts = MetricsCounts::default();
    let mut deliveries = Round::default();
    let progress = bar(args.posts * 2, "metrics writer → buckets");
    for kind in [Kind::Pin, Kind::Geo] {
        let stream = names.stream(kind);
        let handle = |event: KinesisEvent| {
            let writer = &writer;
            async move { writer.handle(&event).await }
        };
        let drained = drain_stream(args, services, &stream, handle, &progress).await?;
        counts += drained.counts;
        deliveries += drained.deliveries;
    }
    progress.finish_and_clear();
    eprintln!("metrics writer: {counts}");
    let now = chrono::Utc::now().timestamp_millis();
    let (first, last) = Window::Hour.buckets_at(now);
    for (dimension, what) in
        [(Dimension::Profile, "profiles by popularity"), (Dimension::Category, "categories by posts")]
    {
        let rows = store.buckets(&Series::Board(dimension, Window::Hour.resolution()), first, last).await?;
        let top = totals(rows, dimension == Dimension::Profile, 5);
        let listed: Vec<String> = top
            .iter()
            .map(|t| match t.popularity {
                Some(p) => format!("{} ({} posts, {:.1})", t.key, t.posts, p),
                None => format!("{} ({} posts)", t.key, t.posts),
            })
            .collect();
        eprintln!("last hour's top {what}: {}", listed.join("; "));
    }
    Ok(deliveries)
}

/// The batch sink over each topic.
async fn sink_topics(args: &Args, services: &Services, lake: &Lake) -> anyhow::Result<Drained<SinkCounts>> {
    let names = args.config.names();
    let sink = BatchSink::new(lake.clone());
    let progress = bar(args.posts * 3, "batch sink → bronze");
    let mut total = Drained { deliveries: Round::default(), counts: SinkCounts::default(), redelivered: 0 };
    for kind in Kind::ALL {
        let topic = names.topic(kind);
        let handle = |event: KafkaEvent| {
            let sink = &sink;
            async move { sink.handle(&event).await }
        };
        let drained = match &services.kafka {
            Some((_, bootstrap)) => {
                let mapping = KafkaPoller::new(bootstrap, &topic, args.batch_size).await?;
                drain_source(mapping, 0, handle, &progress).await?
            }
            None => {
                let mapping = services.in_process_topics.poller(&topic, args.batch_size)?;
                drain_source(mapping, args.redeliver_every, handle, &progress).await?
            }
        };
        total.deliveries += drained.deliveries;
        total.counts += drained.counts;
        total.redelivered += drained.redelivered;
    }
    progress.finish_and_clear();
    let counts = &total.counts;
    eprintln!("batch sink: {counts}");
    Ok(total)
}

/// One post: its pin, geo and user records, each in its own request.
async fn send_post(api: &InProcessApi, mode: Mode, names: Names<'_>, post: &Post, tally: &mut Tally) {
    use pinpipe_local::emulator::Api;
    for kind in Kind::ALL {
        let answer = match serde_json::from_str::<&RawValue>(post.record(kind)) {
            Ok(record) => api.send(request_for(mode, names, kind, record)).await,
            Err(e) => Err(pinpipe_local::emulator::TransportError(format!("generated record is not JSON: {e}"))),
        };
        tally.count(kind, answer);
    }
}

/// Whether an earlier run left stream tables or bronze objects for this id in the lake.
async fn holds_earlier_run(lake: &Lake, names: Names<'_>) -> anyhow::Result<bool> {
    use futures::StreamExt;
    for prefix in [format!("{}/", names.stream_table(Kind::Pin)), pinpipe::lake::bronze::kind_prefix(names, Kind::Pin)]
    {
        if lake.store().list(Some(&prefix.as_str().into())).next().await.transpose()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates the stream (Kinesis: waits until it is active) unless it exists.
async fn ensure_stream(streams: &dyn StreamService, name: &str, shards: i32) -> anyhow::Result<()> {
    match streams.create_stream(name, shards).await {
        Ok(()) => {}
        Err(ServiceError::InUse(_)) => {}
        Err(e) => return Err(e).with_context(|| format!("creating stream {name}")),
    }
    for _ in 0..120 {
        if streams.describe_stream(name).await.with_context(|| format!("describing {name}"))?.status == "ACTIVE" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("stream {name} did not become ACTIVE within a minute")
}

/// Records an invocation handled for the first time (not skipped as already done).
trait NewRecords {
    fn new_records(&self) -> u64;
}

impl NewRecords for StreamCounts {
    fn new_records(&self) -> u64 {
        self.rows_written + self.quarantined
    }
}

impl NewRecords for MetricsCounts {
    fn new_records(&self) -> u64 {
        self.records_counted + self.records_not_counted
    }
}

impl NewRecords for SinkCounts {
    fn new_records(&self) -> u64 {
        self.records_written + self.quarantined
    }
}
