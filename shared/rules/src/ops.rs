//! Every AWS operation trailguard calls, named once: the API name the SDK calls and the IAM
//! action a role needs to call it. Actions and fact lookups list the operations they use
//! (template.yaml grants exactly those; a test compares), and the ports classify errors with
//! the same constants, so an IAM action is written in one place only.

use serde::Serialize;

/// One AWS API operation.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Op {
    /// The operation as the API names it: `RevokeSecurityGroupIngress`.
    pub api: &'static str,
    /// The IAM action that allows it: `ec2:RevokeSecurityGroupIngress`.
    pub iam: &'static str,
}

impl Op {
    /// The SDK client that makes the call (`Sdk::with_<client>`): the IAM prefix, except for
    /// S3 Control's account calls, which IAM names under `s3:` but the S3 client cannot make,
    /// and a KMS key's life (`kmskeys`: the key port, `with_kms_keys`, not the key-policy one).
    pub fn client(&self) -> &'static str {
        if S3_CONTROL.contains(&self) {
            return "s3control";
        }
        if KEY_LIFE.contains(&self) {
            return "kmskeys";
        }
        self.iam.split(':').next().unwrap_or_default()
    }
}

/// `op!(ec2, RevokeSecurityGroupIngress)`: the IAM action is the service prefix and the API name.
/// `op!(s3, ListObjectsV2 => ListBucket)` for the few operations whose IAM action differs.
macro_rules! op {
    ($service:ident, $api:ident) => {
        Op {
            api: stringify!($api),
            iam: concat!(stringify!($service), ":", stringify!($api)),
        }
    };
    ($service:ident, $api:ident => $iam:ident) => {
        Op {
            api: stringify!($api),
            iam: concat!(stringify!($service), ":", stringify!($iam)),
        }
    };
}

// EC2: security groups.
pub const REVOKE_SG_INGRESS: Op = op!(ec2, RevokeSecurityGroupIngress);
pub const REVOKE_SG_EGRESS: Op = op!(ec2, RevokeSecurityGroupEgress);
pub const AUTHORIZE_SG_INGRESS: Op = op!(ec2, AuthorizeSecurityGroupIngress);
pub const AUTHORIZE_SG_EGRESS: Op = op!(ec2, AuthorizeSecurityGroupEgress);
pub const DESCRIBE_SECURITY_GROUPS: Op = op!(ec2, DescribeSecurityGroups);
pub const DESCRIBE_SG_RULES: Op = op!(ec2, DescribeSecurityGroupRules);

// EC2: managed prefix lists.
pub const DESCRIBE_MANAGED_PREFIX_LISTS: Op = op!(ec2, DescribeManagedPrefixLists);
pub const GET_MANAGED_PREFIX_LIST_ENTRIES: Op = op!(ec2, GetManagedPrefixListEntries);
pub const MODIFY_MANAGED_PREFIX_LIST: Op = op!(ec2, ModifyManagedPrefixList);

// EC2: the account's defaults in a region (guards/ec2_guardrails.rs), and the calls their
// undo names.
pub const GET_EBS_ENCRYPTION_BY_DEFAULT: Op = op!(ec2, GetEbsEncryptionByDefault);
pub const ENABLE_EBS_ENCRYPTION_BY_DEFAULT: Op = op!(ec2, EnableEbsEncryptionByDefault);
pub const DISABLE_EBS_ENCRYPTION_BY_DEFAULT: Op = op!(ec2, DisableEbsEncryptionByDefault);
pub const GET_SNAPSHOT_BPA: Op = op!(ec2, GetSnapshotBlockPublicAccessState);
pub const ENABLE_SNAPSHOT_BPA: Op = op!(ec2, EnableSnapshotBlockPublicAccess);
pub const DISABLE_SNAPSHOT_BPA: Op = op!(ec2, DisableSnapshotBlockPublicAccess);
pub const GET_IMAGE_BPA: Op = op!(ec2, GetImageBlockPublicAccessState);
pub const ENABLE_IMAGE_BPA: Op = op!(ec2, EnableImageBlockPublicAccess);
pub const DISABLE_IMAGE_BPA: Op = op!(ec2, DisableImageBlockPublicAccess);
pub const DESCRIBE_INSTANCES: Op = op!(ec2, DescribeInstances);
pub const MODIFY_INSTANCE_METADATA_OPTIONS: Op = op!(ec2, ModifyInstanceMetadataOptions);
pub const GET_INSTANCE_METADATA_DEFAULTS: Op = op!(ec2, GetInstanceMetadataDefaults);
pub const MODIFY_INSTANCE_METADATA_DEFAULTS: Op = op!(ec2, ModifyInstanceMetadataDefaults);

