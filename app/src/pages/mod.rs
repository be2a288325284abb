//! The hosted pages, one module each.

pub mod consent;
pub mod error;
pub mod login;
pub mod not_found;

pub use consent::ConsentPage;
pub use error::ErrorPage;
pub use login::LoginPage;
pub use not_found::NotFound;
