"""Generates a CloudTrail archive for backtest benchmarks and tests: the layout CloudTrail
writes to S3 (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json[.gz], or with
--org o-xxx, AWSLogs/<org>/<account>/...), files of {"Records": [...]}, and a record mix like
a real management trail's: mostly read-only calls (Describe*, List*, Get*), service-to-service
calls, KMS and STS, ordinary changes, and a small share of the risky changes trailguard acts
on (a port opened to the world, a trail stopped, a snapshot shared, keys created for another
user). Deterministic for a given --seed.

--shape simple (the default) writes shallow records of about 1.4 KB: about twenty kinds, each
with a short request and response. --shape realistic writes records as deep as a real trail's:
the whole envelope (userIdentity by type with sessionContext, tlsDetails, resources,
additionalEventData, vpcEndpointId, sharedEventID), long user agents, and the request and
response shapes the services record (EC2's nested `items`, policies as JSON strings, tag sets,
RunInstances and AssumeRole responses), about sixty kinds; 1-4 KB a record with a long tail up
to about 35 KB (1.7 KB on average), the same accounts, regions, days and share of the risky
changes trailguard acts on. Its last line adds the size distribution of the records
(corpus_stats.py computes the same for any archive).

    python gen_cloudtrail.py OUT_DIR --mb 1024 [--shape simple|realistic] [--gzip] [--accounts 3]
        [--regions us-east-1,eu-west-1] [--days 30] [--start 2026-08-01] [--records-per-file 2000]
        [--org o-a1b2c3d4e5] [--seed 1]
"""

import argparse
import base64
import bisect
import datetime
import gzip
import json
import os
import random
import re
import zlib

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


# --shape realistic: records as deep as a real management trail's. Each record has the whole
# envelope CloudTrail writes (userIdentity by type with sessionContext, tlsDetails, requestID,
# eventID, resources, additionalEventData, vpcEndpointId, sharedEventID...) and the request
# and response shapes the services record (EC2's `items` nesting, IAM policies as JSON
# strings and URL-encoded trust policies, S3's bucket policy as an object, tag sets, RunInstances
# and AssumeRole responses). Every (kind, actor, user agent, variant) is rendered once to a
# compact JSON template with %(name)s holes; records are filled by one %-formatting each.

# The holes a record fills: {account} {region} {n} {n2} {b} {b2} (numbers), {h} {h2} {h14}
# {e14} {a14} {g64} (hex), {key} {key2} {k8} {s3id} (upper-case hex), {uuid} {uuid2} {uuid3},
# {when} {created} {exp} {cdate} (times), {tok} {amz} (base64), and numbers written as
# "{#name}": {#bo} {#launch}. The simple shape's risky kinds keep their holes: {hex} is {h},
# their {key} is {k8}.

