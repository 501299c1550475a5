//! What real AWS identifiers look like. Published and redacted events carry placeholders
//! (`"..."`, `ACCESS_KEY_ID_HERE`, `sg-xxxx`); trailguard never calls AWS with a target that
//! cannot be a real id, and says which field was wrong.

/// The kinds of identifier an action targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    SecurityGroup,
    SecurityGroupRule,
    SecurityGroupName,
    NetworkAcl,
    NetworkAclRuleNumber,
    PrefixList,
    AccessKey,
    IamName,
    Trail,
    Account,
    Image,
    Snapshot,
    DbSnapshot,
    LambdaFunction,
    StatementId,
    Ec2Resource,
    /// An RDS DB instance or cluster identifier, or a Redshift cluster identifier.
    DbIdentifier,
    /// An RDS DB instance's or cluster's ARN, or a Redshift cluster's.
    DatabaseArn,
    Bucket,
    ObjectKey,
    /// A queue URL, topic ARN, secret, key, repository, domain, vault or file system.
    PolicyResource,
    /// A KMS key's ARN: `arn:aws:kms:REGION:ACCOUNT:key/` and a key id (a UUID, or `mrk-`
    /// and 32 hexadecimal digits for a multi-Region key).
    KmsKeyArn,
    /// A GuardDuty detector id: 1-300 lower-case letters and digits.
    GuardDutyDetector,
}

