//! The rules of a commune's mail register, with no I/O.
//!
//! This crate owns what the law and the register's own invariants say, and nothing about
//! where data lives or how people reach it: items and their life cycle (one explicit state
//! machine), chronological numbers, document types with their delays and silence rules,
//! legal deadlines and public holidays, contacts and their likely duplicates, retention,
//! and the hash chain of the journal.
//!
//! Everything here is plain data and pure functions. Time is always a parameter ("now" is
//! never read from a clock), so every rule can be tested with a table of hand-checked dates.
//! Storage, files, capture, signing and the web depend on this crate; it depends on none
//! of them.

pub mod acknowledgement;
pub mod calendar;
pub mod chrono_number;
pub mod circuit;
pub mod clock;
pub mod commune;
pub mod contact;
pub mod cti;
pub mod deadline;
pub mod delay;
pub mod doctype;
pub mod french;
pub mod item;
pub mod journal;
pub mod letter_reading;
pub mod pow;
pub mod privacy;
/// The hand-checked reference table of deadlines: for tests only (this crate's and the
/// application's), behind the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod reference_cases;
pub mod reply_template;
pub mod request_form;
pub mod retention;
pub mod status;
pub mod upload;
pub mod user;
pub mod watch;
pub mod webhook;

pub use calendar::HolidayZone;
pub use chrono_number::{ChronoFormat, ChronoNumber};
pub use commune::{Commune, HeaderLogo};
pub use contact::{Contact, ContactKind, NewContact};
pub use deadline::{DeadlineFacts, Deadlines, Incompleteness};
pub use delay::{Delay, SilenceRule};
pub use doctype::DocumentType;
pub use item::{Channel, Confidentiality, Direction, Item, LinkKind, NewItem, Priority};
pub use retention::{FinalAction, RetentionRule};
pub use status::{CloseReason, Status, TransitionError};
pub use user::{Permission, Role};
