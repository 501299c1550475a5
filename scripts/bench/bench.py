"""trailguard vs the Python/boto3 way, side by side, against the same moto server.

For each remediation and each implementation, R cold starts, each followed by N warm
events, under the same minimal Lambda Runtime API (runtime_api.py):
  init           process exec -> first request for an event (SDK clients built)
  first event    event handed over -> response received, first event of the process
  warm event     the same, median over the warm events
  overhead       handler time minus time inside AWS calls, as each handler reports it
  API calls      requests moto's recorder saw for the first remediation
  peak RSS       VmHWM of the function process after its last event
  size           release binary, stripped, and zipped as Lambda uploads it (Rust only)

Usage: python bench.py RUST_BIN_DIR PYTHON_WITH_AWSLAMBDARIC [runs] [warm]
Needs AWS_ENDPOINT_URL (moto) in the environment.
"""

import io
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile

import boto3

from runtime_api import RuntimeApi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
ACCOUNT = "123456789012"


def moto(path, method="POST"):
    req = urllib.request.Request(ENDPOINT + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name="us-east-1")


def sample(name):
    with open(os.path.join(ROOT, "events", name)) as f:
        return json.load(f)


def sg_events(n):
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName=f"bench-{uuid.uuid4().hex[:8]}", Description="bench", VpcId=vpc)["GroupId"]
    events = []
    for i in range(n):
        port = 2000 + i
        rule = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])["SecurityGroupRules"][0]
        ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")
        ev["id"] = str(uuid.uuid4())
        ev["detail"]["requestParameters"] = {"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}
        ev["detail"]["responseElements"] = {"_return": True, "securityGroupRuleSet": {"items": [{"groupId": sg, "securityGroupRuleId": rule["SecurityGroupRuleId"], "isEgress": False, "ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"}]}}
        events.append(ev)
    return events


def key_events(n):
    iam = client("iam")
    events = []
    for i in range(n):
        user = f"bench-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        ev = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json")
        ev["id"] = str(uuid.uuid4())
        ev["detail"]["affectedEntities"] = [{"entityValue": key, "tags": {}}]
        events.append(ev)
    return events


CASES = {
    "revert-security-group": (sg_events, "baseline_handler.revert_security_group", {"exempt_tag": "", "protected_tag": ""}),
    "disable-compromised-key": (key_events, "baseline_handler.disable_access_key", {"revoke_sessions": False, "tag_users": False, "key_activity_hours": 0}),
}


def recorded_actions():
    out = []
    for line in moto("/moto-api/recorder/download-recording", "GET").splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        body = v.get("body") or ""
        if v.get("body_encoded"):
            import base64
            body = base64.b64decode(body).decode(errors="replace")
        action = body.split("Action=")[1].split("&")[0] if "Action=" in body else (v["headers"].get("X-Amz-Target") or "?")
        out.append(action)
    return out


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_once(kind, fn, cmd, policy, events):
    api = RuntimeApi()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
        "AWS_LAMBDA_FUNCTION_NAME": fn,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "TRAILGUARD_POLICY": json.dumps(policy),
        "TRAILGUARD_OWN_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/trailguard-bench",
        "PYTHONPATH": HERE,
        "RUST_LOG": "off",
    })
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while api.first_next is None:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} {fn} exited during init")
            time.sleep(0.0002)
        init = api.first_next - t0
        moto("/moto-api/recorder/reset-recording")
        moto("/moto-api/recorder/start-recording")
        first, k, body = api.invoke(events[0])
        moto("/moto-api/recorder/stop-recording")
        if k != "response":
            raise RuntimeError(f"{kind} {fn} failed: {body[:300]}")
        calls = recorded_actions()
        warm, overhead = [], []
        for ev in events[1:]:
            lat, k, body = api.invoke(ev)
            if k != "response":
                raise RuntimeError(f"{kind} {fn} failed: {body[:300]}")
            warm.append(lat)
            overhead.append(json.loads(body)["timing"]["overhead_ms"])
        rss = peak_rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        api.close()
    return {"init_ms": init * 1e3, "first_ms": first * 1e3, "warm_ms": statistics.median(warm) * 1e3, "overhead_ms": statistics.median(overhead), "calls": calls, "rss_mb": rss / 1024}


