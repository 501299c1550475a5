"""Faults and storms, end to end through the real function binaries.

Each function runs as Lambda runs it: the binary of the test command's debug build,
talking to a Lambda Runtime API on loopback (scripts/bench/runtime_api.py), its AWS calls
going through the fault-injecting proxy (scripts/awsproxy.py) to moto. Every scenario
checks the end state in moto, the invocation's answer (report or error), the notification
(SNS -> SQS) and the function's own log lines.

    python reliability.py TARGET_DIR PROXY_URL [RESULTS_JSON]
    python reliability.py --error-types SAM_BUILD_DIR PROXY_URL

Needs AWS_ENDPOINT_URL (moto) in the environment; PROXY_URL is an awsproxy in front of it.
`--error-types` runs only the checks of Lambda's `errorType` (a malformed event, a failed
step, an unreachable member role) against the artifacts `sam build` made and copied
(SAM_BUILD_DIR/<Function>/bootstrap): what a deployment would upload. The test command's
`sam build` runs in SAM's debug mode over its own build; the optimised release binaries
(panic=abort, LTO) are scripts/bench.sh's.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from runtime_api import RuntimeApi  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "123456789012"
MOTO = os.environ["AWS_ENDPOINT_URL"]
FAILURES = []
RESULTS = {}
# Every function process started, so none outlives the script whatever fails.
STARTED = []


def aws(service):
    return boto3.client(service, region_name="us-east-1", endpoint_url=MOTO)


def sample(name):
    with open(os.path.join(ROOT, "events", name)) as f:
        return json.load(f)


def check(ok, what):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        FAILURES.append(what)


class Proxy:
    def __init__(self, url):
        self.url = url

    def rules(self, rules):
        req = urllib.request.Request(f"{self.url}/__proxy/rules", data=json.dumps(rules).encode(), method="PUT")
        urllib.request.urlopen(req).read()

    def stats(self):
        return json.loads(urllib.request.urlopen(f"{self.url}/__proxy/stats").read())


def binary(target, name):
    """The function's executable: TARGET/name (cargo's output), or in a `sam build` directory
    the bootstrap of the function whose template.yaml entry sets `Binary: name` (sam build
    names each function's directory by its logical id)."""
    plain = os.path.join(target, name)
    if os.path.isfile(plain):
        return plain
    logical = None
    with open(os.path.join(ROOT, "template.yaml")) as f:
        for line in f:
            if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
                logical = line.strip().rstrip(":")
            elif line.strip() == f"Binary: {name}" and logical:
                path = os.path.join(target, logical, "bootstrap")
                if os.path.isfile(path):
                    return path
    raise SystemExit(f"no binary for {name} in {target}")


class Function:
    """One warm function process behind its own Runtime API."""

    def __init__(self, target, name, endpoint, extra_env=None, log=None):
        self.api = RuntimeApi()
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.api.port}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "reliability",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TRAILGUARD_OWN_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/trailguard-reliability",
        })
        env.update(extra_env or {})
        self.log_path = log or f"/dev/null"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary(target, name)], env=env, stdout=self.log, stderr=subprocess.DEVNULL)
        STARTED.append(self)

    def invoke(self, event, timeout=90):
        _, kind, body = self.api.invoke(event, timeout=timeout)
        return kind, json.loads(body) if body else None

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.api.close()
        self.log.close()

    def lines(self):
        out = []
        with open(self.log_path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def topic_with_queue():
    sns, sqs = aws("sns"), aws("sqs")
    name = f"reliability-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    q = sqs.create_queue(QueueName=name)["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}", Attributes={"RawMessageDelivery": "true"})
    return topic, q


def drain(q):
    sqs, out = aws("sqs"), []
    while True:
        msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])


