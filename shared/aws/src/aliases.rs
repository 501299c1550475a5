//! The account's alias for notices (`iam:ListAccountAliases`), on an IAM client of its own so
//! a function that changes nothing in IAM links only this call. The answer is kept for the
//! container's life (Central keeps the clients of each account and region it connected to),
//! so an account's alias costs one call per container; a failed read is tried again next time.

use std::sync::Mutex;

use trailguard_rules::ops;

use crate::error::classify;
use crate::ports::{AliasPort, PortResult};

pub struct Aliases {
    iam: aws_sdk_iam::Client,
    /// The alias once read (`Some(None)`: the account has none).
    known: Mutex<Option<Option<String>>>,
}

impl Aliases {
    pub fn new(iam: aws_sdk_iam::Client) -> Aliases {
        Aliases {
            iam,
            known: Mutex::new(None),
        }
    }
}

impl AliasPort for Aliases {
    async fn account_alias(&self) -> PortResult<Option<String>> {
        if let Some(known) = self.known.lock().ok().and_then(|k| k.clone()) {
            return Ok(known);
        }
        let out = self
            .iam
            .list_account_aliases()
            .send()
            .await
            .map_err(|e| classify(&ops::LIST_ACCOUNT_ALIASES, e))?;
        // An account has at most one alias (IAM's limit).
        let alias = out.account_aliases().first().cloned();
        if let Ok(mut k) = self.known.lock() {
            *k = Some(alias.clone());
        }
        Ok(alias)
    }
}
