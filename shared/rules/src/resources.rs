//! Resource policies of eight services (SQS queues, SNS topics, Secrets Manager secrets, KMS
//! keys, ECR repositories, OpenSearch domains, Glacier vaults, EFS file systems): the kinds,
//! a resource as a lookup or a sweep sees it, and the one action shape every kind shares
//! (`restrict_<kind>_policy`: the resource's policy without exactly the principals a decision
//! found open, grants.rs), declared once here and listed per kind in action.rs's `actions!`,
//! so each kind's role grants exactly its own service's calls.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ids::{IdKind, Target};
use crate::ops::{self, Op};
use crate::shell::quote;
use crate::state::{StateKind, Tags};

/// The services whose resource policy trailguard restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Queue,
    Topic,
    Secret,
    Key,
    Repository,
    Domain,
    Vault,
    FileSystem,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 8] = [
        PolicyKind::Queue,
        PolicyKind::Topic,
        PolicyKind::Secret,
        PolicyKind::Key,
        PolicyKind::Repository,
        PolicyKind::Domain,
        PolicyKind::Vault,
        PolicyKind::FileSystem,
    ];

    /// For people: `SQS queue`, `KMS key`, ...
    pub fn noun(self) -> &'static str {
        match self {
            PolicyKind::Queue => "SQS queue",
            PolicyKind::Topic => "SNS topic",
            PolicyKind::Secret => "secret",
            PolicyKind::Key => "KMS key",
            PolicyKind::Repository => "ECR repository",
            PolicyKind::Domain => "OpenSearch domain",
            PolicyKind::Vault => "Glacier vault",
            PolicyKind::FileSystem => "EFS file system",
        }
    }

    /// Whether the service lets a policy be deleted when no statement is left. A KMS key
    /// always has a policy; an SNS topic's can only be replaced (trailguard writes AWS's
    /// default topic policy for the owner account then). An OpenSearch domain's is
    /// "deleted" by writing an empty one (UpdateDomainConfig, `AccessPolicies` ""). An EFS
    /// file system's could be deleted, but one without a policy falls back to AWS's default,
    /// which lets every client that reaches a mount target mount, write and act as root: more
    /// than any policy open to everyone grants, so it is never deleted (told instead).
    pub fn deletable(self) -> bool {
        !matches!(
            self,
            PolicyKind::Key | PolicyKind::Topic | PolicyKind::FileSystem
        )
    }

    /// The calls that read a resource's policy and its tags (a lookup: the exemption tag,
    /// a Security Hub finding's resource).
    pub fn lookup_ops(self) -> &'static [&'static Op] {
        match self {
            PolicyKind::Queue => &[&ops::SQS_GET_QUEUE_ATTRIBUTES, &ops::SQS_LIST_QUEUE_TAGS],
            PolicyKind::Topic => &[&ops::SNS_GET_TOPIC_ATTRIBUTES, &ops::SNS_LIST_TAGS],
            PolicyKind::Secret => &[&ops::SM_GET_RESOURCE_POLICY, &ops::SM_DESCRIBE_SECRET],
            PolicyKind::Key => &[&ops::KMS_GET_KEY_POLICY, &ops::KMS_LIST_RESOURCE_TAGS],
            PolicyKind::Repository => &[
                &ops::ECR_DESCRIBE_REPOSITORIES,
                &ops::ECR_GET_REPOSITORY_POLICY,
                &ops::ECR_LIST_TAGS,
            ],
            // The domain's ARN (its tags are read by ARN), policy and VPC in one answer.
            PolicyKind::Domain => &[&ops::ES_DESCRIBE_DOMAINS, &ops::ES_LIST_TAGS],
            PolicyKind::Vault => &[
                &ops::GLACIER_GET_VAULT_ACCESS_POLICY,
                &ops::GLACIER_LIST_TAGS,
            ],
            PolicyKind::FileSystem => &[
                &ops::EFS_DESCRIBE_FILE_SYSTEM_POLICY,
                &ops::EFS_DESCRIBE_FILE_SYSTEMS,
            ],
        }
    }

    /// The sweep's listing of this kind.
    pub fn state_kind(self) -> StateKind {
        match self {
            PolicyKind::Queue => StateKind::QueuePolicies,
            PolicyKind::Topic => StateKind::TopicPolicies,
            PolicyKind::Secret => StateKind::SecretPolicies,
            PolicyKind::Key => StateKind::KeyPolicies,
            PolicyKind::Repository => StateKind::RepositoryPolicies,
            PolicyKind::Domain => StateKind::DomainPolicies,
            PolicyKind::Vault => StateKind::VaultPolicies,
            PolicyKind::FileSystem => StateKind::FileSystemPolicies,
        }
    }

    /// The kind of a Security Hub resource type (`AwsSqsQueue`, ...).
    pub fn of_asff_type(t: &str) -> Option<PolicyKind> {
        Some(match t {
            "AwsSqsQueue" => PolicyKind::Queue,
            "AwsSnsTopic" => PolicyKind::Topic,
            "AwsSecretsManagerSecret" => PolicyKind::Secret,
            "AwsKmsKey" => PolicyKind::Key,
            "AwsEcrRepository" => PolicyKind::Repository,
            "AwsOpenSearchServiceDomain" | "AwsElasticsearchDomain" => PolicyKind::Domain,
            "AwsEfsFileSystem" => PolicyKind::FileSystem,
            _ => return None,
        })
    }
}

