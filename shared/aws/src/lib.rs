//! The effectful side every trailguard function shares: AWS ports implemented on the SDK
//! clients, the executor, the handler, notification and metrics. Decisions come from the
//! pure `trailguard-rules` crate; this crate only carries them out.

pub mod aliases;
pub mod approve;
pub mod attempts;
pub mod central;
pub mod config;
pub mod ec2;
pub mod ecr;
pub mod efs;
pub mod error;
pub mod executor;
pub mod forensics;
pub mod gate;
pub mod glacier;
pub mod guardduty;
pub mod handler;
pub mod iam;
pub mod incoming;
pub mod keys;
pub mod kms;
pub mod lambda;
mod lazy;
pub mod ledger;
mod lookup;
pub mod metrics;
pub mod notify;
pub mod opensearch;
pub mod org;
mod plan;
pub mod policies;
pub mod ports;
pub mod publish;
pub mod rds;
pub mod redshift;
pub mod s3;
pub mod s3control;
pub mod secrets;
pub mod securityhub;
pub mod sns;
pub mod sqs;
pub mod sweep;
pub mod trail;
pub mod undo;

pub use config::{sdk_config, Settings};
pub use error::{HandlerError, PortError};
pub use handler::{system_clock, Deps};
pub use incoming::{Incoming, Response};
pub use notify::Notifier;
pub use ports::{
    Acting, AliasPort, Change, Claim, Clients, Connect, Ec2Port, GuardDutyPort, Home, IamPort,
    KeptPlan, KeyPort, LambdaPort, LedgerPort, NotifyPort, OrgPort, PolicyPort, RdsPort,
    RedshiftPort, S3ControlPort, S3Port, Sdk, SecurityHubPort, Slot, Target, TrailPort, Unwired,
};
pub use trailguard_rules::guards;
pub use trailguard_rules::Guard;

use attempts::AttemptCounter;

/// An SDK client of one service from the shared configuration, counting its attempts.
macro_rules! counted {
    ($krate:ident, $sdk:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk)
                .interceptor(AttemptCounter)
                .build(),
        )
    };
}