def open_group(ec2, vpc, port=22):
    sg = ec2.create_security_group(GroupName=f"rel-{uuid.uuid4().hex[:10]}", Description="reliability", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    rule = next(r for r in rules if not r["IsEgress"])
    ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")
    ev["id"] = str(uuid.uuid4())
    ev["detail"]["eventID"] = str(uuid.uuid4())
    ev["detail"]["requestParameters"] = {"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}
    ev["detail"]["responseElements"] = {"requestId": str(uuid.uuid4()), "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCOUNT, "groupId": sg, "securityGroupRuleId": rule["SecurityGroupRuleId"], "isEgress": False, "ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"}]}}
    return sg, ev


def is_open(ec2, sg):
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    return any(not r["IsEgress"] and r.get("CidrIpv4") == "0.0.0.0/0" for r in rules)


def user_with_key(iam):
    user = f"rel-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    ev = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json")
    ev["id"] = str(uuid.uuid4())
    ev["detail"]["affectedEntities"] = [{"entityValue": key, "tags": {}}]
    return user, key, ev


def user_state(iam, user, key):
    status = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}[key]
    policies = sorted(iam.list_user_policies(UserName=user)["PolicyNames"])
    tags = sorted(t["Key"] for t in iam.list_user_tags(UserName=user)["Tags"])
    return status, policies, tags


def action(report, type_):
    return next(a for a in report["actions"] if a["type"] == type_)


def faults(target, proxy, tmp):
    ec2, iam = aws("ec2"), aws("iam")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    topic, q = topic_with_queue()
    env = {"TRAILGUARD_TOPIC_ARN": topic}

    print("faults: throttling, then 5xx, for the first 2 calls")
    for fault in ({"fault": "throttle"}, {"fault": "error", "status": 500, "code": "InternalError"}):
        sg, ev = open_group(ec2, vpc)
        proxy.rules([{"operation": "RevokeSecurityGroupIngress", "times": 2, **fault}])
        fn = Function(target, "revert-security-group", proxy.url, env)
        kind, r = fn.invoke(ev)
        fn.stop()
        revoke = action(r, "revoke_security_group_rules") if kind == "response" else {}
        check(kind == "response" and revoke.get("outcome") == "done" and revoke.get("attempts") == 3,
              f"{fault['fault']} x2: the SDK's retries succeed (outcome {revoke.get('outcome')}, {revoke.get('attempts')} attempts reported)")
        check(not is_open(ec2, sg), f"{fault['fault']} x2: the rule is revoked")
        RESULTS[f"{fault['fault']}_x2_attempts"] = revoke.get("attempts")
    drain(q)

    print("faults: persistent 5xx, then calls that hang past the SDK's timeout")
    for fault in ({"fault": "error", "status": 503, "code": "ServiceUnavailable"}, {"fault": "delay", "seconds": 30}):
        sg, ev = open_group(ec2, vpc)
        proxy.rules([{"operation": "RevokeSecurityGroupIngress", **fault}])
        fn = Function(target, "revert-security-group", proxy.url, env)
        t = time.monotonic()
        kind, r = fn.invoke(ev)
        took = time.monotonic() - t
        fn.stop()
        proxy.rules([])
        msgs = drain(q)
        msg = (r or {}).get("errorMessage", "")
        check(kind == "error" and "retryable" in msg, f"{fault['fault']}: the invocation fails retryably ({msg[:90]}...)")
        check((r or {}).get("errorType") == "RemediationFailedRetryable",
              f"{fault['fault']}: Lambda's errorType names the class ({(r or {}).get('errorType')})")
        check(len(msgs) == 1 and "CONTAINMENT FAILED" in msgs[0],
              f"{fault['fault']}: the notification says containment failed")
        check(is_open(ec2, sg), f"{fault['fault']}: nothing was changed")
        RESULTS[f"{fault['fault']}_persistent_seconds"] = round(took, 1)

    print("faults: AccessDenied on one action of a plan")
    user, key, ev = user_with_key(iam)
    proxy.rules([{"operation": "PutUserPolicy", "fault": "denied"}, {"operation": "LookupEvents", "fault": "respond", "body": "{\"Events\": []}"}])
    fn = Function(target, "disable-compromised-key", proxy.url, env)
    kind, r = fn.invoke(ev)
    fn.stop()
    proxy.rules([])
    msgs = drain(q)
    status, policies, tags = user_state(iam, user, key)
    check(kind == "error" and "iam:PutUserPolicy" in r.get("errorMessage", ""),
          f"denied: the error names the IAM action to grant ({r.get('errorMessage', '')[:100]})")
    check(r.get("errorType") == "RemediationFailed", f"denied: errorType RemediationFailed ({r.get('errorType')})")
    check(status == "Inactive" and "trailguard:quarantined" in tags, "denied: the other actions of the plan still ran (key Inactive, user tagged)")
    check(len(msgs) == 1 and "iam:PutUserPolicy" in msgs[0], "denied: the notification names the action to grant")

    print("faults: the process killed mid-plan, then the event delivered again")
    user, key, ev = user_with_key(iam)
    proxy.rules([{"operation": "PutUserPolicy", "fault": "delay", "seconds": 30}, {"operation": "LookupEvents", "fault": "respond", "body": "{\"Events\": []}"}])
    fn = Function(target, "disable-compromised-key", proxy.url, env)
    fn.api.events.put(ev)
    deadline = time.monotonic() + 30
    while proxy.stats().get("PutUserPolicy", {}).get("calls", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    fn.proc.send_signal(signal.SIGKILL)
    fn.proc.wait()
    fn.stop()
    mid = user_state(iam, user, key)
    check(mid[0] == "Inactive" and not mid[1], f"crash: killed after the first mutating call (state then: {mid})")
    proxy.rules([{"operation": "LookupEvents", "fault": "respond", "body": "{\"Events\": []}"}])
    fn = Function(target, "disable-compromised-key", proxy.url, env)
    kind, r = fn.invoke(ev)
    fn.stop()
    after = user_state(iam, user, key)
    # The same event, uninterrupted, on a twin user: the state both end in.
    twin, twin_key, twin_ev = user_with_key(iam)
    fn = Function(target, "disable-compromised-key", proxy.url, env)
    fn.invoke(twin_ev)
    fn.stop()
    proxy.rules([])
    clean = user_state(iam, twin, twin_key)
    check(kind == "response" and action(r, "deactivate_access_key")["outcome"] == "already_done",
          "crash: the redelivery finds the key already disabled (already_done) and finishes the plan")
    check(after == clean, f"crash: the end state equals an uninterrupted run's ({after} vs {clean})")
    drain(q)

    print("faults: an event from an account no member role reaches")
    ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")
    other = "222233334444"
    ev["account"] = other
    ev["detail"]["recipientAccountId"] = other
    ev["detail"]["userIdentity"]["accountId"] = other
    fn = Function(target, "revert-security-group", proxy.url, env)
    kind, r = fn.invoke(ev)
    fn.stop()
    msgs = drain(q)
    check(kind == "error" and r.get("errorType") == "MemberRoleUnavailable",
          f"unreachable: errorType MemberRoleUnavailable ({(r or {}).get('errorType')}: {(r or {}).get('errorMessage', '')[:80]})")
    check(len(msgs) == 1 and other in msgs[0], "unreachable: people are told which account")


def error_types(target, proxy):
    """Lambda's errorType names the failure class, from the binaries in `target`."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.79.0.0/16")["Vpc"]["VpcId"]
    topic, q = topic_with_queue()
    env = {"TRAILGUARD_TOPIC_ARN": topic}
    fn = Function(target, "revert-security-group", proxy.url, env)
    try:
        kind, r = fn.invoke({"version": "0", "id": "malformed-1", "source": "aws.ec2",
                             "detail-type": "AWS API Call via CloudTrail", "detail": "not an object"})
        check(kind == "error" and r.get("errorType") == "MalformedEvent",
              f"errorType MalformedEvent for a malformed event ({(r or {}).get('errorType')}: {(r or {}).get('errorMessage', '')[:80]})")
        sg, ev = open_group(ec2, vpc)
        proxy.rules([{"operation": "RevokeSecurityGroupIngress", "fault": "denied"}])
        kind, r = fn.invoke(ev)
        proxy.rules([])
        check(kind == "error" and r.get("errorType") == "RemediationFailed" and "ec2:RevokeSecurityGroupIngress" in r.get("errorMessage", ""),
              f"errorType RemediationFailed for a step refused for good ({(r or {}).get('errorType')}: {(r or {}).get('errorMessage', '')[:80]})")
        check(is_open(ec2, sg), "the refused step changed nothing")
        sg, ev = open_group(ec2, vpc)
        proxy.rules([{"operation": "RevokeSecurityGroupIngress", "fault": "error", "status": 503, "code": "ServiceUnavailable"}])
        kind, r = fn.invoke(ev)
        proxy.rules([])
        check(kind == "error" and r.get("errorType") == "RemediationFailedRetryable",
              f"errorType RemediationFailedRetryable for a step that keeps failing with 503 ({(r or {}).get('errorType')})")
        other = "222233334444"
        sg, ev = open_group(ec2, vpc)
        ev["account"] = other
        ev["detail"]["recipientAccountId"] = other
        ev["detail"]["userIdentity"]["accountId"] = other
        kind, r = fn.invoke(ev)
        check(kind == "error" and r.get("errorType") == "MemberRoleUnavailable",
              f"errorType MemberRoleUnavailable for an account no member role reaches ({(r or {}).get('errorType')}: {(r or {}).get('errorMessage', '')[:80]})")
    finally:
        fn.stop()
        proxy.rules([])
    drain(q)


def storms(target, proxy, tmp):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    proxy.rules([])

    print("storm: 1,000 mixed events through one warm process")
    groups = [open_group(ec2, vpc) for _ in range(20)]
    ignore = sample("aws.ec2-AuthorizeSecurityGroupIngress-allowed-https.json")
    malformed = [
        {"version": "0", "id": "m1", "source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": "not an object"},
        {"id": "m2", "source": 7, "detail": {"eventName": ["AuthorizeSecurityGroupIngress"]}},
        {"version": "0", "id": "m3", "source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "requestParameters": {"groupId": {"nested": [1, 2, {"x": None}]}}, "responseElements": 12}},
        "just a string",
        [1, 2, 3],
    ]
    events = []
    for i in range(1000):
        if i % 10 == 0:
            sg, ev = groups[(i // 10) % len(groups)]
            events.append(("remediate", ev))
        elif i % 10 in (1, 2, 3):
            events.append(("malformed", malformed[i % len(malformed)]))
        else:
            e = json.loads(json.dumps(ignore))
            e["id"] = f"ignore-{i}"
            events.append(("ignore", e))
    log = os.path.join(tmp, "storm-one.log")
    fn = Function(target, "revert-security-group", proxy.url, log=log)
    answers, rss, wrong = {"response": 0, "error": 0}, {}, []
    t = time.monotonic()
    for i, (what, ev) in enumerate(events, 1):
        kind, r = fn.invoke(ev)
        answers[kind] += 1
        # Remediations and ignores get a report; a malformed event gets an error naming what
        # is wrong, or (when it parses leniently) an ignore with its reason.
        if what == "malformed":
            ok = (kind == "error" and r.get("errorMessage") and r.get("errorType") == "MalformedEvent") or (kind == "response" and r["decision"] == "ignore" and r["reason"])
        else:
            ok = kind == "response" and r["decision"] == {"remediate": "remediate", "ignore": "ignore"}[what]
        if not ok:
            wrong.append((what, kind, r))
        if i in (100, 1000):
            rss[i] = fn.rss_kb()
    took = time.monotonic() - t
    fn.stop()
    decisions = [l for l in fn.lines() if l.get("kind") == "decision"]
    check(sum(answers.values()) == 1000, f"1,000 events, {sum(answers.values())} answers ({answers})")
    check(len(decisions) == 1000, f"one decision log line per event ({len(decisions)})")
    check(not wrong, f"every event answered as its kind wants: a report, or for malformed ones an error or an ignore with a reason ({wrong[:2]})")
    check(not any(is_open(ec2, sg) for sg, _ in groups), "every opened group is closed")
    check(rss[1000] <= rss[100] * 1.25 + 2048, f"memory stays flat: peak RSS {rss[100]} kB after 100, {rss[1000]} kB after 1,000")
    RESULTS["storm_1000"] = {"seconds": round(took, 1), "rss_kb_after_100": rss[100], "rss_kb_after_1000": rss[1000], "answers": answers}

    print("storm: one event delivered 50 times across 4 processes, with the ledger")
    ddb = aws("dynamodb")
    table = f"reliability-ledger-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    sg, ev = open_group(ec2, vpc)
    fns = [Function(target, "revert-security-group", proxy.url, {"TRAILGUARD_LEDGER_TABLE": table}) for _ in range(4)]
    outcomes, errors = [], []

    def deliver(fn, n):
        for _ in range(n):
            kind, r = fn.invoke(ev)
            if kind == "error":
                errors.append(r)
            else:
                outcomes.append(action(r, "revoke_security_group_rules")["outcome"])

    threads = [threading.Thread(target=deliver, args=(fn, n)) for fn, n in zip(fns, (13, 13, 12, 12))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for fn in fns:
        fn.stop()
    check(not errors, f"50 deliveries, no error ({errors[:1]})")
    check(outcomes.count("done") == 1 and outcomes.count("already_done") == 49,
          f"exactly one done, the rest already_done ({ {o: outcomes.count(o) for o in set(outcomes)} })")
    check(not is_open(ec2, sg), "the end state is one delivery's: the rule is revoked")
    RESULTS["redelivery_50x4"] = {o: outcomes.count(o) for o in set(outcomes)}


def main():
    if sys.argv[1] == "--error-types":
        proxy = Proxy(sys.argv[3])
        print(f"error types: the binaries in {sys.argv[2]}")
        error_types(sys.argv[2], proxy)
        if FAILURES:
            print(f"{len(FAILURES)} check(s) failed")
            sys.exit(1)
        return
    target, proxy_url = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) > 3 else None
    tmp = os.environ.get("TG_LOGDIR", "/tmp")
    proxy = Proxy(proxy_url)
    t = time.monotonic()
    try:
        faults(target, proxy, tmp)
        storms(target, proxy, tmp)
    finally:
        for fn in STARTED:
            if fn.proc.poll() is None:
                fn.proc.kill()
                fn.proc.wait()
    RESULTS["seconds"] = round(time.monotonic() - t, 1)
    print(json.dumps(RESULTS, indent=2))
    if out:
        with open(out, "w") as f:
            json.dump(RESULTS, f, indent=2)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
