"""Writes member.yaml, the member-account template of a central deployment, from template.yaml.

The forwarding rules are the central template's rules on the main bus, one per distinct
pattern and State, with the same patterns: only the own-role clause differs (in a member
account, trailguard's changes are made by the member role). The member role grants exactly
what the functions call in the account an event is about (`trailguard iam-actions --member`).
Generated, so the two templates cannot drift; scripts/check_template.py fails when member.yaml
is not what this script writes.

Usage: python member_template.py TEMPLATE TRAILGUARD_BIN > member.yaml
"""

import json
import subprocess
import sys

import yaml

sys.path.insert(0, __import__("os").path.dirname(__file__))
from check_template import Tagged, own_role_clause, template_rules  # noqa: E402


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


def emit(v, indent):
    """YAML for a value that may hold intrinsic functions (!Ref, !Sub), block style."""
    pad = "  " * indent
    if isinstance(v, Tagged):
        return f"!{v.tag} {scalar(v.value)}"
    if isinstance(v, dict):
        if not v:
            return "{}"
        lines = []
        for k, x in v.items():
            key = json.dumps(k) if k.startswith("$") else k
            flat = isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x)
            if isinstance(x, (dict, list)) and x and not flat:
                lines.append(f"{pad}{key}:\n{emit(x, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {emit(x, indent + 1)}")
        return "\n".join(lines)
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return "[" + ", ".join(emit(x, indent) for x in v) + "]"
        lines = []
        for x in v:
            body = emit(x, indent + 1)
            if isinstance(x, dict) and x:
                body = body.lstrip()
            lines.append(f"{pad}- {body}")
        return "\n".join(lines)
    return scalar(v)


MEMBER_CLAUSE = [
    {"userIdentity": {"type": [{"anything-but": "AssumedRole"}]}},
    {"userIdentity": {"arn": [{"anything-but": {"wildcard": [
        Tagged("Sub", "arn:${AWS::Partition}:sts::*:assumed-role/${MemberRoleName}/*")]}}]}},
]


def unresolved_rules(template):
    """The main bus's rules as written (parameters kept): (name, pattern, state, condition)."""
    resources = template["Resources"]
    out = []
    for lid, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function":
            for name, ev in res["Properties"].get("Events", {}).items():
                if ev["Type"] == "EventBridgeRule":
                    p = ev["Properties"]
                    out.append((name, p["Pattern"], p.get("State", "ENABLED"), None))
        elif res["Type"] == "AWS::Events::Rule" and "EventPattern" in res["Properties"]:
            p = res["Properties"]
            bus = p.get("EventBusName")
            if isinstance(bus, Tagged) and bus.tag == "If":
                out.append((lid, p["EventPattern"], p.get("State", "ENABLED"), res.get("Condition")))
    return out


def main():
    template_path, trailguard = sys.argv[1:3]
    with open(template_path) as f:
        template = yaml.safe_load(f)
    # Only the rules on the main bus are forwarded (the manual trigger stays central).
    _, rules = template_rules(template)
    main_rules = {name for rs in rules.values() for name, _, _, _, bus in rs if bus == "main"}
    forwards = {}
    for name, pattern, state, cond in unresolved_rules(template):
        if name not in main_rules:
            continue
        pattern, clause = own_role_clause(pattern)
        if clause:
            pattern = {**pattern, "detail": {**pattern["detail"], "$or": MEMBER_CLAUSE}}
        key = json.dumps([pattern, state, cond], sort_keys=True, default=lambda t: [t.tag, t.value])
        forwards.setdefault(key, (name, pattern, state, cond))
    actions = json.loads(subprocess.check_output([trailguard, "iam-actions", "--member"]))

    out = [HEADER.rstrip("\n")]
    out.append("      Policies:")
    out.append("        - PolicyName: trailguard")
    out.append("          PolicyDocument:")
    out.append('            Version: "2012-10-17"')
    out.append("            Statement:")
    out.append("              # Exactly `trailguard iam-actions --member`: what the functions call in the")
    out.append("              # account an event is about (scripts/check_template.py compares).")
    out.append("              - Sid: TrailguardMember")
    out.append("                Effect: Allow")
    out.append("                Action:")
    out.extend(f"                  - {a}" for a in actions)
    out.append('                Resource: "*"')
    out.append("")
    undo = json.loads(subprocess.check_output([trailguard, "iam-actions", "--undo"]))
    out.append(UNDO.rstrip("\n"))
    out.extend(f"                  - {a}" for a in undo)
    out.append('                Resource: "*"')
    out.append(UNDO_DENY.rstrip("\n"))
    out.append("")
    out.append(TAIL.rstrip("\n"))
    out.append("")
    for i, (name, pattern, state, cond) in enumerate(sorted(forwards.values(), key=lambda f: f[0])):
        out.append(f"  Forward{name}:")
        out.append("    Type: AWS::Events::Rule")
        if cond:
            out.append(f"    Condition: {cond}")
        out.append("    Properties:")
        out.append(f"      Description: trailguard - forwards what the central rule {name} matches.")
        out.append(f"      State: {state}")
        out.append("      EventBusName: default")
        out.append("      EventPattern:")
        out.append(emit(pattern, 4))
        out.append("      Targets:")
        out.append("        - Id: central")
        out.append("          Arn: !Ref CentralEventBusArn")
        out.append("          RoleArn: !Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}-forward\"")
        out.append("          DeadLetterConfig: { Arn: !GetAtt ForwardingFailures.Arn }")
        out.append("          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 }")
        out.append("")
    print("\n".join(out).rstrip("\n"))


