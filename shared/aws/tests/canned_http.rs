//! What real AWS answers and moto does not, through the real SDK clients: an HTTP client
//! that answers with canned responses, written as EC2 writes them, so the SDK's own
//! deserialisers, retries and error parsing run.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use trailguard_aws::attempts::{counted, AttemptCounter};
use trailguard_aws::{Change, Ec2Port, PortError};

/// Answers each request with the next canned (status, body); the last one repeats. Keeps
/// the bodies of the requests it was sent.
#[derive(Debug, Clone)]
struct Canned(Arc<Mutex<VecDeque<(u16, String)>>>, Arc<Mutex<Vec<String>>>);

impl Canned {
    fn new(answers: &[(u16, &str)]) -> Canned {
        Canned(
            Arc::new(Mutex::new(
                answers.iter().map(|(s, b)| (*s, b.to_string())).collect(),
            )),
            Arc::default(),
        )
    }
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.1.lock().unwrap().push(body);
        let mut q = self.0.lock().unwrap();
        let (status, body) = if q.len() > 1 {
            q.pop_front().unwrap()
        } else {
            q.front().cloned().unwrap()
        };
        let resp = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        HttpConnectorFuture::ready(Ok(resp))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn ec2(answers: &[(u16, &str)], retries: bool) -> aws_sdk_ec2::Client {
    ec2_seen(answers, retries).0
}

/// An EC2 client on canned answers, and the request bodies it sends.
fn ec2_seen(
    answers: &[(u16, &str)],
    retries: bool,
) -> (aws_sdk_ec2::Client, Arc<Mutex<Vec<String>>>) {
    let canned = Canned::new(answers);
    let seen = canned.1.clone();
    let retry = if retries {
        aws_sdk_ec2::config::retry::RetryConfig::standard()
            .with_initial_backoff(std::time::Duration::from_millis(1))
    } else {
        aws_sdk_ec2::config::retry::RetryConfig::disabled()
    };
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(retry)
        .http_client(canned)
        .interceptor(AttemptCounter)
        .build();
    (aws_sdk_ec2::Client::from_conf(conf), seen)
}

const REVOKED: &str = r#"<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return></RevokeSecurityGroupIngressResponse>"#;

const UNKNOWN: &str = r#"<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return><unknownIpPermissionSet><item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item></unknownIpPermissionSet></RevokeSecurityGroupIngressResponse>"#;

fn error(code: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code><Message>from the canned answer</Message></Error></Errors><RequestID>r</RequestID></Response>"#
    )
}

async fn revoke(c: &aws_sdk_ec2::Client) -> Result<Change, PortError> {
    c.revoke_rules("sg-1", false, &["sgr-1".to_string()]).await
}

#[tokio::test]
async fn unknown_ip_permissions_on_success_is_already_done() {
    // Real EC2 answers a revoke of rules that are not there with Return=true and lists them.
    let r = revoke(&ec2(&[(200, UNKNOWN)], false)).await.unwrap();
    assert!(matches!(r, Change::AlreadyDone(_)), "{r:?}");
    assert_eq!(
        revoke(&ec2(&[(200, REVOKED)], false)).await.unwrap(),
        Change::Done
    );
}

#[tokio::test]
async fn errors_are_classified_for_lambda() {
    for (status, code) in [
        (400, "InvalidPermission.NotFound"),
        (400, "InvalidSecurityGroupRuleId.NotFound"),
    ] {
        let r = revoke(&ec2(&[(status, &error(code))], false)).await;
        assert!(matches!(r, Ok(Change::AlreadyDone(_))), "{code}: {r:?}");
    }
    let r = revoke(&ec2(&[(503, &error("RequestLimitExceeded"))], false)).await;
    assert!(matches!(r, Err(PortError::Transient { .. })), "{r:?}");
    let r = revoke(&ec2(&[(403, &error("UnauthorizedOperation"))], false)).await;
    match r {
        Err(PortError::AccessDenied { iam_action, .. }) => {
            assert_eq!(iam_action, "ec2:RevokeSecurityGroupIngress")
        }
        other => panic!("{other:?}"),
    }
    let r = revoke(&ec2(&[(400, &error("InvalidParameterValue"))], false)).await;
    assert!(matches!(r, Err(PortError::Permanent { .. })), "{r:?}");
}

#[tokio::test]
async fn throttled_twice_then_done_counts_three_attempts() {
    let throttled = error("RequestLimitExceeded");
    let c = ec2(
        &[(503, &throttled), (503, &throttled), (200, REVOKED)],
        true,
    );
    let (r, attempts) = counted(revoke(&c)).await;
    assert_eq!(r.unwrap(), Change::Done);
    assert_eq!(attempts, 3);
}