// Each builder replaces one field, and so one type parameter: written out, because a struct
// update (`..self`) cannot change a type. The types are `Sdk` written out, one parameter
// per service: naming them would only move the same list.
#[rustfmt::skip]
#[allow(clippy::type_complexity)]
impl<E, I, T, R, L, O, D, S, B, P, A, K, G, H, N> Sdk<E, I, T, R, L, O, D, S, B, P, A, K, G, H, N> {
    /// Wire the EC2 client.
    pub fn with_ec2(self, sdk: &aws_config::SdkConfig) -> Sdk<aws_sdk_ec2::Client, I, T, R, L, O, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, ec2: counted!(aws_sdk_ec2, sdk), iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the IAM client.
    pub fn with_iam(self, sdk: &aws_config::SdkConfig) -> Sdk<E, aws_sdk_iam::Client, T, R, L, O, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, iam: counted!(aws_sdk_iam, sdk), ec2, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the CloudTrail client.
    pub fn with_cloudtrail(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, aws_sdk_cloudtrail::Client, R, L, O, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, trail: counted!(aws_sdk_cloudtrail, sdk), ec2, iam, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the RDS client.
    pub fn with_rds(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, aws_sdk_rds::Client, L, O, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, rds: counted!(aws_sdk_rds, sdk), ec2, iam, trail, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the Lambda client.
    pub fn with_lambda(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, aws_sdk_lambda::Client, O, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, lambda: counted!(aws_sdk_lambda, sdk), ec2, iam, trail, rds, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the Organizations client (with its cache of the organization's accounts).
    pub fn with_organizations(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, org::Organization, D, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, org: org::Organization::new(counted!(aws_sdk_organizations, sdk)), ec2, iam, trail, rds, lambda, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the ledger: the DynamoDB table of breaker counts and exactly-once claims.
    pub fn with_ledger(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, aws_sdk_dynamodb::Client, S, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, ledger: counted!(aws_sdk_dynamodb, sdk), ec2, iam, trail, rds, lambda, org, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the Redshift client.
    pub fn with_redshift(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, aws_sdk_redshift::Client, B, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, redshift: counted!(aws_sdk_redshift, sdk), ec2, iam, trail, rds, lambda, org, ledger, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the S3 client (public buckets).
    pub fn with_s3(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, s3::S3, P, A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, s3: s3::S3 { s3: counted!(aws_sdk_s3, sdk) }, ec2, iam, trail, rds, lambda, org, ledger, redshift, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire the S3 Control client (the account's public access block).
    pub fn with_s3control(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, P, aws_sdk_s3control::Client, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases, s3control: counted!(aws_sdk_s3control, sdk), ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, keys, guardduty, securityhub }
    }

    /// Wire the KMS client for keys' life (deletion, rotation): the key port, not the
    /// key-policy one (`with_kms`).
    pub fn with_kms_keys(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, P, A, aws_sdk_kms::Client, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, guardduty, securityhub, .. } = self;
        Sdk { aliases, keys: counted!(aws_sdk_kms, sdk), ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, guardduty, securityhub }
    }

    /// Wire the GuardDuty client (a suspended detector switched back on).
    pub fn with_guardduty(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, P, A, K, aws_sdk_guardduty::Client, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, securityhub, .. } = self;
        Sdk { aliases, guardduty: counted!(aws_sdk_guardduty, sdk), ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, securityhub }
    }

    /// Wire the Security Hub client (the finding an event carried, updated after acting).
    pub fn with_securityhub(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, P, A, K, G, aws_sdk_securityhub::Client, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, .. } = self;
        Sdk { aliases, securityhub: counted!(aws_sdk_securityhub, sdk), ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty }
    }

    /// Wire the IAM client that reads the account's alias for notices (every function; with
    /// its own cache, so one call per account and region per container).
    pub fn with_account_alias(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, P, A, K, G, H, aliases::Aliases> {
        let Sdk { ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub, .. } = self;
        Sdk { aliases: aliases::Aliases::new(counted!(aws_sdk_iam, sdk)), ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub }
    }

    /// Wire a resource-policy client (SQS, SNS, Secrets Manager, KMS, ECR, OpenSearch,
    /// Glacier, EFS): it answers for its own kind, the clients wired before for theirs.
    fn with_policy<C>(self, client: C) -> Sdk<E, I, T, R, L, O, D, S, B, (P, C), A, K, G, H, N> {
        let Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy, s3control, keys, guardduty, securityhub } = self;
        Sdk { aliases, ec2, iam, trail, rds, lambda, org, ledger, redshift, s3, policy: (policy, client), s3control, keys, guardduty, securityhub }
    }

    /// Wire the SQS client (queue policies).
    pub fn with_sqs(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_sqs::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_sqs, sdk))
    }

    /// Wire an SNS client for topic policies (notification has its own).
    pub fn with_sns(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_sns::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_sns, sdk))
    }

    /// Wire the Secrets Manager client (secrets' resource policies).
    pub fn with_secretsmanager(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_secretsmanager::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_secretsmanager, sdk))
    }

    /// Wire the KMS client (key policies).
    pub fn with_kms(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_kms::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_kms, sdk))
    }

    /// Wire the ECR client (repository policies).
    pub fn with_ecr(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_ecr::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_ecr, sdk))
    }

    /// Wire the OpenSearch client (domain access policies, Elasticsearch domains too).
    pub fn with_opensearch(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_opensearch::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_opensearch, sdk))
    }

    /// Wire the Glacier client (vault access policies).
    pub fn with_glacier(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_glacier::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_glacier, sdk))
    }

    /// Wire the EFS client (file system policies).
    pub fn with_efs(self, sdk: &aws_config::SdkConfig) -> Sdk<E, I, T, R, L, O, D, S, B, (P, aws_sdk_efs::Client), A, K, G, H, N> {
        self.with_policy(counted!(aws_sdk_efs, sdk))
    }
}

