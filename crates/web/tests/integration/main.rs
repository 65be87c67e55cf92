//! Integration tests of the web front end through the real router: one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod api;
mod archives;
mod cti;
mod matrix;
mod operations;
mod privacy;
mod proconnect;
mod public;
mod separators;
mod trust;
mod ux;
mod verify;
mod web;
mod webhooks;
