//! Gives the system back the memory that glibc's allocator keeps after a burst of work.
//!
//! glibc keeps what a thread freed in that thread's arena, and returns pages only from the top
//! of a heap: after a first start (the demo created, 600 items indexed, 180 files read) or a
//! batch of letters, the server stayed at 100 to 200 MB although it used 20. `malloc_trim(0)`
//! walks every arena and gives back each free page; the server calls it every few seconds
//! (a few milliseconds of work on an idle heap). Measured in docs/PERFORMANCE.md.

use std::time::Duration;

/// How often the server trims: often enough that a burst is given back while nobody waits,
/// rarely enough that the walk costs nothing (about 1 ms for the idle server's heap).
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Trims the allocator every [`TRIM_EVERY`] for as long as the runtime lives.
pub fn spawn_trimmer() {
    tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let _ = tokio::task::spawn_blocking(give_back_free_memory).await;
        }
    });
}

/// Above this size an allocation gets its own mapping, given back to the system when freed.
const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;
/// A heap's free top above this size is given back at once.
const TRIM_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Fixes glibc's two thresholds for the server (unless `MALLOC_MMAP_THRESHOLD_` or
/// `MALLOC_TRIM_THRESHOLD_` say otherwise), which turns off their "dynamic" adjustment.
///
/// By default, freeing a large mapped block (the login's 19 MB Argon2 block, a batch of
/// letters' PDF) raises the mapping threshold to that block's size and the trim threshold to
/// twice it: later blocks of that size then come from a thread's arena, whose free top glibc
/// keeps up to the trim threshold and `malloc_trim` never shrinks (it trims only the main
/// heap's top). A second batch of 40 accusés left 47 MB in the arenas for 4 MB in use (RSS
/// 62.8 MB); with fixed thresholds, 10 MB for the same 4 MB (RSS 43.0 MB), which also made
/// the cap on arenas of the last round unneeded (measured in docs/PERFORMANCE.md, "Memory").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The second foreign call of the program, audited here.
pub fn fix_allocator_thresholds() {
    let settings = [
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD_BYTES,
        ),
        (
            "MALLOC_TRIM_THRESHOLD_",
            libc::M_TRIM_THRESHOLD,
            TRIM_THRESHOLD_BYTES,
        ),
    ];
    for (variable, parameter, value) in settings {
        if std::env::var_os(variable).is_some() {
            continue;
        }
        // SAFETY: called once at start, before the runtime starts any thread; mallopt only
        // sets a parameter of glibc's allocator.
        unsafe {
            libc::mallopt(parameter, value);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn fix_allocator_thresholds() {}

/// Returns whether glibc gave anything back; elsewhere (musl, other systems) it does nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The one foreign call of the program, audited here.
fn give_back_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointer and only reorganises glibc's own free lists, under
    // the locks every allocation takes; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_free_memory() -> bool {
    false
}
