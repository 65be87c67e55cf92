//! Which database the register lives in: what the opening, the migrations and the write
//! path each choose their SQL by.

/// Which database the register lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}
