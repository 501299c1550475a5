"""The demo's AWS side, against moto: seed an account, make the risky changes an attacker
or a careless admin would, turn each into the event EventBridge would deliver (ids from the
real responses), and show the state before and after trailguard.

Usage: python demo.py STATE_DIR seed|attack|dry-attack|show|check|check-dry
"""

import datetime
import json
import os
import urllib.parse
import sys
import uuid

import boto3

ACCOUNT = "123456789012"
HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "..", "events")
TTY = sys.stdout.isatty()


def c(code, text):
    return f"\x1b[{code}m{text}\x1b[0m" if TTY else text


def clients():
    kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    return {s: boto3.client(s, **kw) for s in ("ec2", "iam", "sns", "sqs", "cloudtrail", "s3")}


def sample(name):
    with open(os.path.join(EVENTS, name)) as f:
        ev = json.load(f)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ev["id"] = str(uuid.uuid4())
    ev["time"] = now
    if "eventID" in ev["detail"]:
        ev["detail"]["eventID"] = str(uuid.uuid4())
        ev["detail"]["eventTime"] = now
    return ev


def save(state_dir, name, obj):
    with open(os.path.join(state_dir, name), "w") as f:
        json.dump(obj, f, indent=2)


def load(state_dir, name):
    with open(os.path.join(state_dir, name)) as f:
        return json.load(f)