/// One resource's policy as it is now (a lookup, a sweep's listing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// (`resource_kind`: a sweep's `State` is tagged by `kind`.)
    #[serde(rename = "resource_kind")]
    pub kind: PolicyKind,
    /// What the service's calls name it by: the queue URL, the topic ARN, the secret's ARN
    /// or name, the key id or ARN, the repository, domain or vault name, the file system id.
    pub resource: String,
    /// The policy document as the service returns it; None when it has none.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    /// An OpenSearch domain inside a VPC: reachable only from it, whatever its policy says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_vpc: bool,
}

/// What every `restrict_<kind>_policy` action says, whatever its kind.
#[derive(Debug, Clone, Copy)]
pub struct Restriction<'a> {
    pub kind: PolicyKind,
    pub resource: &'a str,
    pub principals: &'a [String],
    pub untrusted_values: &'a [String],
    /// The policy as it was before the action changed it (what the undo puts back).
    pub previous: Option<&'a str>,
}

impl Restriction<'_> {
    pub fn describe(&self) -> String {
        format!(
            "remove {} from the policy of {} {}",
            self.principals.join(", "),
            self.kind.noun(),
            self.resource
        )
    }

    /// The command that puts the previous policy back (it restores a deleted one too).
    pub fn undo(&self) -> Option<String> {
        let prev = self.previous?;
        let r = quote(self.resource);
        Some(match self.kind {
            PolicyKind::Queue => format!(
                "aws sqs set-queue-attributes --queue-url {r} --attributes {}",
                quote(&json!({ "Policy": prev }).to_string())
            ),
            PolicyKind::Topic => format!(
                "aws sns set-topic-attributes --topic-arn {r} --attribute-name Policy --attribute-value {}",
                quote(prev)
            ),
            PolicyKind::Secret => format!(
                "aws secretsmanager put-resource-policy --secret-id {r} --resource-policy {}",
                quote(prev)
            ),
            PolicyKind::Key => format!(
                "aws kms put-key-policy --key-id {r} --policy-name default --policy {}",
                quote(prev)
            ),
            PolicyKind::Repository => format!(
                "aws ecr set-repository-policy --repository-name {r} --policy-text {}",
                quote(prev)
            ),
            PolicyKind::Domain => format!(
                "aws opensearch update-domain-config --domain-name {r} --access-policies {}",
                quote(prev)
            ),
            PolicyKind::Vault => format!(
                "aws glacier set-vault-access-policy --account-id - --vault-name {r} --policy {}",
                quote(&json!({ "Policy": prev }).to_string())
            ),
            PolicyKind::FileSystem => format!(
                "aws efs put-file-system-policy --file-system-id {r} --policy {}",
                quote(prev)
            ),
        })
    }

    pub fn targets(&self, field: &'static str) -> Vec<Target> {
        vec![Target::new(field, self.resource, IdKind::PolicyResource)]
    }
}

