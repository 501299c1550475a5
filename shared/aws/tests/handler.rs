//! Every branch of the handler, with recording fakes: which AWS calls are made, in which
//! order, and what the report, the notification and the error say.

mod fakes;

use fakes::Fake;
use serde_json::{json, Value};
use trailguard_aws::ports::TrailEvent;
use trailguard_aws::{process, Change, Deps, HandlerError, PortError, Settings};
use trailguard_rules::{GroupFacts, Guard, Policy};

const NOW: i64 = 1_795_000_000; // 2026-11-18T11:06:40Z

fn clock() -> i64 {
    NOW
}

fn sample(name: &str) -> Value {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn settings(guard: Guard, policy: &str) -> Settings {
    Settings {
        guard,
        policy: Policy::from_json(policy).unwrap(),
        own_role_arn: Some(
            "arn:aws:iam::123456789012:role/trailguard-RevertSecurityGroupRole-EXAMPLE".into(),
        ),
        topic_arn: Some("arn:aws:sns:us-east-1:123456789012:trailguard".into()),
        event_bus: None,
    }
}

fn deps<'a>(
    f: &'a Fake,
    guard: Guard,
    policy: &str,
) -> Deps<&'a Fake, &'a Fake, &'a Fake, &'a Fake> {
    Deps {
        ec2: f,
        iam: f,
        trail: f,
        notify: f,
        settings: settings(guard, policy),
        clock,
    }
}

async fn run(f: &Fake, guard: Guard, policy: &str, event: &str) -> Result<Value, HandlerError> {
    process(&deps(f, guard, policy), sample(event)).await
}

fn sg_fake() -> Fake {
    Fake {
        groups: vec![
            GroupFacts {
                group_id: "sg-0a1b2c3d4e5f60789".into(),
                group_name: Some("default".into()),
                tags: Default::default(),
            },
            GroupFacts {
                group_id: "sg-0b1a2c3d4e5f60718".into(),
                group_name: Some("db".into()),
                tags: [("trailguard:protected".to_string(), "true".to_string())].into(),
            },
        ],
        ..Fake::default()
    }
}

const NO_TAGS: &str = r#"{"exempt_tag": "", "protected_tag": ""}"#;

// ---- security groups ----

#[tokio::test]
async fn open_ssh_is_revoked_by_rule_id_after_one_tag_lookup() {
    let f = sg_fake();
    let r = run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeGroup(sg-0a1b2c3d4e5f60789)",
            "RevokeRules(sg-0a1b2c3d4e5f60789,ingress,sgr-0aa11bb22cc33dd44)"
        ]
    );
    assert_eq!(r["decision"], "remediate");
    assert_eq!(r["actions"][0]["outcome"], "done");
    assert_eq!(r["function"], "revert-security-group");
    let published = f.published.lock().unwrap();
    assert_eq!(published.len(), 1);
    let (subject, body) = &published[0];
    assert!(subject.starts_with("[trailguard] REMEDIATED"), "{subject}");
    for needle in [
        "alice@example.com",
        "203.0.113.45",
        "tcp/22 from 0.0.0.0/0",
        "kept (allowed): tcp/443 from 0.0.0.0/0",
        "console.aws.amazon.com/ec2",
        "\"decision\": \"remediate\"",
    ] {
        assert!(
            body.contains(needle),
            "notification lacks {needle}:\n{body}"
        );
    }
    assert_eq!(f.events_put.lock().unwrap()[0].0, "Remediation Performed");
}

#[tokio::test]
async fn without_tag_knobs_a_revert_is_a_single_call() {
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["RevokeRules"]);
}

#[tokio::test]
async fn legacy_flat_form_is_revoked_by_permission() {
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-legacy-flat-form.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["RevokePermissions(sg-0a1b2c3d4e5f60789,ingress,tcp/3389 from 0.0.0.0/0)"]
    );
}

#[tokio::test]
async fn group_named_only_by_name_is_resolved_first() {
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-group-name-only.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeGroup(default)",
            "RevokePermissions(sg-0a1b2c3d4e5f60789,ingress,tcp/5432 from 0.0.0.0/0)"
        ]
    );
}

