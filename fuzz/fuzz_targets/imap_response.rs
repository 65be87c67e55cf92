//! What an IMAP server answers, parsed as async-imap parses it (imap-proto's
//! `Response::parse`, response after response, until the data is incomplete). A hostile or
//! broken server must not crash the poller.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
