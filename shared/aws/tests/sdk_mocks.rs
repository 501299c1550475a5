//! What real AWS answers and moto does not: tested on the SDK clients with aws-smithy-mocks.

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::operation::revoke_security_group_ingress::{
    RevokeSecurityGroupIngressError, RevokeSecurityGroupIngressOutput,
};
use aws_sdk_ec2::types::{IpPermission, IpRange};
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use trailguard_aws::{Change, Ec2Port, PortError};

fn ec2(rules: &[&Rule]) -> aws_sdk_ec2::Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

#[tokio::test]
async fn unknown_ip_permissions_on_success_is_already_done() {
    // Real EC2 answers a revoke of rules that are not there with Return=true and lists them.
    let rule = mock!(aws_sdk_ec2::Client::revoke_security_group_ingress).then_output(|| {
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .unknown_ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .build()
    });
    let c = ec2(&[&rule]);
    let r = c
        .revoke_rules("sg-1", false, &["sgr-1".to_string()])
        .await
        .unwrap();
    assert!(matches!(r, Change::AlreadyDone(_)), "{r:?}");
}

#[tokio::test]
async fn a_clean_revoke_is_done() {
    let rule = mock!(aws_sdk_ec2::Client::revoke_security_group_ingress).then_output(|| {
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    });
    assert_eq!(
        ec2(&[&rule])
            .revoke_rules("sg-1", false, &["sgr-1".to_string()])
            .await
            .unwrap(),
        Change::Done
    );
}

fn failing(code: &'static str) -> Rule {
    mock!(aws_sdk_ec2::Client::revoke_security_group_ingress).then_error(move || {
        RevokeSecurityGroupIngressError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("from the mock")
                .build(),
        )
    })
}

#[tokio::test]
async fn errors_are_classified_for_lambda() {
    type Expect = fn(&PortError) -> bool;
    let cases: [(&str, Expect); 5] = [
        ("InvalidPermission.NotFound", |_| false),
        ("InvalidSecurityGroupRuleId.NotFound", |_| false),
        ("RequestLimitExceeded", |e| {
            matches!(e, PortError::Transient { .. })
        }),
        ("UnauthorizedOperation", |e| {
            matches!(
                e,
                PortError::AccessDenied {
                    iam_action: "ec2:RevokeSecurityGroupIngress",
                    ..
                }
            )
        }),
        ("InvalidParameterValue", |e| {
            matches!(e, PortError::Permanent { .. })
        }),
    ];
    for (code, expect) in cases {
        let rule = failing(code);
        let r = ec2(&[&rule])
            .revoke_rules("sg-1", false, &["sgr-1".to_string()])
            .await;
        match r {
            Ok(Change::AlreadyDone(_)) => assert!(code.ends_with("NotFound"), "{code}"),
            Ok(Change::Done) => panic!("{code}: a failure reported as done"),
            Err(e) => assert!(expect(&e), "{code}: {e:?}"),
        }
    }
}
