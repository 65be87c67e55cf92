//! What the fuzz targets share: the panic policy of a call that our code already guards.
//!
//! libFuzzer's panic hook (libfuzzer-sys) aborts on every panic, even one that a
//! `catch_unwind` would catch. Two of our parsers run a dependency under such a guard:
//! `parapheur_mail::parse` (mail-parser, whose `debug_assert!`s fire on some broken
//! messages; the message is then quarantined) and every call of `parapheur_mailbox`
//! (imap-proto, which panics on some malformed answers; the call then fails). A panic
//! raised *inside that dependency's own source*, during a guarded call, is what production
//! survives, so it is not a crash here; a panic anywhere else (our code, another crate) still
//! aborts and is reported. `PARAPHEUR_FUZZ_STRICT=1` makes every panic a crash again, to
//! look for the dependencies' bugs and report them upstream.

use std::cell::Cell;
use std::panic;
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<Option<&'static [&'static str]>> = const { Cell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("PARAPHEUR_FUZZ_STRICT").is_some_and(|v| v == "1") {
            return;
        }
        let abort_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or_default();
            let tolerated = GUARDED.with(Cell::get).is_some_and(|crates| {
                crates
                    .iter()
                    .any(|c| file.contains(&format!("/{c}-")) && file.contains("/src/"))
            });
            if !tolerated {
                abort_hook(info);
            }
        }));
    });
}

/// Runs `call`, a call that production runs under a `catch_unwind` guard; a panic raised in
/// the source of one of `crates` (registry names with their version dash, e.g.
/// `"mail-parser"`) unwinds to that guard instead of aborting.
pub fn guarded<R>(crates: &'static [&'static str], call: impl FnOnce() -> R) -> R {
    install_hook();
    GUARDED.with(|g| g.set(Some(crates)));
    let result = call();
    GUARDED.with(|g| g.set(None));
    result
}
