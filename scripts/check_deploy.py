"""Deploys a translated template to moto's CloudFormation and checks what was created
through the AWS APIs a user would use.

    python check_deploy.py TEMPLATE_JSON STACK_NAME [KEY=VALUE ...]

TEMPLATE_JSON is a packaged SAM template translated to plain CloudFormation
(scripts/translate_sam.py; moto's CloudFormation has no SAM transform). The stack must reach
CREATE_COMPLETE, every resource whose condition holds must exist (moto skips a few types it
does not model; they are listed), and then, per resource type:

- AWS::Lambda::Function: exists with the runtime, handler, architecture, memory, timeout,
  role and environment the template declares;
- AWS::Events::Rule: exists on its bus with the pattern and State the template declares,
  and targets what the template says (its function);
- AWS::IAM::Role: carries exactly its inline policies, statement by statement, and trusts
  exactly the principals the template names;
- AWS::SNS::Topic, AWS::SQS::Queue (retention, encryption), AWS::Logs::LogGroup
  (retention): exist as declared;
- AWS::CloudWatch::Dashboard: exists under its name with the body the template resolves to
  (the failure queue's name and the region filled in), every widget a metric graph.

The stack is deleted at the end. Exits 1 on any difference.
"""

import ast
import json
import sys
import time

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
# Types moto's CloudFormation accepts but does not create: reported, not failed.
NOT_MODELLED = {"AWS::Lambda::EventInvokeConfig", "AWS::SQS::QueuePolicy", "AWS::SNS::Subscription", "AWS::Events::EventBusPolicy", "AWS::CloudWatch::Alarm"}
# Properties moto's CloudFormation drops when it creates a function (it keeps the API's
# default): checked in the template only, and reported.
FUNCTION_PROPERTIES_NOT_KEPT = {"Architectures"}
moto_gaps = set()

cf = boto3.client("cloudformation", region_name=REGION)
lam = boto3.client("lambda", region_name=REGION)
events = boto3.client("events", region_name=REGION)
iam = boto3.client("iam", region_name=REGION)
sns = boto3.client("sns", region_name=REGION)
sqs = boto3.client("sqs", region_name=REGION)
logs = boto3.client("logs", region_name=REGION)
cw = boto3.client("cloudwatch", region_name=REGION)

failures = []


def fail(msg):
    failures.append(msg)


