//! What an audit row says: who (the actor) did what to which resource, from where.

use crate::types::{AuditId, TenantId, Timestamp, UserId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator, through `X-OVLT-Admin-Key`.
    AdminKey,
    /// The operator, through the `ovlt` command line.
    Cli,
    /// ovlt itself (bootstrap, scheduled clean-ups).
    System,
    /// A user of the tenant, acting on their own account.
    User(UserId),
    /// An OAuth client, authenticated by its secret (or its id, for a public client).
    Client(String),
    /// Someone not (yet) authenticated, e.g. a failed login.
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AdminKey => "admin_key",
            Self::Cli => "cli",
            Self::System => "system",
            Self::User(_) => "user",
            Self::Client(_) => "client",
            Self::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<String> {
        match self {
            Self::User(id) => Some(id.to_string()),
            Self::Client(id) => Some(id.clone()),
            _ => None,
        }
    }
}

/// Where a request came from, as far as the audit trail cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: AuditId,
    /// None for operator-level events, which outlive any one tenant.
    pub tenant_id: Option<TenantId>,
    pub actor: Actor,
    /// Dotted verb, e.g. `tenant.created`.
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub context: RequestContext,
    pub details: Option<serde_json::Value>,
    /// `success` or `failure` where the action can go either way.
    pub outcome: Option<&'static str>,
    pub created_at: Timestamp,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: &'static str, context: RequestContext) -> Self {
        Self {
            id: AuditId::new(),
            tenant_id: None,
            actor,
            action,
            target_type: None,
            target_id: None,
            context,
            details: None,
            outcome: None,
            created_at: Timestamp::now(),
        }
    }

    pub fn in_tenant(mut self, tenant_id: TenantId) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = Some(outcome);
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}