HEADER = """# GENERATED by scripts/member_template.py from template.yaml: edit that, then run
#   python3 scripts/member_template.py template.yaml target/debug/trailguard > member.yaml
# (scripts/check_template.py fails when this file is not what the script writes).
AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  trailguard member account: the role a central trailguard deployment acts through, and the
  rules that forward the events it watches to the central bus. Deploy it with CloudFormation
  StackSets to the organization's accounts, in every region you use (docs/src/regions.md).

Parameters:
  CentralEventBusArn:
    Type: String
    AllowedPattern: "^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]+$"
    Description: The central stack's CentralEventBusArn output.
  CentralRoleArns:
    Type: CommaDelimitedList
    Description: The central stack's FunctionRoleArns output; the member role trusts only these.
  OrganizationId:
    Type: String
    AllowedPattern: "^o-[a-z0-9]{10,32}$"
    Description: The organization (o-...); the member role trusts callers in it only.
  MemberRoleName:
    Type: String
    Default: trailguard-member
    AllowedPattern: "^[A-Za-z0-9+=,.@_-]{1,64}$"
    Description: The central stack's MemberRoleName.
  RoleRegion:
    Type: String
    Default: us-east-1
    Description: The one region whose stack instance creates the account's IAM roles (IAM is global; the other regions' instances refer to them). Deploy that region first.
  HoneytokenAccessKeyIds:
    Type: CommaDelimitedList
    Default: ""
    Description: As in the central stack (its honeytoken rule is forwarded only when set).
  TrustedNetworks:
    Type: CommaDelimitedList
    Default: ""
    Description: As in the central stack (its long-term key rule is forwarded only when set).
  UndoPrincipalArns:
    Type: CommaDelimitedList
    Default: ""
    AllowedPattern: "^(arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512})?$"
    Description: The roles or users (by ARN) of the organization allowed to run `trailguard undo --member-role <MemberRoleName>-undo` here (docs/src/rollback.md). Empty (the default) makes no undo role.

Conditions:
  RoleRegion: !Equals [!Ref AWS::Region, !Ref RoleRegion]
  HasHoneytokens: !Not [!Equals [!Join [",", !Ref HoneytokenAccessKeyIds], ""]]
  WatchLongTermKeys: !Not [!Equals [!Join [",", !Ref TrustedNetworks], ""]]
  HasUndoPrincipals: !And
    - !Condition RoleRegion
    - !Not [!Equals [!Join [",", !Ref UndoPrincipalArns], ""]]

Resources:
  # The role central functions assume to act here. It trusts only their roles, and only
  # from inside the organization; its sessions are trailguard's own in every account (the
  # forwarding rules leave them out, and the functions ignore them).
  MemberRole:
    Type: AWS::IAM::Role
    Condition: RoleRegion
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_107
            comment: "iam:UpdateAccessKey and iam:GetAccessKeyLastUsed are how a compromised key is found and deactivated; no secret is read (the role cannot create keys)."
          - id: CKV_AWS_109
            comment: "iam:PutUserPolicy/PutRolePolicy attach only the deny-older-sessions policy and iam:UpdateAssumeRolePolicy closes a trust opened to outsiders: containment needs them on any user or role, so they cannot be scoped to names known in advance. Only the central functions' roles, inside the organization, can assume this role."
          - id: CKV_AWS_110
            comment: "The same IAM writes as CKV_AWS_109: they could escalate only for a principal that can assume this role, which trusts only the central functions' roles (by ARN) inside the organization."
          - id: CKV_AWS_111
            comment: "Write actions on any resource of the account: an incident can be on any group, ACL, trail, key, image or snapshot. The actions are exactly those the functions call (trailguard iam-actions --member), checked by the test command."
    Properties:
      RoleName: !Ref MemberRoleName
      Description: trailguard central functions act in this account through this role.
      MaxSessionDuration: 3600
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Ref CentralRoleArns
            Action: sts:AssumeRole
            Condition:
              StringEquals:
                aws:PrincipalOrgID: !Ref OrganizationId
"""

