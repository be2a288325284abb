//! The Authentication API core: primary authentication, one-time session tokens and the
//! browser sessions they are exchanged for. No HTTP types here; `now` is always an argument.

pub mod primary;
pub mod session;

pub use primary::{AuthnSettings, PrimaryOutcome, authenticate};
pub use session::{Session, SessionSettings};

#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
