//! The daily job's Athena engine (`PINPIPE_ANALYTICS_ENGINE=athena`) against moto's
//! Athena API, as far as it goes: moto keeps workgroups, named queries and query
//! executions (each moves QUEUED → RUNNING → SUCCEEDED as it is asked about) but runs
//! no SQL, so what is checked is what the job sends — the template's named queries,
//! unchanged, each unloaded under the run's prefix — and that it publishes one run.
//! The SQL itself is run on DuckDB against the Polars answers (`analytics.rs`); only a
//! real account runs it on Athena.

use chrono::Utc;
use futures::TryStreamExt;
use pinpipe::analytics::athena::{Athena, named_query, unload, workgroup};
use pinpipe::analytics::output::published;
use pinpipe::analytics::{AnalyticsError, DailyJob, Question};
use pinpipe::lake::Lake;
use pinpipe_tests::stack;

use crate::analytics::{land_as, samples};

/// The named query a deployment of the template declares for `question` (its
/// `QueryString`, `${DeploymentId}` filled in): read from template.yaml as written.
fn template_query(id: &str, question: Question) -> String {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let name = format!("Name: !Sub \"pinpipe-${{DeploymentId}}-{}\"", question.file_stem());
    let after_name = &template[template.find(&name).unwrap_or_else(|| panic!("no named query {name}"))..];
    let block = &after_name[after_name.find("QueryString: !Sub |\n").unwrap() + "QueryString: !Sub |\n".len()..];
    let lines: Vec<&str> = block
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with("        "))
        .map(|line| line.strip_prefix("        ").unwrap_or(line))
        .collect();
    lines.join("\n").trim_end().replace("${DeploymentId}", id) + "\n"
}

async fn athena() -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::new(&stack::aws_config().await)
}

/// A deployment's workgroup on moto, with the template's named queries when `declared`.
async fn deployment(client: &aws_sdk_athena::Client, id: &str, declared: bool) {
    client.create_work_group().name(workgroup(id)).send().await.unwrap_or_else(|e| {
        panic!("{}", stack::not_running("moto Athena", aws_sdk_athena::error::DisplayErrorContext(e)))
    });
    for question in Question::ALL.into_iter().filter(|_| declared) {
        client
            .create_named_query()
            .name(named_query(id, question))
            .database(format!("pinpipe_{id}"))
            .work_group(workgroup(id))
            .query_string(template_query(id, question))
            .send()
            .await
            .unwrap();
    }
}

async fn s3_lake_with_samples(id: &str) -> (Lake, String) {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("pinpipe-athena");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let lake = Lake::open(&format!("s3://{bucket}/lake")).unwrap();
    land_as(id, &lake, samples(), 40, 2, 0).await;
    (lake, bucket)
}

