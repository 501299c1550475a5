//! Where an archive's objects are: local files and directories, or an S3 prefix; and what
//! CloudTrail's layout says about each before it is read
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`, with `<org-id>/` after
//! `AWSLogs/` for organization trails), so filtered-out objects are never fetched.

use std::path::{Path, PathBuf};

use crate::engine::Filters;

/// What an object's key says about its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    pub account: String,
    pub region: String,
    /// `YYYY-MM-DD`.
    pub day: String,
}

/// The account, region and day of a key in CloudTrail's layout (None for other keys).
pub fn parse_key(key: &str) -> Option<KeyMeta> {
    let parts: Vec<&str> = key.split(['/', '\\']).collect();
    let i = parts.iter().position(|p| *p == "AWSLogs")?;
    let mut rest = &parts[i + 1..];
    if rest.first().is_some_and(|p| p.starts_with("o-")) {
        rest = &rest[1..];
    }
    match rest {
        [account, "CloudTrail", region, y, m, d, _file, ..]
            if account.len() == 12 && y.len() == 4 && m.len() == 2 && d.len() == 2 =>
        {
            Some(KeyMeta {
                account: account.to_string(),
                region: region.to_string(),
                day: format!("{y}-{m}-{d}"),
            })
        }
        _ => None,
    }
}

/// Whether CloudTrail's layout puts the object outside the filters (an object outside the
/// layout is always read; its records are filtered one by one).
pub fn filtered_out(key: &str, f: &Filters) -> bool {
    parse_key(key)
        .is_some_and(|m| !(f.day_in(&m.day) && f.account_in(&m.account) && f.region_in(&m.region)))
}

/// Files that are not logs: CloudTrail's digest files (hash chains, no records).
pub fn not_a_log(key: &str) -> bool {
    key.split(['/', '\\']).any(|p| p == "CloudTrail-Digest")
}

/// Every file under the given paths (directories recursively), sorted.
pub fn local_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// An S3 client from the shared configuration; path-style when an endpoint is set (an
/// emulator answers only that).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty());
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

/// `s3://bucket/prefix` -> (bucket, prefix).
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

/// Every key under `prefix` in `bucket`, with its size, page by page.
pub async fn s3_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "listing s3://{bucket}/{prefix}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                )
            })?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                out.push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
            }
        }
        token = page.next_continuation_token().map(String::from);
        if token.is_none() || page.is_truncated() != Some(true) {
            break;
        }
    }
    Ok(out)
}

/// One object's bytes.
pub async fn s3_get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )
        })?;
    let body = out.body.collect().await.map_err(|e| e.to_string())?;
    Ok(body.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_keys_name_account_region_and_day() {
        let m = parse_key("logs/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/08/01/111122223333_CloudTrail_eu-west-1_20260801T0005Z_abc.json.gz").unwrap();
        assert_eq!(
            (m.account.as_str(), m.region.as_str(), m.day.as_str()),
            ("111122223333", "eu-west-1", "2026-08-01")
        );
        let org = parse_key(
            "AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/us-east-1/2026/11/30/f.json.gz",
        )
        .unwrap();
        assert_eq!(org.account, "444455556666");
        assert!(
            parse_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/08/01/d.json.gz")
                .is_none()
        );
        assert!(parse_key("some/other/file.json").is_none());
        assert!(not_a_log(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/08/01/d.json.gz"
        ));
        let f = Filters {
            since: Some("2026-08-02".into()),
            ..Filters::default()
        };
        assert!(filtered_out(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/08/01/f.json",
            &f
        ));
        assert!(!filtered_out(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/08/02/f.json",
            &f
        ));
        assert!(!filtered_out("elsewhere/f.json", &f));
        assert_eq!(
            parse_s3_url("s3://b/AWSLogs/"),
            Some(("b".into(), "AWSLogs/".into()))
        );
        assert_eq!(parse_s3_url("s3://b"), Some(("b".into(), "".into())));
        assert_eq!(parse_s3_url("/tmp/x"), None);
    }
}