impl IdKind {
    /// What a valid id of this kind looks like, for the message.
    pub fn expected(self) -> &'static str {
        match self {
            IdKind::SecurityGroup => "sg- and 8 or 17 hexadecimal digits",
            IdKind::SecurityGroupRule => "sgr- and 8 or 17 hexadecimal digits",
            IdKind::SecurityGroupName => "a group name (1-255 characters, not a placeholder)",
            IdKind::NetworkAcl => "acl- and 8 or 17 hexadecimal digits",
            IdKind::PrefixList => "pl- and 8 or 17 hexadecimal digits",
            IdKind::NetworkAclRuleNumber => "a rule number from 1 to 32766",
            IdKind::AccessKey => "AKIA.../ASIA...: 16-128 upper-case letters and digits",
            IdKind::IamName => "an IAM name: 1-64 letters, digits and +=,.@_-",
            IdKind::Trail => "a trail name (3-128 letters, digits, . _ -) or a trail ARN",
            IdKind::Account => "an account id: 12 digits",
            IdKind::GuardDutyDetector => "a detector id: 1-300 lower-case letters and digits",
            IdKind::KmsKeyArn => "arn:aws:kms:REGION:ACCOUNT:key/ and a key id (a UUID, or mrk- and 32 hexadecimal digits)",
            IdKind::Image => "ami- and 8 or 17 hexadecimal digits",
            IdKind::Snapshot => "snap- and 8 or 17 hexadecimal digits",
            IdKind::DbSnapshot => {
                "an RDS snapshot identifier (letters, digits, hyphens, colons) or ARN"
            }
            IdKind::LambdaFunction => "a function name (letters, digits, - _) or ARN",
            IdKind::StatementId => "a statement id: 1-100 letters, digits, - _",
            IdKind::PolicyResource => {
                "a resource name, id, URL or ARN: 1-2048 characters without spaces, not a placeholder"
            }
            IdKind::Ec2Resource => {
                "an EC2 resource id: a prefix (sg-, acl-, vpc-, ...) and 8 or 17 hexadecimal digits"
            }
            IdKind::DbIdentifier => {
                "a database identifier: a letter, then up to 62 letters, digits and single hyphens"
            }
            IdKind::DatabaseArn => {
                "arn:<partition>:rds:<region>:<account>:db|cluster:<identifier>, or arn:<partition>:redshift:<region>:<account>:cluster:<identifier>"
            }
            IdKind::Bucket => "a bucket name: 3-63 lower-case letters, digits, . and -",
            IdKind::ObjectKey => "an object key: 1-1024 bytes",
        }
    }

    pub fn is_valid(self, v: &str) -> bool {
        match self {
            IdKind::SecurityGroup => hex_id(v, "sg-"),
            IdKind::SecurityGroupRule => hex_id(v, "sgr-"),
            IdKind::NetworkAcl => hex_id(v, "acl-"),
            IdKind::PrefixList => hex_id(v, "pl-"),
            IdKind::SecurityGroupName => (1..=255).contains(&v.chars().count()) && !placeholder(v),
            IdKind::NetworkAclRuleNumber => {
                v.parse::<i64>().is_ok_and(|n| (1..=32766).contains(&n))
            }
            IdKind::AccessKey => is_access_key_id(v) && !placeholder(v),
            IdKind::IamName => {
                (1..=64).contains(&v.len())
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
                    && !placeholder(v)
            }
            IdKind::Account => is_account_id(v),
            IdKind::Image => hex_id(v, "ami-"),
            IdKind::Ec2Resource => v.rsplit_once('-').is_some_and(|(prefix, _)| {
                !prefix.is_empty()
                    && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && hex_id(v, &format!("{prefix}-"))
            }),
            IdKind::Snapshot => hex_id(v, "snap-"),
            IdKind::DbIdentifier => {
                (1..=63).contains(&v.len())
                    && v.starts_with(|c: char| c.is_ascii_alphabetic())
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !v.ends_with('-')
                    && !v.contains("--")
                    && !placeholder(v)
            }
            IdKind::DatabaseArn => {
                let parts: Vec<&str> = v.split(':').collect();
                parts.len() == 7
                    && parts[0] == "arn"
                    && parts[1].starts_with("aws")
                    && !parts[3].is_empty()
                    && is_account_id(parts[4])
                    && matches!(
                        (parts[2], parts[5]),
                        ("rds", "db" | "cluster") | ("redshift", "cluster")
                    )
                    && IdKind::DbIdentifier.is_valid(parts[6])
            }
            IdKind::GuardDutyDetector => {
                (1..=300).contains(&v.len())
                    && v.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }
            IdKind::KmsKeyArn => {
                let parts: Vec<&str> = v.splitn(6, ':').collect();
                parts.len() == 6
                    && parts[0] == "arn"
                    && parts[1].starts_with("aws")
                    && parts[2] == "kms"
                    && crate::event::is_region_name(parts[3])
                    && is_account_id(parts[4])
                    && parts[5].strip_prefix("key/").is_some_and(is_kms_key_id)
                    && !placeholder(v)
            }
            IdKind::PolicyResource => {
                (1..=2048).contains(&v.len())
                    && !v.chars().any(|c| c.is_whitespace() || c.is_control())
                    && !placeholder(v)
            }
            IdKind::DbSnapshot => {
                (1..=255).contains(&v.len())
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-:".contains(c))
                    && !placeholder(v)
            }
            IdKind::LambdaFunction => {
                let name = match v.strip_prefix("arn:") {
                    Some(rest) => rest
                        .split(":function:")
                        .nth(1)
                        .unwrap_or("")
                        .split(':')
                        .next()
                        .unwrap_or(""),
                    None => v.split(':').next().unwrap_or(""),
                };
                (1..=64).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                    && !placeholder(v)
            }
            IdKind::StatementId => {
                (1..=100).contains(&v.len())
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                    && !placeholder(v)
            }
            IdKind::Bucket => {
                (3..=63).contains(&v.len())
                    && v.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
                    && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            }
            IdKind::ObjectKey => (1..=1024).contains(&v.len()) && !placeholder(v),
            IdKind::Trail => match v.strip_prefix("arn:") {
                Some(rest) => {
                    let parts: Vec<&str> = rest.splitn(5, ':').collect();
                    parts.len() == 5
                        && parts[1] == "cloudtrail"
                        && parts[3].len() == 12
                        && parts[3].chars().all(|c| c.is_ascii_digit())
                        && parts[4].strip_prefix("trail/").is_some_and(trail_name)
                }
                None => trail_name(v),
            },
        }
    }
}