// EC2: network ACLs.
pub const DESCRIBE_NETWORK_ACLS: Op = op!(ec2, DescribeNetworkAcls);
pub const DELETE_NACL_ENTRY: Op = op!(ec2, DeleteNetworkAclEntry);

// The calls that undo actions (never made by trailguard: its undo commands name them).
pub const CREATE_NACL_ENTRY: Op = op!(ec2, CreateNetworkAclEntry);
pub const DELETE_USER_POLICY: Op = op!(iam, DeleteUserPolicy);
pub const DELETE_ROLE_POLICY: Op = op!(iam, DeleteRolePolicy);
pub const GET_USER_POLICY: Op = op!(iam, GetUserPolicy);
pub const GET_ROLE_POLICY: Op = op!(iam, GetRolePolicy);
pub const UNTAG_USER: Op = op!(iam, UntagUser);
// Every notice names the account by its alias too (report.rs `EventSummary::account_alias`).
pub const LIST_ACCOUNT_ALIASES: Op = op!(iam, ListAccountAliases);
pub const TAG_ROLE: Op = op!(iam, TagRole);
pub const STOP_LOGGING: Op = op!(cloudtrail, StopLogging);

// IAM.
pub const LIST_ACCESS_KEYS: Op = op!(iam, ListAccessKeys);
pub const UPDATE_ACCESS_KEY: Op = op!(iam, UpdateAccessKey);
pub const GET_ACCESS_KEY_LAST_USED: Op = op!(iam, GetAccessKeyLastUsed);
pub const PUT_USER_POLICY: Op = op!(iam, PutUserPolicy);
pub const PUT_ROLE_POLICY: Op = op!(iam, PutRolePolicy);
pub const TAG_USER: Op = op!(iam, TagUser);
pub const LIST_USER_TAGS: Op = op!(iam, ListUserTags);

// IAM: the account's password policy (guards/iam.rs), and the call its undo may name.
pub const GET_ACCOUNT_PASSWORD_POLICY: Op = op!(iam, GetAccountPasswordPolicy);
pub const UPDATE_ACCOUNT_PASSWORD_POLICY: Op = op!(iam, UpdateAccountPasswordPolicy);
pub const DELETE_ACCOUNT_PASSWORD_POLICY: Op = op!(iam, DeleteAccountPasswordPolicy);

// IAM: role trust.
pub const GET_ROLE: Op = op!(iam, GetRole);
pub const UPDATE_ASSUME_ROLE_POLICY: Op = op!(iam, UpdateAssumeRolePolicy);

// CloudTrail.
pub const GET_TRAIL_STATUS: Op = op!(cloudtrail, GetTrailStatus);
pub const START_LOGGING: Op = op!(cloudtrail, StartLogging);
pub const UPDATE_TRAIL: Op = op!(cloudtrail, UpdateTrail);
pub const LOOKUP_EVENTS: Op = op!(cloudtrail, LookupEvents);
pub const GET_EVENT_SELECTORS: Op = op!(cloudtrail, GetEventSelectors);
pub const PUT_EVENT_SELECTORS: Op = op!(cloudtrail, PutEventSelectors);
pub const DESCRIBE_TRAILS: Op = op!(cloudtrail, DescribeTrails);

// EC2: images and snapshots.
pub const DESCRIBE_IMAGE_ATTRIBUTE: Op = op!(ec2, DescribeImageAttribute);
pub const MODIFY_IMAGE_ATTRIBUTE: Op = op!(ec2, ModifyImageAttribute);
pub const DESCRIBE_SNAPSHOT_ATTRIBUTE: Op = op!(ec2, DescribeSnapshotAttribute);
pub const MODIFY_SNAPSHOT_ATTRIBUTE: Op = op!(ec2, ModifySnapshotAttribute);

