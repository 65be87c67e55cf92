//! Integration tests of the email reader on real-world messages: one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;
mod requirements;
mod sources;
