//! The user endpoints: the tenant's administration of its users (`admin.rs`,
//! `issue_codes.rs`) and the signed-in user's own account, `/users/me` (`me.rs`).

pub(super) mod admin;
pub(super) mod issue_codes;
pub(super) mod me;
