//! A bound on how deeply the server's answers nest parentheses.
//!
//! imap-proto 0.17 parses BODYSTRUCTURE (and other lists) recursively, with no depth limit:
//! `* 1 FETCH (BODYSTRUCTURE ((((…` a few thousand levels deep overflows the stack of the
//! task that reads it, and a stack overflow aborts the whole process, not only the poller
//! (found by fuzzing, fuzz/crashes/imap_response). The answer is unsolicited: any server, or
//! anyone between us and a plain-text one, can send it. So every byte read from the server
//! goes through [`NestingLimit::check`] before the parser sees it, and an answer nesting
//! deeper than [`MAX_DEPTH`] ends the connection with an error.
//!
//! It is a small lexer of IMAP's framing, deliberately cruder than the parser so that the
//! parser cannot be led where the lexer does not look:
//! - parentheses and brackets count everywhere outside literals, quoted strings included
//!   (where the parser sees a quoted string the lexer cannot be sure: fuzzing found an
//!   unbalanced `"` that hid what followed from an earlier version);
//! - the count starts again at a CRLF, unless the line ends with a literal's header (`{n}`),
//!   since only a literal lets one answer go on past a line end;
//! - a literal's bytes (`{n}` CRLF then n bytes, a message's body say) do not count towards
//!   the answer's depth, but each of their lines must stay within the limit by itself: where
//!   the parser does not take `{n}` for a literal (in a text), those lines are answers.
//!
//! So an answer is refused when its lists nest deeper than [`MAX_DEPTH`], and a message when
//! one line of it opens more than [`MAX_DEPTH`] parentheses it does not close. Only std: the
//! fuzz target includes this file.

use std::io;

/// Far more than any real answer needs: a MIME part nests one level, a forwarded message
/// about three, and mail servers stop parsing MIME well before 100 levels.
pub(crate) const MAX_DEPTH: u32 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Normal,
    /// After a CR outside a literal.
    Cr,
    /// After `{`: the digits of a literal's length (and LITERAL+'s `+`).
    LiteralLength(u64),
    /// After `}`, then after its CR.
    LiteralClose(u64),
    LiteralCr(u64),
    /// Bytes of a literal still to read.
    Literal(u64),
}

/// The lexer's state across the reads of one connection.
#[derive(Debug, Default)]
pub(crate) struct NestingLimit {
    state: State,
    /// Open lists of the current answer.
    depth: u32,
    /// Open parentheses of the current line of a literal.
    line_depth: u32,
}

/// In French: it ends up in the error shown to the commune.
fn too_deep() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("réponse imbriquée sur plus de {MAX_DEPTH} niveaux"),
    )
}

impl NestingLimit {
    /// Follows `bytes`, the next ones read from the server; an error when they nest too deep.
    pub(crate) fn check(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            self.state = match self.state {
                State::Normal => self.normal(b)?,
                State::Cr if b == b'\n' => {
                    self.depth = 0;
                    State::Normal
                }
                State::Cr => self.normal(b)?,
                State::LiteralLength(n) => match b {
                    b'0'..=b'9' => State::LiteralLength(
                        n.saturating_mul(10).saturating_add(u64::from(b - b'0')),
                    ),
                    b'+' => State::LiteralLength(n),
                    b'}' => State::LiteralClose(n),
                    _ => self.normal(b)?,
                },
                State::LiteralClose(n) if b == b'\r' => State::LiteralCr(n),
                State::LiteralCr(n) if b == b'\n' => {
                    self.line_depth = 0;
                    if n == 0 {
                        State::Normal
                    } else {
                        State::Literal(n)
                    }
                }
                State::LiteralClose(_) | State::LiteralCr(_) => self.normal(b)?,
                State::Literal(n) => {
                    match b {
                        b'(' | b'[' => {
                            self.line_depth += 1;
                            if self.line_depth > MAX_DEPTH {
                                return Err(too_deep());
                            }
                        }
                        b')' | b']' => self.line_depth = self.line_depth.saturating_sub(1),
                        b'\n' => self.line_depth = 0,
                        _ => {}
                    }
                    if n > 1 {
                        State::Literal(n - 1)
                    } else {
                        State::Normal
                    }
                }
            };
        }
        Ok(())
    }

    fn normal(&mut self, b: u8) -> io::Result<State> {
        Ok(match b {
            b'(' | b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(too_deep());
                }
                State::Normal
            }
            b')' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                State::Normal
            }
            b'{' => State::LiteralLength(0),
            b'\r' => State::Cr,
            _ => State::Normal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_DEPTH, NestingLimit};

    fn check(chunks: &[&[u8]]) -> bool {
        let mut limit = NestingLimit::default();
        chunks.iter().all(|c| limit.check(c).is_ok())
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = [b"* 1 FETCH (BODYSTRUCTURE ".as_slice(), &[b'('; 200]].concat();
        assert!(!check(&[&deep]));
        // Across reads too.
        assert!(!check(&[
            b"* 1 FETCH (BODYSTRUCTURE ",
            &[b'('; 60],
            &[b'('; 60]
        ]));
    }

    #[test]
    fn real_answers_pass() {
        let depth = usize::try_from(MAX_DEPTH).unwrap_or(0);
        let nested = [
            b"* 1 FETCH ".as_slice(),
            &vec![b'('; depth],
            &vec![b')'; depth],
        ]
        .concat();
        assert!(check(&[&nested, b"\r\n", &nested, b"\r\n"]));
        assert!(check(&[
            b"* 1 FETCH (UID 4 BODY[] {12}\r\n((((((((((((",
            b")\r\n* 2 FETCH (FLAGS (\\Seen))\r\n"
        ]));
    }

    #[test]
    fn literals_count_line_by_line() {
        let line = [vec![b'('; 60], b"\r\n".to_vec()].concat();
        let body = line.repeat(20);
        let literal = [
            format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).as_bytes(),
            &body,
            b")\r\n",
        ]
        .concat();
        assert!(check(&[&literal]));
        // The same literal split in every place.
        for at in 0..literal.len() {
            assert!(check(&[&literal[..at], &literal[at..]]), "split at {at}");
        }
        // One line of a literal opening more than the limit is refused.
        let wide = [
            b"* 1 FETCH (BODY[] {300}\r\n".as_slice(),
            &[b'('; 300],
            b")\r\n",
        ]
        .concat();
        assert!(!check(&[&wide]));
    }

    #[test]
    fn what_the_parser_may_read_otherwise_still_counts() {
        let deep = [b'('; 150];
        // Found by fuzzing: an unbalanced quote before the lists.
        let quote = [b"* 1 FETCH (UID 40 X\" BODYSTRUCTURE ".as_slice(), &deep].concat();
        assert!(!check(&[&quote]));
        // A `{n}` in a text, where it is no literal: the next lines are answers.
        let text = [
            b"* OK {99999}\r\n* 1 FETCH (BODYSTRUCTURE ".as_slice(),
            &deep,
        ]
        .concat();
        assert!(!check(&[&text]));
        // Literals between the levels do not start the count again.
        let split = b"(\"a\" {0}\r\n".repeat(150);
        assert!(!check(&[b"* 1 FETCH (BODYSTRUCTURE ", &split]));
        // Balanced parentheses in quoted strings are fine.
        let subject = b"* 1 FETCH (ENVELOPE (\"(re) (fwd) ((x))\"))\r\n".repeat(50);
        assert!(check(&[&subject]));
    }
}