// RDS snapshots.
pub const DESCRIBE_DB_SNAPSHOT_ATTRIBUTES: Op = op!(rds, DescribeDBSnapshotAttributes);
pub const MODIFY_DB_SNAPSHOT_ATTRIBUTE: Op = op!(rds, ModifyDBSnapshotAttribute);
pub const DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES: Op =
    op!(rds, DescribeDBClusterSnapshotAttributes);
pub const MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE: Op = op!(rds, ModifyDBClusterSnapshotAttribute);
/// When a snapshot was made (`trailguard undo`: one made after the remediation is another).
pub const DESCRIBE_DB_SNAPSHOTS: Op = op!(rds, DescribeDBSnapshots);
pub const DESCRIBE_DB_CLUSTER_SNAPSHOTS: Op = op!(rds, DescribeDBClusterSnapshots);

// RDS and Redshift: databases made publicly accessible (the modify calls are their own
// inverse: the undo commands name them with the flag the other way).
pub const DESCRIBE_DB_INSTANCES: Op = op!(rds, DescribeDBInstances);
pub const MODIFY_DB_INSTANCE: Op = op!(rds, ModifyDBInstance);
pub const DESCRIBE_DB_CLUSTERS: Op = op!(rds, DescribeDBClusters);
pub const REDSHIFT_DESCRIBE_CLUSTERS: Op = op!(redshift, DescribeClusters);
pub const REDSHIFT_MODIFY_CLUSTER: Op = op!(redshift, ModifyCluster);
// Exemption tags given by anyone but the tag admins, taken back (and put back by the undo).
pub const RDS_LIST_TAGS: Op = op!(rds, ListTagsForResource);
pub const RDS_REMOVE_TAGS: Op = op!(rds, RemoveTagsFromResource);
pub const RDS_ADD_TAGS: Op = op!(rds, AddTagsToResource);
pub const REDSHIFT_DESCRIBE_TAGS: Op = op!(redshift, DescribeTags);
pub const REDSHIFT_DELETE_TAGS: Op = op!(redshift, DeleteTags);
pub const REDSHIFT_CREATE_TAGS: Op = op!(redshift, CreateTags);

// Lambda.
pub const LAMBDA_GET_POLICY: Op = op!(lambda, GetPolicy);
pub const LAMBDA_REMOVE_PERMISSION: Op = op!(lambda, RemovePermission);

// Organizations.
pub const LIST_ACCOUNTS: Op = op!(organizations, ListAccounts);

// Telling people.
pub const SNS_PUBLISH: Op = op!(sns, Publish);
pub const PUT_EVENTS: Op = op!(events, PutEvents);

/// What every function calls to tell people: the SNS notification and the optional
/// "Remediation Performed" event.
pub const NOTIFY: [&Op; 2] = [&SNS_PUBLISH, &PUT_EVENTS];

// EC2 and IAM tags: exemptions granted by those not allowed to grant them are taken back.
pub const DESCRIBE_TAGS: Op = op!(ec2, DescribeTags);
pub const CREATE_TAGS: Op = op!(ec2, CreateTags);
pub const DELETE_TAGS: Op = op!(ec2, DeleteTags);
pub const LIST_ROLE_TAGS: Op = op!(iam, ListRoleTags);
pub const UNTAG_ROLE: Op = op!(iam, UntagRole);

// The sweep's listings.
pub const LIST_ENTITIES_FOR_POLICY: Op = op!(iam, ListEntitiesForPolicy);
pub const DESCRIBE_IMAGES: Op = op!(ec2, DescribeImages);
pub const DESCRIBE_SNAPSHOTS: Op = op!(ec2, DescribeSnapshots);

// S3: the backtest reads archive objects and writes its partial and final summaries.
pub const S3_GET_OBJECT: Op = op!(s3, GetObject);
pub const S3_LIST_OBJECTS: Op = op!(s3, ListObjectsV2 => ListBucket);
pub const S3_PUT_OBJECT: Op = op!(s3, PutObject);

