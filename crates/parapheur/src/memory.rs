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

/// Caps glibc's allocator at two arenas for the server (unless `MALLOC_ARENA_MAX` says
/// otherwise). glibc gives each new thread its own arena, up to 8 per core, and the blocking
/// pool's threads (SQLite, file I/O, extraction) each left one, partly filled, that trimming
/// shrinks but never merges; two arenas on a 2-core box hold the same work with less left
/// behind (measured in docs/PERFORMANCE.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The second foreign call of the program, audited here.
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: called once at start, before the runtime starts any thread; mallopt only sets
    // a parameter of glibc's allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

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