#[tokio::test]
async fn modify_looks_up_the_direction_then_revokes() {
    let mut f = sg_fake();
    f.rule_directions = [("sgr-0f0f0f0f0f0f0f0f0".to_string(), false)].into();
    run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-ModifySecurityGroupRules-open-rdp.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeRules(sg-0a1b2c3d4e5f60789)",
            "RevokeRules(sg-0a1b2c3d4e5f60789,ingress,sgr-0f0f0f0f0f0f0f0f0)"
        ]
    );
    // A rule that no longer exists: nothing to do.
    let f = sg_fake();
    let r = run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-ModifySecurityGroupRules-open-rdp.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert_eq!(f.ops(), ["DescribeRules"]);
}

#[tokio::test]
async fn compliant_narrow_private_egress_and_failed_calls_change_nothing() {
    for event in [
        "aws.ec2-AuthorizeSecurityGroupIngress-allowed-https.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-narrow-cidr.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-private-cidr.json",
        "aws.ec2-AuthorizeSecurityGroupEgress-anywhere.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-error-code.json",
        "aws.ec2-RevokeSecurityGroupIngress-unprotected.json",
    ] {
        let f = sg_fake();
        let r = run(&f, Guard::SecurityGroup, "{}", event).await.unwrap();
        assert_eq!(r["decision"], "ignore", "{event}");
        assert!(
            !f.ops()
                .iter()
                .any(|o| o.starts_with("Revoke") || o.starts_with("Authorize")),
            "{event}: {:?}",
            f.calls()
        );
        assert!(
            f.published.lock().unwrap().is_empty(),
            "{event}: ignored events are not notified"
        );
    }
}

#[tokio::test]
async fn own_role_and_exempt_principal_are_never_acted_on() {
    let f = sg_fake();
    let r = run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-own-role.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert!(r["reason"].as_str().unwrap().contains("own role"));
    let r = run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-RevokeSecurityGroupIngress-own-role-protected.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    let r = run(
        &f,
        Guard::SecurityGroup,
        r#"{"exempt_principals": ["arn:aws:iam::*:role/BreakGlass*"]}"#,
        "aws.ec2-AuthorizeSecurityGroupIngress-exempt-principal.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[tokio::test]
async fn exempt_tag_keeps_the_rule() {
    let mut f = sg_fake();
    f.groups[0]
        .tags
        .insert("trailguard:exempt".into(), "true".into());
    let r = run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert_eq!(f.ops(), ["DescribeGroup"]);
}

#[tokio::test]
async fn protected_group_reverts_egress_and_restores_removed_rules() {
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeGroup(sg-0b1a2c3d4e5f60718)",
            "RevokeRules(sg-0b1a2c3d4e5f60718,egress,sgr-0eeeeeeeeeeeeeee1)"
        ]
    );
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-RevokeSecurityGroupIngress-protected-group.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeGroup(sg-0b1a2c3d4e5f60718)",
            "Authorize(sg-0b1a2c3d4e5f60718,ingress,tcp/443 from 10.20.0.0/16)"
        ]
    );
}

#[tokio::test]
async fn dry_run_plans_and_notifies_but_changes_nothing() {
    let f = sg_fake();
    let r = run(
        &f,
        Guard::SecurityGroup,
        r#"{"mode": {"default": "dry-run"}}"#,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DescribeGroup"]);
    assert_eq!(r["mode"], "dry-run");
    assert_eq!(r["actions"][0]["outcome"], "dry_run");
    let (subject, body) = f.published.lock().unwrap()[0].clone();
    assert!(subject.contains("DRY-RUN"), "{subject}");
    assert!(
        body.contains("would do (dry-run, nothing was changed)"),
        "{body}"
    );
    assert_eq!(f.events_put.lock().unwrap()[0].0, "Remediation Planned");
}

#[tokio::test]
async fn already_done_is_success() {
    let f = sg_fake();
    f.answer(
        "RevokeRules",
        Ok(Change::AlreadyDone(
            "InvalidPermission.NotFound: already gone".into(),
        )),
    );
    let r = run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(r["actions"][0]["outcome"], "already_done");
}

#[tokio::test]
async fn transient_failure_is_retryable_and_still_notified() {
    let f = sg_fake();
    f.answer(
        "RevokeRules",
        Err(PortError::Transient {
            op: "RevokeSecurityGroupIngress",
            code: "RequestLimitExceeded".into(),
            message: "slow down".into(),
        }),
    );
    let e = run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            HandlerError::Remediation {
                kind: "retryable",
                ..
            }
        ),
        "{e}"
    );
    assert!(f.published.lock().unwrap()[0].0.contains("FAILED"));
}

