//! Look-ups that are not scoped to one organization, for callers that act
//! across organizations (the worker plane, authenticated by a worker token).
//!
//! These are the documented exceptions to the store's tenancy rule: the caller
//! must already be trusted across organizations, and every later operation
//! goes back to the organization-scoped methods with the organization found
//! here.

use crate::VoiceAgent;
use crate::db::{RowExt, Store};
use crate::error::{Result, StoreError};

impl Store {
    /// The agent `agent_id`, whichever organization it belongs to (its
    /// `organization_id` says which). Only for cross-organization callers such
    /// as the worker API.
    pub async fn agent_by_id(&self, agent_id: &str) -> Result<VoiceAgent> {
        let row = sqlx::query("SELECT organization_id FROM voice_agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("voice agent"))?;
        let organization_id = row.text("organization_id")?;
        self.agent(&organization_id, agent_id).await
    }
}
