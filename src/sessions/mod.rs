//! Session administration (seed "Sessions"): list live sessions (`sessions:read`), revoke one
//! (`sessions:write`) — its refresh tokens and access tokens stop working on every instance.

mod api;

pub use api::{__path_list_sessions, __path_revoke_session, list_sessions, revoke_session};