#[tokio::test]
async fn access_denied_names_the_missing_iam_action() {
    let f = sg_fake();
    f.answer(
        "RevokeRules",
        Err(PortError::AccessDenied {
            op: "RevokeSecurityGroupIngress",
            iam_action: "ec2:RevokeSecurityGroupIngress",
            code: "UnauthorizedOperation".into(),
            message: "no".into(),
        }),
    );
    let e = run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ec2:RevokeSecurityGroupIngress") && e.contains("permanent"),
        "{e}"
    );
    let (_, body) = f.published.lock().unwrap()[0].clone();
    assert!(
        body.contains("needs IAM action ec2:RevokeSecurityGroupIngress"),
        "{body}"
    );
}

#[tokio::test]
async fn lookup_failure_fails_the_invocation() {
    let f = sg_fake();
    f.answer(
        "DescribeGroup",
        Err(PortError::Transient {
            op: "DescribeSecurityGroups",
            code: "Throttling".into(),
            message: "x".into(),
        }),
    );
    let e = run(
        &f,
        Guard::SecurityGroup,
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HandlerError::Lookup(_)), "{e}");
}

#[tokio::test]
async fn notification_failure_fails_the_invocation() {
    let f = Fake {
        publish_error: Some(PortError::Transient {
            op: "Publish",
            code: "Throttling".into(),
            message: "x".into(),
        }),
        ..sg_fake()
    };
    assert!(matches!(
        run(
            &f,
            Guard::SecurityGroup,
            NO_TAGS,
            "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"
        )
        .await,
        Err(HandlerError::Notify(_))
    ));
}

#[tokio::test]
async fn malformed_and_misrouted_events() {
    let f = sg_fake();
    let d = deps(&f, Guard::SecurityGroup, "{}");
    let e = process(&d, json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": "oops"})).await.unwrap_err().to_string();
    assert!(e.contains("malformed") && e.contains("detail"), "{e}");
    let e = process(&d, json!([1, 2])).await.unwrap_err().to_string();
    assert!(e.contains("not a JSON object"), "{e}");
    // A key event sent to the security-group function is ignored with a reason.
    let r = process(
        &d,
        sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json"),
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert!(r["reason"]
        .as_str()
        .unwrap()
        .contains("revert-security-group"));
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn unwired_ports_fail_clearly() {
    let f = sg_fake();
    let d = Deps {
        ec2: trailguard_aws::Unwired,
        iam: &f,
        trail: &f,
        notify: &f,
        settings: settings(Guard::SecurityGroup, NO_TAGS),
        clock,
    };
    let e = process(
        &d,
        sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("built without that AWS client"), "{e}");
}

// ---- access keys ----

fn key_fake() -> Fake {
    Fake {
        key_owners: [("AKIA5EXAMPLEBOBKEY01".to_string(), "bob".to_string())].into(),
        ..Fake::default()
    }
}

const KEY_CALLS: [&str; 5] = [
    "KeyOwner(AKIA5EXAMPLEBOBKEY01)",
    "DeactivateKey(bob,AKIA5EXAMPLEBOBKEY01)",
    "PutDenyPolicy(User,bob,trailguard-revoke-older-sessions)",
    "TagUser(bob,trailguard:quarantined=2026-11-18T11:06:40Z AWS Health AWS_RISK_CREDENTIALS_EXPOSED)",
    "LookupEvents(AKIA5EXAMPLEBOBKEY01,86400)",
];

#[tokio::test]
async fn health_event_resolves_the_owner_and_contains_exactly_that_key() {
    let mut f = key_fake();
    f.trail_events = Some(Ok(vec![
        TrailEvent {
            name: "ListBuckets".into(),
            time: Some(NOW - 3600),
            source_ip: Some("185.220.101.45".into()),
            region: Some("us-east-1".into()),
        },
        TrailEvent {
            name: "ListBuckets".into(),
            time: Some(NOW - 60),
            source_ip: Some("185.220.101.45".into()),
            region: Some("eu-west-1".into()),
        },
        TrailEvent {
            name: "GetCallerIdentity".into(),
            time: Some(NOW - 7200),
            source_ip: Some("185.220.101.46".into()),
            region: Some("us-east-1".into()),
        },
    ]));
    let r = run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(f.calls(), KEY_CALLS);
    let (_, doc) = f.policies.lock().unwrap()[0].clone();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        "2026-11-18T11:06:40Z"
    );
    let summary = &r["actions"][3]["result"];
    assert_eq!(summary["events"], 3);
    assert_eq!(
        summary["top_event_names"][0],
        json!({"value": "ListBuckets", "count": 2})
    );
    assert_eq!(summary["first_seen"], "2026-11-18T09:06:40Z");
    let (_, body) = f.published.lock().unwrap()[0].clone();
    assert!(
        body.contains("Key activity, last 24h: 3 events") && body.contains("185.220.101.45 (2)"),
        "{body}"
    );
}

#[tokio::test]
async fn forensics_failure_never_blocks_containment() {
    let mut f = key_fake();
    f.trail_events = Some(Err(PortError::Permanent {
        op: "LookupEvents",
        code: "InvalidAction".into(),
        message: "not implemented".into(),
    }));
    let r = run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done");
    assert_eq!(r["actions"][3]["outcome"], "failed");
    let (_, body) = f.published.lock().unwrap()[0].clone();
    assert!(body.contains("Key activity summary unavailable"), "{body}");
}

#[tokio::test]
async fn a_named_user_needs_no_lookup() {
    let f = key_fake();
    run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.ops(),
        ["DeactivateKey", "PutDenyPolicy", "TagUser", "LookupEvents"]
    );
    let f = key_fake();
    run(
        &f,
        Guard::AccessKey,
        r#"{"revoke_sessions": false}"#,
        "trailguard-DisableAccessKey-manual.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DeactivateKey", "TagUser", "LookupEvents"]);
}

