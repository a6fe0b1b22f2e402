//! The federation's HTTP handlers: the providers' administration, the sign-in flow through
//! them, and a user's linked identities.

pub mod exchange;
pub mod identities;
pub mod link;
pub mod providers;
pub mod sign_in;
pub mod start;
