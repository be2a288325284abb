//! The hosted pages, one module each.

pub mod consent;
pub mod error;
pub mod login;
pub mod not_found;
pub mod recover;
pub mod register;
pub mod step;

pub use consent::ConsentPage;
pub use error::ErrorPage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use recover::{ContinuePage, ForgotPage, NoticePage, UnlockPage};
pub use register::RegisterPage;
pub use step::StepPage;
