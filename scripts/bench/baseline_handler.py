"""The Python/boto3 baseline: the same two remediations the way AWS samples and most teams
write them. Clients are created at import, as the samples do."""

import time

import boto3

ec2 = boto3.client("ec2")
iam = boto3.client("iam")


def revert_security_group(event, context):
    t0 = time.perf_counter()
    detail = event["detail"]
    if detail.get("errorCode"):
        return {"decision": "ignore"}
    group_id = detail["requestParameters"]["groupId"]
    rules = detail["responseElements"]["securityGroupRuleSet"]["items"]
    open_ids = [r["securityGroupRuleId"] for r in rules if r.get("cidrIpv4") == "0.0.0.0/0" and r.get("fromPort") not in (80, 443)]
    aws = 0.0
    if open_ids:
        t = time.perf_counter()
        ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=open_ids)
        aws += time.perf_counter() - t
    total = time.perf_counter() - t0
    return {"decision": "remediate", "timing": {"total_ms": total * 1e3, "aws_ms": aws * 1e3, "overhead_ms": (total - aws) * 1e3}}


def disable_access_key(event, context):
    t0 = time.perf_counter()
    aws = 0.0
    for entity in event["detail"]["affectedEntities"]:
        key = entity["entityValue"]
        t = time.perf_counter()
        user = iam.get_access_key_last_used(AccessKeyId=key)["UserName"]
        iam.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
        aws += time.perf_counter() - t
    total = time.perf_counter() - t0
    return {"decision": "remediate", "timing": {"total_ms": total * 1e3, "aws_ms": aws * 1e3, "overhead_ms": (total - aws) * 1e3}}