/// One `restrict_<kind>_policy` action type: the struct (its resource field named as the
/// service names it) and its `Step`. Its line in `actions!` (action.rs) gives its JSON name,
/// its operations and its inverse.
macro_rules! restrict_policy {
    ($(#[$doc:meta])* $ty:ident, $kind:expr, $field:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct $ty {
            pub $field: String,
            /// The principals to take out, as the policy writes them.
            pub principals: Vec<String>,
            /// The condition values the decision found outside the trusted set: the function
            /// judges the policy it finds the same way (`grants::judge`).
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub untrusted_values: Vec<String>,
            /// The policy before the action (filled in once done: the undo puts it back).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub previous: Option<String>,
        }

        impl $ty {
            pub const KIND: PolicyKind = $kind;

            pub fn new(resource: String, principals: Vec<String>, untrusted_values: Vec<String>) -> Self {
                $ty { $field: resource, principals, untrusted_values, previous: None }
            }

            pub fn restriction(&self) -> Restriction<'_> {
                Restriction {
                    kind: $kind,
                    resource: &self.$field,
                    principals: &self.principals,
                    untrusted_values: &self.untrusted_values,
                    previous: self.previous.as_deref(),
                }
            }
        }

        impl crate::action::Step for $ty {
            // The policy is read first: one that no longer lets them in is already done.
            fn ops(&self) -> Vec<&'static Op> {
                Self::INFO.ops.to_vec()
            }
            fn targets(&self) -> Vec<Target> {
                self.restriction().targets(stringify!($field))
            }
            fn describe(&self) -> String {
                self.restriction().describe()
            }
            fn undo(&self) -> Option<String> {
                self.restriction().undo()
            }
        }
    };
}

restrict_policy!(
    /// Take principals out of an SQS queue's policy (`Policy` attribute; "" deletes it).
    RestrictQueuePolicy, PolicyKind::Queue, queue_url
);
restrict_policy!(
    /// Take principals out of an SNS topic's policy (never deleted: AWS's default instead).
    RestrictTopicPolicy, PolicyKind::Topic, topic_arn
);
restrict_policy!(
    /// Take principals out of a secret's resource policy.
    RestrictSecretPolicy, PolicyKind::Secret, secret_id
);
restrict_policy!(
    /// Take principals out of a KMS key policy, never leaving the key without an administrator.
    RestrictKeyPolicy, PolicyKind::Key, key_id
);
restrict_policy!(
    /// Take principals out of an ECR repository policy.
    RestrictRepositoryPolicy, PolicyKind::Repository, repository_name
);

restrict_policy!(
    /// Take principals out of an OpenSearch (or Elasticsearch) domain's access policy (an
    /// empty one written when nothing is left: the domain then answers only to signed calls
    /// its own account's IAM policies allow).
    RestrictDomainPolicy, PolicyKind::Domain, domain_name
);
restrict_policy!(
    /// Take principals out of a Glacier vault's access policy.
    RestrictVaultPolicy, PolicyKind::Vault, vault_name
);
restrict_policy!(
    /// Take principals out of an EFS file system policy (never deleted: without one, EFS's
    /// default lets every client that reaches a mount target in).
    RestrictFileSystemPolicy, PolicyKind::FileSystem, file_system_id
);

/// The action that restricts a resource of `kind`.
pub fn restrict(
    kind: PolicyKind,
    resource: String,
    principals: Vec<String>,
    untrusted: Vec<String>,
) -> crate::action::Action {
    match kind {
        PolicyKind::Queue => RestrictQueuePolicy::new(resource, principals, untrusted).into(),
        PolicyKind::Topic => RestrictTopicPolicy::new(resource, principals, untrusted).into(),
        PolicyKind::Secret => RestrictSecretPolicy::new(resource, principals, untrusted).into(),
        PolicyKind::Key => RestrictKeyPolicy::new(resource, principals, untrusted).into(),
        PolicyKind::Repository => {
            RestrictRepositoryPolicy::new(resource, principals, untrusted).into()
        }
        PolicyKind::Domain => RestrictDomainPolicy::new(resource, principals, untrusted).into(),
        PolicyKind::Vault => RestrictVaultPolicy::new(resource, principals, untrusted).into(),
        PolicyKind::FileSystem => {
            RestrictFileSystemPolicy::new(resource, principals, untrusted).into()
        }
    }
}

