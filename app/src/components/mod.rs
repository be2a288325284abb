//! Form pieces shared by the hosted pages and the widget, so both offer the same fields, labels
//! and `autocomplete` hints to people, password managers and tests.

pub mod credentials;
pub mod frame;
pub mod register;
pub mod steps;

pub use credentials::{CredentialsFields, FormError};
pub use frame::Frame;
pub use register::RegisterFields;
pub use steps::StepView;