impl<C, W> Deps<central::Central<C, W>, Notifier>
where
    C: Clients,
    W: Fn(&aws_config::SdkConfig) -> C + Send + Sync,
{
    /// Cold start: settings from the environment (errors name the variable), the shared
    /// AWS configuration, the function's own role, and the clients `wire` builds for the
    /// function's own account and region. Clients for other regions and member accounts are
    /// built from the same `wire` when an event first needs them; nothing is assumed here.
    pub async fn from_env(
        decider: &'static guards::Decider,
        wire: W,
    ) -> Result<Self, lambda_runtime::Error> {
        let mut settings = Settings::from_env(decider)?;
        let sdk = sdk_config().await;
        if settings.own_role_arn.is_none() || settings.own_account.is_none() {
            let (role, account) = config::discover_own_role(&sdk).await;
            settings.own_role_arn = settings.own_role_arn.or(role);
            settings.own_account = settings.own_account.or(account);
            if let Some(name) = &settings.member_role_name {
                settings.policy = settings
                    .policy
                    .clone()
                    .with_member_role(name, settings.own_account.as_deref());
            }
        }
        let connect = central::Central::new(
            sdk.clone(),
            wire,
            settings.guard().function_name(),
            settings.own_account.clone(),
            settings.member_role_name.clone(),
        );
        let missing = ports::missing_clients(settings.guard(), &*connect.home());
        if !missing.is_empty() {
            return Err(missing.join("; ").into());
        }
        Ok(Deps {
            connect,
            notify: Notifier::new(&settings, &sdk),
            settings,
            clock: system_clock,
        })
    }
}

/// What `wire` leaves unwired that the guard needs (ports::missing_clients), built from a
/// configuration that reaches nothing: each function's test calls it on its own `wire`, so
/// a client missing from main.rs fails `cargo test`, before any deployment.
pub fn wiring_problems<C: Clients>(
    guard: &'static guards::GuardSpec,
    wire: impl Fn(&aws_config::SdkConfig) -> C,
) -> Vec<String> {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::from_static("us-east-1"))
        .build();
    ports::missing_clients(Guard(guard), &wire(&sdk))
}

/// The guards whose decisions (a `DECIDER`'s `decide` and `swept`) a binary links, by module
/// name, read from its symbol table in Rust's legacy mangling
/// (`_ZN16trailguard_rules6guards7sharing6decide17h…`). Each function's test reads its own
/// test binary (unstripped, its `main` kept): it must link its own guard's decisions and no
/// other's, which naming `guards::DECIDERS` anywhere in a function's code would undo (all
/// fifteen, about 340 KB of a stripped release binary: BENCHMARKS.md).
pub fn linked_decisions(binary: &[u8]) -> std::collections::BTreeSet<String> {
    const PREFIX: &[u8] = b"16trailguard_rules6guards";
    // One length-prefixed name: `7sharing` -> ("sharing", the rest).
    fn name(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let len: usize = std::str::from_utf8(&b[..digits]).ok()?.parse().ok()?;
        let rest = &b[digits..];
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    let mut found = std::collections::BTreeSet::new();
    let mut at = 0;
    while let Some(i) = binary[at..].windows(PREFIX.len()).position(|w| w == PREFIX) {
        at += i + PREFIX.len();
        let Some((module, rest)) = name(&binary[at..]) else {
            continue;
        };
        if let Some((function, rest)) = name(rest) {
            if (function == b"decide" || function == b"swept") && rest.starts_with(b"17h") {
                found.insert(String::from_utf8_lossy(module).into_owned());
            }
        }
    }
    found
}

/// [`linked_decisions`] of the running executable: a function's test binary, which keeps
/// its `main` (and so its `wire` and its guard's `DECIDER`) when the test names it.
pub fn decisions_linked_here() -> std::io::Result<std::collections::BTreeSet<String>> {
    Ok(linked_decisions(&std::fs::read(std::env::current_exe()?)?))
}

/// The configuration `wire` functions take.
pub use aws_config::SdkConfig;
