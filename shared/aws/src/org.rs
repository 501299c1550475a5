//! The Organizations port: the organization's accounts, listed once per container and then
//! at most every fifteen minutes, so a share is checked without an Organizations call per
//! event. An account that joined since the last listing counts as outside until the next
//! one: the share is taken back and the notice names the account, which errs on the safe
//! side (list vendors and brand-new accounts in `trusted_accounts`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use trailguard_rules::ops;

use crate::error::classify;
use crate::ports::{OrgPort, PortResult};

const FRESH_FOR: Duration = Duration::from_secs(15 * 60);

/// The Organizations client with its cache of account ids.
pub struct Organization {
    client: aws_sdk_organizations::Client,
    cache: Mutex<Option<(Instant, BTreeSet<String>)>>,
}

impl Organization {
    pub fn new(client: aws_sdk_organizations::Client) -> Organization {
        Organization {
            client,
            cache: Mutex::new(None),
        }
    }

    async fn list(&self) -> PortResult<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_accounts()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&ops::LIST_ACCOUNTS, e))?;
            out.extend(
                page.accounts()
                    .iter()
                    .filter_map(|a| a.id().map(String::from)),
            );
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

impl OrgPort for Organization {
    async fn organization_accounts(&self) -> PortResult<BTreeSet<String>> {
        let mut cache = self.cache.lock().await;
        if let Some((at, accounts)) = cache.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return Ok(accounts.clone());
            }
        }
        let accounts = self.list().await?;
        *cache = Some((Instant::now(), accounts.clone()));
        Ok(accounts)
    }
}