fn hex_id(v: &str, prefix: &str) -> bool {
    v.strip_prefix(prefix).is_some_and(|h| {
        (h.len() == 8 || h.len() == 17)
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn trail_name(v: &str) -> bool {
    (3..=128).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !placeholder(v)
}

/// Words that stand for a value in documentation and redacted events.
fn placeholder(v: &str) -> bool {
    let u = v.to_ascii_uppercase();
    v.contains("...")
        || u.contains("_HERE")
        || u.contains("REDACTED")
        || u.starts_with('<')
        || u.starts_with("XXX")
        || u.ends_with("XXXX")
}

/// One target an action names: the field, its value, and what it must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub field: &'static str,
    pub value: String,
    pub kind: IdKind,
}

impl Target {
    pub fn new(field: &'static str, value: impl ToString, kind: IdKind) -> Target {
        Target {
            field,
            value: value.to_string(),
            kind,
        }
    }
}

/// Whether `s` is an organization id: `o-` and 10 to 32 lower-case letters or digits.
pub fn is_organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// Whether `s` is an AWS account id: 12 digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// Whether `s` is an account alias trailguard shows: one IAM accepts (`CreateAccountAlias`:
/// 3 to 63 lowercase letters, digits and single hyphens, a letter or digit at each end) that
/// names neither an account nor a region. Whoever may set an account's alias chooses it: a
/// notice shows it only beside the account id, labelled, and only in this form, which cannot
/// break a line, look like a link, or pass for another account (twelve digits in a row) or
/// for the region the notice names.
pub fn is_account_alias(s: &str) -> bool {
    let longest_digits = s
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && longest_digits < 12
        && !looks_like_region(s)
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-2`: two letters, words, a number.
fn looks_like_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|c| c.is_ascii_digit())
}

/// Whether `s` looks like an IAM access key id (long-term AKIA or temporary ASIA).
pub fn is_access_key_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| !c.is_ascii_lowercase())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
}

/// A KMS key id: a UUID (8-4-4-4-12 hexadecimal digits), or `mrk-` and 32 hexadecimal digits
/// (a multi-Region key).
pub fn is_kms_key_id(v: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(rest) = v.strip_prefix("mrk-") {
        return rest.len() == 32 && hex(rest);
    }
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && hex(g))
}

#[cfg(test)]
mod tests {
    use super::IdKind::*;

    #[test]
    fn real_ids_pass_and_placeholders_do_not() {
        assert!(SecurityGroup.is_valid("sg-0a1b2c3d4e5f60789"));
        assert!(SecurityGroup.is_valid("sg-12345678"));
        assert!(!SecurityGroup.is_valid("sg-xxxx"));
        assert!(!SecurityGroup.is_valid("sg-xxxxxxxxxxxxxxxxx"));
        assert!(!SecurityGroup.is_valid("..."));
        assert!(SecurityGroupRule.is_valid("sgr-0aa11bb22cc33dd44"));
        assert!(NetworkAcl.is_valid("acl-0a1b2c3d4e5f6a7b8"));
        assert!(NetworkAclRuleNumber.is_valid("100"));
        assert!(!NetworkAclRuleNumber.is_valid("32767"));
        assert!(AccessKey.is_valid("AKIA5EXAMPLEBOBKEY01"));
        assert!(!AccessKey.is_valid("ACCESS_KEY_ID_HERE"));
        assert!(!AccessKey.is_valid("AKIAXXXXXXXXXXXXXXXX"));
        assert!(IamName.is_valid("svc-backup.legacy@corp"));
        assert!(!IamName.is_valid("<user-name>"));
        assert!(Trail.is_valid("management-events"));
        assert!(Trail.is_valid("arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events"));
        assert!(!Trail.is_valid("..."));
        assert!(!Trail.is_valid("arn:aws:cloudtrail:us-east-1:ACCOUNT:trail/x"));
        assert!(SecurityGroupName.is_valid("default"));
        assert!(!SecurityGroupName.is_valid("REDACTED"));
    }

    #[test]
    fn kms_key_arns_name_a_key_of_one_account_and_region() {
        let ok = [
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        ];
        let bad = [
            "arn:aws:kms:us-east-1:123456789012:alias/prod",
            "arn:aws:kms:*:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890a",
            "arn:aws:kms:us-east-1:123456789012:key/mrk-1234",
            "arn:aws:s3:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ];
        let wrong: Vec<&str> = ok
            .iter()
            .filter(|v| !KmsKeyArn.is_valid(v))
            .chain(bad.iter().filter(|v| KmsKeyArn.is_valid(v)))
            .copied()
            .collect();
        assert!(wrong.is_empty(), "{wrong:?}");
    }
}
