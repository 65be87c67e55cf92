//! What an IMAP server answers, parsed as async-imap parses it (imap-proto's
//! `Response::parse`, response after response, until the data is incomplete). A hostile or
//! broken server must not crash the poller.
//!
//! imap-proto 0.17 panics on a response code followed by a multi-byte character
//! (`* OK [ALERT]é`, fuzz/crashes/imap_response); parapheur_mailbox runs every call under a
//! guard that turns such a panic into an error (`conn::guarded`, tested in
//! crates/mailbox/tests/imap.rs). This target does the same: a panic raised in imap-proto is
//! tolerated, any other is a crash (see `parapheur_fuzz::guarded`).
//!
//! imap-proto also recurses without a limit into nested lists: thousands of parentheses
//! overflowed the stack (fuzz/crashes/imap_response/bodystructure-50000-deep). The mailbox
//! crate now refuses answers nested deeper than 100 levels before parsing them; this target
//! runs the same check (the file itself, included below) on the bytes first.
#![no_main]

#[path = "../../crates/mailbox/src/nesting.rs"]
#[allow(dead_code)]
mod nesting;

use std::panic::{self, AssertUnwindSafe};

use libfuzzer_sys::fuzz_target;

fn parse_all(data: &[u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        match imap_proto::Response::parse(rest) {
            Ok((remaining, response)) => {
                let _ = format!("{response:?}");
                if remaining.len() >= rest.len() {
                    break;
                }
                rest = remaining;
            }
            Err(_) => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // As the connection does: in two reads, split where the first byte says.
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut limit = nesting::NestingLimit::default();
    if limit.check(&data[..split]).is_err() || limit.check(&data[split..]).is_err() {
        return;
    }
    parapheur_fuzz::guarded(&["imap-proto"], || {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| parse_all(data)));
    });
});
