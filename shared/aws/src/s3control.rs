//! The S3 Control port on the SDK client: the account's public access block. The block is
//! read first: switches already on are `already_done`, and the block before the change is
//! what `Change::Removed` carries, so the undo writes exactly it back.

use aws_sdk_s3control::Client;
use trailguard_rules::ops;
use trailguard_rules::state::{AccountBlockState, BlockFlags};

use crate::error::{classify, PortError};
use crate::ports::{Change, PortResult, S3ControlPort};
use crate::s3::{config_of, flags_of, is, previous_block, NO_BLOCK};

/// The account's block as it is now (None: it has none).
async fn account_flags(c: &Client, account: &str) -> Result<Option<BlockFlags>, PortError> {
    match c.get_public_access_block().account_id(account).send().await {
        Ok(o) => Ok(o.public_access_block_configuration().map(|c| flags_of!(c))),
        Err(e) if is(&e, NO_BLOCK) => Ok(None),
        Err(e) => Err(classify(&ops::GET_ACCOUNT_PAB, e)),
    }
}

impl S3ControlPort for Client {
    async fn put_account_block(&self, account: &str, flags: &[String]) -> PortResult<Change> {
        let wanted = BlockFlags::of(flags);
        let current = account_flags(self, account).await?;
        if current.unwrap_or_default().lacking(wanted).is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "the S3 public access block of account {account} already has {} on",
                wanted.names().join(", ")
            )));
        }
        let new = current.unwrap_or_default().or(wanted);
        match self
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(config_of!(aws_sdk_s3control, new))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Removed(vec![previous_block(current)])),
            Err(e) => Err(classify(&ops::PUT_ACCOUNT_PAB, e)),
        }
    }

    async fn account_block(&self, account: &str) -> PortResult<AccountBlockState> {
        Ok(AccountBlockState {
            account: account.to_string(),
            block: account_flags(self, account).await?,
        })
    }
}
