//! The hosted pages, one module each.

pub mod login;
pub mod not_found;

pub use login::LoginPage;
pub use not_found::NotFound;