/// What the backtest function calls: GetObject (archive objects, partials), ListObjectsV2
/// (the partials to merge) and PutObject (partials, summaries). template.yaml's BacktestRole
/// grants exactly these (scripts/check_template.py compares).
pub const BACKTEST: [&Op; 3] = [&S3_GET_OBJECT, &S3_LIST_OBJECTS, &S3_PUT_OBJECT];

// S3: public buckets (revert-public-bucket) and, through S3 Control, the account's public
// access block (restore-account-guardrails). A block is deleted with the same IAM action
// that puts it.
pub const GET_BUCKET_PAB: Op = op!(s3, GetPublicAccessBlock => GetBucketPublicAccessBlock);
pub const PUT_BUCKET_PAB: Op = op!(s3, PutPublicAccessBlock => PutBucketPublicAccessBlock);
pub const DELETE_BUCKET_PAB: Op = op!(s3, DeletePublicAccessBlock => PutBucketPublicAccessBlock);
pub const GET_ACCOUNT_PAB: Op = op!(s3, GetPublicAccessBlock => GetAccountPublicAccessBlock);
pub const PUT_ACCOUNT_PAB: Op = op!(s3, PutPublicAccessBlock => PutAccountPublicAccessBlock);
pub const DELETE_ACCOUNT_PAB: Op = op!(s3, DeletePublicAccessBlock => PutAccountPublicAccessBlock);
/// The calls S3 Control makes (restore-account-guardrails), not S3.
pub const S3_CONTROL: [&Op; 3] = [&GET_ACCOUNT_PAB, &PUT_ACCOUNT_PAB, &DELETE_ACCOUNT_PAB];
pub const GET_BUCKET_ACL: Op = op!(s3, GetBucketAcl);
pub const PUT_BUCKET_ACL: Op = op!(s3, PutBucketAcl);
pub const GET_OBJECT_ACL: Op = op!(s3, GetObjectAcl);
pub const PUT_OBJECT_ACL: Op = op!(s3, PutObjectAcl);
pub const GET_BUCKET_POLICY: Op = op!(s3, GetBucketPolicy);
pub const PUT_BUCKET_POLICY: Op = op!(s3, PutBucketPolicy);
pub const DELETE_BUCKET_POLICY: Op = op!(s3, DeleteBucketPolicy);
pub const GET_BUCKET_TAGGING: Op = op!(s3, GetBucketTagging);
/// S3 replaces a bucket's whole tag set; deleting it takes the same IAM action.
pub const PUT_BUCKET_TAGGING: Op = op!(s3, PutBucketTagging);
pub const DELETE_BUCKET_TAGGING: Op = op!(s3, DeleteBucketTagging => PutBucketTagging);
// The same calls on one version of an object take their own IAM actions.
/// An object's time of writing, for `trailguard undo` (an object written since is another).
pub const HEAD_OBJECT: Op = op!(s3, HeadObject => GetObject);
pub const GET_OBJECT_VERSION_ACL: Op = op!(s3, GetObjectAcl => GetObjectVersionAcl);
pub const PUT_OBJECT_VERSION_ACL: Op = op!(s3, PutObjectAcl => PutObjectVersionAcl);
pub const LIST_BUCKETS: Op = op!(s3, ListBuckets => ListAllMyBuckets);
// Resource policies (resources.rs): read, write, delete, tags, sweep listings.
pub const SQS_GET_QUEUE_ATTRIBUTES: Op = op!(sqs, GetQueueAttributes);
pub const SQS_SET_QUEUE_ATTRIBUTES: Op = op!(sqs, SetQueueAttributes);
pub const SQS_LIST_QUEUE_TAGS: Op = op!(sqs, ListQueueTags);
pub const SQS_LIST_QUEUES: Op = op!(sqs, ListQueues);
pub const SNS_GET_TOPIC_ATTRIBUTES: Op = op!(sns, GetTopicAttributes);
pub const SNS_SET_TOPIC_ATTRIBUTES: Op = op!(sns, SetTopicAttributes);
pub const SNS_LIST_TAGS: Op = op!(sns, ListTagsForResource);
pub const SNS_LIST_TOPICS: Op = op!(sns, ListTopics);
pub const SM_GET_RESOURCE_POLICY: Op = op!(secretsmanager, GetResourcePolicy);
pub const SM_PUT_RESOURCE_POLICY: Op = op!(secretsmanager, PutResourcePolicy);
pub const SM_DELETE_RESOURCE_POLICY: Op = op!(secretsmanager, DeleteResourcePolicy);
pub const SM_DESCRIBE_SECRET: Op = op!(secretsmanager, DescribeSecret);
pub const SM_LIST_SECRETS: Op = op!(secretsmanager, ListSecrets);
pub const KMS_GET_KEY_POLICY: Op = op!(kms, GetKeyPolicy);
pub const KMS_PUT_KEY_POLICY: Op = op!(kms, PutKeyPolicy);
pub const KMS_LIST_RESOURCE_TAGS: Op = op!(kms, ListResourceTags);
pub const KMS_LIST_KEYS: Op = op!(kms, ListKeys);
pub const KMS_DESCRIBE_KEY: Op = op!(kms, DescribeKey);
// GuardDuty: a suspended detector (guards/account_guardrails.rs).
pub const GUARDDUTY_LIST_DETECTORS: Op = op!(guardduty, ListDetectors);
pub const GUARDDUTY_GET_DETECTOR: Op = op!(guardduty, GetDetector);
pub const GUARDDUTY_UPDATE_DETECTOR: Op = op!(guardduty, UpdateDetector);
/// A finding archived once its credentials are contained (finding.rs), with the detector
/// `GUARDDUTY_LIST_DETECTORS` finds where it was delivered.
pub const GUARDDUTY_ARCHIVE_FINDINGS: Op = op!(guardduty, ArchiveFindings);

