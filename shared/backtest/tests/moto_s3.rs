//! The backtest against S3 (moto): the same archive read from a bucket gives the local run's
//! summary; the date filter leaves objects unfetched (GETs counted at moto's recorder); the
//! Lambda's batches write partials whose merge is the CLI's summary; and a few thousand
//! objects read with bounded concurrency.

mod fixture;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use fixture::*;
use serde_json::{json, Value};
use trailguard_backtest::run::{self, Options};
use trailguard_backtest::{lambda, merge_partials, source, Engine, Filters, Summary};
use trailguard_rules::Policy;

async fn s3() -> aws_sdk_s3::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "this test needs moto server on 127.0.0.1: run it through bash scripts/test.sh (AWS_ENDPOINT_URL is `{endpoint}`)"
    );
    let sdk = trailguard_aws::sdk_config().await;
    source::s3_client(&sdk)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Upload every file under `root` with its relative path as the key.
async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, root: &Path) -> Vec<String> {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut keys = vec![];
    for f in source::local_files(&[root.to_path_buf()]).unwrap() {
        let key = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(std::fs::read(&f).unwrap().into())
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    keys
}

/// The summary with skipped objects named by their key (a path locally, a URL on S3).
fn by_key(mut s: Summary, prefix: &str) -> Summary {
    for k in &mut s.skipped_objects {
        k.object = k
            .object
            .trim_start_matches(prefix)
            .trim_start_matches('/')
            .to_string();
    }
    s.skipped_objects.sort();
    s
}

fn local(root: &Path, filters: Filters) -> Summary {
    let engine = Engine::new(Policy::default(), filters).unwrap();
    let files = source::local_files(&[root.to_path_buf()]).unwrap();
    by_key(
        run::local(&engine, &files, &Options::default()),
        &root.display().to_string(),
    )
}

async fn remote(s3: &aws_sdk_s3::Client, bucket: &str, filters: Filters) -> Summary {
    let engine = Arc::new(Engine::new(Policy::default(), filters).unwrap());
    let keys: Vec<String> = source::s3_keys(s3, bucket, "")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let s = run::s3(
        engine,
        s3,
        bucket,
        &keys,
        Arc::new(Options {
            fetches: 4,
            ..Options::default()
        }),
    )
    .await;
    by_key(s, &format!("s3://{bucket}"))
}

/// moto's API over loopback: (status line, body).
fn moto_api(method: &str, path: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let host = endpoint.trim_start_matches("http://");
    let mut c = TcpStream::connect(host).unwrap();
    write!(c, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn s3_and_local_runs_agree_and_filters_fetch_nothing_they_skip() {
    let s3 = s3().await;
    let root = fixture::root();
    archive(&root);
    let bucket = unique("archive");
    let keys = upload(&s3, &bucket, &root).await;
    assert_eq!(keys.len(), 16);

    let all = remote(&s3, &bucket, Filters::default()).await;
    assert_eq!(all, local(&root, Filters::default()));
    assert_eq!(all.count("revert-security-group", "remediate"), 13);

    // With --since, the first day's objects are listed but never fetched.
    moto_api("POST", "/moto-api/recorder/reset-recording");
    moto_api("POST", "/moto-api/recorder/start-recording");
    let since = Filters {
        since: Some("2026-08-02".into()),
        ..Filters::default()
    };
    let s = remote(&s3, &bucket, since.clone()).await;
    moto_api("POST", "/moto-api/recorder/stop-recording");
    assert_eq!(s, local(&root, since));
    let gets: Vec<String> = moto_api("GET", "/moto-api/recorder/download-recording")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let url = v["url"].as_str().unwrap_or_default();
            let object_get = v["method"] == "GET"
                && url.contains(&format!("/{bucket}/"))
                && !url.contains("list-type");
            object_get.then(|| url.to_string())
        })
        .collect();
    // 16 objects: the digest and the 5 first-day objects are never fetched. The summary
    // equal to the local run's shows the other 10 were read; moto's recorder can miss an
    // entry when requests come at once (seen once in CI: 9 of the 10 recorded), so the
    // recording is held to what it must not contain.
    assert!((1..=10).contains(&gets.len()), "{gets:#?}");
    assert!(
        gets.iter()
            .all(|p| !p.contains("/2026/08/01/") && !p.contains("Digest")),
        "{gets:#?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn lambda_batches_write_partials_whose_merge_is_the_cli_summary() {
    let s3 = s3().await;
    let root = fixture::root();
    archive(&root);
    let (bucket, results) = (unique("archive"), unique("results"));
    let keys = upload(&s3, &bucket, &root).await;
    s3.create_bucket().bucket(&results).send().await.unwrap();
    let policy = Policy::default();
    let output = format!("s3://{results}/runs/test/");
    // Three batches, as the Distributed Map's ItemBatcher sends them; the second one twice
    // (a retried batch overwrites its partial).
    let batches: Vec<&[String]> = keys.chunks(6).collect();
    for (i, b) in batches.iter().enumerate() {
        let items: Vec<Value> = b.iter().map(|k| json!({"Key": k, "Size": 1})).collect();
        let req = json!({"Items": items, "BatchInput": {"bucket": bucket, "output": output}});
        let out = lambda::handle(&s3, &policy, req.clone()).await.unwrap();
        assert!(
            out["written"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{output}partials/partial-")),
            "{out}"
        );
        if i == 1 {
            lambda::handle(&s3, &policy, req).await.unwrap();
        }
    }
    let merged = lambda::handle(&s3, &policy, json!({"merge": output}))
        .await
        .unwrap();
    assert_eq!(merged["partials"], batches.len());
    let (from_partials, _) = merge_partials(&s3, &results, "runs/test/partials/")
        .await
        .unwrap();
    assert_eq!(
        by_key(from_partials.clone(), &format!("s3://{bucket}")),
        local(&root, Filters::default())
    );
    // summary.json is that summary; summary.md and summary.html render it.
    let written = source::s3_get(&s3, &results, "runs/test/summary.json")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Summary>(&written).unwrap(),
        from_partials
    );
    let md = String::from_utf8(
        source::s3_get(&s3, &results, "runs/test/summary.md")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        md.contains("| `revert-security-group` | 13 | 0 | 0 |"),
        "{md}"
    );
    // summary.html is that summary's page.
    let page = source::s3_get(&s3, &results, "runs/test/summary.html")
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(page).unwrap(),
        trailguard_backtest::html::html(&from_partials)
    );
    // A request that is neither is an error that says so.
    let e = lambda::handle(&s3, &policy, json!({"hello": 1}))
        .await
        .unwrap_err();
    assert!(e.contains("not a backtest batch or merge request"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_few_thousand_objects() {
    let s3 = s3().await;
    let bucket = unique("many");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let records = file_records(ACCOUNTS[0], REGIONS[0], DAYS[0]);
    let body = json!({"Records": records}).to_string();
    let n = 2000;
    let mut keys = vec![];
    for i in 0..n {
        let key = key(
            ACCOUNTS[i % 2],
            REGIONS[(i / 2) % 2],
            DAYS[i % 3],
            &format!("f{i:05}.json"),
        );
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    let listed = source::s3_keys(&s3, &bucket, "AWSLogs/").await.unwrap();
    assert_eq!(listed.len(), n, "listing pages through every key");
    let s = remote(&s3, &bucket, Filters::default()).await;
    assert_eq!(
        (s.objects, s.records, s.skipped),
        (n as u64, 6 * n as u64, 0)
    );
    assert_eq!(s.count("revert-security-group", "remediate"), n as u64);
}
