//! Persistence of the register on SQLite (embedded, the default) or PostgreSQL (hosted).
//!
//! One code path serves both backends through sqlx's `Any` driver: the SQL is shared
//! (positional `$n` parameters, `INSERT … ON CONFLICT … RETURNING`, text dates, BIGINT
//! integers), and the few differences are named in [`Backend`]. Migrations are shared SQL
//! files in `migrations/`; one that must differ names its SQLite and PostgreSQL texts.
//!
//! Every write goes through a [`WriteTx`]: it allocates chrono numbers inside the
//! transaction (so numbers are gapless and a rollback gives them back), and it appends the
//! journal entries of the change, hash-chained, just before committing. That single write
//! path is what a replicator will follow later.
//!
//! On SQLite, writers take the lock up front (`BEGIN IMMEDIATE`) so that a transaction that
//! reads before it writes can never fail on a busy snapshot; readers use their own pool and
//! are never blocked by the writer (WAL).

mod backend;
mod changes;
mod error;
mod journal;
mod migrate;
mod pool;
mod rows;
mod write;

pub mod api;
pub mod archives;
pub mod calls;
pub mod capture;
pub mod citizens;
pub mod communes;
pub mod contacts;
pub mod doctypes;
pub mod items;
pub mod nodes;
pub mod parapheur;
pub mod portability;
pub mod services;
pub mod sessions;
pub mod users;
pub mod webhooks;

pub use backend::Backend;
pub use error::StoreError;
pub use journal::{JournalHead, verify_journal};
pub use migrate::SCHEMA_VERSION;
pub use pool::{DEFAULT_LOCK_TIMEOUT, Store, redact_url};
pub use write::WriteTx;
