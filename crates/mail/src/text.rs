//! Small text helpers: French number formatting, whitespace collapsing, truncation.

/// `10000` -> `"10 000"` (French thousands separator; a plain space, as typed by people).
pub(crate) fn count_fr(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub(crate) use parapheur_domain::french::size as size_fr;

/// Collapses runs of whitespace (including folding CRLF) into one space and trims.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Truncates `s` to at most `max` characters; returns true if it did.
pub(crate) fn truncate_chars(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false; // fewer bytes than max means fewer chars
    }
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
        true
    } else {
        false
    }
}

/// Position of `needle` in `hay` (linear for the short needles used here).
pub(crate) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut start = 0;
    while start + needle.len() <= hay.len() {
        let pos = start
            + hay[start..=hay.len() - needle.len()]
                .iter()
                .position(|&b| b == first)?;
        if hay[pos + 1..].starts_with(rest) {
            return Some(pos);
        }
        start = pos + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers_and_sizes() {
        assert_eq!(count_fr(10_000), "10 000");
        assert_eq!(count_fr(999), "999");
        assert_eq!(count_fr(1_234_567), "1 234 567");
        assert_eq!(size_fr(64 * 1024 * 1024), "64 Mo");
        assert_eq!(size_fr(1_288_490_189), "1,2 Go");
        assert_eq!(size_fr(1), "1 octet");
        assert_eq!(size_fr(1536), "1,5 Ko");
    }

    #[test]
    fn helpers() {
        assert_eq!(collapse_ws("  a\r\n\tb  c "), "a b c");
        let mut s = "éléphant".to_string();
        assert!(truncate_chars(&mut s, 3));
        assert_eq!(s, "élé");
        assert_eq!(find_bytes(b"abc/Encrypt 5", b"/Encrypt"), Some(3));
        assert_eq!(find_bytes(b"ab", b"abc"), None);
        assert_eq!(find_bytes(b"", b"a"), None);
    }
}