// Security Hub: the finding trailguard acted on gets its workflow status and a note
// (finding.rs), in the finding's own account and region.
pub const SECURITYHUB_BATCH_UPDATE_FINDINGS: Op = op!(securityhub, BatchUpdateFindings);
/// publish-findings: a remediation the ledger keeps, imported as a finding of the account's
/// own default product (imported.rs).
pub const SECURITYHUB_BATCH_IMPORT_FINDINGS: Op = op!(securityhub, BatchImportFindings);

// KMS: a key's life (guards/encryption_keys.rs), and the calls their undo names.
pub const KMS_CANCEL_KEY_DELETION: Op = op!(kms, CancelKeyDeletion);
pub const KMS_ENABLE_KEY: Op = op!(kms, EnableKey);
pub const KMS_ENABLE_KEY_ROTATION: Op = op!(kms, EnableKeyRotation);
pub const KMS_GET_KEY_ROTATION_STATUS: Op = op!(kms, GetKeyRotationStatus);
pub const KMS_SCHEDULE_KEY_DELETION: Op = op!(kms, ScheduleKeyDeletion);
pub const KMS_DISABLE_KEY_ROTATION: Op = op!(kms, DisableKeyRotation);
/// The calls only the key port makes (DescribeKey, ListKeys and ListResourceTags the
/// key-policy client makes too).
pub const KEY_LIFE: [&Op; 6] = [
    &KMS_CANCEL_KEY_DELETION,
    &KMS_ENABLE_KEY,
    &KMS_ENABLE_KEY_ROTATION,
    &KMS_GET_KEY_ROTATION_STATUS,
    &KMS_SCHEDULE_KEY_DELETION,
    &KMS_DISABLE_KEY_ROTATION,
];
pub const ECR_GET_REPOSITORY_POLICY: Op = op!(ecr, GetRepositoryPolicy);
pub const ECR_SET_REPOSITORY_POLICY: Op = op!(ecr, SetRepositoryPolicy);
pub const ECR_DELETE_REPOSITORY_POLICY: Op = op!(ecr, DeleteRepositoryPolicy);
pub const ECR_LIST_TAGS: Op = op!(ecr, ListTagsForResource);
pub const ECR_DESCRIBE_REPOSITORIES: Op = op!(ecr, DescribeRepositories);
// Exemption tags taken back (resources.rs `untag_resource!`), and the calls their undo names.
pub const SQS_UNTAG_QUEUE: Op = op!(sqs, UntagQueue);
pub const SQS_TAG_QUEUE: Op = op!(sqs, TagQueue);
pub const SNS_UNTAG_RESOURCE: Op = op!(sns, UntagResource);
pub const SNS_TAG_RESOURCE: Op = op!(sns, TagResource);
pub const SM_UNTAG_RESOURCE: Op = op!(secretsmanager, UntagResource);
pub const SM_TAG_RESOURCE: Op = op!(secretsmanager, TagResource);
pub const KMS_UNTAG_RESOURCE: Op = op!(kms, UntagResource);
pub const KMS_TAG_RESOURCE: Op = op!(kms, TagResource);
pub const ECR_UNTAG_RESOURCE: Op = op!(ecr, UntagResource);
pub const ECR_TAG_RESOURCE: Op = op!(ecr, TagResource);
pub const ES_DESCRIBE_DOMAIN_CONFIG: Op = op!(es, DescribeDomainConfig);
pub const ES_UPDATE_DOMAIN_CONFIG: Op = op!(es, UpdateDomainConfig);
pub const ES_LIST_TAGS: Op = op!(es, ListTags);
pub const ES_LIST_DOMAIN_NAMES: Op = op!(es, ListDomainNames);
pub const ES_DESCRIBE_DOMAINS: Op = op!(es, DescribeDomains);
pub const GLACIER_GET_VAULT_ACCESS_POLICY: Op = op!(glacier, GetVaultAccessPolicy);
pub const GLACIER_SET_VAULT_ACCESS_POLICY: Op = op!(glacier, SetVaultAccessPolicy);
pub const GLACIER_DELETE_VAULT_ACCESS_POLICY: Op = op!(glacier, DeleteVaultAccessPolicy);
pub const GLACIER_LIST_TAGS: Op = op!(glacier, ListTagsForVault);
pub const GLACIER_LIST_VAULTS: Op = op!(glacier, ListVaults);
pub const EFS_DESCRIBE_FILE_SYSTEM_POLICY: Op = op!(elasticfilesystem, DescribeFileSystemPolicy);
pub const EFS_PUT_FILE_SYSTEM_POLICY: Op = op!(elasticfilesystem, PutFileSystemPolicy);
pub const EFS_DELETE_FILE_SYSTEM_POLICY: Op = op!(elasticfilesystem, DeleteFileSystemPolicy);
pub const EFS_DESCRIBE_FILE_SYSTEMS: Op = op!(elasticfilesystem, DescribeFileSystems);
// Exemption tags on domains, vaults and file systems given by anyone but the tag admins.
pub const ES_REMOVE_TAGS: Op = op!(es, RemoveTags);
pub const ES_ADD_TAGS: Op = op!(es, AddTags);
pub const GLACIER_REMOVE_TAGS: Op = op!(glacier, RemoveTagsFromVault);
pub const GLACIER_ADD_TAGS: Op = op!(glacier, AddTagsToVault);
pub const EFS_UNTAG_RESOURCE: Op = op!(elasticfilesystem, UntagResource);
pub const EFS_TAG_RESOURCE: Op = op!(elasticfilesystem, TagResource);

// DynamoDB: the ledger (the blast-radius breaker's counts, exactly-once claims).
pub const LEDGER_GET: Op = op!(dynamodb, GetItem);
pub const LEDGER_PUT: Op = op!(dynamodb, PutItem);
pub const LEDGER_UPDATE: Op = op!(dynamodb, UpdateItem);
pub const LEDGER_DELETE: Op = op!(dynamodb, DeleteItem);
// STS: a central deployment acts in a member account through the member role.
pub const ASSUME_ROLE: Op = op!(sts, AssumeRole);

/// What a function that acts needs of the ledger: read and write counts and claims, and
/// delete a claim it gives up.
pub const LEDGER: [&Op; 4] = [&LEDGER_GET, &LEDGER_PUT, &LEDGER_UPDATE, &LEDGER_DELETE];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_actions_are_service_prefixed_api_names() {
        assert_eq!(REVOKE_SG_INGRESS.iam, "ec2:RevokeSecurityGroupIngress");
        assert_eq!(REVOKE_SG_INGRESS.api, "RevokeSecurityGroupIngress");
        assert_eq!(PUT_EVENTS.iam, "events:PutEvents");
    }
}