/// What every `untag_<kind>` action says, whatever its kind: the exemption tag `key` taken
/// off one resource (guards/tags.rs `exemption_given`: an exemption given by anyone but a tag
/// admin).
#[derive(Debug, Clone, Copy)]
pub struct Untagging<'a> {
    pub kind: PolicyKind,
    /// What the service's untag call names it by: the queue URL, the topic ARN, the secret's
    /// ARN or name, the key id or ARN, the repository ARN, ...
    pub resource: &'a str,
    pub key: &'a str,
    /// The tag's value before the call, once the call has read it (`Change::Removed`).
    pub value: Option<&'a str>,
}

impl Untagging<'_> {
    pub fn describe(&self) -> String {
        format!(
            "remove tag {} from {} {}",
            self.key,
            self.kind.noun(),
            self.resource
        )
    }

    /// The command that tags the resource `key=value` again: the value the call read before
    /// taking the tag off, else `true` (`exemption_given` acts only on a true one).
    pub fn undo(&self) -> String {
        let r = quote(self.resource);
        let value = self.value.unwrap_or("true");
        let pair = |k: &str, v: &str| quote(&format!("{k}={},{v}={value}", self.key));
        match self.kind {
            PolicyKind::Queue => format!(
                "aws sqs tag-queue --queue-url {r} --tags {}",
                quote(&format!("{}={value}", self.key))
            ),
            PolicyKind::Topic => format!(
                "aws sns tag-resource --resource-arn {r} --tags {}",
                pair("Key", "Value")
            ),
            PolicyKind::Secret => format!(
                "aws secretsmanager tag-resource --secret-id {r} --tags {}",
                pair("Key", "Value")
            ),
            PolicyKind::Key => format!(
                "aws kms tag-resource --key-id {r} --tags {}",
                pair("TagKey", "TagValue")
            ),
            PolicyKind::Repository => format!(
                "aws ecr tag-resource --resource-arn {r} --tags {}",
                pair("Key", "Value")
            ),
            PolicyKind::Domain => format!(
                "aws opensearch add-tags --arn {r} --tag-list {}",
                pair("Key", "Value")
            ),
            PolicyKind::Vault => format!(
                "aws glacier add-tags-to-vault --account-id - --vault-name {r} --tags {}",
                quote(&format!("{}={value}", self.key))
            ),
            PolicyKind::FileSystem => format!(
                "aws efs tag-resource --resource-id {r} --tags {}",
                pair("Key", "Value")
            ),
        }
    }

    pub fn targets(&self, field: &'static str) -> Vec<Target> {
        vec![Target::new(field, self.resource, IdKind::PolicyResource)]
    }
}

/// One `untag_<kind>` action type: the struct (its resource field named as the service's
/// untag call names it) and its `Step`. Its line in `actions!` (action.rs) gives its JSON
/// name, its operations (the tags read, the untag call) and its inverse (the tag call).
macro_rules! untag_resource {
    ($(#[$doc:meta])* $ty:ident, $kind:expr, $field:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct $ty {
            pub $field: String,
            pub key: String,
            /// The tag's value before the call, read when acting (the undo puts it back).
            #[serde(skip)]
            pub previous: Option<String>,
        }

        impl $ty {
            pub const KIND: PolicyKind = $kind;

            pub fn untagging(&self) -> Untagging<'_> {
                Untagging {
                    kind: $kind,
                    resource: &self.$field,
                    key: &self.key,
                    value: self.previous.as_deref(),
                }
            }

            /// The action with the tag's value the call read before taking it off.
            pub fn with_previous(&self, previous: Option<String>) -> $ty {
                $ty { previous, ..self.clone() }
            }
        }

        impl crate::action::Step for $ty {
            // The tags are read first: a resource without the tag (or gone) is already done.
            fn ops(&self) -> Vec<&'static Op> {
                Self::INFO.ops.to_vec()
            }
            fn targets(&self) -> Vec<Target> {
                self.untagging().targets(stringify!($field))
            }
            fn describe(&self) -> String {
                self.untagging().describe()
            }
            fn undo(&self) -> Option<String> {
                Some(self.untagging().undo())
            }
        }
    };
}

untag_resource!(
    /// Take an exemption tag off an SQS queue.
    UntagQueue, PolicyKind::Queue, queue_url
);

untag_resource!(
    /// Take an exemption tag off an SNS topic.
    UntagTopic, PolicyKind::Topic, topic_arn
);

