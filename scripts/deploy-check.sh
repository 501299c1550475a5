#!/usr/bin/env bash
# Proof that the templates deploy: `sam package` the built template to a bucket in moto,
# translate it to plain CloudFormation (moto has no SAM transform), create the stack in moto's
# CloudFormation, and check what was created through the AWS APIs (scripts/check_deploy.py),
# once with the defaults and once with every optional part switched on.
#
# Needs: a `sam build` in .aws-sam/build (scripts/sam-build.sh), and moto running with
# AWS_ENDPOINT_URL exported (scripts/lib.sh's tg_start_moto).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TG_ROOT"
SAM_VENV="$(tg_venv sam)"
MOTO_VENV="$(tg_venv moto)"
OUT="${TG_LOGDIR:-$TG_ROOT/.tmp}/deploy"
mkdir -p "$OUT"
[ -f .aws-sam/build/template.yaml ] || tg_die "no sam build in .aws-sam/build (run scripts/sam-build.sh)"

"$MOTO_VENV/bin/python" -c 'import boto3; boto3.client("s3").create_bucket(Bucket="trailguard-artifacts")'
"$SAM_VENV/bin/sam" package --template-file .aws-sam/build/template.yaml \
  --s3-bucket trailguard-artifacts --output-template-file "$OUT/packaged.yaml" >"$OUT/package.log" 2>&1 \
  || { cat "$OUT/package.log" >&2; tg_die "sam package failed"; }
AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/python" scripts/translate_sam.py "$OUT/packaged.yaml" "$OUT/packaged.cfn.json"

"$MOTO_VENV/bin/python" scripts/check_deploy.py "$OUT/packaged.cfn.json" trailguard-defaults
KEY_ARN="$("$MOTO_VENV/bin/python" -c 'import boto3; print(boto3.client("kms").create_key(Description="trailguard")["KeyMetadata"]["Arn"])')"
"$MOTO_VENV/bin/python" scripts/check_deploy.py "$OUT/packaged.cfn.json" trailguard-everything \
  ManualTriggerPrincipals=arn:aws:iam::123456789012:role/security-oncall KmsKeyArn="$KEY_ARN" ReservedConcurrency=5 \
  Architecture=x86_64 Mode=enforce \
  HoneytokenAccessKeyIds=AKIA5HONEYTOKEN00001,AKIA5HONEYTOKEN00002 \
  TrustedNetworks=198.51.100.0/24 NotificationEmail=secops@example.com \
  TrustedAccounts=444455556666,210987654321 OrganizationId=o-a1b2c3d4e5 \
  PublishRemediationEvents=true ImportFindings=true BacktestBucket=trailguard-archive BacktestPrefix=AWSLogs/

# A central deployment: its organization bus, the rules on it, the member-role statement.
"$MOTO_VENV/bin/python" scripts/check_deploy.py "$OUT/packaged.cfn.json" trailguard-central \
  CentralBus=true OrganizationId=o-a1b2c3d4e5 MemberRoleName=trailguard-member Mode=enforce

# member.yaml, as a StackSet instance creates it in the role region (plain CloudFormation:
# the short-form intrinsics are expanded as CloudFormation does).
"$SAM_VENV/bin/python" -c 'import json, sys
from samtranslator.yaml_helper import yaml_parse
json.dump(yaml_parse(open(sys.argv[1]).read()), open(sys.argv[2], "w"))' member.yaml "$OUT/member.json"
"$MOTO_VENV/bin/python" scripts/check_deploy.py "$OUT/member.json" trailguard-member \
  CentralEventBusArn=arn:aws:events:us-east-1:123456789012:event-bus/trailguard-central-central \
  CentralRoleArns=arn:aws:iam::123456789012:role/trailguard-central-RevertSecurityGroupRole-EXAMPLE,arn:aws:iam::123456789012:role/trailguard-central-DisableCompromisedKeyRole-EXAMPLE \
  OrganizationId=o-a1b2c3d4e5 MemberRoleName=trailguard-member RoleRegion=us-east-1 \
  HoneytokenAccessKeyIds=AKIA5HONEYTOKEN00001 TrustedNetworks=198.51.100.0/24 \
  UndoPrincipalArns=arn:aws:iam::123456789012:role/security-oncall
