//! Integration tests: the real router on 127.0.0.1:0 over a temporary sled store, driven with
//! reqwest the way API clients and browsers drive it.
#![allow(unreachable_pub)] // helpers shared between the test modules
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod api_users;
mod apps;
mod authn;
mod concurrency;
mod cors_and_origins;
mod custom_servers;
mod factors_admin;
mod federation;
mod fuzz;
mod groups;
mod hardening;
mod idps;
mod interop;
mod mail;
mod mfa;
mod oauth_clients;
mod oauth_flows;
mod okta_sdk_python;
mod outage;
mod pages;
mod par;
mod passkeys;
mod process;
mod rate_limits;
mod recovery;
mod registration;
mod secrets_at_rest;
mod sessions;
mod support;
mod system_log;
mod user_schema;
mod users_lifecycle;
