//! Integration tests of the use cases, on a real register (SQLite and PostgreSQL): one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod archives;
mod calls;
mod capture;
mod citizens;
mod continuity;
mod imap_capture;
mod nodes;
mod parapheur;
mod privacy;
mod register;
mod s3;
mod signed;
mod trust;
mod webhooks;