#[tokio::test]
async fn assumed_role_credentials_revoke_the_role_sessions() {
    let f = key_fake();
    run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.guardduty-InstanceCredentialExfiltration-assumed-role.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["PutDenyPolicy(Role,web-app-instance-role,trailguard-revoke-older-sessions)"]
    );
}

#[tokio::test]
async fn unknown_key_exempt_user_root_and_low_severity_change_nothing() {
    let f = Fake::default();
    let r = run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "notify");
    assert!(
        r["notice"]["details"].to_string().contains("was not found"),
        "{r}"
    );
    assert_eq!(f.ops(), ["KeyOwner"]);
    let f = key_fake();
    let r = run(
        &f,
        Guard::AccessKey,
        r#"{"exempt_principals": ["arn:aws:iam::*:user/bob"]}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "notify");
    assert!(f.calls().is_empty());
    assert_eq!(f.published.lock().unwrap().len(), 1);
    for event in [
        "aws.guardduty-Policy-IAMUser-RootCredentialUsage-root.json",
        "aws.guardduty-Recon-IAMUser-MaliciousIPCaller-low-severity.json",
        "aws.signin-ConsoleLogin-root-success.json",
    ] {
        let f = key_fake();
        run(&f, Guard::AccessKey, "{}", event).await.unwrap();
        assert!(f.calls().is_empty(), "{event}: {:?}", f.calls());
    }
}

#[tokio::test]
async fn honeytoken_and_quarantine_policy() {
    let f = key_fake();
    run(
        &f,
        Guard::AccessKey,
        r#"{"honeytoken_access_keys": ["AKIA5HONEYTOKEN00001"]}"#,
        "aws.iam-ListUsers-honeytoken.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.ops(),
        ["DeactivateKey", "PutDenyPolicy", "TagUser", "LookupEvents"]
    );
    assert!(f.calls()[0].contains("svc-backup-legacy,AKIA5HONEYTOKEN00001"));
    let f = key_fake();
    run(
        &f,
        Guard::AccessKey,
        "{}",
        "aws.iam-AttachUserPolicy-compromised-key-quarantine.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["PutDenyPolicy(User,bob,trailguard-revoke-older-sessions)"]
    );
}