def seed(state_dir):
    a = clients()
    a["iam"].create_user(UserName="bob")
    k1 = a["iam"].create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    k2 = a["iam"].create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    vpc = a["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = a["ec2"].create_security_group(GroupName="web", Description="web servers", VpcId=vpc)["GroupId"]
    acl = a["ec2"].create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    a["s3"].create_bucket(Bucket="demo-trail-logs")
    a["cloudtrail"].create_trail(Name="management-events", S3BucketName="demo-trail-logs", IsMultiRegionTrail=True)
    a["cloudtrail"].start_logging(Name="management-events")
    topic = a["sns"].create_topic(Name="trailguard")["TopicArn"]
    q = a["sqs"].create_queue(QueueName="trailguard-inbox")["QueueUrl"]
    a["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:trailguard-inbox", Attributes={"RawMessageDelivery": "true"})
    save(state_dir, "state.json", {"key1": k1, "key2": k2, "vpc": vpc, "sg": sg, "acl": acl, "topic": topic, "queue": q})
    print(f"  user bob with keys {k1} and {k2}")
    print(f"  security group {sg} in {vpc}, network ACL {acl}, trail management-events (logging)")
    print(f"  notifications: SNS {topic} -> SQS trailguard-inbox")


def rules(a, sg):
    out = a["ec2"].describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    return [r for r in out if not r["IsEgress"]]


def sg_event(sg, perms, new_rules):
    ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")
    ev["detail"]["requestParameters"] = {
        "groupId": sg,
        "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": p, "toPort": p, "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]}, "ipv6Ranges": {}, "prefixListIds": {}} for p, cidr in perms]},
    }
    # moto's Authorize response lists only the last rule of a multi-rule call; CloudTrail
    # records them all, so the rule set is rebuilt from DescribeSecurityGroupRules.
    ev["detail"]["responseElements"] = {
        "requestId": str(uuid.uuid4()),
        "_return": True,
        "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCOUNT, "groupId": sg, "securityGroupRuleId": r["SecurityGroupRuleId"], "isEgress": False, "ipProtocol": r["IpProtocol"], "fromPort": r["FromPort"], "toPort": r["ToPort"], "cidrIpv4": r["CidrIpv4"]} for r in new_rules]},
    }
    return ev


def open_ports(a, sg, perms):
    before = {r["SecurityGroupRuleId"] for r in rules(a, sg)}
    a["ec2"].authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": cidr}]} for p, cidr in perms])
    return [r for r in rules(a, sg) if r["SecurityGroupRuleId"] not in before]


def attack(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    new = open_ports(a, s["sg"], [(22, "0.0.0.0/0"), (443, "0.0.0.0/0")])
    save(state_dir, "event-sg.json", sg_event(s["sg"], [(22, "0.0.0.0/0"), (443, "0.0.0.0/0")], new))
    print(f"  careless admin: AuthorizeSecurityGroupIngress {s['sg']}: tcp/22 and tcp/443 from 0.0.0.0/0")
    health = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json")
    health["detail"]["affectedEntities"] = [{"entityValue": s["key1"], "tags": {}}]
    health["detail"]["eventDescription"][0]["latestDescription"] = f"The AWS Access Key {s['key1']} belonging to IAM user bob is publicly available on GitHub."
    save(state_dir, "event-health.json", health)
    print(f"  AWS Health: AWS_RISK_CREDENTIALS_EXPOSED for {s['key1']}")
    a["ec2"].create_network_acl_entry(NetworkAclId=s["acl"], RuleNumber=90, Protocol="6", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22})
    nacl = sample("aws.ec2-CreateNetworkAclEntry-open-ssh.json")
    nacl["detail"]["requestParameters"]["networkAclId"] = s["acl"]
    save(state_dir, "event-nacl.json", nacl)
    print(f"  attacker: CreateNetworkAclEntry {s['acl']} rule 90 allow tcp/22 from 0.0.0.0/0")
    a["cloudtrail"].stop_logging(Name="management-events")
    trail = sample("aws.cloudtrail-StopLogging-remediate.json")
    trail["detail"]["requestParameters"] = {"name": "management-events"}
    save(state_dir, "event-trail.json", trail)
    print("  attacker: StopLogging management-events")


def dry_attack(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    new = open_ports(a, s["sg"], [(3389, "0.0.0.0/0")])
    save(state_dir, "event-sg-dry.json", sg_event(s["sg"], [(3389, "0.0.0.0/0")], new))
    gd = sample("aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json")
    gd["detail"]["resource"]["accessKeyDetails"] = {"accessKeyId": s["key2"], "principalId": "AIDAEXAMPLE", "userName": "bob", "userType": "IAMUser"}
    save(state_dir, "event-gd-dry.json", gd)
    print(f"  AuthorizeSecurityGroupIngress {s['sg']}: tcp/3389 from 0.0.0.0/0")
    print(f"  GuardDuty UnauthorizedAccess:IAMUser/TorIPCaller on {s['key2']}")


def unseen(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    legacy = a["ec2"].create_security_group(GroupName="legacy-db", Description="made before trailguard", VpcId=s["vpc"])["GroupId"]
    a["ec2"].authorize_security_group_ingress(GroupId=legacy, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s["legacy"] = legacy
    save(state_dir, "state.json", s)
    print(f"  before trailguard was deployed: {legacy} (legacy-db) opened tcp/3306 to 0.0.0.0/0; no event will ever say so")
    print(f"  still open from the dry-run pass: tcp/3389 on {s['sg']}")


def check_sweep(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    problems = []
    if rules(a, s["legacy"]):
        problems.append(f"legacy-db still has {[(r['FromPort'], r['CidrIpv4']) for r in rules(a, s['legacy'])]}")
    open_rdp = [r for r in rules(a, s["sg"]) if r["FromPort"] == 3389]
    if open_rdp:
        problems.append("the RDP rule left by the dry-run pass is still open")
    report = load(state_dir, "report-revert-security-group-aws.events-Scheduled-Event-sweep.json")
    if not report.get("sweep") or len(report["findings"]) != 2 or not report["complete"]:
        problems.append(f"sweep report: {len(report.get('findings', []))} findings, complete={report.get('complete')}")
    msgs = notifications(state_dir)
    if len(msgs) != 1 or "The reconciliation sweep" not in msgs[0]:
        problems.append(f"{len(msgs)} sweep notifications instead of 1")
    for p in problems:
        print(c("31", f"  CHECK FAILED: {p}"))
    if problems:
        sys.exit(1)
    print(c("32", "  checks passed"))


def snapshot(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    keys = {k["AccessKeyId"]: k["Status"] for k in a["iam"].list_access_keys(UserName="bob")["AccessKeyMetadata"]}
    sg_rules = sorted(f"tcp/{r['FromPort']} from {r['CidrIpv4']}" for r in rules(a, s["sg"]))
    policies = a["iam"].list_user_policies(UserName="bob")["PolicyNames"]
    tags = {t["Key"]: t["Value"] for t in a["iam"].list_user_tags(UserName="bob")["Tags"]}
    acl = a["ec2"].describe_network_acls(NetworkAclIds=[s["acl"]])["NetworkAcls"][0]
    entries = sorted(e["RuleNumber"] for e in acl["Entries"] if not e["Egress"] and e["RuleNumber"] < 32767)
    logging = a["cloudtrail"].get_trail_status(Name="management-events")["IsLogging"]
    return {"keys": keys, "rules": sg_rules, "policies": policies, "tags": tags, "nacl": entries, "logging": logging, "key1": s["key1"], "key2": s["key2"]}


def show(state_dir):
    snap = snapshot(state_dir)
    good, bad = (lambda t: c("32", t)), (lambda t: c("31", t))
    for k, st in snap["keys"].items():
        print(f"  access key {k}: {(bad if st == 'Active' and k == snap['key1'] else good)(st)}")
    print(f"  security group ingress: {', '.join(bad(r) if 'tcp/443' not in r else good(r) for r in snap['rules']) or 'none'}")
    print(f"  bob's inline policies: {', '.join(snap['policies']) or 'none'}")
    for name in snap["policies"]:
        doc = clients()["iam"].get_user_policy(UserName="bob", PolicyName=name)["PolicyDocument"]
        doc = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
        st = doc["Statement"][0]
        print(f"    {name}: {st['Effect']} {st['Action']} when aws:TokenIssueTime < {st['Condition']['DateLessThan']['aws:TokenIssueTime']}")
    print(f"  bob's tags: {snap['tags'] or 'none'}")
    print(f"  network ACL ingress entries: {snap['nacl'] or 'none'}")
    print(f"  CloudTrail logging: {good('on') if snap['logging'] else bad('off')}")
    save(state_dir, "snapshot.json", snap)


def notifications(state_dir):
    a, s = clients(), load(state_dir, "state.json")
    out = []
    while True:
        msgs = a["sqs"].receive_message(QueueUrl=s["queue"], MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(m["Body"])
            a["sqs"].delete_message(QueueUrl=s["queue"], ReceiptHandle=m["ReceiptHandle"])


def show_notifications(state_dir, full_first=True):
    msgs = notifications(state_dir)
    print(f"  {len(msgs)} notification(s) received through SNS -> SQS")
    for i, body in enumerate(msgs):
        human = body.split("--- report (JSON) ---")[0].rstrip()
        lines = human.splitlines()
        if (i == 0 and full_first) or "Key activity," in human:
            print(c("2", "  ┌" + "─" * 70))
            for line in lines:
                print(c("2", "  │ ") + line)
            print(c("2", "  └" + "─" * 70))
        else:
            print(f"  - {lines[0] if lines else ''}")
    save(state_dir, "notifications.json", msgs)


MEMBER = "222233334444"


def member_clients(region="us-east-1"):
    """Clients in the member account (moto gives any role's credentials in its account)."""
    kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=region)
    c = boto3.client("sts", **kw).assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole", RoleSessionName="demo-setup")["Credentials"]
    creds = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    return {s: boto3.client(s, **kw, **creds) for s in ("ec2", "iam")}


def member(state_dir):
    """A member account with the member role (as member.yaml creates it), and the same
    careless change made there; EventBridge forwards its event to the central bus."""
    m = member_clients()
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/trailguard-demo"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}
    m["iam"].create_role(RoleName="trailguard-member", AssumeRolePolicyDocument=json.dumps(trust))
    vpc = m["ec2"].create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    sg = m["ec2"].create_security_group(GroupName="web", Description="web servers", VpcId=vpc)["GroupId"]
    before = {r["SecurityGroupRuleId"] for r in rules(m, sg)}
    m["ec2"].authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    new = [r for r in rules(m, sg) if r["SecurityGroupRuleId"] not in before]
    ev = sg_event(sg, [(22, "0.0.0.0/0")], new)
    ev["account"] = MEMBER
    ev["detail"]["recipientAccountId"] = MEMBER
    ev["detail"]["userIdentity"]["accountId"] = MEMBER
    for item in ev["detail"]["responseElements"]["securityGroupRuleSet"]["items"]:
        item["groupOwnerId"] = MEMBER
    save(state_dir, "event-sg-member.json", ev)
    s = load(state_dir, "state.json")
    s["member_sg"] = sg
    save(state_dir, "state.json", s)
    print(f"  account {MEMBER}: role trailguard-member (trusts the central function's role), group {sg}")
    print(f"  careless admin in {MEMBER}: AuthorizeSecurityGroupIngress {sg}: tcp/22 from 0.0.0.0/0")
    print(f"  rules in {MEMBER}'s {sg}: {[describe(r) for r in rules(m, sg)]}")


def describe(r):
    return f"{r['IpProtocol']}/{r['FromPort']} from {r.get('CidrIpv4') or r.get('CidrIpv6')}"


def check_member(state_dir):
    s, a, m = load(state_dir, "state.json"), clients(), member_clients()
    left = [describe(r) for r in rules(m, s["member_sg"])]
    own = [describe(r) for r in rules(a, s["sg"])]
    report = load(state_dir, "report-revert-security-group-event-sg-member.json")
    print(f"  rules in {MEMBER}'s {s['member_sg']}: {left}; in the central account's {s['sg']}: {own}")
    conn = report.get("connection") or {}
    print(f"  acted through {conn.get('role')} ({conn.get('outcome')})")
    problems = []
    if left:
        problems.append(f"the member's group still has {left}")
    if own != ["tcp/443 from 0.0.0.0/0"]:
        problems.append(f"the central account's group changed: {own}")
    if conn.get("role") != f"arn:aws:iam::{MEMBER}:role/trailguard-member" or conn.get("outcome") != "done":
        problems.append(f"the report does not name the member role: {conn}")
    for p in problems:
        print(c("31", f"  CHECK FAILED: {p}"))
    if problems and os.environ.get("TRAILGUARD_DEMO_CHECK") == "1":
        sys.exit(1)


def check(state_dir, dry):
    snap = snapshot(state_dir)
    msgs = load(state_dir, "notifications.json")
    problems = []
    if dry:
        if "tcp/3389 from 0.0.0.0/0" not in snap["rules"]:
            problems.append("dry-run removed the RDP rule")
        if snap["keys"][snap["key2"]] != "Active":
            problems.append("dry-run disabled key 2")
        if not msgs or not all("DRY-RUN" in m.splitlines()[0] or "would do" in m for m in msgs):
            problems.append(f"dry-run notifications missing or wrong: {[m.splitlines()[0] for m in msgs]}")
    else:
        if snap["keys"][snap["key1"]] != "Inactive":
            problems.append("key 1 is not Inactive")
        if snap["keys"][snap["key2"]] != "Active":
            problems.append("key 2 is not Active")
        if snap["rules"] != ["tcp/443 from 0.0.0.0/0"]:
            problems.append(f"security group rules are {snap['rules']}")
        if "trailguard-revoke-older-sessions" not in snap["policies"]:
            problems.append("no session policy")
        if "trailguard:quarantined" not in snap["tags"]:
            problems.append("no quarantine tag")
        if 90 in snap["nacl"]:
            problems.append("NACL entry 90 still there")
        if not snap["logging"]:
            problems.append("CloudTrail is not logging")
        if len(msgs) != 4:
            problems.append(f"{len(msgs)} notifications instead of 4")
        key = load(state_dir, "report-disable-compromised-key-event-health.json")
        summary = next((a.get("result") for a in key["actions"] if a["type"] == "summarize_key_activity"), None)
        if not summary or summary.get("events") != 11:
            problems.append(f"no key-activity summary from the recorded LookupEvents answer: {summary}")
    for p in problems:
        print(c("31", f"  CHECK FAILED: {p}"))
    if problems:
        sys.exit(1)
    print(c("32", "  checks passed"))


if __name__ == "__main__":
    d, cmd = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    {"seed": seed, "attack": attack, "dry-attack": dry_attack, "show": show,
     "notifications": show_notifications, "check": lambda d: check(d, False), "check-dry": lambda d: check(d, True),
     "unseen": unseen, "check-sweep": check_sweep, "member": member, "check-member": check_member}[cmd](d)
