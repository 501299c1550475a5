//! The Lambda port on the SDK client.

use aws_sdk_lambda::Client;
use trailguard_rules::ops;

use crate::error::{classify, code_of};
use crate::ports::{Change, LambdaPort, PortResult};

impl LambdaPort for Client {
    async fn remove_permission(
        &self,
        function: &str,
        statement_id: &str,
        qualifier: Option<&str>,
    ) -> PortResult<Change> {
        let gone = || {
            Ok(Change::AlreadyDone(format!(
                "permission {statement_id} is no longer on {function}"
            )))
        };
        // Look first: a statement already gone is already done.
        let policy = match self
            .get_policy()
            .function_name(function)
            .set_qualifier(qualifier.map(String::from))
            .send()
            .await
        {
            Ok(p) => p.policy().unwrap_or_default().to_string(),
            Err(e) if code_of(&e).as_deref() == Some("ResourceNotFoundException") => return gone(),
            Err(e) => return Err(classify(&ops::LAMBDA_GET_POLICY, e)),
        };
        let doc: serde_json::Value = serde_json::from_str(&policy).unwrap_or_default();
        let present = trailguard_rules::lenient::items(&doc["Statement"])
            .iter()
            .any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(statement_id));
        if !present {
            return gone();
        }
        match self
            .remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .set_qualifier(qualifier.map(String::from))
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if code_of(&e).as_deref() == Some("ResourceNotFoundException") => gone(),
            Err(e) => Err(classify(&ops::LAMBDA_REMOVE_PERMISSION, e)),
        }
    }
}
