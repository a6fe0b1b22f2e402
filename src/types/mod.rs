//! The bottom layer: the types every other layer shares — typed ids and timestamps here, and
//! the records that cross from the store to the features (tenants, users, sessions, settings,
//! audit events). Nothing here reads the database or knows a handler.
//!
//! Ids are UUIDv7 (time-ordered, so primary-key indexes stay append-mostly) stored as TEXT;
//! timestamps are Unix seconds stored as BIGINT and shown as RFC 3339 UTC strings. Both
//! choices keep the SQL identical on SQLite and PostgreSQL (see docs/decisions/0001).

pub mod audit;
pub mod session;
pub mod settings;
pub mod tenant;
pub mod user;

use std::fmt;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use audit::{Actor, AuditEvent, RequestContext};
pub use session::{DIRECT_CLIENT_ID, DIRECT_SCOPE, OVLT_API_SCOPE, Session};
pub use settings::TenantSettings;
pub use tenant::Tenant;
pub use user::{User, UserStatus, normalize_email};

/// Declares a UUID newtype id that serialises as its string form.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses the TEXT form read from the database.
            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                uuid::Uuid::parse_str(text).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        $crate::string_schema!($name, $crate::openapi::schema::uuid());

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A tenant's id.
    TenantId
);

id_type!(
    /// A user's id.
    UserId
);

id_type!(
    /// A session's id: the `sid` claim, and the id `GET /sessions` lists.
    SessionId
);

id_type!(
    /// An audit row's id.
    AuditId
);

/// A point in time, to the second, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC, e.g. `2026-11-23T10:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
    }
}

crate::string_schema!(Timestamp, crate::openapi::schema::timestamp());

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_serialise_as_rfc3339_utc() {
        assert_eq!(serde_json::to_string(&Timestamp(1_795_000_000)).unwrap(), "\"2026-11-18T11:06:40Z\"");
    }
}
