//! Links to a resource's page in the AWS console, built from the ids an action targets: one
//! place for every kind of id ([`IdKind`]), so every action type that names a resource gets
//! its link without declaring one. The ids come from events: each goes through
//! [`encode`] (only RFC 3986's unreserved characters stay as they are), the region must look
//! like one, and the host is always the console's own, so no id can change where a link
//! leads. The notification's text part makes links inert like every other string; the JSON
//! part keeps them live (render.rs).

use crate::ids::{IdKind, Target};

const CONSOLE: &str = "https://console.aws.amazon.com";

/// `s` with everything but ASCII letters, digits and `-._~` percent-encoded.
pub fn encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// The console page of one target, in `region` (None: the kind has no page of its own, or
/// the region is not a region's name where the page needs one).
pub fn link(target: &Target, region: Option<&str>) -> Option<String> {
    let id = target.value.trim();
    if id.is_empty() || !target.kind.is_valid(id) {
        return None;
    }
    let region = region.filter(|r| crate::event::is_region_name(r));
    let e = encode(id);
    let in_region = |path: &str, fragment: String| -> Option<String> {
        let r = region?;
        Some(format!("{CONSOLE}/{path}/home?region={r}#{fragment}"))
    };
    match target.kind {
        IdKind::SecurityGroup => in_region("ec2", format!("SecurityGroup:groupId={e}")),
        IdKind::NetworkAcl => {
            in_region("vpcconsole", format!("NetworkAclDetails:networkAclId={e}"))
        }
        IdKind::PrefixList => {
            in_region("vpcconsole", format!("PrefixListDetails:prefixListId={e}"))
        }
        IdKind::Image => in_region("ec2", format!("ImageDetails:imageId={e}")),
        IdKind::Snapshot => in_region("ec2", format!("SnapshotDetails:snapshotId={e}")),
        IdKind::Ec2Resource if id.starts_with("i-") => {
            in_region("ec2", format!("InstanceDetails:instanceId={e}"))
        }
        IdKind::DbSnapshot => in_region("rds", format!("db-snapshot:id={e}")),
        // A Redshift cluster's action names it `cluster`; RDS's `db_instance`, `db_cluster`.
        IdKind::DbIdentifier if target.field == "cluster" => {
            in_region("redshiftv2", format!("cluster-details?cluster={e}"))
        }
        IdKind::DbIdentifier if target.field == "db_cluster" => {
            in_region("rds", format!("database:id={e};is-cluster=true"))
        }
        IdKind::DbIdentifier => in_region("rds", format!("database:id={e}")),
        IdKind::LambdaFunction => in_region("lambda", format!("/functions/{e}")),
        IdKind::KmsKeyArn => {
            let key = id.rsplit('/').next().unwrap_or(id);
            in_region("kms", format!("/kms/keys/{}", encode(key)))
        }
        IdKind::GuardDutyDetector => in_region("guardduty", "/settings".into()),
        IdKind::Trail => in_region("cloudtrailv2", "/trails".into()),
        IdKind::Bucket => Some(format!(
            "https://s3.console.aws.amazon.com/s3/buckets/{e}{}",
            region.map(|r| format!("?region={r}")).unwrap_or_default()
        )),
        IdKind::IamName if target.field == "user_name" => {
            Some(format!("{CONSOLE}/iam/home#/users/details/{e}"))
        }
        IdKind::IamName if target.field == "role_name" => {
            Some(format!("{CONSOLE}/iam/home#/roles/details/{e}"))
        }
        IdKind::PolicyResource if id.starts_with("https://sqs.") => {
            in_region("sqs/v3", format!("/queues/{e}"))
        }
        IdKind::PolicyResource if id.starts_with("arn:aws:sns:") => {
            in_region("sns/v3", format!("/topic/{e}"))
        }
        _ => None,
    }
}

/// The console page of the first of `targets` that has one.
pub fn first_link(targets: &[Target], region: Option<&str>) -> Option<String> {
    targets.iter().find_map(|t| link(t, region))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(field: &'static str, value: &str, kind: IdKind) -> Target {
        Target::new(field, value, kind)
    }

    #[test]
    fn links_name_the_resource_and_nothing_else() {
        assert_eq!(
            link(&t("group_id", "sg-0a1b2c3d4e5f60789", IdKind::SecurityGroup), Some("eu-west-1")),
            Some("https://console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f60789".into())
        );
        assert_eq!(
            link(&t("bucket", "my-bucket", IdKind::Bucket), Some("us-east-1")),
            Some("https://s3.console.aws.amazon.com/s3/buckets/my-bucket?region=us-east-1".into())
        );
        // A region that is not one, and a placeholder id: no link.
        assert_eq!(
            link(
                &t("group_id", "sg-0a1b2c3d4e5f60789", IdKind::SecurityGroup),
                Some("evil.example#")
            ),
            None
        );
        assert_eq!(
            link(
                &t("group_id", "sg-xxxx", IdKind::SecurityGroup),
                Some("us-east-1")
            ),
            None
        );
    }

    #[test]
    fn an_id_cannot_change_where_a_link_leads() {
        for hostile in [
            "x@evil.example/",
            "a#b?c=d&e",
            "../../../",
            "name with spaces\n<script>",
            "é😀",
            "https://evil.example/",
        ] {
            for (field, kind) in [
                ("user_name", IdKind::IamName),
                ("role_name", IdKind::IamName),
                ("bucket", IdKind::Bucket),
                ("function_name", IdKind::LambdaFunction),
                ("db_instance", IdKind::DbIdentifier),
                ("cluster", IdKind::DbIdentifier),
            ] {
                if let Some(l) = link(&t(field, hostile, kind), Some("us-east-1")) {
                    assert!(
                        l.starts_with("https://console.aws.amazon.com/")
                            || l.starts_with("https://s3.console.aws.amazon.com/"),
                        "{l}"
                    );
                    let tail = &l[l.find(".com/").unwrap() + 5..];
                    assert!(
                        !tail.contains("//") && !tail.contains(' ') && !tail.contains('<'),
                        "{l}"
                    );
                    assert!(l.is_ascii(), "{l}");
                    assert!(l.matches('#').count() <= 1, "{l}");
                }
            }
        }
        assert_eq!(encode("a/b#c d"), "a%2Fb%23c%20d");
    }
}
