"""Generates a CloudTrail archive for backtest benchmarks and tests: the layout CloudTrail
writes to S3 (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json[.gz], or with
--org o-xxx, AWSLogs/<org>/<account>/...), files of {"Records": [...]}, and a record mix like
a real management trail's: mostly read-only calls (Describe*, List*, Get*), service-to-service
calls, KMS and STS, ordinary changes, and a small share of the risky changes trailguard acts
on (a port opened to the world, a trail stopped, a snapshot shared, keys created for another
user). Records are about 1.3 KB, like real ones. Deterministic for a given --seed.

    python gen_cloudtrail.py OUT_DIR --mb 1024 [--gzip] [--accounts 3] [--regions us-east-1,eu-west-1]
        [--days 30] [--start 2026-08-01] [--records-per-file 2000] [--org o-a1b2c3d4e5] [--seed 1]
"""

import argparse
import datetime
import gzip
import json
import os
import random

# (weight, eventSource, eventName, readOnly, requestParameters, responseElements)
# A weight is per 10,000 records.
MIX = [
    (1800, "ec2.amazonaws.com", "DescribeInstances", True, {"instancesSet": {}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}}, None),
    (900, "ec2.amazonaws.com", "DescribeSecurityGroups", True, {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}, None),
    (700, "s3.amazonaws.com", "GetBucketAcl", True, {"bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.amazonaws.com", "acl": ""}, None),
    (700, "kms.amazonaws.com", "Decrypt", True, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:lambda:FunctionArn": "arn:aws:lambda:{region}:{account}:function:orders-{n}"}}, None),
    (600, "sts.amazonaws.com", "AssumeRole", False, {"roleArn": "arn:aws:iam::{account}:role/service-role/orders-{n}", "roleSessionName": "session-{n}", "durationSeconds": 3600}, {"credentials": {"accessKeyId": "ASIA5EXAMPLE{key}", "sessionToken": "IQoJb3JpZ2luX2VjE{key}", "expiration": "Nov 20, 2026, 11:15:30 AM"}, "assumedRoleUser": {"assumedRoleId": "AROA5EXAMPLE{key}:session-{n}", "arn": "arn:aws:sts::{account}:assumed-role/orders-{n}/session-{n}"}}),
    (600, "iam.amazonaws.com", "ListRoles", True, {"maxItems": 100}, None),
    (500, "lambda.amazonaws.com", "ListFunctions20150331", True, {"maxItems": 50}, None),
    (500, "logs.amazonaws.com", "DescribeLogStreams", True, {"logGroupName": "/aws/lambda/orders-{n}", "descending": True, "orderBy": "LastEventTime"}, None),
    (400, "cloudtrail.amazonaws.com", "LookupEvents", True, {"maxResults": 50, "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}]}, None),
    (400, "ssm.amazonaws.com", "GetParameters", True, {"names": ["/orders/{n}/db-url"], "withDecryption": True}, None),
    (400, "dynamodb.amazonaws.com", "DescribeTable", True, {"tableName": "orders-{n}"}, None),
    (300, "ec2.amazonaws.com", "CreateTags", False, {"resourcesSet": {"items": [{"resourceId": "i-0{hex}"}]}, "tagSet": {"items": [{"key": "team", "value": "orders"}]}}, {"requestId": "{uuid}", "_return": True}),
    (300, "ec2.amazonaws.com", "RunInstances", False, {"instancesSet": {"items": [{"imageId": "ami-0{hex}", "minCount": 1, "maxCount": 1}]}, "instanceType": "m7g.large", "blockDeviceMapping": {}, "monitoring": {"enabled": False}, "disableApiTermination": False}, {"requestId": "{uuid}", "reservationId": "r-0{hex}", "ownerId": "{account}", "groupSet": {}, "instancesSet": {"items": [{"instanceId": "i-0{hex}", "imageId": "ami-0{hex}", "instanceState": {"code": 0, "name": "pending"}}]}}),
    (300, "s3.amazonaws.com", "PutBucketTagging", False, {"bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.amazonaws.com", "tagging": ""}, None),
    (300, "iam.amazonaws.com", "TagRole", False, {"roleName": "orders-{n}", "tags": [{"key": "owner", "value": "orders"}]}, None),
    (250, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", False, {"groupId": "sg-0{hex}", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}, {"requestId": "{uuid}", "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": "{account}", "groupId": "sg-0{hex}", "securityGroupRuleId": "sgr-0{hex}", "isEgress": False, "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "10.20.0.0/16"}]}}),
    (200, "signin.amazonaws.com", "ConsoleLogin", False, None, {"ConsoleLogin": "Success"}),
    (150, "iam.amazonaws.com", "CreateAccessKey", False, {"userName": "ci-{n}"}, {"accessKey": {"userName": "ci-{n}", "accessKeyId": "AKIA5EXAMPLE{key}", "status": "Active", "createDate": "Nov 20, 2026, 10:15:30 AM"}}),
    # The risky few (trailguard acts on these).
    (12, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", False, {"groupId": "sg-0{hex}", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}, {"requestId": "{uuid}", "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": "{account}", "groupId": "sg-0{hex}", "securityGroupRuleId": "sgr-0{hex}", "isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}),
    (6, "ec2.amazonaws.com", "CreateNetworkAclEntry", False, {"networkAclId": "acl-0{hex}", "ruleNumber": 90, "egress": False, "ruleAction": "allow", "icmpTypeCode": {}, "portRange": {"from": 3389, "to": 3389}, "aclProtocol": "6", "cidrBlock": "0.0.0.0/0"}, {"requestId": "{uuid}", "_return": True}),
    (4, "cloudtrail.amazonaws.com", "StopLogging", False, {"name": "arn:aws:cloudtrail:{region}:{account}:trail/management-events"}, None),
    (4, "ec2.amazonaws.com", "ModifySnapshotAttribute", False, {"snapshotId": "snap-0{hex}", "createVolumePermission": {"add": {"items": [{"userId": "777788889999"}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"}, {"requestId": "{uuid}", "_return": True}),
    (4, "iam.amazonaws.com", "CreateAccessKey", False, {"userName": "backup-{n}"}, {"accessKey": {"userName": "backup-{n}", "accessKeyId": "AKIA5EXAMPLE{key}", "status": "Active", "createDate": "Nov 20, 2026, 10:15:30 AM"}}),
]

ACTORS = [
    ("AssumedRole", "arn:aws:sts::{account}:assumed-role/AWSReservedSSO_AdministratorAccess_3f1c2a/alice@example.com", "AROA5EXAMPLEADMINSSO:alice@example.com", "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_3f1c2a", "203.0.113.45", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"),
    ("AssumedRole", "arn:aws:sts::{account}:assumed-role/terraform-deployer/ci-run-{n}", "AROA5EXAMPLETERRAFM:ci-run-{n}", "arn:aws:iam::{account}:role/terraform-deployer", "198.51.100.17", "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 aws-sdk-go-v2/1.32.2 os/linux lang/go#1.23.2"),
    ("AssumedRole", "arn:aws:sts::{account}:assumed-role/orders-api/i-0{hex}", "AROA5EXAMPLEORDERSA:i-0{hex}", "arn:aws:iam::{account}:role/orders-api", "10.20.3.{b}", "aws-sdk-java/2.28.16 Linux/6.1.112-124.190.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5"),
    ("IAMUser", "arn:aws:iam::{account}:user/bob", "AIDA5EXAMPLEUSERBOB", None, "192.0.2.{b}", "aws-cli/2.18.7 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--mb", type=float, default=64, help="approximate size of the (uncompressed) archive")
    p.add_argument("--gzip", action="store_true", help="write .json.gz files, as CloudTrail does")
    p.add_argument("--accounts", type=int, default=3)
    p.add_argument("--regions", default="us-east-1,eu-west-1")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2026-08-01")
    p.add_argument("--records-per-file", type=int, default=2000)
    p.add_argument("--org", default="")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def main():
    a = parse_args()
    rnd = random.Random(a.seed)
    accounts = [f"{111122223333 + i * 111111111:012d}" for i in range(a.accounts)]
    regions = a.regions.split(",")
    start = datetime.datetime.fromisoformat(a.start).replace(tzinfo=datetime.timezone.utc)
    # Each kind of record is rendered once to JSON with placeholders; records are filled in
    # by string replacement, which keeps the generator at disk speed.
    rendered = [(source, name, ro, json.dumps(req), json.dumps(resp)) for _, source, name, ro, req, resp in MIX]
    weights = [m[0] for m in MIX]
    target = int(a.mb * 1024 * 1024)
    written, files, records = 0, 0, 0
    while written < target:
        account = accounts[files % len(accounts)]
        region = regions[(files // len(accounts)) % len(regions)]
        day = start + datetime.timedelta(days=(files // (len(accounts) * len(regions))) % a.days)
        t = day + datetime.timedelta(seconds=rnd.randrange(86400))
        stamp = t.strftime("%Y%m%dT%H%MZ")
        prefix = ["AWSLogs"] + ([a.org] if a.org else []) + [account, "CloudTrail", region, t.strftime("%Y"), t.strftime("%m"), t.strftime("%d")]
        d = os.path.join(a.out, *prefix)
        os.makedirs(d, exist_ok=True)
        name = f"{account}_CloudTrail_{region}_{stamp}_{rnd.getrandbits(64):016x}.json" + (".gz" if a.gzip else "")
        parts = []
        for _ in range(a.records_per_file):
            source, ename, ro, req, resp = rendered[rnd.choices(range(len(MIX)), weights)[0]]
            itype, arn, pid, issuer, ip, agent = ACTORS[rnd.randrange(len(ACTORS))]
            n, b = rnd.randrange(1000), rnd.randrange(1, 255)
            hexid = f"{rnd.getrandbits(64):016x}"
            key = f"{rnd.getrandbits(32):08X}"
            uuid = f"{rnd.getrandbits(32):08x}-{rnd.getrandbits(16):04x}-4{rnd.getrandbits(12):03x}-8{rnd.getrandbits(12):03x}-{rnd.getrandbits(48):012x}"
            when = (t + datetime.timedelta(seconds=rnd.randrange(300))).strftime("%Y-%m-%dT%H:%M:%SZ")
            event_type = "AwsConsoleSignIn" if ename == "ConsoleLogin" else "AwsApiCall"
            session = ""
            if itype == "AssumedRole":
                session = ', "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "%s", "arn": "%s", "accountId": "%s", "userName": "%s"}, "attributes": {"creationDate": "%s", "mfaAuthenticated": "false"}}' % (pid.split(":")[0], issuer, "{account}", issuer.rsplit("/", 1)[1], when)
            rec = (
                '{"eventVersion": "1.10", "userIdentity": {"type": "%s", "principalId": "%s", "arn": "%s", "accountId": "{account}", "accessKeyId": "%s"%s}, '
                '"eventTime": "%s", "eventSource": "%s", "eventName": "%s", "awsRegion": "{region}", "sourceIPAddress": "%s", "userAgent": "%s", '
                '"requestParameters": %s, "responseElements": %s, "requestID": "{uuid}", "eventID": "{uuid2}", "readOnly": %s, "eventType": "%s", '
                '"managementEvent": true, "recipientAccountId": "{account}", "eventCategory": "Management", '
                '"tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "%s"}}'
            ) % (itype, pid, arn, ("ASIA5EXAMPLE" if itype == "AssumedRole" else "AKIA5EXAMPLE") + key, session, when, source, ename, ip, agent,
                 req, resp, "true" if ro else "false", event_type, source.replace(".amazonaws.com", f".{region}.amazonaws.com"))
            rec = (rec.replace("{account}", account).replace("{region}", region).replace("{n}", str(n)).replace("{b}", str(b))
                   .replace("{hex}", hexid).replace("{key}", key).replace("{uuid2}", uuid[::-1]).replace("{uuid}", uuid))
            parts.append(rec)
        body = ('{"Records": [' + ", ".join(parts) + "]}").encode()
        path = os.path.join(d, name)
        if a.gzip:
            with gzip.open(path, "wb", compresslevel=6) as f:
                f.write(body)
        else:
            with open(path, "wb") as f:
                f.write(body)
        written += len(body)
        files += 1
        records += len(parts)
    print(json.dumps({"files": files, "records": records, "bytes": written, "bytes_per_record": round(written / max(records, 1))}))


if __name__ == "__main__":
    main()
