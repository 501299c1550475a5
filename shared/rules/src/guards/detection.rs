//! Detection and logging switched off: VPC flow logs, Route 53 Resolver query logs, GuardDuty
//! deleted or detached (suspended: restore-account-guardrails switches it back on),
//! AWS Config, Security Hub, IAM Access Analyzer, Macie (disabled or paused), a service's
//! delegated administrator, membership of the organization, Bedrock invocation logging and
//! guardrails;
//! and blinding: GuardDuty filters that archive findings before EventBridge sees them,
//! trailguard's own EventBridge rules (or a member's forwarding rules) disabled, deleted,
//! emptied of targets or rewritten. None of these can be safely switched back on
//! from the event alone (the previous configuration is not in it, and re-creating a detector
//! or recorder needs choices only the owner can make), so this guard tells people, with the
//! severity and what to check.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{Notice, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::Facts;
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{items, scalar_string, str_any};
use crate::policy::Policy;

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "detection",
    function: "guard-detection",
    summary: "Reports logging and threat detection being switched off.",
    triggers: &[Trigger {
        rule: "DetectionChange",
        pattern: r#"{
            "source": ["aws.ec2", "aws.route53resolver", "aws.guardduty", "aws.config",
                       "aws.organizations", "aws.bedrock", "aws.events", "aws.securityhub",
                       "aws.access-analyzer", "aws.macie2"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["ec2.amazonaws.com", "route53resolver.amazonaws.com",
                                "guardduty.amazonaws.com", "config.amazonaws.com",
                                "organizations.amazonaws.com", "bedrock.amazonaws.com",
                                "events.amazonaws.com", "securityhub.amazonaws.com",
                                "access-analyzer.amazonaws.com", "macie2.amazonaws.com"],
                "eventName": ["DeleteFlowLogs",
                              "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig",
                              "DeleteDetector",
                              "DisassociateFromMasterAccount", "DisassociateFromAdministratorAccount",
                              "StopConfigurationRecorder", "DeleteConfigurationRecorder",
                              "DeleteDeliveryChannel",
                              "LeaveOrganization",
                              "DeleteModelInvocationLoggingConfiguration", "DeleteGuardrail",
                              "CreateFilter", "UpdateFilter",
                              "DisableRule", "DeleteRule", "RemoveTargets", "PutRule",
                              "DisableSecurityHub", "DeleteAnalyzer",
                              "DisableMacie", "UpdateMacieSession",
                              "DisableOrganizationAdminAccount"],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
    }],
    facts: &[],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 0,
    sweeps: &[],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: None,
};

