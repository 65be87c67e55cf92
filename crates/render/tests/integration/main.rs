//! Integration tests of the PDF layouts (letters, printed register): one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod letter_pdf;
mod register_pdf;