/// moto 5.2.5 has no snapshot or image block public access: the answers EC2 writes.
fn answer(op: &str, inner: &str) -> String {
    format!(
        r#"<{op}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{op}Response>"#
    )
}

#[tokio::test]
async fn the_snapshot_block_is_read_then_put_back_and_never_loosened() {
    let get = answer(
        "GetSnapshotBlockPublicAccessState",
        "<state>unblocked</state><managedBy>account</managedBy>",
    );
    let put = answer(
        "EnableSnapshotBlockPublicAccess",
        "<state>block-all-sharing</state>",
    );
    let (c, seen) = ec2_seen(&[(200, &get), (200, &put)], false);
    let r = Ec2Port::enable_snapshot_block_public_access(&c, "block-all-sharing").await;
    assert_eq!(r, Ok(Change::Removed(vec!["unblocked".into()])));
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[0].contains("Action=GetSnapshotBlockPublicAccessState"),
        "{bodies:?}"
    );
    assert!(
        bodies[1].contains("Action=EnableSnapshotBlockPublicAccess")
            && bodies[1].contains("State=block-all-sharing"),
        "{bodies:?}"
    );

    // Stricter than asked: left as it is, nothing written.
    let get = answer(
        "GetSnapshotBlockPublicAccessState",
        "<state>block-all-sharing</state>",
    );
    let (c, seen) = ec2_seen(&[(200, &get)], false);
    let r = Ec2Port::enable_snapshot_block_public_access(&c, "block-new-sharing").await;
    assert!(matches!(r, Ok(Change::AlreadyDone(_))), "{r:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_image_block_is_read_then_put_back() {
    let get = answer(
        "GetImageBlockPublicAccessState",
        "<imageBlockPublicAccessState>unblocked</imageBlockPublicAccessState><managedBy>account</managedBy>",
    );
    let put = answer(
        "EnableImageBlockPublicAccess",
        "<imageBlockPublicAccessState>block-new-sharing</imageBlockPublicAccessState>",
    );
    let (c, seen) = ec2_seen(&[(200, &get), (200, &put)], false);
    assert_eq!(
        Ec2Port::enable_image_block_public_access(&c).await,
        Ok(Change::Done)
    );
    let bodies = seen.lock().unwrap().clone();
    assert!(
        bodies[1].contains("Action=EnableImageBlockPublicAccess")
            && bodies[1].contains("ImageBlockPublicAccessState=block-new-sharing"),
        "{bodies:?}"
    );

    let get = answer(
        "GetImageBlockPublicAccessState",
        "<imageBlockPublicAccessState>block-new-sharing</imageBlockPublicAccessState>",
    );
    let (c, seen) = ec2_seen(&[(200, &get)], false);
    assert!(matches!(
        Ec2Port::enable_image_block_public_access(&c).await,
        Ok(Change::AlreadyDone(_))
    ));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_imds_default_is_read_then_required_and_the_state_before_kept() {
    // moto 5.2.5 has no instance metadata defaults: EC2's answers.
    let get = answer(
        "GetInstanceMetadataDefaults",
        "<accountLevel><httpTokens>optional</httpTokens></accountLevel>",
    );
    let put = answer("ModifyInstanceMetadataDefaults", "<return>true</return>");
    let (c, seen) = ec2_seen(&[(200, &get), (200, &put)], false);
    assert_eq!(
        Ec2Port::require_imdsv2_default(&c).await,
        Ok(Change::Removed(vec!["optional".into()]))
    );
    let bodies = seen.lock().unwrap().clone();
    assert!(
        bodies[1].contains("Action=ModifyInstanceMetadataDefaults")
            && bodies[1].contains("HttpTokens=required"),
        "{bodies:?}"
    );

    let get = answer(
        "GetInstanceMetadataDefaults",
        "<accountLevel><httpTokens>required</httpTokens></accountLevel>",
    );
    let (c, seen) = ec2_seen(&[(200, &get)], false);
    assert!(matches!(
        Ec2Port::require_imdsv2_default(&c).await,
        Ok(Change::AlreadyDone(_))
    ));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_sweep_reads_each_ec2_default_and_skips_one_the_region_does_not_know() {
    let ebs = answer(
        "GetEbsEncryptionByDefault",
        "<ebsEncryptionByDefault>false</ebsEncryptionByDefault><sseType>sse-ebs</sseType>",
    );
    let snapshots = answer(
        "GetSnapshotBlockPublicAccessState",
        "<state>block-new-sharing</state><managedBy>account</managedBy>",
    );
    let (c, seen) = ec2_seen(
        &[
            (200, &ebs),
            (200, &snapshots),
            (400, &error("InvalidAction")),
        ],
        false,
    );
    let d = Ec2Port::ec2_defaults(&c, "123456789012", "ap-south-2")
        .await
        .unwrap();
    assert_eq!(
        (
            d.ebs_encryption_by_default,
            d.snapshot_block_public_access.as_deref(),
            d.image_block_public_access.as_deref()
        ),
        (Some(false), Some("block-new-sharing"), None)
    );
    let bodies = seen.lock().unwrap().clone();
    assert!(
        bodies[2].contains("Action=GetImageBlockPublicAccessState"),
        "{bodies:?}"
    );
    // Refused for another reason: the sweep's listing fails, and says which call.
    let (c, _) = ec2_seen(&[(403, &error("UnauthorizedOperation"))], false);
    let e = Ec2Port::ec2_defaults(&c, "123456789012", "us-east-1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("GetEbsEncryptionByDefault"), "{e}");
}

/// `trailguard undo`'s port with its EC2 client on canned answers (the other clients are
/// never called by an EC2 reversal).
fn undo_port(answers: &[(u16, &str)]) -> (trailguard_aws::undo::SdkUndo, Arc<Mutex<Vec<String>>>) {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    let (ec2, seen) = ec2_seen(answers, false);
    let mut port = trailguard_aws::undo::SdkUndo::new(&sdk);
    port.ec2 = ec2;
    (port, seen)
}

/// Each account-level EC2 guardrail's undo: as trailguard left it, the state read before is
/// written back with the call that writes it; as before already, nothing is written; changed
/// otherwise, refused.
#[tokio::test]
async fn an_ec2_guardrail_is_put_back_only_from_the_state_trailguard_left() {
    use trailguard_aws::undo::{Now, UndoPort};
    use trailguard_rules::undo::Reversal;
    let account = "123456789012".to_string();
    let snapshot_state = |s: &str| {
        answer(
            "GetSnapshotBlockPublicAccessState",
            &format!("<state>{s}</state><managedBy>account</managedBy>"),
        )
    };
    let to_new = Reversal::RestoreSnapshotBlockPublicAccess {
        account_id: account.clone(),
        previous: "block-new-sharing".into(),
        left: "block-all-sharing".into(),
    };
    let to_unblocked = Reversal::RestoreSnapshotBlockPublicAccess {
        account_id: account.clone(),
        previous: "unblocked".into(),
        left: "block-new-sharing".into(),
    };
    let get = snapshot_state("block-all-sharing");
    let put = answer(
        "EnableSnapshotBlockPublicAccess",
        "<state>block-new-sharing</state>",
    );
    let (port, seen) = undo_port(&[(200, &get), (200, &put)]);
    assert_eq!(port.check(&to_new).await, Ok(Now::AsLeft));
    assert_eq!(port.run(&to_new).await, Ok(Change::Done));
    let bodies = seen.lock().unwrap().clone();
    assert!(
        bodies[1].contains("Action=EnableSnapshotBlockPublicAccess")
            && bodies[1].contains("State=block-new-sharing"),
        "{bodies:?}"
    );
    let get = snapshot_state("block-new-sharing");
    let put = answer(
        "DisableSnapshotBlockPublicAccess",
        "<state>unblocked</state>",
    );
    let (port, seen) = undo_port(&[(200, &get), (200, &put)]);
    assert_eq!(port.check(&to_unblocked).await, Ok(Now::AsLeft));
    assert_eq!(port.run(&to_unblocked).await, Ok(Change::Done));
    assert!(seen.lock().unwrap()[1].contains("Action=DisableSnapshotBlockPublicAccess"));
    // Back as before: nothing to run. Loosened further by someone: refused.
    let (port, _) = undo_port(&[(200, &snapshot_state("unblocked"))]);
    assert!(matches!(
        port.check(&to_unblocked).await,
        Ok(Now::AlreadyUndone(_))
    ));
    let (port, _) = undo_port(&[(200, &snapshot_state("unblocked"))]);
    assert!(matches!(port.check(&to_new).await, Ok(Now::Changed(_))));

    let image = Reversal::DisableImageBlockPublicAccess {
        account_id: account.clone(),
    };
    let image_state = |s: &str| {
        answer(
            "GetImageBlockPublicAccessState",
            &format!("<imageBlockPublicAccessState>{s}</imageBlockPublicAccessState>"),
        )
    };
    let get = image_state("block-new-sharing");
    let put = answer(
        "DisableImageBlockPublicAccess",
        "<imageBlockPublicAccessState>unblocked</imageBlockPublicAccessState>",
    );
    let (port, seen) = undo_port(&[(200, &get), (200, &put)]);
    assert_eq!(port.check(&image).await, Ok(Now::AsLeft));
    assert_eq!(port.run(&image).await, Ok(Change::Done));
    assert!(seen.lock().unwrap()[1].contains("Action=DisableImageBlockPublicAccess"));
    let (port, _) = undo_port(&[(200, &image_state("unblocked"))]);
    assert!(matches!(
        port.check(&image).await,
        Ok(Now::AlreadyUndone(_))
    ));

    let defaults = |tokens: &str| {
        answer(
            "GetInstanceMetadataDefaults",
            &format!("<accountLevel><httpTokens>{tokens}</httpTokens></accountLevel>"),
        )
    };
    let put = answer("ModifyInstanceMetadataDefaults", "<return>true</return>");
    for (previous, written) in [
        ("optional", "HttpTokens=optional"),
        ("", "HttpTokens=no-preference"),
    ] {
        let r = Reversal::RestoreImdsDefault {
            account_id: account.clone(),
            previous: previous.into(),
        };
        let (port, seen) = undo_port(&[(200, &defaults("required")), (200, &put)]);
        assert_eq!(port.check(&r).await, Ok(Now::AsLeft));
        assert_eq!(port.run(&r).await, Ok(Change::Done));
        let bodies = seen.lock().unwrap().clone();
        assert!(
            bodies[1].contains("Action=ModifyInstanceMetadataDefaults")
                && bodies[1].contains(written),
            "{bodies:?}"
        );
    }
    let optional = Reversal::RestoreImdsDefault {
        account_id: account.clone(),
        previous: "optional".into(),
    };
    let (port, _) = undo_port(&[(200, &defaults("optional"))]);
    assert!(matches!(
        port.check(&optional).await,
        Ok(Now::AlreadyUndone(_))
    ));
    // No preference now, where trailguard left required and found optional: changed since.
    let (port, _) = undo_port(&[(200, "<GetInstanceMetadataDefaultsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><accountLevel/></GetInstanceMetadataDefaultsResponse>")]);
    assert!(matches!(port.check(&optional).await, Ok(Now::Changed(_))));
    // A forged report's "before" is not written.
    let forged = Reversal::RestoreImdsDefault {
        account_id: account,
        previous: "anything".into(),
    };
    let (port, seen) = undo_port(&[(200, &put)]);
    assert!(port.run(&forged).await.is_err());
    assert!(seen.lock().unwrap().is_empty());
}

/// An S3 client on canned answers (path-style, as S3 answers any client), and the request
/// bodies it sends.
fn s3_seen(answers: &[(u16, &str)]) -> (aws_sdk_s3::Client, Arc<Mutex<Vec<String>>>) {
    let canned = Canned::new(answers);
    let seen = canned.1.clone();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .force_path_style(true)
        .http_client(canned)
        .build();
    (aws_sdk_s3::Client::from_conf(conf), seen)
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// An object's ACL as S3 writes it: the owner's full control, and everyone's READ.
fn public_object_acl() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>abc123</ID><DisplayName>owner</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc123</ID><DisplayName>owner</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#
    )
}

/// moto 5.2.5's PutObjectAcl reads only a canned ACL from the headers, never the ACL in the
/// body: what the remediation and its undo write into that body, on S3's own answers.
#[tokio::test]
async fn an_object_acl_is_written_without_the_public_grant_and_its_undo_writes_it_back() {
    use trailguard_aws::undo::UndoPort;
    use trailguard_aws::S3Port;
    let get = public_object_acl();
    let (s3, seen) = s3_seen(&[(200, &get), (200, "")]);
    let port = trailguard_aws::s3::S3 { s3 };
    let changed = S3Port::remove_object_acl_grants(
        &port,
        "reports",
        "exports/q3.csv",
        None,
        &[ALL_USERS.to_string()],
    )
    .await;
    let Ok(Change::Removed(before)) = changed else {
        panic!("the ACL before is kept: {changed:?}");
    };
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[1].contains("<ID>abc123</ID>")
            && bodies[1].contains("FULL_CONTROL")
            && !bodies[1].contains(ALL_USERS),
        "{bodies:?}"
    );

    // The undo, from the report's reversal: the ACL read before, written back whole.
    let action = trailguard_rules::Action::from(trailguard_rules::action::RemoveObjectAclGrants {
        bucket: "reports".into(),
        key: "exports/q3.csv".into(),
        version_id: None,
        groups: vec![ALL_USERS.into()],
        previous: None,
    })
    .narrowed(&before);
    let reversal = action.reversal(1).unwrap();
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    let (s3, seen) = s3_seen(&[(200, "")]);
    let mut undo = trailguard_aws::undo::SdkUndo::new(&sdk);
    undo.s3 = trailguard_aws::s3::S3 { s3 };
    assert_eq!(undo.run(&reversal).await, Ok(Change::Done));
    let body = seen.lock().unwrap()[0].clone();
    assert!(
        body.contains(&format!("<URI>{ALL_USERS}</URI>"))
            && body.contains(r#"xsi:type="Group""#)
            && body.contains("<Permission>READ</Permission>")
            && body.contains("<ID>abc123</ID>")
            && body.contains("<Permission>FULL_CONTROL</Permission>"),
        "{body}"
    );
}
