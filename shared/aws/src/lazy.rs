//! The clients of one invocation's target, connected on first use.

use std::sync::Arc;

use trailguard_rules::report::{Connection, Status};

use crate::error::PortError;
use crate::ports::{Connect, Target};

/// The clients of one invocation's target, connected on first use: an event that is
/// ignored, or only planned, never connects (in another account, never assumes a role).
pub(crate) struct Lazy<'a, C: Connect> {
    pub(crate) connect: &'a C,
    pub(crate) target: Target,
    pub(crate) clients: Option<Result<Arc<C::Clients>, PortError>>,
}

impl<C: Connect> Lazy<'_, C> {
    /// Whether connecting was tried and failed.
    pub(crate) fn failed(&self) -> bool {
        matches!(self.clients, Some(Err(_)))
    }

    /// The member role the invocation went through, and how that went (None in the
    /// function's own account, or when nothing needed a connection).
    pub(crate) fn connection(&self) -> Option<Connection> {
        let role = self.connect.role_for(&self.target)?;
        let result = self.clients.as_ref()?;
        Some(Connection {
            account: self.target.account.clone(),
            region: self.target.region.clone(),
            role,
            outcome: if result.is_ok() {
                Status::Done
            } else {
                Status::Failed
            },
            error: result.as_ref().err().map(PortError::report),
        })
    }

    /// The clients when reaching them assumes no role now: those already connected, or the
    /// function's own account's. A notice's alias is read only through these: telling people
    /// of a dry-run plan or a notice in a member account never assumes its role.
    pub(crate) async fn without_new_role(&mut self) -> Option<Arc<C::Clients>> {
        match &self.clients {
            Some(connected) => connected.clone().ok(),
            None if self.connect.role_for(&self.target).is_none() => self.get().await.ok(),
            None => None,
        }
    }

    pub(crate) async fn get(&mut self) -> Result<Arc<C::Clients>, PortError> {
        if self.clients.is_none() {
            self.clients = Some(self.connect.connect(&self.target).await);
        }
        self.clients
            .clone()
            .unwrap_or_else(|| Err(PortError::NotWired { op: "connect" }))
    }
}