/// The identifiers a request names, under any of the keys, at the top or one level down, in
/// any list shape (DeleteFlowLogs records `{"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1,
/// "content": "fl-..."}}}`).
fn ids(rp: &Value, keys: &[&str]) -> Vec<String> {
    let roots = std::iter::once(rp).chain(rp.as_object().into_iter().flat_map(|o| o.values()));
    let mut out: Vec<String> = Vec::new();
    for root in roots {
        for v in keys.iter().filter_map(|k| root.get(*k)) {
            let found: Vec<String> = match scalar_string(v) {
                Some(id) => vec![id],
                None => items(v)
                    .into_iter()
                    .filter_map(|i| scalar_string(i).or_else(|| str_any(i, &["content"])))
                    .collect(),
            };
            for id in found {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    out
}

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let list = |keys: &[&str]| {
        let found = ids(rp, keys);
        if found.is_empty() {
            "(not named in the event)".to_string()
        } else {
            found.join(", ")
        }
    };
    let (severity, title, check) = match name {
        "DeleteFlowLogs" => (
            Severity::High,
            format!("VPC flow logs deleted: {}", list(&["FlowLogId", "flowLogIds", "FlowLogIds"])),
            "network traffic of those VPCs, subnets or interfaces is no longer recorded; \
             re-create the flow logs (aws ec2 create-flow-logs) and review what the caller did before"
                .to_string(),
        ),
        "DeleteResolverQueryLogConfig" | "DisassociateResolverQueryLogConfig" => (
            Severity::High,
            format!(
                "Route 53 Resolver query logging {} for {}",
                if name.starts_with("Delete") {
                    "deleted"
                } else {
                    "detached from a VPC"
                },
                list(&["resolverQueryLogConfigId", "ResolverQueryLogConfigId"])
            ),
            "DNS queries of the VPC are no longer logged, a common step before exfiltration over DNS; \
             associate the VPC with a query logging configuration again"
                .to_string(),
        ),
        "DeleteDetector" => (
            Severity::Critical,
            format!("GuardDuty detector {} deleted", list(&["detectorId", "DetectorId"])),
            "GuardDuty no longer watches this account and region, and its findings are gone; \
             enable it again and find out why it was deleted"
                .to_string(),
        ),
        "DisassociateFromMasterAccount" | "DisassociateFromAdministratorAccount" => (
            Severity::High,
            "GuardDuty member account left its administrator account".to_string(),
            "the security account no longer sees this account's findings; \
             invite it again from the GuardDuty administrator account"
                .to_string(),
        ),
        "StopConfigurationRecorder" | "DeleteConfigurationRecorder" => (
            Severity::High,
            format!(
                "AWS Config recorder {} {}",
                list(&["configurationRecorderName", "ConfigurationRecorderName"]),
                if name.starts_with("Stop") {
                    "stopped"
                } else {
                    "deleted"
                }
            ),
            "configuration changes are no longer recorded, and Config rules stop evaluating; \
             start the recorder again (aws configservice start-configuration-recorder)"
                .to_string(),
        ),
        "DeleteDeliveryChannel" => (
            Severity::Medium,
            format!(
                "AWS Config delivery channel {} deleted",
                list(&["deliveryChannelName", "DeliveryChannelName"])
            ),
            "configuration snapshots and history are no longer delivered to S3; \
             re-create the delivery channel"
                .to_string(),
        ),
        "LeaveOrganization" => (
            Severity::Critical,
            "Account left the AWS Organization".to_string(),
            "service control policies and organization-wide controls no longer apply to it; \
             find out who did it, and invite the account back"
                .to_string(),
        ),
        "DeleteModelInvocationLoggingConfiguration" => (
            Severity::High,
            format!(
                "Bedrock model invocation logging deleted in {}",
                r.aws_region.get().unwrap_or("?")
            ),
            "prompts and responses of Bedrock models are no longer logged, so misuse of the \
             models leaves no trace; configure invocation logging again \
             (aws bedrock put-model-invocation-logging-configuration)"
                .to_string(),
        ),
        "DeleteGuardrail" => {
            // Deleting one version keeps the guardrail; only the whole guardrail matters here.
            if str_any(rp, &["guardrailVersion", "GuardrailVersion"]).is_some() {
                return Verdict::Decided(Decision::ignore(
                    "DeleteGuardrail removes one version; the guardrail stays",
                ));
            }
            (
                Severity::Medium,
                format!(
                    "Bedrock guardrail {} deleted",
                    list(&["guardrailIdentifier", "GuardrailIdentifier"])
                ),
                "applications that used it call models without its filters; \
                 find out who deleted it and restore it from your infrastructure code"
                    .to_string(),
            )
        }
        "CreateFilter" | "UpdateFilter" => {
            let action = str_any(rp, &["action", "Action"]).unwrap_or_default();
            if !action.eq_ignore_ascii_case("ARCHIVE") {
                return Verdict::Decided(Decision::ignore(format!(
                    "{name} does not archive findings (action {})",
                    if action.is_empty() { "not set" } else { &action }
                )));
            }
            let criteria = rp
                .get("findingCriteria")
                .or_else(|| rp.get("FindingCriteria"))
                .map(|c| c.to_string().chars().take(300).collect::<String>())
                .unwrap_or_else(|| "(not in the event)".into());
            (
                Severity::High,
                format!(
                    "GuardDuty filter {} archives findings automatically",
                    list(&["name", "filterName", "Name", "FilterName"])
                ),
                format!(
                    "findings matching it are archived as they arrive and never reach EventBridge,                      so trailguard and every other consumer stop seeing them; criteria: {criteria}.                      Check the filter (aws guardduty get-filter) and delete it unless the security team made it"
                ),
            )
        }
        "DisableSecurityHub" => (
            Severity::Critical,
            format!("Security Hub disabled in {}", r.aws_region.get().unwrap_or("?")),
            "Security Hub no longer runs its controls here or collects GuardDuty's and the other \
             products' findings, and its findings are gone; enable it again \
             (aws securityhub enable-security-hub) with the standards you had"
                .to_string(),
        ),
        "DeleteAnalyzer" => (
            Severity::High,
            format!(
                "IAM Access Analyzer analyzer {} deleted",
                list(&["analyzerName", "AnalyzerName"])
            ),
            "resources shared outside the account (or the organization) and unused access are no \
             longer found; create the analyzer again (aws accessanalyzer create-analyzer)"
                .to_string(),
        ),
        "DisableMacie" => (
            Severity::High,
            format!("Amazon Macie disabled in {}", r.aws_region.get().unwrap_or("?")),
            "sensitive data in S3 is no longer discovered, and Macie's findings and settings are \
             deleted; enable it again (aws macie2 enable-macie) and re-create its jobs"
                .to_string(),
        ),
        "UpdateMacieSession" => {
            let status = str_any(rp, &["status", "Status"]).unwrap_or_default();
            if !status.eq_ignore_ascii_case("PAUSED") {
                return Verdict::Decided(Decision::ignore(format!(
                    "UpdateMacieSession does not pause Macie (status {})",
                    if status.is_empty() { "not set" } else { &status }
                )));
            }
            (
                Severity::High,
                format!("Amazon Macie paused in {}", r.aws_region.get().unwrap_or("?")),
                "Macie stops its discovery jobs and produces no findings while paused; resume it \
                 (aws macie2 update-macie-session --status ENABLED)"
                    .to_string(),
            )
        }
        "DisableOrganizationAdminAccount" => {
            let service = match r.event_source.get().unwrap_or_default() {
                "guardduty.amazonaws.com" => "GuardDuty",
                "securityhub.amazonaws.com" => "Security Hub",
                "macie2.amazonaws.com" => "Macie",
                other => other,
            };
            (
                Severity::High,
                format!(
                    "{service}'s delegated administrator {} removed",
                    list(&["adminAccountId", "AdminAccountId"])
                ),
                format!(
                    "the security account no longer manages {service} for the organization, and \
                     new accounts are no longer enrolled; designate it again from the \
                     management account"
                ),
            )
        }
        "DisableRule" | "DeleteRule" | "RemoveTargets" | "PutRule" => {
            match own_rule(name, rp, &r.user_identity) {
                Ok(found) => found,
                Err(why) => return Verdict::Decided(Decision::ignore(why)),
            }
        }
        other => {
            return Verdict::Decided(Decision::ignore(format!(
                "{other} is not a change to logging or detection trailguard watches"
            )))
        }
    };
    let details = vec![
        format!(
            "by {} from {}",
            r.user_identity.display(),
            r.source_ip_address.get().unwrap_or("?")
        ),
        format!("what to check: {check}"),
    ];
    Verdict::Decided(Decision::notify(
        format!("{name}: {title}; no safe automatic revert, people are told"),
        Notice {
            severity,
            title,
            details,
        },
    ))
}

/// Whether an EventBridge rule is trailguard's, from what the event shows: its name. Rules
/// made by the stacks are named by CloudFormation `<stack>-<logical id>-<suffix>` (each part
/// cut to fit 64 characters), so the name holds the stack's name (`trailguard` unless
/// deployed under another) or the start of a logical id: a function's
/// (`RevertSecurityGroupFunction…`, SAM's rules), one of template.yaml's own rules, or
/// member.yaml's `Forward<rule>`. A target id of trailguard's (its function names, `central`
/// of the forwarding rules) also makes it ours for `RemoveTargets`.
fn is_own_rule_name(rule: &str) -> bool {
    // At least this much of a logical id survives CloudFormation's shortening, and it is
    // long enough not to be a word of someone else's rule name.
    const KEPT: usize = 12;
    // Compared without case: the function `guard-cloudtrail` is `GuardCloudTrailFunction`.
    let start = |id: String| id.to_ascii_lowercase().chars().take(KEPT).collect::<String>();
    let rule = rule.to_ascii_lowercase();
    rule.contains("trailguard")
        || super::Guard::all().any(|g| {
            rule.contains(&start(g.camel_name() + "Function"))
                || g.spec().triggers.iter().any(|t| {
                    rule.contains(&format!("-{}", t.rule.to_ascii_lowercase()))
                        || rule.contains(&start(format!("Forward{}", t.rule)))
                })
        })
}

type Found = (Severity, String, String);

fn own_rule(
    name: &str,
    rp: &Value,
    who: &crate::event::UserIdentity,
) -> Result<Found, String> {
    let rule = str_any(rp, &["name", "Name", "rule", "Rule"]).unwrap_or_default();
    let bus = str_any(rp, &["eventBusName", "EventBusName"]).unwrap_or_else(|| "default".into());
    let target_ids = ids(rp, &["ids", "Ids"]);
    let own_target = target_ids.iter().any(|t| {
        t == "central" || super::Guard::all().any(|g| t.contains(g.function_name()))
    });
    if rule.is_empty() {
        return Err(format!("{name} names no rule"));
    }
    let ours = is_own_rule_name(&rule) || (name == "RemoveTargets" && own_target);
    if !ours {
        return Err(format!(
            "{name} on rule {rule}: not one of trailguard's rules (by its name{})",
            if name == "RemoveTargets" { " or target ids" } else { "" }
        ));
    }
    let state = str_any(rp, &["state", "State"]).unwrap_or_default();
    let by_cloudformation = who.invoked_by.get() == Some("cloudformation.amazonaws.com");
    let (severity, what, check) = match name {
        "DisableRule" => (
            Severity::High,
            "disabled",
            "events it matched no longer reach trailguard: enable it again (aws events enable-rule)",
        ),
        "DeleteRule" => (
            Severity::High,
            "deleted",
            "events it matched no longer reach trailguard: redeploy the stack that made it",
        ),
        "RemoveTargets" => (
            Severity::High,
            "emptied of targets",
            "events it matches go nowhere: redeploy the stack that made it",
        ),
        _ if state.eq_ignore_ascii_case("DISABLED") => (
            Severity::High,
            "disabled (PutRule)",
            "events it matched no longer reach trailguard: enable it again (aws events enable-rule)",
        ),
        _ if by_cloudformation => {
            return Err(format!(
                "PutRule on {rule} by CloudFormation with the rule enabled: a stack update"
            ))
        }
        _ => (
            Severity::High,
            "rewritten (PutRule)",
            "its pattern may no longer match what trailguard must see: compare it with the template              (aws events describe-rule) and redeploy the stack if it differs",
        ),
    };
    let targets = if target_ids.is_empty() {
        String::new()
    } else {
        format!(" (targets {})", target_ids.join(", "))
    };
    Ok((
        severity,
        format!("trailguard's EventBridge rule {rule} on bus {bus} {what}{targets}"),
        format!(
            "{check}{}",
            if by_cloudformation {
                "; CloudFormation made the call: if no one deployed or deleted the stack, find out who changed it"
            } else {
                ""
            }
        ),
    ))
}
