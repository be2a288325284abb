//! What the cores want mailed: they return [`Email`]s, and the server's edge delivers them
//! (SMTP is not a core's business).

/// A message the core wants delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}
