//! Integration tests of PAdES signing, verification and keys: one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod foreign;
mod keys;
mod pades;
mod robust;
mod timing;
mod verify;