def init_only(fn, bin_path, policy):
    """exec -> first request for an event, for a function without a Python twin."""
    api = RuntimeApi()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
        "AWS_LAMBDA_FUNCTION_NAME": fn,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "TRAILGUARD_POLICY": json.dumps(policy),
        "TRAILGUARD_OWN_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/trailguard-bench",
        "RUST_LOG": "off",
    })
    if fn == "publish-findings":
        # What template.yaml gives it: the ledger, and the account's own product.
        env.update({
            "TRAILGUARD_LEDGER_TABLE": "trailguard-bench-ledger",
            "TRAILGUARD_FINDINGS_PRODUCT_ARN": f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default",
        })
    t0 = time.perf_counter()
    proc = subprocess.Popen([bin_path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while api.first_next is None:
            if proc.poll() is not None:
                raise RuntimeError(f"{fn} exited during init")
            time.sleep(0.0002)
        return (api.first_next - t0) * 1e3
    finally:
        proc.kill()
        proc.wait()
        api.close()


def size(path):
    raw = os.path.getsize(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return raw, len(buf.getvalue())


def fmt(values, unit, digits=1):
    med = statistics.median(values)
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    rust_dir, python = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    warm = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    results = {}
    for fn, (make, py_handler, policy) in CASES.items():
        bin_path = os.path.join(rust_dir, fn, "bootstrap")
        for kind, cmd in (("rust", [bin_path]), ("python", [python, "-m", "awslambdaric", py_handler])):
            rs = []
            for _ in range(runs):
                moto("/moto-api/reset")
                rs.append(run_once(kind, fn, cmd, policy, make(warm + 1)))
            results[(fn, kind)] = rs
            print(f"measured {fn} / {kind}: {runs} runs", file=sys.stderr)
    lines = ["| function | impl | init | first event | warm event | overhead beyond AWS | API calls (first remediation) | peak RSS | binary (stripped / zipped) |", "|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for fn in CASES:
        for kind in ("rust", "python"):
            rs = results[(fn, kind)]
            calls = ", ".join(rs[0]["calls"])
            if kind == "rust":
                raw, zipped = size(os.path.join(rust_dir, fn, "bootstrap"))
                sz = f"{raw / 1e6:.1f} MB / {zipped / 1e6:.1f} MB"
            else:
                sz = "n/a (boto3 ships in the runtime)"
            lines.append(f"| {fn} | {kind} | {fmt([r['init_ms'] for r in rs], 'ms')} | {fmt([r['first_ms'] for r in rs], 'ms')} | {fmt([r['warm_ms'] for r in rs], 'ms', 2)} | {fmt([r['overhead_ms'] for r in rs], 'ms', 3)} | {len(rs[0]['calls'])}: {calls} | {fmt([r['rss_mb'] for r in rs], 'MB')} | {sz} |")
        r, p = results[(fn, "rust")], results[(fn, "python")]
        med = lambda rs, k: statistics.median([x[k] for x in rs])
        ratios.append(f"| {fn} | {med(p, 'init_ms') / med(r, 'init_ms'):.0f}× | {med(p, 'first_ms') / med(r, 'first_ms'):.1f}× | {med(p, 'warm_ms') / med(r, 'warm_ms'):.1f}× | {med(p, 'rss_mb') / med(r, 'rss_mb'):.1f}× |")
    print("\n".join(lines))
    print()
    print("Python ÷ Rust (medians):\n")
    print("| function | init | first event | warm event | peak RSS |\n|---|---|---|---|---|")
    print("\n".join(ratios))
    # Every function: the limits (init <= 20 ms, binary <= 8 MB stripped) hold for each.
    functions = sorted(os.listdir(os.path.join(ROOT, "functions")))
    print()
    print("Every function (init over the same runs; the trusted set configured, so the sharing and IAM functions build their Organizations client too):\n")
    print("| function | init | binary (stripped / zipped) |\n|---|---|---|")
    policy = {"trusted_accounts": ["444455556666"], "organization_id": "o-a1b2c3d4e5"}
    for fn in functions:
        path = os.path.join(rust_dir, fn, "bootstrap")
        inits = [init_only(fn, path, policy) for _ in range(runs)]
        raw, zipped = size(path)
        results[(fn, "init")] = [{"init_ms": i} for i in inits]
        print(f"| {fn} | {fmt(inits, 'ms')} | {raw / 1e6:.1f} MB / {zipped / 1e6:.1f} MB |")
    with open(os.path.join(ROOT, ".tmp", "bench-raw.json"), "w") as f:
        json.dump({f"{k[0]}/{k[1]}": v for k, v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
