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
//! It is a small lexer of IMAP's syntax: parentheses count outside quoted strings and
//! literals (`{n}` CRLF then n bytes of anything, a message's body say), and the count
//! starts again at each line end outside a literal, as a response's lists can only go on
//! past a line end through a literal. Only std: the fuzz target includes this file.

use std::io;

/// Far more than any real answer needs: a MIME part nests one level, a forwarded message
/// about three, and mail servers stop parsing MIME well before 100 levels.
pub(crate) const MAX_DEPTH: u32 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Normal,
    Quoted,
    QuotedEscape,
    /// After `{`: the digits of a literal's length (and an optional `+`).
    LiteralLength(u64),
    /// After `}`: the CR and LF before the literal's bytes.
    LiteralCr(u64),
    LiteralLf(u64),
    /// Bytes of a literal still to skip.
    Literal(u64),
}

/// The lexer's state across the reads of one connection.
#[derive(Debug, Default)]
pub(crate) struct NestingLimit {
    state: State,
    depth: u32,
}

impl NestingLimit {
    /// Follows `bytes`, the next ones read from the server; an error when they nest too deep.
    pub(crate) fn check(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            self.state = match self.state {
                State::Literal(n) => {
                    // Skip the rest of the literal at once.
                    let skip = (n.saturating_sub(1)).min((bytes.len() - i) as u64);
                    i += skip as usize;
                    match n - 1 - skip {
                        0 => State::Normal,
                        left => State::Literal(left),
                    }
                }
                State::Quoted => match b {
                    b'"' => State::Normal,
                    b'\\' => State::QuotedEscape,
                    b'\r' | b'\n' => self.end_of_line(),
                    _ => State::Quoted,
                },
                State::QuotedEscape => State::Quoted,
                State::LiteralLength(n) => match b {
                    b'0'..=b'9' => State::LiteralLength(
                        n.saturating_mul(10).saturating_add(u64::from(b - b'0')),
                    ),
                    b'+' => State::LiteralLength(n),
                    b'}' => State::LiteralCr(n),
                    _ => self.normal(b)?,
                },
                State::LiteralCr(n) => match b {
                    b'\r' => State::LiteralLf(n),
                    _ => self.normal(b)?,
                },
                State::LiteralLf(n) => match (b, n) {
                    (b'\n', 0) => State::Normal,
                    (b'\n', n) => State::Literal(n),
                    _ => self.normal(b)?,
                },
                State::Normal => self.normal(b)?,
            };
        }
        Ok(())
    }

    fn normal(&mut self, b: u8) -> io::Result<State> {
        Ok(match b {
            b'(' | b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("answer nested more than {MAX_DEPTH} levels deep"),
                    ));
                }
                State::Normal
            }
            b')' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                State::Normal
            }
            b'"' => State::Quoted,
            b'{' => State::LiteralLength(0),
            b'\r' | b'\n' => self.end_of_line(),
            _ => State::Normal,
        })
    }

    fn end_of_line(&mut self) -> State {
        self.depth = 0;
        State::Normal
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
    fn parentheses_in_literals_and_strings_do_not_count() {
        let body = vec![b'('; 500];
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
        let quoted = [b"* LIST () \"/\" \"".as_slice(), &body, b"\"\r\n"].concat();
        assert!(check(&[&quoted]));
    }
}