UNDO = """  # The role `trailguard undo --member-role` runs as here (only when UndoPrincipalArns is
  # set): the person runs the undo from the central account, where the ledger is. It trusts
  # only those principals, inside the organization; its sessions are not trailguard's own,
  # so the functions judge the undo's calls as anyone's.
  UndoRole:
    Type: AWS::IAM::Role
    Condition: HasUndoPrincipals
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_107
            comment: "iam:UpdateAccessKey, iam:ListAccessKeys and iam:GetAccessKeyLastUsed make a key trailguard disabled active again, only while it is still the key the ledger names; no secret is read (the role cannot create keys)."
          - id: CKV_AWS_108
            comment: "s3:GetObject is what HeadObject needs: an object ACL is written back only while the object is the one trailguard changed, which its last-modified time tells. The undo reads no object's content."
          - id: CKV_AWS_109
            comment: "An undo writes back what a remediation changed on any user, role or resource of the account (an inline policy deleted, a tag, a password policy): the resources cannot be known in advance. The role is as strong as these actions on every resource (trailguard undo checks the ledger, but whoever assumes the role can call them directly): only UndoPrincipalArns, inside the organization, can assume it, and it is denied trailguard's own roles."
          - id: CKV_AWS_110
            comment: "The same writes as CKV_AWS_109: they could escalate only for a principal that can assume this role, which trusts only UndoPrincipalArns (by ARN) inside the organization."
          - id: CKV_AWS_111
            comment: "Write actions on any resource of the account: a remediation can be on any group, ACL, bucket, key, image or snapshot. The actions are exactly those trailguard undo calls (trailguard iam-actions --undo), checked by the test command."
    Properties:
      RoleName: !Sub "${MemberRoleName}-undo"
      Description: trailguard undo runs in this account as this role (a central deployment).
      MaxSessionDuration: 3600
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Ref UndoPrincipalArns
            Action: sts:AssumeRole
            Condition:
              StringEquals:
                aws:PrincipalOrgID: !Ref OrganizationId
      Policies:
        - PolicyName: trailguard-undo
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              # Exactly `trailguard iam-actions --undo`: what undoing any remediation calls
              # (scripts/check_template.py compares).
              - Sid: TrailguardUndo
                Effect: Allow
                Action:
"""

UNDO_DENY = """              # Never trailguard's own roles: an undo does not touch them, and their policies
              # and tags are what keep trailguard working here.
              - Sid: NotTrailguardsOwnRoles
                Effect: Deny
                Action:
                  - iam:DeleteRolePolicy
                  - iam:TagRole
                Resource:
                  - !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}"
                  - !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}-forward"
                  - !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}-undo"
"""

TAIL = """  # EventBridge puts the matching events on the central bus as this role.
  ForwardingRole:
    Type: AWS::IAM::Role
    Condition: RoleRegion
    Properties:
      RoleName: !Sub "${MemberRoleName}-forward"
      Description: EventBridge forwards trailguard's events to the central bus as this role.
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: events.amazonaws.com }
            Action: sts:AssumeRole
            Condition:
              StringEquals:
                aws:SourceAccount: !Ref AWS::AccountId
      Policies:
        - PolicyName: forward
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: events:PutEvents
                Resource: !Ref CentralEventBusArn

  # Events EventBridge could not put on the central bus (kept 14 days).
  ForwardingFailures:
    Type: AWS::SQS::Queue
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_27
            comment: "Encrypted with SQS-managed keys (SqsManagedSseEnabled); it holds only CloudTrail events already in the account's trail."
    Properties:
      MessageRetentionPeriod: 1209600
      SqsManagedSseEnabled: true

  ForwardingFailuresPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref ForwardingFailures]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: events.amazonaws.com }
            Action: sqs:SendMessage
            Resource: !GetAtt ForwardingFailures.Arn
            Condition:
              StringEquals:
                aws:SourceAccount: !Ref AWS::AccountId

"""

if __name__ == "__main__":
    main()