/// A deployment id of its own (the workgroup and named queries live as long as moto).
fn unique_id() -> String {
    stack::unique_name("ath").replace('-', "")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_job_on_athena_runs_the_templates_named_queries_and_publishes_one_run() {
    let client = athena().await;
    let id = unique_id();
    deployment(&client, &id, true).await;
    let (lake, bucket) = s3_lake_with_samples(&id).await;
    let today = Utc::now().date_naive();
    let job = DailyJob::new(lake.clone(), &id);
    let report = job
        .run_on_athena(today, &Athena::new(client.clone()).polling_every(std::time::Duration::from_millis(10)))
        .await
        .unwrap();

    // Bronze → silver ran here, as with Polars: every sample row, each kind.
    assert_eq!(report.totals().rows_cleaned, 720, "{:?}", report.totals());
    assert!(report.silver_versions.iter().all(|(_, version)| version.is_some()), "{:?}", report.silver_versions);

    // Each question: the template's named query, unchanged but for its comments,
    // unloaded as Parquet under the run's own prefix, in the deployment's workgroup
    // and database; moto reports each as SUCCEEDED only after it was asked about.
    assert_eq!(report.answers.len(), 9);
    for (question, answer) in Question::ALL.into_iter().zip(&report.answers) {
        let got = client.get_query_execution().query_execution_id(&answer.query_execution_id).send().await.unwrap();
        let execution = got.query_execution().unwrap();
        let location = format!("s3://{bucket}/lake/{}{}/", report.output_prefix, question.file_stem());
        assert_eq!(execution.query(), Some(unload(&template_query(&id, question), &location).as_str()));
        assert!(execution.query().unwrap().starts_with("UNLOAD (\nWITH pin_posts AS ("), "{question:?}");
        assert!(!execution.query().unwrap().contains("--"), "comments are left out: {question:?}");
        assert_eq!(execution.work_group(), Some(workgroup(&id).as_str()));
        assert_eq!(
            execution.query_execution_context().and_then(|c| c.database()),
            Some(format!("pinpipe_{id}").as_str())
        );
        assert_eq!(answer.output, format!("{}{}/", report.output_prefix, question.file_stem()));
    }

    // Published in one step, as a Polars run is: the pointer names this run and its report.
    let pointer = published(&lake, today).await.unwrap().expect("a published run");
    assert_eq!(pointer.run, report.run_id);
    assert_eq!(pointer.prefix, report.output_prefix);
    assert!(pointer.files.ends_with(&["report.md".to_owned(), "report.html".to_owned()]), "{:?}", pointer.files);
    // The pointer lists exactly the files the run wrote (moto's Athena writes no UNLOAD
    // output, so here the two reports; Athena's Parquet files are listed the same way), and
    // the date's folder shows exactly those.
    let listed = |prefix: String| {
        let lake = lake.clone();
        async move {
            let mut names: Vec<String> = lake
                .store()
                .list(Some(&object_store::path::Path::from(prefix.as_str())))
                .map_ok(|meta| meta.location.as_ref().strip_prefix(prefix.as_str()).unwrap().to_owned())
                .try_collect()
                .await
                .unwrap();
            names.sort();
            names
        }
    };
    let mut files = pointer.files.clone();
    files.sort();
    assert_eq!(listed(report.output_prefix.clone()).await, files, "{pointer:?}");
    files.push(pinpipe::analytics::output::POINTER.to_owned());
    files.sort();
    assert_eq!(listed(pinpipe::analytics::output::date_prefix(today)).await, files, "{pointer:?}");
    let markdown = lake.get(&format!("{}report.md", report.output_prefix)).await.unwrap().expect("report.md");
    let markdown = String::from_utf8(markdown.to_vec()).unwrap();
    for answer in &report.answers {
        assert!(markdown.contains(&answer.query_execution_id), "{markdown}");
    }
    let summary = report.summary();
    assert_eq!(summary["engine"], "athena");
    assert_eq!(summary["queries"].as_array().map(Vec::len), Some(9), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_athena_engine_refuses_what_it_cannot_answer_and_publishes_nothing() {
    let client = athena().await;
    let (id, undeclared) = (unique_id(), unique_id());
    deployment(&client, &id, true).await;
    deployment(&client, &undeclared, false).await;
    let athena = Athena::new(client.clone()).polling_every(std::time::Duration::from_millis(10));
    let today = Utc::now().date_naive();

    // A past date: Athena has no Delta time travel; the Polars engine answers it.
    let (lake, _) = s3_lake_with_samples(&id).await;
    let yesterday = today.pred_opt().unwrap();
    let error = DailyJob::new(lake.clone(), &id).run_on_athena(yesterday, &athena).await.unwrap_err();
    assert!(matches!(error, AnalyticsError::BadEvent(_)), "{error}");
    assert!(error.to_string().contains("PINPIPE_ANALYTICS_ENGINE=polars"), "{error}");
    assert!(published(&lake, yesterday).await.unwrap().is_none());

    // A local lake: Athena reads only S3.
    let local = Lake::open(pinpipe_tests::temp_lake("athena-local").to_str().unwrap()).unwrap();
    let error = DailyJob::new(local, &id).run_on_athena(today, &athena).await.unwrap_err();
    assert!(error.to_string().contains("s3://"), "{error}");

    // A deployment made without EnableAthena=true: its workgroup has no named queries.
    let (lake, _) = s3_lake_with_samples(&undeclared).await;
    let error = DailyJob::new(lake.clone(), &undeclared).run_on_athena(today, &athena).await.unwrap_err();
    let expected = named_query(&undeclared, Question::Q1);
    assert!(matches!(&error, AnalyticsError::QueryNotDeclared { name, .. } if *name == expected), "{error}");
    assert!(error.to_string().contains("EnableAthena=true"), "{error}");
    assert!(published(&lake, today).await.unwrap().is_none());
}