untag_resource!(
    /// Take an exemption tag off a Secrets Manager secret.
    UntagSecret, PolicyKind::Secret, secret_id
);

untag_resource!(
    /// Take an exemption tag off a KMS key.
    UntagKey, PolicyKind::Key, key_id
);

untag_resource!(
    /// Take an exemption tag off an ECR repository (by its ARN, as ECR's tag calls name it).
    UntagRepository, PolicyKind::Repository, repository_arn
);

untag_resource!(
    /// Take an exemption tag off an OpenSearch domain (by its ARN, as its tag calls name it).
    UntagDomain, PolicyKind::Domain, domain_arn
);

untag_resource!(
    /// Take an exemption tag off a Glacier vault.
    UntagVault, PolicyKind::Vault, vault_name
);

untag_resource!(
    /// Take an exemption tag off an EFS file system.
    UntagFileSystem, PolicyKind::FileSystem, file_system_id
);

/// The action that takes the exemption tag `key` off a resource of `kind` (every kind has
/// one; an Option so a kind added later without one is a decision, not a panic).
pub fn untag(kind: PolicyKind, resource: String, key: String) -> Option<crate::action::Action> {
    Some(match kind {
        PolicyKind::Queue => UntagQueue {
            queue_url: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Topic => UntagTopic {
            topic_arn: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Secret => UntagSecret {
            secret_id: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Key => UntagKey {
            key_id: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Repository => UntagRepository {
            repository_arn: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Domain => UntagDomain {
            domain_arn: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::Vault => UntagVault {
            vault_name: resource,
            key,
            previous: None,
        }
        .into(),
        PolicyKind::FileSystem => UntagFileSystem {
            file_system_id: resource,
            key,
            previous: None,
        }
        .into(),
    })
}

/// AWS's default policy of a new SNS topic: the owner account may administer and publish
/// (what a topic holds when nothing else is left; its policy cannot be deleted).
pub fn default_topic_policy(topic_arn: &str) -> Option<Value> {
    let account = topic_arn
        .split(':')
        .nth(4)
        .filter(|a| crate::ids::is_account_id(a))?;
    Some(json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;

    #[test]
    fn an_untag_is_undone_by_tagging_the_exemption_true_again() {
        let undo = |a: Action| a.step().undo().unwrap();
        let key = "trailguard:exempt".to_string();
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/q".to_string();
        assert_eq!(
            undo(untag(PolicyKind::Queue, url, key.clone()).unwrap()),
            "aws sqs tag-queue --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/q --tags trailguard:exempt=true"
        );
        assert_eq!(
            undo(untag(PolicyKind::Key, "k-1".into(), key.clone()).unwrap()),
            "aws kms tag-resource --key-id k-1 --tags TagKey=trailguard:exempt,TagValue=true"
        );
        let arn = "arn:aws:ecr:us-east-1:123456789012:repository/a/b".to_string();
        let a = untag(PolicyKind::Repository, arn, key.clone()).unwrap();
        assert_eq!(a.type_name(), "untag_repository");
        assert_eq!(
            undo(a),
            "aws ecr tag-resource --resource-arn arn:aws:ecr:us-east-1:123456789012:repository/a/b --tags Key=trailguard:exempt,Value=true"
        );
        // A value from an event is one shell word.
        let a = untag(PolicyKind::Topic, "arn:x;rm -rf".into(), key.clone()).unwrap();
        assert!(undo(a).contains("--resource-arn 'arn:x;rm -rf'"));
        assert_eq!(
            untag(PolicyKind::Secret, "s".into(), key.clone())
                .unwrap()
                .type_name(),
            "untag_secret"
        );
        // Every kind has its own action type.
        let names: std::collections::BTreeSet<&str> = PolicyKind::ALL
            .iter()
            .map(|k| untag(*k, "r".into(), key.clone()).unwrap().type_name())
            .collect();
        assert_eq!(names.len(), PolicyKind::ALL.len(), "{names:?}");
        assert_eq!(
            undo(untag(PolicyKind::Vault, "legal-archive".into(), key.clone()).unwrap()),
            "aws glacier add-tags-to-vault --account-id - --vault-name legal-archive --tags trailguard:exempt=true"
        );
    }
}