#[tokio::test]
async fn key_dry_run_still_summarises() {
    let f = key_fake();
    let r = run(
        &f,
        Guard::AccessKey,
        r#"{"mode": {"access_key": "dry-run"}}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["LookupEvents"], "reads only");
    let outcomes: Vec<&str> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["dry_run", "dry_run", "dry_run", "done"]);
}

// ---- network ACLs and CloudTrail ----

#[tokio::test]
async fn nacl_entry_is_deleted_and_gone_is_already_done() {
    let f = Fake::default();
    let r = run(
        &f,
        Guard::NetworkAcl,
        "{}",
        "aws.ec2-CreateNetworkAclEntry-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        [
            "DescribeNacl(acl-0a1b2c3d4e5f6a7b8)",
            "DeleteNaclEntry(acl-0a1b2c3d4e5f6a7b8,90,false)"
        ]
    );
    assert_eq!(r["actions"][0]["outcome"], "done");
    let f = Fake::default();
    f.answer("DeleteNaclEntry", Ok(Change::AlreadyDone("gone".into())));
    let r = run(
        &f,
        Guard::NetworkAcl,
        NO_TAGS,
        "aws.ec2-CreateNetworkAclEntry-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DeleteNaclEntry"]);
    assert_eq!(r["actions"][0]["outcome"], "already_done");
    let f = Fake::default();
    let r = run(
        &f,
        Guard::NetworkAcl,
        NO_TAGS,
        "aws.ec2-ReplaceNetworkAclEntry-open-all.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "notify");
    let f = Fake::default();
    run(
        &f,
        Guard::NetworkAcl,
        r#"{"network_acl": {"on_replace": "delete"}, "exempt_tag": "", "protected_tag": ""}"#,
        "aws.ec2-ReplaceNetworkAclEntry-open-all.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["DeleteNaclEntry(acl-0a1b2c3d4e5f6a7b8,100,false)"]
    );
    let mut f = Fake::default();
    f.nacl_tags.insert(
        "acl-0a1b2c3d4e5f6a7b8".into(),
        [("trailguard:protected".to_string(), "true".to_string())].into(),
    );
    run(
        &f,
        Guard::NetworkAcl,
        "{}",
        "aws.ec2-CreateNetworkAclEntry-ephemeral-ports.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.ops(),
        ["DescribeNacl", "DeleteNaclEntry"],
        "protected ACL: any added entry is reverted"
    );
}

#[tokio::test]
async fn cloudtrail_guard() {
    let f = Fake::default();
    run(
        &f,
        Guard::Cloudtrail,
        "{}",
        "aws.cloudtrail-StopLogging-remediate.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["StartLogging(arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events)"]
    );
    let f = Fake::default();
    run(
        &f,
        Guard::Cloudtrail,
        "{}",
        "aws.cloudtrail-UpdateTrail-disable-multi-region.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["UpdateTrail(management-events,Some(true),Some(true))"]
    );
    let f = Fake::default();
    let r = run(
        &f,
        Guard::Cloudtrail,
        "{}",
        "aws.cloudtrail-DeleteTrail-notify.json",
    )
    .await
    .unwrap();
    assert_eq!(r["decision"], "notify");
    assert!(f.calls().is_empty());
    assert!(f.published.lock().unwrap()[0].0.contains("NOTICE"));
    let f = Fake::default();
    let mut s = settings(Guard::Cloudtrail, "{}");
    s.own_role_arn =
        Some("arn:aws:iam::123456789012:role/trailguard-GuardCloudTrailRole-EXAMPLE".into());
    let d = Deps {
        ec2: &f,
        iam: &f,
        trail: &f,
        notify: &f,
        settings: s,
        clock,
    };
    let r = process(&d, sample("aws.cloudtrail-StopLogging-own-role.json"))
        .await
        .unwrap();
    assert_eq!(r["decision"], "ignore");
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn redelivery_ends_in_the_same_state() {
    let f = sg_fake();
    run(
        &f,
        Guard::SecurityGroup,
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    f.answer(
        "RevokeRules",
        Ok(Change::AlreadyDone("already gone".into())),
    );
    for _ in 0..9 {
        let r = run(
            &f,
            Guard::SecurityGroup,
            NO_TAGS,
            "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        )
        .await
        .unwrap();
        assert_eq!(r["actions"][0]["outcome"], "already_done");
    }
}