def log_file(a, rnd, start, accounts, regions, files):
    """Where the next log file goes, as CloudTrail lays them out: its account, region and
    time (a random second of its day), its folder (made) and its name."""
    account = accounts[files % len(accounts)]
    region = regions[(files // len(accounts)) % len(regions)]
    day = start + datetime.timedelta(days=(files // (len(accounts) * len(regions))) % a.days)
    t = day + datetime.timedelta(seconds=rnd.randrange(86400))
    stamp = t.strftime("%Y%m%dT%H%MZ")
    prefix = ["AWSLogs"] + ([a.org] if a.org else []) + [account, "CloudTrail", region, t.strftime("%Y"), t.strftime("%m"), t.strftime("%d")]
    d = os.path.join(a.out, *prefix)
    os.makedirs(d, exist_ok=True)
    name = f"{account}_CloudTrail_{region}_{stamp}_{rnd.getrandbits(64):016x}.json" + (".gz" if a.gzip else "")
    return account, region, t, d, name


def write_log(path, body, gz):
    """Write one log file's bytes, gzip-compressed as CloudTrail writes them when `gz`; the
    bytes before compression are what it returns."""
    if gz:
        with gzip.open(path, "wb", compresslevel=6) as f:
            f.write(body)
    else:
        with open(path, "wb") as f:
            f.write(body)
    return len(body)


def _tags(pairs):
    return [{"key": k, "value": v} for k, v in pairs]


TAGS = [("Name", "orders-{n}"), ("team", "orders"), ("env", "prod"), ("cost-center", "cc-4410"),
        ("owner", "platform@example.com"), ("managed-by", "terraform"), ("service", "orders-api"),
        ("data-classification", "internal"), ("backup-plan", "daily-35d"), ("repository", "orders/infra")]


def _items(xs):
    return {"items": xs}


def _filters(pairs):
    return _items([{"name": n, "valueSet": _items([{"value": x} for x in vals])} for n, vals in pairs])


def _ids(fmt, k):
    return [fmt.replace("{i}", f"{i:02x}") for i in range(k)]


def _doc(statements):
    return {"Version": "2012-10-17", "Statement": statements}


def _dumps(o):
    return json.dumps(o, separators=(",", ":"))


def _url(o):
    # IAM records trust policies URL-encoded in its responses; the holes stay holes.
    from urllib.parse import quote
    return re.sub(r"%7B(\w+)%7D", r"{\1}", quote(_dumps(o), safe=""))


def _app_statements(k):
    # An application role's policy, k statements, specific actions on specific resources.
    pool = [
        {"Sid": "ReadAssets", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::app-assets-{n}", "arn:aws:s3:::app-assets-{n}/orders/*"]},
        {"Sid": "Orders", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem"],
         "Resource": ["arn:aws:dynamodb:{region}:{account}:table/orders-{n}", "arn:aws:dynamodb:{region}:{account}:table/orders-{n}/index/*"]},
        {"Sid": "Decrypt", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "arn:aws:kms:{region}:{account}:key/{uuid3}",
         "Condition": {"StringEquals": {"kms:ViaService": ["s3.{region}.amazonaws.com", "dynamodb.{region}.amazonaws.com"]}}},
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/orders-{n}:*"},
        {"Sid": "Queue", "Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
         "Resource": "arn:aws:sqs:{region}:{account}:orders-{n}"},
        {"Sid": "Params", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
         "Resource": "arn:aws:ssm:{region}:{account}:parameter/orders/{n}/*"},
        {"Sid": "Secret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:{region}:{account}:secret:orders/{n}/db-*"},
        {"Sid": "Events", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": "arn:aws:events:{region}:{account}:event-bus/orders"},
        {"Sid": "Traces", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": "Orders/{n}"}}},
    ]
    out = []
    for i in range(k):
        s = json.loads(json.dumps(pool[i % len(pool)]))
        if i >= len(pool):
            s["Sid"] += str(i)
            s["Resource"] = [r.replace("{n}", "{n}-" + str(i)) for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
        out.append(s)
    return out


def _trust(service=None):
    if service:
        p = {"Service": service}
    else:
        p = {"AWS": "arn:aws:iam::{account}:role/terraform-deployer"}
    return _doc([{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole",
                  "Condition": {"StringEquals": {"aws:SourceAccount": "{account}"}}}])


def _bucket_policy(k):
    st = [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::app-assets-{n}", "arn:aws:s3:::app-assets-{n}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "AllowCloudFrontRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-assets-{n}/public/*",
         "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::{account}:distribution/E2{key2}"}}},
    ]
    for i in range(k):
        st.append({"Sid": f"OrdersRole{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{{account}}:role/orders-{i}-api"},
                   "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::app-assets-{{n}}/orders/{i}/*"})
    return _doc(st)


def _queue_policy():
    return _doc([{"Sid": "FromTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "SQS:SendMessage",
                  "Resource": "arn:aws:sqs:{region}:{account}:orders-{n}",
                  "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:{region}:{account}:orders-events"}}},
                 {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::{account}:root"}, "Action": "SQS:*",
                  "Resource": "arn:aws:sqs:{region}:{account}:orders-{n}"}])


def _instance(i):
    # One instance of a RunInstances response, as EC2 records it.
    iid = "i-0{h14}" + f"{i:02x}"
    eni = "eni-0{e14}" + f"{i:02x}"
    ip = "10.20.{b}." + str(10 + i)
    dns = "ip-10-20-{b}-" + str(10 + i) + ".{region}.compute.internal"
    sg = _items([{"groupId": "sg-0{h2}", "groupName": "orders-{n}"}])
    return {
        "instanceId": iid, "imageId": "ami-0{h}", "currentInstanceBootMode": "uefi", "instanceState": {"code": 0, "name": "pending"},
        "privateDnsName": dns, "amiLaunchIndex": i, "productCodes": {}, "instanceType": "m7g.large", "launchTime": "{#launch}",
        "placement": {"availabilityZone": "{region}a", "tenancy": "default"}, "monitoring": {"state": "disabled"},
        "subnetId": "subnet-0{h2}", "vpcId": "vpc-0{h}", "privateIpAddress": ip,
        "stateReason": {"code": "pending", "message": "pending"}, "architecture": "arm64", "rootDeviceType": "ebs",
        "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {}, "virtualizationType": "hvm", "hypervisor": "xen",
        "tagSet": _items(_tags(TAGS[:6])), "clientToken": "terraform-{uuid3}", "groupSet": sg, "sourceDestCheck": True,
        "networkInterfaceSet": _items([{
            "networkInterfaceId": eni, "subnetId": "subnet-0{h2}", "vpcId": "vpc-0{h}", "ownerId": "{account}", "requesterManaged": False,
            "status": "in-use", "macAddress": "0a:1b:2c:3d:4e:" + f"{i:02x}", "privateIpAddress": ip, "privateDnsName": dns,
            "sourceDestCheck": True, "interfaceType": "interface", "groupSet": sg,
            "attachment": {"attachmentId": "eni-attach-0{a14}" + f"{i:02x}", "deviceIndex": 0, "networkCardIndex": 0, "status": "attaching",
                           "attachTime": "{#launch}", "deleteOnTermination": True},
            "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "privateDnsName": dns, "primary": True}]},
            "ipv6AddressesSet": {}, "tagSet": {}}]),
        "iamInstanceProfile": {"arn": "arn:aws:iam::{account}:instance-profile/orders-api", "id": "AIPA{key2}"},
        "ebsOptimized": True, "enaSupport": True, "cpuOptions": {"coreCount": 2, "threadsPerCore": 1},
        "capacityReservationSpecification": {"capacityReservationPreference": "open"}, "enclaveOptions": {"enabled": False},
        "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled",
                            "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
        "maintenanceOptions": {"autoRecovery": "default"}, "bootMode": "uefi",
        "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False, "enableResourceNameDnsAAAARecord": False},
    }


def _lambda_config(k):
    return {
        "functionName": "orders-{n}", "functionArn": "arn:aws:lambda:{region}:{account}:function:orders-{n}", "runtime": "python3.12",
        "role": "arn:aws:iam::{account}:role/service-role/orders-{n}", "handler": "app.handler", "codeSize": 48213 + k,
        "description": "Orders worker", "timeout": 30, "memorySize": 512, "lastModified": "{when}",
        "codeSha256": "q9b1K4y8Zs3v0dYp2m7XwFhE6cR5tLnA0uJgV8iOe1s=", "version": "$LATEST",
        "vpcConfig": {"subnetIds": ["subnet-0{h}", "subnet-0{h2}"], "securityGroupIds": ["sg-0{h2}"], "vpcId": "vpc-0{h}", "ipv6AllowedForDualStack": False},
        "environment": {}, "kMSKeyArn": "arn:aws:kms:{region}:{account}:key/{uuid3}", "tracingConfig": {"mode": "Active"},
        "revisionId": "{uuid3}", "layers": [{"arn": "arn:aws:lambda:{region}:{account}:layer:orders-common:" + str(7 + k), "codeSize": 1048576}],
        "state": "Active", "lastUpdateStatus": "InProgress", "packageType": "Zip", "architectures": ["arm64"], "ephemeralStorage": {"size": 512},
        "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
        "runtimeVersionConfig": {"runtimeVersionArn": "arn:aws:lambda:{region}::runtime:{g64}"},
        "loggingConfig": {"logFormat": "JSON", "applicationLogLevel": "INFO", "systemLogLevel": "WARN", "logGroup": "/aws/lambda/orders-{n}"},
    }


def _creds(session, role):
    return {"credentials": {"accessKeyId": "ASIA{key}", "sessionToken": "{tok}", "expiration": "{exp}"},
            "assumedRoleUser": {"assumedRoleId": "AROA{key2}:" + session, "arn": "arn:aws:sts::{account}:assumed-role/" + role + "/" + session}}


S3_AED = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
          "x-amz-id-2": "{amz}", "bytesTransferredOut": "{#bo}"}
S3_AED_IN = dict(S3_AED, bytesTransferredIn="{#bo}", bytesTransferredOut=0)


def _bucket_res():
    return [{"accountId": "{account}", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::app-assets-{n}"}]


def _key_res():
    return [{"accountId": "{account}", "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:{region}:{account}:key/{uuid3}"}]


def _role_res(arn):
    return [{"accountId": "{account}", "type": "AWS::IAM::Role", "ARN": arn}]


# Actors: (identity, sourceIPAddress, user-agent kind, console session, vpc endpoint share %).
# No Root: any use of root credentials is a change trailguard acts on (RootActivity), which
# would add decisions the simple shape does not have.
def _session(role_path, role, principal, mfa="false", ec2=False, web=None):
    d = {"sessionIssuer": {"type": "Role", "principalId": principal, "arn": f"arn:aws:iam::{{account}}:role/{role_path}{role}",
                           "accountId": "{account}", "userName": role},
         "webIdFederationData": web or {}, "attributes": {"creationDate": "{created}", "mfaAuthenticated": mfa}}
    if ec2:
        d["ec2RoleDelivery"] = "2.0"
    return d


def _role(role, session, principal, role_path="", **kw):
    return {"type": "AssumedRole", "principalId": f"{principal}:{session}", "arn": f"arn:aws:sts::{{account}}:assumed-role/{role}/{session}",
            "accountId": "{account}", "accessKeyId": "ASIA{key}", "sessionContext": _session(role_path, role, principal, **kw)}


SSO_ADMIN = "AWSReservedSSO_AdministratorAccess_3f1c2a"
ACTORS_R = {
    # The simple shape's four actors, deeper.
    "alice": (_role(SSO_ADMIN, "alice@example.com", "AROA5EXAMPLEADMINSSO", "aws-reserved/sso.amazonaws.com/"), "203.0.113.45", "console", True, 0),
    "terraform": (_role("terraform-deployer", "ci-run-{n}", "AROA5EXAMPLETERRAFM"), "198.51.100.17", "terraform", False, 0),
    "orders-api": (_role("orders-api", "i-0{h}", "AROA5EXAMPLEORDERSA", ec2=True), "10.20.3.{b}", "java", False, 40),
    "bob": ({"type": "IAMUser", "principalId": "AIDA5EXAMPLEUSERBOB", "arn": "arn:aws:iam::{account}:user/bob", "accountId": "{account}",
             "accessKeyId": "AKIA5EXAMPLE{k8}", "userName": "bob"}, "192.0.2.{b}", "cli", False, 0),
    # The others a management trail shows.
    "alice-cli": (_role(SSO_ADMIN, "alice@example.com", "AROA5EXAMPLEADMINSSO", "aws-reserved/sso.amazonaws.com/"), "203.0.113.45", "cli", False, 0),
    "carol": (_role("AWSReservedSSO_ReadOnlyAccess_8e2b1d0a7c4f", "carol@example.com", "AROA5EXAMPLEREADSSO", "aws-reserved/sso.amazonaws.com/"), "203.0.113.{b}", "console", True, 0),
    "dave-saml": (_role("ADFS-Platform-Admins", "dave@example.com", "AROA5EXAMPLEADFSADM", mfa="true"), "198.51.100.{b}", "boto3", False, 0),
    "worker": (_role("orders-worker-role", "orders-worker-{n}", "AROA5EXAMPLEWORKERS", "service-role/"), "52.{b}.{b2}.17", "lambda", False, 25),
    "eks-pod": (_role("orders-irsa", "botocore-session-{n}", "AROA5EXAMPLEIRSAPOD", web={
        "federatedProvider": "arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{h}{h2}", "attributes": {}}),
        "10.20.{b}.{b2}", "go", False, 60),
    "ssm-agent": (_role("AmazonSSMManagedInstanceCore", "i-0{h}", "AROA5EXAMPLESSMCORE", ec2=True), "10.20.{b}.{b2}", "ssm", False, 50),
    "config": (dict(_role("AWSServiceRoleForConfig", "AWSConfig-Describe", "AROA5EXAMPLECONFIGR", "aws-service-role/config.amazonaws.com/"),
                    invokedBy="config.amazonaws.com"), "config.amazonaws.com", "svc:config.amazonaws.com", False, 0),
    "cfn": (dict(_role("cfn-deploy-role", "AWSCloudFormation", "AROA5EXAMPLECFNDEPL"), invokedBy="cloudformation.amazonaws.com"),
            "cloudformation.amazonaws.com", "svc:cloudformation.amazonaws.com", False, 0),
    "xacct": ({"type": "AWSAccount", "principalId": "AROA5EXAMPLETOOLING:ci-run-{n}", "accountId": "999900001111"}, "198.51.100.17", "terraform", False, 0),
}
for _svc in ["lambda", "ec2", "ecs-tasks", "cloudtrail", "ssm", "s3", "dynamodb", "secretsmanager", "rds", "elasticloadbalancing"]:
    ACTORS_R["svc-" + _svc] = ({"type": "AWSService", "invokedBy": f"{_svc}.amazonaws.com"}, f"{_svc}.amazonaws.com", f"svc:{_svc}.amazonaws.com", False, 0)

CONSOLE_UA = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
]


def _ua(kind, variant, source, name):
    svc = source.split(".")[0]
    cmd = re.sub(r"(?<!^)(?=[A-Z])", "-", re.sub(r"\d{8}(v\d)?$", "", name)).lower()
    v = variant
    if kind == "console":
        return CONSOLE_UA[v % len(CONSOLE_UA)]
    if kind == "cli":
        return (f"aws-cli/2.{17 + v}.{3 + 2 * v} md/awscrt#0.2{1 + v}.2 ua/2.0 os/linux#6.8.0-10{16 + v}-aws md/arch#x86_64 lang/python#3.12.{4 + v} "
                f"md/pyimpl#CPython exe/x86_64.ubuntu.24 prompt/off command/{svc}.{cmd}")
    if kind == "terraform":
        return (f"APN/1.0 HashiCorp/1.0 Terraform/1.9.{6 + v} (+https://www.terraform.io) terraform-provider-aws/5.7{v}.1 "
                f"aws-sdk-go-v2/1.32.{v} ua/2.1 os/linux lang/go#1.23.{v + 1} md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.{40 + 7 * v}.{v} m/E,g")
    if kind == "java":
        return (f"aws-sdk-java/2.28.{14 + v} Linux/6.1.112-124.190.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 "
                f"vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_EC2 io/sync http/Apache cfg/retry-mode/standard ua/2.1 m/D,N")
    if kind in ("boto3", "lambda"):
        env = " exec-env/AWS_Lambda_python3.12" if kind == "lambda" else ""
        return (f"Boto3/1.35.{30 + v} md/Botocore#1.35.{30 + v} ua/2.0 os/linux#5.10.227-219.884.amzn2.x86_64 md/arch#x86_64 "
                f"lang/python#3.12.{5 + v} md/pyimpl#CPython{env} cfg/retry-mode#legacy Botocore/1.35.{30 + v}")
    if kind == "go":
        return (f"aws-sdk-go-v2/1.30.{4 + v} ua/2.0 os/linux lang/go#1.22.{6 + v} md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.{20 + v}.{3 + v} "
                f"exec-env/orders-api m/E,Z")
    if kind == "ssm":
        return f"aws-sdk-go/1.55.{5 + v} (go1.22.{7 + v}; linux; amd64) amazon-ssm-agent/3.3.{1142 + 100 * v}.0"
    return kind[4:]  # svc:NAME


def _host(source, name):
    svc = source.split(".")[0]
    if svc in ("iam",):
        return "iam.amazonaws.com"
    if svc == "s3":
        return "s3.{region}.amazonaws.com" if name == "ListBuckets" else "app-assets-{n}.s3.{region}.amazonaws.com"
    if svc == "signin":
        return "signin.aws.amazon.com"
    return f"{svc}.{{region}}.amazonaws.com"


# Pools of actors, with repeats for weight.
POOLS = {
    "simple": ["alice", "terraform", "orders-api", "bob"],
    "read": ["config"] * 6 + ["alice", "alice-cli", "carol", "carol", "terraform", "terraform", "orders-api", "bob", "worker", "eks-pod", "dave-saml"],
    "deploy": ["terraform"] * 4 + ["cfn", "alice-cli", "dave-saml"],
    "app": ["orders-api", "worker", "worker", "eks-pod"],
    "assume": ["svc-lambda"] * 4 + ["svc-ec2"] * 3 + ["svc-ecs-tasks", "xacct", "xacct", "terraform", "alice-cli", "dave-saml", "orders-api"],
    "ssm": ["ssm-agent"],
    "login": ["alice", "alice", "carol", "bob"],
    "svcread": ["svc-elasticloadbalancing", "svc-ecs-tasks", "config", "config", "orders-api", "alice"],
}


def _k(*pairs):
    return list(pairs)


def _kinds():
    E = "ec2.amazonaws.com"
    K = []

    def add(w, src, name, ro, pool, req=None, resp=None, **kw):
        K.append(dict(w=w, src=src, name=name, ro=ro, pool=pool, req=req, resp=resp, **kw))

    # ----- reads
    def describe_instances(k):
        if k == 0:
            return {"instancesSet": {}, "filterSet": _filters([("instance-state-name", ["running", "pending"])])}
        if k == 1:
            return {"instancesSet": _items([{"instanceId": i} for i in _ids("i-0{h14}{i}", 3)]), "filterSet": {}}
        if k == 2:
            return {"instancesSet": {}, "filterSet": _filters([("tag:team", ["orders"]), ("tag:env", ["prod", "staging"]), ("vpc-id", ["vpc-0{h}"]),
                                                                ("instance-state-name", ["running", "stopping", "stopped"])]), "maxResults": 1000}
        return {"instancesSet": _items([{"instanceId": i} for i in _ids("i-0{h14}{i}", 60 * k - 150)]), "filterSet": {}}
    add(900, E, "DescribeInstances", True, "read", describe_instances, var=_k((40, 0), (30, 1), (25, 2), (4, 3), (1, 5)),
        err=("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: {ARN} is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"))
    add(400, E, "DescribeSecurityGroups", True, "read", lambda k: {"securityGroupSet": {}, "securityGroupIdSet": _items([{"groupId": g} for g in _ids("sg-0{h14}{i}", 4 * k)]) if k else {},
                                                                   "filterSet": _filters([("vpc-id", ["vpc-0{h}"])]) if k == 0 else {}},
        var=_k((60, 0), (35, 1), (5, 6)))
    add(250, E, "DescribeNetworkInterfaces", True, "read", lambda k: {"networkInterfaceIdSet": {}, "filterSet": _filters(
        [("vpc-id", ["vpc-0{h}"]), ("subnet-id", ["subnet-0{h}", "subnet-0{h2}"]), ("description", ["AWS Lambda VPC ENI-orders-{n}*"]), ("status", ["in-use", "available"])][:1 + k])},
        var=_k((30, 0), (40, 2), (30, 3)))
    add(120, E, "DescribeVpcs", True, "read", {"vpcSet": _items([{"vpcId": "vpc-0{h}"}]), "filterSet": {}})
    add(150, E, "DescribeSubnets", True, "read", {"subnetSet": {}, "filterSet": _filters([("vpc-id", ["vpc-0{h}"]), ("tag:tier", ["private"])])})
    add(120, E, "DescribeVolumes", True, "read", {"volumeSet": _items([{"volumeId": "vol-0{h}"}]), "filterSet": {}})
    add(80, E, "DescribeSnapshots", True, "read", {"snapshotSet": {}, "ownersSet": _items([{"owner": "self"}]), "sharedUsersSet": {},
                                                   "filterSet": _filters([("tag:backup-plan", ["daily-35d"]), ("status", ["completed"])])})
    add(120, E, "DescribeInstanceStatus", True, "read", {"instancesSet": _items([{"instanceId": "i-0{h}"}]), "filterSet": {}, "includeAllInstances": True})
    add(120, E, "DescribeRouteTables", True, "read", {"routeTableIdSet": {}, "filterSet": _filters([("association.subnet-id", ["subnet-0{h2}"])])})

    def assume(k):
        role = ["service-role/orders-{n}", "orders-api", "terraform-deployer"][k]
        return ({"roleArn": f"arn:aws:iam::{{account}}:role/{role}", "roleSessionName": ["orders-{n}", "i-0{h}", "ci-run-{n}"][k], "durationSeconds": 3600}
                | ({"externalId": "orders-{n}-x", "tags": _tags(TAGS[:3]), "transitiveTagKeys": ["team"]} if k == 2 else {}))
    add(800, "sts.amazonaws.com", "AssumeRole", True, "assume", assume,
        lambda k: _creds(["orders-{n}", "i-0{h}", "ci-run-{n}"][k], ["orders-{n}", "orders-api", "terraform-deployer"][k]) | ({"packedPolicySize": 12} if k == 2 else {}),
        res=lambda k: _role_res("arn:aws:iam::{account}:role/" + ["service-role/orders-{n}", "orders-api", "terraform-deployer"][k]),
        by_actor={"svc-lambda": 0, "svc-ecs-tasks": 0, "orders-api": 0, "svc-ec2": 1, "xacct": 2, "terraform": 2, "alice-cli": 2, "dave-saml": 2})
    add(60, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", True, ["eks-pod"],
        {"roleArn": "arn:aws:iam::{account}:role/orders-irsa", "roleSessionName": "botocore-session-{n}"},
        _creds("botocore-session-{n}", "orders-irsa") | {"subjectFromWebIdentityToken": "system:serviceaccount:orders:orders-api",
                                                         "provider": "arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{h}{h2}", "audience": "sts.amazonaws.com"},
        aed={"identityProviderConnectionVerificationMethod": "IAMTrustStore"}, res=_role_res("arn:aws:iam::{account}:role/orders-irsa"))
    add(250, "sts.amazonaws.com", "GetCallerIdentity", True, "read", None)

    def kms_ctx(k):
        return [{"aws:lambda:FunctionArn": "arn:aws:lambda:{region}:{account}:function:orders-{n}"},
                {"aws:s3:arn": "arn:aws:s3:::app-assets-{n}/orders/2026/08/{h}.parquet"},
                {"SecretARN": "arn:aws:secretsmanager:{region}:{account}:secret:orders/{n}/db-a1B2c3", "SecretVersionId": "{uuid3}"},
                {"aws:ebs:id": "vol-0{h}"},
                {"aws:dynamodb:tableName": "orders-{n}", "aws:dynamodb:subscriberId": "{account}"}][k]
    add(600, "kms.amazonaws.com", "Decrypt", True, [
        "svc-s3", "svc-dynamodb", "svc-secretsmanager", "svc-rds", "worker", "worker", ("worker", "s3.amazonaws.com"), ("orders-api", "s3.amazonaws.com"),
        ("orders-api", "secretsmanager.amazonaws.com"), ("eks-pod", "dynamodb.amazonaws.com"), ("orders-api", "ec2.amazonaws.com")], lambda k: {"encryptionContext": kms_ctx(k), "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        | ({"keyId": "arn:aws:kms:{region}:{account}:key/{uuid3}"} if k in (1, 4) else {}),
        res=_key_res(), by_actor={"svc-s3": 1, "svc-dynamodb": 4, "svc-secretsmanager": 2, "svc-rds": 2, "worker": 0, ("worker", "s3.amazonaws.com"): 1,
                                  ("orders-api", "s3.amazonaws.com"): 1, ("orders-api", "secretsmanager.amazonaws.com"): 2,
                                  ("eks-pod", "dynamodb.amazonaws.com"): 4, ("orders-api", "ec2.amazonaws.com"): 3})
    add(300, "kms.amazonaws.com", "GenerateDataKey", True, ["svc-cloudtrail", "svc-cloudtrail", "svc-s3", ("worker", "s3.amazonaws.com"), ("orders-api", "s3.amazonaws.com")], lambda k: {"keyId": "arn:aws:kms:{region}:{account}:key/{uuid3}", "encryptionContext": [
        {"aws:cloudtrail:arn": "arn:aws:cloudtrail:{region}:{account}:trail/management-events",
         "aws:s3:arn": "arn:aws:s3:::org-trail-{account}/AWSLogs/{account}/CloudTrail/{region}/2026/08/{account}_CloudTrail_{region}_{h}.json.gz"},
        {"aws:s3:arn": "arn:aws:s3:::app-assets-{n}/exports/{h}.csv"}][k], "keySpec": "AES_256"}, res=_key_res(), by_actor={"svc-cloudtrail": 0})

    add(250, *("s3.amazonaws.com", "GetBucketAcl"), True, "read", {"bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.{region}.amazonaws.com", "acl": ""},
        aed=S3_AED, res=_bucket_res(), err=("AccessDenied", "Access Denied"))
    for w, name, field, err in [(120, "GetBucketPolicy", "policy", ("NoSuchBucketPolicy", "The bucket policy does not exist")),
                                (120, "GetBucketEncryption", "encryption", None), (80, "GetBucketVersioning", "versioning", None),
                                (150, "GetBucketLocation", "location", None), (80, "GetBucketPublicAccessBlock", "publicAccessBlock", None),
                                (60, "GetBucketLogging", "logging", None), (60, "GetBucketOwnershipControls", "ownershipControls", None)]:
        add(w, "s3.amazonaws.com", name, True, "read", {field: "", "bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.{region}.amazonaws.com"},
            aed=S3_AED, res=_bucket_res(), err=err or ("AccessDenied", "Access Denied"))
    add(60, "s3.amazonaws.com", "ListBuckets", True, "read", {"Host": "s3.{region}.amazonaws.com"}, aed=S3_AED)

    add(200, "iam.amazonaws.com", "GetRole", True, "read", {"roleName": "orders-{n}"}, err=("AccessDenied", "User: {ARN} is not authorized to perform: iam:GetRole on resource: role orders-{n} because no identity-based policy allows the iam:GetRole action"))
    add(150, "iam.amazonaws.com", "ListRoles", True, "read", lambda k: {"maxItems": 100} | ({"marker": "AAFE{h}{h2}{key}"} if k else {}), var=_k((70, 0), (30, 1)))
    add(120, "iam.amazonaws.com", "ListAttachedRolePolicies", True, "read", {"roleName": "orders-{n}", "maxItems": 100})
    add(80, "iam.amazonaws.com", "GetPolicyVersion", True, "read", {"policyArn": "arn:aws:iam::{account}:policy/orders-{n}-access", "versionId": "v3"})
    add(150, "lambda.amazonaws.com", "ListFunctions20150331", True, "read", {"maxItems": 50}, api="2015-03-31")
    add(100, "lambda.amazonaws.com", "GetFunction20150331v2", True, "read", {"functionName": "orders-{n}"}, api="2015-03-31")
    add(120, "logs.amazonaws.com", "DescribeLogStreams", True, "read", {"logGroupName": "/aws/lambda/orders-{n}", "descending": True, "orderBy": "LastEventTime", "limit": 50})
    add(100, "logs.amazonaws.com", "DescribeLogGroups", True, "read", {"logGroupNamePrefix": "/aws/lambda/orders", "limit": 50})
    add(80, "cloudtrail.amazonaws.com", "LookupEvents", True, "read", {"maxResults": 50, "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}],
                                                                      "startTime": "{created}", "endTime": "{when}"})
    add(60, "cloudtrail.amazonaws.com", "DescribeTrails", True, "read", {"trailNameList": [], "includeShadowTrails": True})
    add(250, "ssm.amazonaws.com", "GetParameters", True, "app", lambda k: {"names": [f"/orders/{{n}}/{x}" for x in ["db-url", "db-user", "db-password", "api-key", "queue-url", "feature-flags", "region", "bucket"][:k]],
                                                                         "withDecryption": True}, var=_k((40, 1), (40, 3), (20, 8)))
    add(150, "ssm.amazonaws.com", "GetParameter", True, "app", {"name": "/orders/{n}/db-url", "withDecryption": True})
    add(60, "ssm.amazonaws.com", "DescribeInstanceInformation", True, "read", {"filters": [{"key": "PingStatus", "values": ["Online"]}], "maxResults": 50})
    add(150, "dynamodb.amazonaws.com", "DescribeTable", True, "read", {"tableName": "orders-{n}"},
        res=[{"accountId": "{account}", "type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:{region}:{account}:table/orders-{n}"}])
    add(150, "secretsmanager.amazonaws.com", "GetSecretValue", True, "app", {"secretId": "arn:aws:secretsmanager:{region}:{account}:secret:orders/{n}/db-a1B2c3"})
    add(100, "cloudformation.amazonaws.com", "DescribeStacks", True, "read", {"stackName": "orders-{n}"})
    add(80, "cloudformation.amazonaws.com", "DescribeStackEvents", True, "read", {"stackName": "arn:aws:cloudformation:{region}:{account}:stack/orders-{n}/{uuid3}"})
    add(100, "elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", True, "svcread", {"targetGroupArn": "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/orders-{n}/{h}"})
    add(80, "autoscaling.amazonaws.com", "DescribeAutoScalingGroups", True, "read", {"autoScalingGroupNames": ["orders-{n}", "orders-{n2}"], "maxRecords": 100})

    # ----- service calls and ordinary changes
    add(300, "ssm.amazonaws.com", "UpdateInstanceInformation", False, "ssm", {
        "instanceId": "i-0{h}", "agentVersion": "3.3.1142.0", "agentStatus": "Active", "platformType": "Linux", "platformName": "Amazon Linux",
        "platformVersion": "2023", "iPAddress": "10.20.{b}.{b2}", "computerName": "ip-10-20-{b}-{b2}.{region}.compute.internal",
        "agentName": "amazon-ssm-agent", "availabilityZone": "{region}a", "sSMConnectionChannel": "ssmmessages"})
    add(200, "logs.amazonaws.com", "CreateLogStream", False, ["worker"], {"logGroupName": "/aws/lambda/orders-{n}", "logStreamName": "2026/08/01/[$LATEST]{h}{h2}"})
    # The simple shape's ordinary changes (some reach trailguard's rules), deeper.
    add(200, E, "CreateTags", False, "simple", lambda k: {"resourcesSet": _items([{"resourceId": i} for i in ["i-0{h}"] + _ids("vol-0{h14}{i}", k)]), "tagSet": _items(_tags(TAGS[:2 + 2 * k]))},
        {"requestId": "{uuid}", "_return": True}, var=_k((50, 1), (40, 2), (10, 4)))

    def run(k):
        return {"instancesSet": _items([{"imageId": "ami-0{h}", "minCount": k, "maxCount": k}]), "instanceType": "m7g.large",
                "blockDeviceMapping": _items([{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 30, "deleteOnTermination": True, "volumeType": "gp3", "encrypted": True,
                                                                                  "kmsKeyId": "arn:aws:kms:{region}:{account}:key/{uuid3}"}}]),
                "monitoring": {"enabled": False}, "disableApiTermination": False, "disableApiStop": False, "clientToken": "terraform-{uuid3}",
                "networkInterfaceSet": _items([{"deviceIndex": 0, "subnetId": "subnet-0{h2}", "associatePublicIpAddress": False, "groupSet": _items([{"groupId": "sg-0{h2}"}])}]),
                "iamInstanceProfile": {"arn": "arn:aws:iam::{account}:instance-profile/orders-api"}, "ebsOptimized": True,
                "tagSpecificationSet": _items([{"resourceType": "instance", "tags": _tags(TAGS[:6])}, {"resourceType": "volume", "tags": _tags(TAGS[:4])}]),
                "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"}}
    add(120, E, "RunInstances", False, "simple", run,
        lambda k: {"requestId": "{uuid}", "reservationId": "r-0{h}", "ownerId": "{account}", "groupSet": {}, "instancesSet": _items([_instance(i) for i in range(k)])},
        var=_k((75, 1), (15, 2), (6, 4), (3, 8), (1, 12)))
    add(150, "s3.amazonaws.com", "PutBucketTagging", False, "simple", lambda k: {
        "bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.{region}.amazonaws.com", "tagging": "",
        "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": a, "Value": b} for a, b in TAGS[:k]]}}},
        aed=S3_AED_IN, res=_bucket_res(), var=_k((50, 4), (50, 8)))
    add(150, "iam.amazonaws.com", "TagRole", False, "simple", lambda k: {"roleName": "orders-{n}", "tags": _tags(TAGS[1:1 + k])}, var=_k((50, 2), (50, 6)))

    def sg_rules(k, resp):
        perms = [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {}, "ipRanges": _items([{"cidrIp": "10.20.0.0/16"}]), "ipv6Ranges": {}, "prefixListIds": {}},
                 {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {}, "ipRanges": _items([{"cidrIp": "10.0.0.0/8", "description": "internal HTTPS"}]), "ipv6Ranges": {}, "prefixListIds": {}},
                 {"ipProtocol": "tcp", "fromPort": 8080, "toPort": 8080, "groups": _items([{"groupId": "sg-0{h2}", "description": "from the load balancer"}]), "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}}][:k]
        if not resp:
            return {"groupId": "sg-0{h}", "ipPermissions": _items(perms)}
        rules = []
        for i, p in enumerate(perms):
            r = {"groupOwnerId": "{account}", "groupId": "sg-0{h}", "securityGroupRuleId": "sgr-0{h14}" + f"{i:02x}", "isEgress": False,
                 "ipProtocol": "tcp", "fromPort": p["fromPort"], "toPort": p["toPort"]}
            if p["ipRanges"]:
                r["cidrIpv4"] = p["ipRanges"]["items"][0]["cidrIp"]
            else:
                r["referencedGroupInfo"] = {"groupId": "sg-0{h2}", "userId": "{account}"}
            rules.append(r)
        return {"requestId": "{uuid}", "_return": True, "securityGroupRuleSet": _items(rules)}
    add(150, E, "AuthorizeSecurityGroupIngress", False, "simple", lambda k: sg_rules(k, False), lambda k: sg_rules(k, True), var=_k((50, 1), (30, 2), (20, 3)))
    add(100, "signin.amazonaws.com", "ConsoleLogin", False, "login", None, {"ConsoleLogin": "Success"}, etype="AwsConsoleSignIn",
        aed={"LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_{region}_{h}",
             "MobileVersion": "No", "MFAIdentifier": "arn:aws:iam::{account}:mfa/bob", "MFAUsed": "Yes"})
    add(150, "iam.amazonaws.com", "CreateAccessKey", False, "simple", {"userName": "ci-{n}"},
        {"accessKey": {"userName": "ci-{n}", "accessKeyId": "AKIA5EXAMPLE{k8}", "status": "Active", "createDate": "{cdate}"}})
    # Writes with long payloads (ignored by the default policy's rules: nothing public, nothing broad).
    add(40, "iam.amazonaws.com", "CreateRole", False, "deploy", lambda k: {
        "roleName": "orders-{n}", "path": "/service-role/", "description": "Orders worker role",
        "assumeRolePolicyDocument": _dumps(_trust("lambda.amazonaws.com")), "maxSessionDuration": 3600, "tags": _tags(TAGS[:5])},
        lambda k: {"role": {"path": "/service-role/", "roleName": "orders-{n}", "roleId": "AROA{key2}", "arn": "arn:aws:iam::{account}:role/service-role/orders-{n}",
                            "createDate": "{cdate}", "assumeRolePolicyDocument": _url(_trust("lambda.amazonaws.com")), "tags": _tags(TAGS[:5])}})
    add(50, "iam.amazonaws.com", "PutRolePolicy", False, "deploy", lambda k: {"roleName": "orders-{n}", "policyName": "orders-{n}-access", "policyDocument": _dumps(_doc(_app_statements(k)))},
        var=_k((40, 3), (40, 6), (15, 10), (5, 16)))
    add(40, "iam.amazonaws.com", "CreatePolicy", False, "deploy", lambda k: {
        "policyName": "orders-{n}-access", "path": "/", "description": "Access for the orders service", "policyDocument": _dumps(_doc(_app_statements(k))), "tags": _tags(TAGS[:4])},
        {"policy": {"policyName": "orders-{n}-access", "policyId": "ANPA{key2}", "arn": "arn:aws:iam::{account}:policy/orders-{n}-access", "path": "/",
                    "defaultVersionId": "v1", "attachmentCount": 0, "permissionsBoundaryUsageCount": 0, "isAttachable": True, "createDate": "{cdate}",
                    "updateDate": "{cdate}", "tags": _tags(TAGS[:4])}}, var=_k((40, 4), (30, 8), (20, 16), (10, 30)))
    add(30, "iam.amazonaws.com", "AttachRolePolicy", False, "deploy", {"roleName": "orders-{n}", "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"})
    add(40, "s3.amazonaws.com", "PutBucketPolicy", False, "deploy", lambda k: {
        "bucketPolicy": _bucket_policy(k), "bucketName": "app-assets-{n}", "Host": "app-assets-{n}.s3.{region}.amazonaws.com", "policy": ""},
        aed=S3_AED_IN, res=_bucket_res(), var=_k((50, 1), (30, 4), (15, 10), (5, 30)))
    add(40, "sqs.amazonaws.com", "SetQueueAttributes", False, "deploy", {
        "queueUrl": "https://sqs.{region}.amazonaws.com/{account}/orders-{n}", "attributes": {"Policy": _dumps(_queue_policy()), "VisibilityTimeout": "60",
                                                                                             "RedrivePolicy": _dumps({"deadLetterTargetArn": "arn:aws:sqs:{region}:{account}:orders-{n}-dlq", "maxReceiveCount": 5})}})
    add(50, "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", False, "deploy", {
        "functionName": "orders-{n}", "memorySize": 512, "timeout": 30, "environment": {}, "tracingConfig": {"mode": "Active"},
        "vpcConfig": {"subnetIds": ["subnet-0{h}", "subnet-0{h2}"], "securityGroupIds": ["sg-0{h2}"]}}, lambda k: _lambda_config(k), api="2015-03-31")
    add(30, "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False, "deploy", {
        "functionName": "orders-{n}", "s3Bucket": "deploy-artifacts-{account}", "s3Key": "orders/{h}.zip", "publish": True, "dryRun": False, "architectures": ["arm64"]},
        lambda k: _lambda_config(k + 1), api="2015-03-31")
    add(30, "cloudformation.amazonaws.com", "CreateChangeSet", False, "deploy", lambda k: {
        "stackName": "orders-{n}", "templateURL": "https://cfn-templates-{account}.s3.{region}.amazonaws.com/orders/{h}.yaml",
        "parameters": [{"parameterKey": f"Param{i}", "parameterValue": f"orders-{{n}}-value-{i}"} for i in range(k)],
        "capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"], "tags": _tags(TAGS[:6]),
        "changeSetName": "deploy-{h}", "changeSetType": "UPDATE", "includeNestedStacks": False},
        {"id": "arn:aws:cloudformation:{region}:{account}:changeSet/deploy-{h}/{uuid3}", "stackId": "arn:aws:cloudformation:{region}:{account}:stack/orders-{n}/{uuid3}"},
        var=_k((60, 4), (30, 12), (10, 30)))
    add(20, "cloudformation.amazonaws.com", "ExecuteChangeSet", False, "deploy", {"changeSetName": "arn:aws:cloudformation:{region}:{account}:changeSet/deploy-{h}/{uuid3}",
                                                                                   "stackName": "orders-{n}", "clientRequestToken": "{uuid3}"})
    add(40, E, "CreateSecurityGroup", False, "deploy", {
        "groupName": "orders-{n}", "groupDescription": "orders service {n}", "vpcId": "vpc-0{h}",
        "tagSpecificationSet": _items([{"resourceType": "security-group", "tags": _tags(TAGS[:5])}])},
        {"requestId": "{uuid}", "_return": True, "groupId": "sg-0{h}", "securityGroupArn": "arn:aws:ec2:{region}:{account}:security-group/sg-0{h}"})
    add(40, "kms.amazonaws.com", "CreateGrant", False, [("orders-api", "ec2.amazonaws.com"), ("terraform", "ec2.amazonaws.com"), ("worker", "rds.amazonaws.com")], {
        "keyId": "arn:aws:kms:{region}:{account}:key/{uuid3}", "granteePrincipal": "ec2.{region}.amazonaws.com",
        "retiringPrincipal": "ec2.{region}.amazonaws.com",
        "operations": ["Decrypt", "Encrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant", "DescribeKey"],
        "constraints": {"encryptionContextSubset": {"aws:ebs:id": "vol-0{h}"}}}, {"grantId": "{g64}", "keyId": "arn:aws:kms:{region}:{account}:key/{uuid3}"},
        res=_key_res())
    return K


def _risky():
    # The simple shape's risky kinds, their fields as they are (trailguard reads them), in the
    # deep envelope; the same four actors.
    out = []
    for w, src, name, ro, req, resp in MIX:
        if w < 100:
            out.append(dict(w=w, src=src, name=name, ro=ro, pool="simple", req=req, resp=resp, legacy=True))
    return out


def _legacy(o):
    return json.loads(json.dumps(o).replace("{hex}", "{h}").replace("{key}", "{k8}"))


def _envelope(kind, k, actor, via, uav, vpce, err):
    ident, ip, uakind, console, _ = ACTORS_R[actor]
    ident = json.loads(json.dumps(ident))
    src, name = kind["src"], kind["name"]
    if via:
        ident["invokedBy"] = via
        ip, uakind, console = via, "svc:" + via, False
    svc_call = uakind.startswith("svc:")
    if name == "ConsoleLogin":
        uakind = "console"
    ua = _ua(uakind, uav, src, name)

    def val(x):
        x = x(k) if callable(x) else x
        return _legacy(x) if kind.get("legacy") else x
    rec = {"eventVersion": "1.11" if zlib.crc32(name.encode()) % 4 == 0 else "1.10", "userIdentity": ident,
           "eventTime": "{when}", "eventSource": src, "eventName": name, "awsRegion": "{region}", "sourceIPAddress": ip, "userAgent": ua}
    if name == "AssumeRoleWithWebIdentity":
        rec["userIdentity"] = {"type": "WebIdentityUser",
                               "principalId": "arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{h}{h2}:sts.amazonaws.com:system:serviceaccount:orders:orders-api",
                               "userName": "system:serviceaccount:orders:orders-api",
                               "identityProvider": "arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{h}{h2}"}
        rec["sourceIPAddress"], rec["userAgent"] = "10.20.{b}.{b2}", _ua("boto3", uav, src, name)
    if err and "arn" in ident:  # services' own calls are not denied here
        rec["errorCode"] = err[0]
        rec["errorMessage"] = err[1].replace("{ARN}", ident["arn"])
    else:
        err = None
    rec["requestParameters"] = val(kind["req"])
    rec["responseElements"] = None if err else val(kind["resp"])
    aed = kind.get("aed")
    if name == "ConsoleLogin" and ident["type"] != "IAMUser":
        aed = {"LoginTo": aed["LoginTo"], "MobileVersion": "No", "MFAUsed": "No"}
    if aed is not None:
        rec["additionalEventData"] = aed
    rec["requestID"] = "{s3id}" if src == "s3.amazonaws.com" else "{uuid}"
    rec["eventID"] = "{uuid2}"
    rec["readOnly"] = kind["ro"]
    if kind.get("res") is not None:
        rec["resources"] = val(kind["res"])
    rec["eventType"] = kind.get("etype", "AwsApiCall")
    if kind.get("api"):
        rec["apiVersion"] = kind["api"]
    rec["managementEvent"] = True
    rec["recipientAccountId"] = "{account}"
    if actor == "xacct":
        rec["sharedEventID"] = "{uuid3}"
    if vpce:
        rec["vpcEndpointId"] = "vpce-0{h2}"
        rec["vpcEndpointAccountId"] = "{account}"
    rec["eventCategory"] = "Management"
    if not svc_call:
        old = uakind in ("java",) or (uakind == "ssm")
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.2" if old else "TLSv1.3",
                             "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256" if old else "TLS_AES_128_GCM_SHA256",
                             "clientProvidedHostHeader": _host(src, name)}
    if console:
        rec["sessionCredentialFromConsole"] = "true"
    s = _dumps(rec).replace("%", "%%")
    s = re.sub(r'"\{#(\w+)\}"', r"%(\1)s", s)
    return re.sub(r"\{(\w+)\}", r"%(\1)s", s)


def _cum(ws):
    out, t = [], 0.0
    for w in ws:
        t += w
        out.append(t)
    return out


def realistic(a, rnd, accounts, regions, start):
    kinds = _kinds()
    benign = sum(k["w"] for k in kinds)
    simple_benign = sum(m[0] for m in MIX if m[0] >= 100)
    for r in _risky():
        # The same share of risky records as the simple shape.
        r["w"] = r["w"] * benign / simple_benign
        kinds.append(r)
    for i, kd in enumerate(kinds):
        kd["i"] = i
        pool = kd["pool"]
        pool = POOLS[pool] if isinstance(pool, str) else pool
        kd["actors"] = [p if isinstance(p, tuple) else (p, None) for p in pool]
        var = kd.get("var") or [(1, 0)]
        kd["vcum"], kd["vks"] = _cum([w for w, _ in var]), [v for _, v in var]
        kd["errp"] = kd["ro"] and kd["pool"] != "simple"
    cum = _cum([kd["w"] for kd in kinds])
    total = cum[-1]
    blob = base64.b64encode(rnd.randbytes(6144)).decode()
    cache = {}
    target = int(a.mb * 1024 * 1024)
    written, files, records = 0, 0, 0
    sizes = []
    for kd in kinds:
        kd["default_err"] = ("AccessDenied", "User: {ARN} is not authorized to perform: " + kd["src"].split(".")[0] + ":" + kd["name"] +
                             " because no identity-based policy allows the " + kd["src"].split(".")[0] + ":" + kd["name"] + " action")
    while written < target:
        account, region, t, d, name = log_file(a, rnd, start, accounts, regions, files)
        whens = [(t + datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(300)]
        created = (t - datetime.timedelta(minutes=37)).strftime("%Y-%m-%dT%H:%M:%SZ")
        later = t + datetime.timedelta(hours=1)
        exp = later.strftime("%b ") + str(later.day) + later.strftime(", %Y, ") + str((later.hour + 11) % 12 + 1) + later.strftime(":%M:%S %p")
        cdate = t.strftime("%b ") + str(t.day) + t.strftime(", %Y, ") + str((t.hour + 11) % 12 + 1) + t.strftime(":%M:%S %p")
        launch = str(int(t.timestamp()) * 1000)
        parts = []
        for _ in range(a.records_per_file):
            kd = kinds[bisect.bisect_left(cum, rnd.random() * total)]
            r = rnd.getrandbits(64)
            actor, via = kd["actors"][r % len(kd["actors"])]
            r >>= 8
            vi = bisect.bisect_left(kd["vcum"], (r & 0xFFFF) / 65536 * kd["vcum"][-1])
            r >>= 16
            uav = r & 3
            vshare = ACTORS_R[actor][4]
            vpce = vshare and (r >> 2) % 100 < vshare
            err = kd["errp"] and (r >> 9) % 100 < 3
            key = (kd["i"], vi, actor, via, uav, vpce, err)
            tpl = cache.get(key)
            if tpl is None:
                ba = kd.get("by_actor")
                kv = kd["vks"][vi] if ba is None else ba.get((actor, via) if via else actor, 1)
                tpl = cache[key] = _envelope(kd, kv, actor, via, uav, vpce,
                                              (kd.get("err") or kd["default_err"]) if err else None)
            x = f"{rnd.getrandbits(1024):0256x}"
            r = rnd.getrandbits(96)
            n, n2, b, b2 = r % 1000, (r >> 10) % 1000, (r >> 20) % 254 + 1, (r >> 28) % 254 + 1
            to, ao = (r >> 36) % 4096, (r >> 48) % 4096
            rec = tpl % {
                "account": account, "region": region, "n": n, "n2": n2, "b": b, "b2": b2,
                "h": x[60:76], "h2": x[76:92], "h14": x[60:74], "e14": x[170:184], "a14": x[184:198],
                "key": x[92:108].upper(), "key2": x[108:124].upper(), "k8": x[198:206].upper(),
                "uuid": f"{x[0:8]}-{x[8:12]}-4{x[12:15]}-8{x[15:18]}-{x[18:30]}", "uuid2": f"{x[30:38]}-{x[38:42]}-4{x[42:45]}-a{x[45:48]}-{x[48:60]}",
                "uuid3": f"{x[124:132]}-{x[132:136]}-4{x[136:139]}-9{x[139:142]}-{x[142:154]}", "s3id": x[154:170].upper(), "g64": x[192:256],
                "when": whens[(r >> 60) % 300], "created": created, "exp": exp, "cdate": cdate,
                "tok": "IQoJb3JpZ2luX2VjE" + blob[to:to + 420 + ((r >> 70) % 5) * 90], "amz": blob[ao:ao + 76], "bo": (r >> 75) % 3000 + 200, "launch": launch,
            }
            sizes.append(len(rec))
            parts.append(rec)
        body = ('{"Records":[' + ",".join(parts) + "]}").encode()
        written += write_log(os.path.join(d, name), body, a.gzip)
        files += 1
        records += len(parts)
    print(json.dumps({"files": files, "records": records, "bytes": written, "bytes_per_record": round(written / max(records, 1)),
                      "shape": "realistic", "templates": len(cache), "record_bytes": size_distribution(sizes)}))


def size_distribution(sizes):
    """count, mean, p50, p90, p99, max bytes of records, and the share of records above 4 KB."""
    s = sorted(sizes)
    n = len(s)
    if not n:
        return {"count": 0}
    q = lambda p: s[min(n - 1, int(p * n))]
    return {"count": n, "mean": round(sum(s) / n), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s[-1],
            "over_4k": round(sum(1 for x in s if x > 4096) / n, 4)}


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
    p.add_argument("--shape", choices=["simple", "realistic"], default="simple",
                   help="simple: shallow records (the original corpus); realistic: records as deep as a real trail's")
    return p.parse_args()


def main():
    a = parse_args()
    rnd = random.Random(a.seed)
    accounts = [f"{111122223333 + i * 111111111:012d}" for i in range(a.accounts)]
    regions = a.regions.split(",")
    start = datetime.datetime.fromisoformat(a.start).replace(tzinfo=datetime.timezone.utc)
    if a.shape == "realistic":
        return realistic(a, rnd, accounts, regions, start)
    # Each kind of record is rendered once to JSON with placeholders; records are filled in
    # by string replacement, which keeps the generator at disk speed.
    rendered = [(source, name, ro, json.dumps(req), json.dumps(resp)) for _, source, name, ro, req, resp in MIX]
    weights = [m[0] for m in MIX]
    target = int(a.mb * 1024 * 1024)
    written, files, records = 0, 0, 0
    while written < target:
        account, region, t, d, name = log_file(a, rnd, start, accounts, regions, files)
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
        written += write_log(os.path.join(d, name), body, a.gzip)
        files += 1
        records += len(parts)
    print(json.dumps({"files": files, "records": records, "bytes": written, "bytes_per_record": round(written / max(records, 1))}))


if __name__ == "__main__":
    main()
