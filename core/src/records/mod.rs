//! The records Portcullis keeps, as plain data: what the store reads and writes and the
//! cores act on. Nothing here knows a protocol; the behaviour lives with each core
//! (`directory`, `authn`, `authz`, `oauth`), which re-exports its records under its own path.
//! The store depends on this module and on no core.

pub mod authn;
pub mod authz;
pub mod directory;
pub mod federation;
pub mod ids;
pub mod log;
pub mod oauth;