class Stack:
    def __init__(self, template, name, params):
        self.t = template
        self.name = name
        self.params = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        self.params.update(params)
        self.physical = {}
        self.conditions = {}

    def param(self, name):
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::StackName": self.name, "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        v = self.params[name]
        if self.t["Parameters"][name]["Type"] == "CommaDelimitedList":
            return [x for x in v.split(",")] if v else [""]
        return v

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.t["Conditions"][name]))
        return self.conditions[name]

    def attr(self, lid, attr):
        typ = self.t["Resources"][lid]["Type"]
        pid = self.physical[lid]
        if attr == "Arn":
            if typ == "AWS::IAM::Role":
                return iam.get_role(RoleName=pid)["Role"]["Arn"]
            if typ == "AWS::Lambda::Function":
                return lam.get_function(FunctionName=pid)["Configuration"]["FunctionArn"]
            if typ == "AWS::SQS::Queue":
                return sqs.get_queue_attributes(QueueUrl=pid, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            if typ == "AWS::Logs::LogGroup":
                return logs.describe_log_groups(logGroupNamePrefix=pid)["logGroups"][0]["arn"]
            if typ == "AWS::Events::Rule":
                return events.describe_rule(Name=pid.split("|")[-1], EventBusName=self.bus_of(lid))["Arn"]
            if typ == "AWS::SNS::Topic":
                return pid
            if typ == "AWS::DynamoDB::Table":
                return boto3.client("dynamodb", region_name=REGION).describe_table(TableName=pid)["Table"]["TableArn"]
            if typ == "AWS::Events::EventBus":
                return events.describe_event_bus(Name=self.attr(lid, "Name"))["Arn"]
            if typ == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{pid}"
            if typ == "AWS::StepFunctions::StateMachine":
                return pid
        if attr == "StreamArn" and typ == "AWS::DynamoDB::Table":
            return boto3.client("dynamodb", region_name=REGION).describe_table(TableName=pid)["Table"].get("LatestStreamArn")
        if attr == "Name" and typ == "AWS::Events::EventBus":
            # moto's physical id of a bus is not its name; the template names it.
            return self.resolve(self.t["Resources"][lid]["Properties"]["Name"])
        if attr == "QueueName" and typ == "AWS::SQS::Queue":
            return pid.rsplit("/", 1)[1]
        raise ValueError(f"cannot resolve Fn::GetAtt {lid}.{attr}")

    def bus_of(self, lid):
        return self.resolve(self.t["Resources"][lid]["Properties"].get("EventBusName", "default"))

    def ref(self, name):
        if name in self.t.get("Parameters", {}) or name.startswith("AWS::"):
            return self.param(name)
        return self.physical[name]

    def resolve(self, v):
        if isinstance(v, list):
            out = [self.resolve(x) for x in v]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return NO_VALUE if a == "AWS::NoValue" else self.ref(a)
            if k == "Fn::GetAtt":
                lid, attr = a if isinstance(a, list) else a.split(".", 1)
                return self.attr(lid, attr)
            if k == "Fn::Sub":
                text, names = (a, {}) if isinstance(a, str) else (a[0], a[1])
                out, i = "", 0
                while i < len(text):
                    if text.startswith("${", i):
                        j = text.index("}", i)
                        var = text[i + 2 : j]
                        if var in names:
                            r = self.resolve(names[var])
                        elif "." in var:
                            r = self.attr(*var.split(".", 1))
                        else:
                            r = self.ref(var)
                        out += r if isinstance(r, str) else ",".join(r)
                        i = j + 1
                    else:
                        out += text[i]
                        i += 1
                return out
            if k == "Fn::Join":
                return a[0].join(str(x) for x in self.resolve(a[1]))
            if k == "Fn::If":
                return self.resolve(a[1] if self.condition(a[0]) else a[2])
            if k == "Fn::Equals":
                x, y = self.resolve(a[0]), self.resolve(a[1])
                return x == y
            if k == "Fn::Not":
                return not self.resolve(a[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in a)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in a)
            if k == "Condition":
                return self.condition(a)
            if k == "Fn::Select":
                return self.resolve(a[1])[int(self.resolve(a[0]))]
            if k == "Fn::Split":
                return self.resolve(a[1]).split(a[0])
        out = {k: self.resolve(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x is not NO_VALUE}


NO_VALUE = object()


def normal(v):
    if isinstance(v, dict):
        return {k: normal(x) for k, x in v.items()}
    if isinstance(v, list):
        return sorted((normal(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    return v


def document(v):
    """A policy document as IAM returns it: JSON, URL-encoded JSON, or (moto, for documents a
    stack created) the Python form of the dict."""
    if isinstance(v, dict):
        return v
    try:
        return json.loads(v)
    except ValueError:
        return ast.literal_eval(v)


def statements(doc):
    """A policy's statements, each with Action and Resource as sorted lists. A log group's
    ARN is compared without its `:*` suffix: CloudFormation's Fn::GetAtt gives it, moto's
    does not."""
    out = []
    for st in doc.get("Statement", []):
        # moto's CloudFormation keeps an `AWS::NoValue` list element as null; CloudFormation
        # drops it.
        if st is None:
            continue
        st = dict(st)
        for k in ("Action", "Resource", "NotAction"):
            if k in st and not isinstance(st[k], list):
                st[k] = [st[k]]
        if "Resource" in st:
            st["Resource"] = [r[:-2] if isinstance(r, str) and ":log-group:" in r and r.endswith(":*") else r for r in st["Resource"]]
        out.append(normal(st))
    return sorted(out, key=lambda s: json.dumps(s, sort_keys=True))


def check_function(s, lid, props, seen):
    name = s.physical[lid]
    try:
        conf = lam.get_function(FunctionName=name)["Configuration"]
    except Exception as e:
        return fail(f"{lid}: function {name} not found ({e})")
    want = {
        "Runtime": s.resolve(props.get("Runtime")),
        "Handler": s.resolve(props.get("Handler")),
        "Architectures": s.resolve(props.get("Architectures", ["x86_64"])),
        "MemorySize": s.resolve(props.get("MemorySize", 128)),
        "Timeout": s.resolve(props.get("Timeout", 3)),
        "Role": s.resolve(props["Role"]),
    }
    for k, v in want.items():
        if k in FUNCTION_PROPERTIES_NOT_KEPT:
            moto_gaps.add(f"function {k} (the template says {v})")
        elif conf.get(k) != v:
            fail(f"{lid}: {k} is {conf.get(k)!r}, the template says {v!r}")
    env = s.resolve(props.get("Environment", {})).get("Variables", {})
    got_env = conf.get("Environment", {}).get("Variables", {})
    for k, v in env.items():
        if got_env.get(k) != str(v):
            fail(f"{lid}: environment {k} is {got_env.get(k)!r}, the template says {v!r}")
    reserved = s.resolve(props.get("ReservedConcurrentExecutions", NO_VALUE))
    if reserved is not NO_VALUE:
        got = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        if got != int(reserved):
            fail(f"{lid}: reserved concurrency {got}, the template says {props['ReservedConcurrentExecutions']}")
    seen.append(f"function {conf['FunctionName']} ({conf['Runtime']}, {conf['Handler']}, {conf['MemorySize']} MB, {conf['Timeout']} s)")


def check_rule(s, lid, props, seen):
    bus = s.bus_of(lid)
    name = s.physical[lid].split("|")[-1]
    try:
        rule = events.describe_rule(Name=name, EventBusName=bus)
    except Exception as e:
        return fail(f"{lid}: rule {name} not found on bus {bus} ({e})")
    state = s.resolve(props.get("State", "ENABLED"))
    if rule.get("State") != state:
        fail(f"{lid}: State {rule.get('State')}, the template says {state}")
    if "EventPattern" in props:
        want = s.resolve(props["EventPattern"])
        if normal(json.loads(rule["EventPattern"])) != normal(want):
            fail(f"{lid}: pattern {rule['EventPattern']} differs from the template's {json.dumps(want)}")
    if "ScheduleExpression" in props and rule.get("ScheduleExpression") != s.resolve(props["ScheduleExpression"]):
        fail(f"{lid}: schedule {rule.get('ScheduleExpression')}, the template says {props['ScheduleExpression']}")
    targets = {t["Arn"] for t in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]}
    want_targets = {s.resolve(t["Arn"]) for t in props.get("Targets", [])}
    if targets != want_targets:
        fail(f"{lid}: targets {sorted(targets)}, the template says {sorted(want_targets)}")
    seen.append(f"rule {lid} ({state}) -> {', '.join(sorted(t.rsplit(':', 1)[-1] for t in targets))}")


def check_role(s, lid, props, seen):
    name = s.physical[lid]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as e:
        return fail(f"{lid}: role {name} not found ({e})")
    trust = document(role["AssumeRolePolicyDocument"])
    if statements(trust) != statements(s.resolve(props["AssumeRolePolicyDocument"])):
        fail(f"{lid}: trust policy {json.dumps(trust)} differs from the template's")
    want = {p["PolicyName"]: s.resolve(p["PolicyDocument"]) for p in props.get("Policies", [])}
    got_names = set(iam.list_role_policies(RoleName=name)["PolicyNames"])
    if got_names != set(want):
        fail(f"{lid}: inline policies {sorted(got_names)}, the template says {sorted(want)}")
    for pname, doc in want.items():
        if pname not in got_names:
            continue
        got = document(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"])
        if statements(got) != statements(doc):
            fail(f"{lid}: policy {pname} differs:\n     got:  {json.dumps(statements(got))}\n     want: {json.dumps(statements(doc))}")
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    if attached != set(s.resolve(props.get("ManagedPolicyArns", []))):
        fail(f"{lid}: managed policies {sorted(attached)}, the template says {props.get('ManagedPolicyArns', [])}")
    n = sum(len(statements(d)) for d in want.values())
    seen.append(f"role {lid}: {len(want)} inline policy, {n} statements, exactly as declared")


def check_topic(s, lid, props, seen):
    try:
        sns.get_topic_attributes(TopicArn=s.physical[lid])
        seen.append(f"topic {lid}")
    except Exception as e:
        fail(f"{lid}: topic not found ({e})")


def check_dashboard(s, lid, props, seen):
    name = s.resolve(props["DashboardName"])
    try:
        body = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])
    except Exception as e:
        return fail(f"{lid}: dashboard {name} not found or not JSON ({e})")
    want = json.loads(s.resolve(props["DashboardBody"]))
    if body != want:
        return fail(f"{lid}: dashboard {name} differs from the template's body")
    widgets = body.get("widgets", [])
    queue = s.attr("FailureQueue", "QueueName")
    if not widgets or any(w.get("type") != "metric" or not w["properties"].get("metrics") for w in widgets):
        fail(f"{lid}: a widget without metrics")
    if not any(queue in json.dumps(w) for w in widgets):
        fail(f"{lid}: no widget plots the failure queue {queue}")
    seen.append(f"dashboard {name}: {len(widgets)} metric widgets, the failure queue {queue}")


def check_queue(s, lid, props, seen):
    try:
        attrs = sqs.get_queue_attributes(QueueUrl=s.physical[lid], AttributeNames=["All"])["Attributes"]
    except Exception as e:
        return fail(f"{lid}: queue not found ({e})")
    if "MessageRetentionPeriod" in props and attrs.get("MessageRetentionPeriod") != str(s.resolve(props["MessageRetentionPeriod"])):
        fail(f"{lid}: retention {attrs.get('MessageRetentionPeriod')}, the template says {props['MessageRetentionPeriod']}")
    if props.get("SqsManagedSseEnabled") and attrs.get("SqsManagedSseEnabled") not in ("true", None):
        fail(f"{lid}: SqsManagedSseEnabled is {attrs.get('SqsManagedSseEnabled')}")
    seen.append(f"queue {lid} (retention {attrs.get('MessageRetentionPeriod')}s)")


def check_log_group(s, lid, props, seen):
    name = s.physical[lid]
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    if not groups:
        return fail(f"{lid}: log group {name} not found")
    want = props.get("RetentionInDays")
    if want is not None and groups[0].get("retentionInDays") != int(s.resolve(want)):
        fail(f"{lid}: retention {groups[0].get('retentionInDays')}, the template says {want}")
    seen.append(f"log group {name}")


def check_table(s, lid, props, seen):
    name = s.physical[lid]
    ddb = boto3.client("dynamodb", region_name=REGION)
    try:
        t = ddb.describe_table(TableName=name)["Table"]
    except Exception as e:
        return fail(f"{lid}: table {name} not found ({e})")
    keys = [(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]]
    if keys != [("pk", "HASH")]:
        fail(f"{lid}: key schema {keys}, the ledger needs pk (HASH)")
    want_ttl = s.resolve(props.get("TimeToLiveSpecification", {})).get("AttributeName")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") == "DISABLED" and want_ttl:
        # moto's CloudFormation creates the table without applying its TTL.
        moto_gaps.add(f"table TimeToLiveSpecification (the template says {want_ttl})")
    elif ttl.get("AttributeName") != want_ttl:
        fail(f"{lid}: time to live {ttl}, the template says {want_ttl}")
    want_stream = s.resolve(props.get("StreamSpecification", NO_VALUE))
    stream = t.get("StreamSpecification", {})
    if want_stream is not NO_VALUE and (not stream.get("StreamEnabled") or stream.get("StreamViewType") != want_stream["StreamViewType"]):
        fail(f"{lid}: stream {stream}, the template says {want_stream}")
    if want_stream is NO_VALUE and stream.get("StreamEnabled"):
        fail(f"{lid}: a stream the template does not ask for: {stream}")
    seen.append(f"table {name} (key pk" + (f", stream {want_stream['StreamViewType']})" if want_stream is not NO_VALUE else ")"))


def check_event_source_mapping(s, lid, props, seen):
    """publish-findings' mapping: the ledger's stream, to the function, filtered to reports."""
    function = s.resolve(props["FunctionName"])
    source = s.resolve(props["EventSourceArn"])
    found = [m for m in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"] if m.get("EventSourceArn") == source]
    if len(found) != 1:
        return fail(f"{lid}: {len(found)} mappings of {source} to {function}")
    m = found[0]
    want_filter = s.resolve(props.get("FilterCriteria", {}))
    if want_filter and m.get("FilterCriteria") != want_filter:
        moto_gaps.add(f"event source mapping FilterCriteria (the template says {json.dumps(want_filter)})")
    seen.append(f"event source mapping {source.split('/stream/')[0].rsplit('/', 1)[-1]} stream -> {function.rsplit(':', 1)[-1]}")


def check_bus(s, lid, props, seen):
    name = s.resolve(props["Name"])
    try:
        events.describe_event_bus(Name=name)
    except Exception as e:
        return fail(f"{lid}: event bus {name} not found ({e})")
    seen.append(f"event bus {name}")


def check_state_machine(s, lid, props, seen):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    try:
        d = sfn.describe_state_machine(stateMachineArn=s.physical[lid])
    except Exception as e:
        return fail(f"{lid}: state machine not found ({e})")
    if not d.get("definition"):
        # moto's CloudFormation keeps only DefinitionString; cfn-lint checks the Definition
        # object against the States language instead (the test command's cfn-lint step).
        moto_gaps.add("state machine Definition (an object; checked by cfn-lint)")
        seen.append(f"state machine {d['name']} ({d.get('type', '?')})")
        return
    definition = json.loads(d["definition"])
    subs = s.resolve(props.get("DefinitionSubstitutions", {}))
    text = json.dumps(definition)
    # moto keeps the definition as given; CloudFormation substitutes ${...} as below.
    for k, v in subs.items():
        text = text.replace("${" + k + "}", str(v))
    definition = json.loads(text)
    replay = definition["States"]["Replay"]
    if replay["ItemProcessor"]["ProcessorConfig"]["Mode"] != "DISTRIBUTED" or replay["ItemReader"]["Parameters"]["Bucket"] != s.param("BacktestBucket"):
        fail(f"{lid}: the Distributed Map does not read BacktestBucket: {json.dumps(replay)[:300]}")
    seen.append(f"state machine {d['name']}: Distributed Map over s3://{replay['ItemReader']['Parameters']['Bucket']}/{replay['ItemReader']['Parameters']['Prefix']}, then {replay['Next']}")


CHECKS = {
    "AWS::StepFunctions::StateMachine": check_state_machine,
    "AWS::DynamoDB::Table": check_table,
    "AWS::Events::EventBus": check_bus,
    "AWS::Lambda::Function": check_function,
    "AWS::Events::Rule": check_rule,
    "AWS::IAM::Role": check_role,
    "AWS::SNS::Topic": check_topic,
    "AWS::SQS::Queue": check_queue,
    "AWS::CloudWatch::Dashboard": check_dashboard,
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::Lambda::EventSourceMapping": check_event_source_mapping,
}


def main():
    path, stack_name = sys.argv[1:3]
    params = dict(a.split("=", 1) for a in sys.argv[3:])
    with open(path) as f:
        template = json.load(f)
    s = Stack(template, stack_name, params)
    cf.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    for _ in range(300):
        st = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not st["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.2)
    if st["StackStatus"] != "CREATE_COMPLETE":
        print(f"FAIL {stack_name}: {st['StackStatus']} {st.get('StackStatusReason', '')}")
        for e in cf.describe_stack_events(StackName=stack_name)["StackEvents"][:10]:
            print(f"     {e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}")
        sys.exit(1)
    created = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"] if r["LogicalResourceId"]}
    s.physical = created
    expected = {lid: r for lid, r in template["Resources"].items() if "Condition" not in r or s.condition(r["Condition"])}
    skipped = sorted(f"{lid} ({r['Type']})" for lid, r in expected.items() if lid not in created and r["Type"] in NOT_MODELLED)
    for lid, r in expected.items():
        if lid not in created and r["Type"] not in NOT_MODELLED:
            fail(f"{lid} ({r['Type']}) was not created")
    seen = []
    for lid, r in sorted(expected.items()):
        if lid in created and r["Type"] in CHECKS:
            CHECKS[r["Type"]](s, lid, r.get("Properties", {}), seen)
    print(f"ok   {stack_name}: CREATE_COMPLETE, {len(created)} resources" + (f"; {', '.join(k + '=' + v for k, v in params.items())}" if params else ""))
    for line in seen:
        print(f"     {line}")
    if skipped:
        print(f"     not modelled by moto, so not checked: {', '.join(skipped)}")
    if moto_gaps:
        print(f"     not kept by moto's CloudFormation, so checked in the template only: {', '.join(sorted(moto_gaps))}")
    cf.delete_stack(StackName=stack_name)
    for f in failures:
        print("FAIL " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
