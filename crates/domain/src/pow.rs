//! Proof of work against abuse of the public forms, without a third party.
//!
//! A captcha service would send every visitor's address to a company abroad; a proof of work
//! costs a real browser a second of computation and a spam robot that same second for every
//! message, which is what makes bulk abuse expensive. The server issues a signed challenge,
//! the browser finds a counter, the server checks both in microseconds and keeps no state.
//!
//! # Challenge
//!
//! `v1.{issued_unix}.{nonce}.{difficulty}.{signature}`, where `issued_unix` is the issuing
//! instant in Unix seconds (decimal), `nonce` 16 random bytes in 32 lowercase hex digits,
//! `difficulty` the number of leading zero bits required (decimal), and `signature` the
//! HMAC-SHA256, under a server key, of everything before the last dot, in 64 lowercase hex
//! digits. The signature lets the server trust the difficulty and the instant it wrote.
//!
//! # Solution
//!
//! A counter `n` (an unsigned 64-bit integer) such that SHA-256 of the UTF-8 bytes of
//! `{challenge}:{n}` (the whole challenge, a colon, `n` in decimal without leading zeros or
//! sign) starts with at least `difficulty` zero bits, counted from the most significant bit
//! of the first byte. A JavaScript solver:
//!
//! ```js
//! async function solve(challenge) {
//!   const bits = Number(challenge.split(".")[3]);
//!   for (let n = 0; ; n++) {
//!     const data = new TextEncoder().encode(`${challenge}:${n}`);
//!     const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
//!     let zeros = 0;
//!     for (const b of h) { if (b === 0) { zeros += 8; continue; } zeros += Math.clz32(b) - 24; break; }
//!     if (zeros >= bits) return String(n);
//!   }
//! }
//! ```
//!
//! Each extra bit doubles the expected work: 2^d hashes on average, so 18 bits is about a
//! quarter of a million hashes (well under a second in a current browser).
//!
//! # Replay
//!
//! `verify` is pure and stateless: the same challenge and solution verify again until the
//! challenge expires. The caller must remember the nonces it accepted (for `max_age_secs`,
//! after which `verify` refuses them anyway) and refuse a second use.

use hmac::{Hmac, Mac, digest::KeyInit};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far in the future a challenge's instant may be: clocks of several servers differ.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// Why a solution is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    #[error("vérification anti-robot mal formée")]
    Malformed,
    #[error("vérification anti-robot non reconnue : rechargez la page")]
    BadSignature,
    #[error("vérification anti-robot expirée : rechargez la page")]
    Expired,
    #[error("vérification anti-robot datée du futur : vérifiez l'horloge du serveur")]
    FromFuture,
    #[error("vérification anti-robot incomplète : la preuve de travail est insuffisante")]
    InsufficientWork,
}

/// A new signed challenge. `nonce` must come from a secure random source, and `key` should
/// be at least 32 random bytes kept by the server.
pub fn issue(key: &[u8], now_unix: i64, nonce: [u8; 16], difficulty: u8) -> String {
    let body = format!("v1.{now_unix}.{}.{difficulty}", hex::encode(nonce));
    let mut mac = mac(key);
    mac.update(body.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("{body}.{signature}")
}

/// Checks a challenge (signature, age) and its solution (the work).
///
/// `max_age_secs` is how long a challenge stays usable after it was issued: the time a
/// person may take to fill in the form.
pub fn verify(
    key: &[u8],
    challenge: &str,
    solution: &str,
    now_unix: i64,
    max_age_secs: i64,
) -> Result<(), PowError> {
    let parsed = parse(challenge).ok_or(PowError::Malformed)?;
    let signature = hex::decode(parsed.signature).map_err(|_| PowError::Malformed)?;
    let mut mac = mac(key);
    mac.update(parsed.body.as_bytes());
    // Constant time: the comparison reveals nothing about how many bytes matched.
    mac.verify_slice(&signature)
        .map_err(|_| PowError::BadSignature)?;
    if parsed.issued > now_unix.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(PowError::FromFuture);
    }
    if now_unix.saturating_sub(parsed.issued) > max_age_secs {
        return Err(PowError::Expired);
    }
    let counter = parse_counter(solution).ok_or(PowError::Malformed)?;
    if leading_zero_bits(&work_hash(challenge, counter)) < u32::from(parsed.difficulty) {
        return Err(PowError::InsufficientWork);
    }
    Ok(())
}

/// The smallest counter that solves `challenge` (what the browser computes), for tests and
/// benchmarks. A malformed challenge counts as difficulty 0 and gives 0. The search takes
/// about 2^difficulty hashes: do not call it on a difficulty near 64.
pub fn solve(challenge: &str) -> u64 {
    let difficulty = parse(challenge).map_or(0, |p| u32::from(p.difficulty));
    (0..=u64::MAX)
        .find(|&n| leading_zero_bits(&work_hash(challenge, n)) >= difficulty)
        .unwrap_or(u64::MAX)
}

/// The number of zero bits at the start of `bytes`, most significant bit first.
pub fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut zeros = 0;
    for &b in bytes {
        if b == 0 {
            zeros += 8;
        } else {
            return zeros + b.leading_zeros();
        }
    }
    zeros
}

/// SHA-256 of `{challenge}:{counter}`.
fn work_hash(challenge: &str, counter: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(challenge.as_bytes());
    hasher.update(b":");
    hasher.update(counter.to_string().as_bytes());
    hasher.finalize().into()
}

/// An HMAC-SHA256 keyed with `key`, whatever its length.
///
/// HMAC first turns the key into one hash block: hashed if longer than the block, then
/// padded with zeros (RFC 2104, section 2). Doing that here gives the same MAC as keying
/// with the raw bytes, through the infallible constructor instead of the one that returns a
/// `Result` which can never be an error.
fn mac(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as KeyInit>::new(&block.into())
}

struct Parsed<'a> {
    /// Everything before the last dot: what the signature covers.
    body: &'a str,
    issued: i64,
    difficulty: u8,
    signature: &'a str,
}

fn parse(challenge: &str) -> Option<Parsed<'_>> {
    let (body, signature) = challenge.rsplit_once('.')?;
    let mut parts = body.split('.');
    let (Some("v1"), Some(issued), Some(nonce), Some(difficulty), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !lower_hex(nonce, 32) || !lower_hex(signature, 64) {
        return None;
    }
    let issued_digits = issued.strip_prefix('-').unwrap_or(issued);
    if issued_digits.is_empty() || !issued_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if difficulty.is_empty() || !difficulty.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Parsed {
        body,
        issued: issued.parse().ok()?,
        difficulty: difficulty.parse().ok()?,
        signature,
    })
}

/// A decimal counter written the one way the solver writes it: digits only, no leading zero.
fn parse_counter(solution: &str) -> Option<u64> {
    let canonical = !solution.is_empty()
        && solution.bytes().all(|b| b.is_ascii_digit())
        && (solution == "0" || !solution.starts_with('0'));
    if canonical {
        solution.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"une cle de serveur de 32 octets!";
    const NOW: i64 = 1_770_000_000;
    const NONCE: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    #[test]
    fn hmac_matches_rfc_4231() {
        let tag = |key: &[u8], data: &[u8]| {
            let mut m = mac(key);
            m.update(data);
            hex::encode(m.finalize().into_bytes())
        };
        // Test case 1: a 20-byte key.
        assert_eq!(
            tag(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a key shorter than the hash.
        assert_eq!(
            tag(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a 131-byte key, longer than the block, is hashed first.
        assert_eq!(
            tag(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // And the same as the crate's own slice constructor, for a 64-byte key.
        let mut reference = <HmacSha256 as Mac>::new_from_slice(&[7; 64]).unwrap();
        reference.update(b"x");
        assert_eq!(
            tag(&[7; 64], b"x"),
            hex::encode(reference.finalize().into_bytes())
        );
    }

    #[test]
    fn challenge_format() {
        let c = issue(KEY, NOW, NONCE, 12);
        let parts: Vec<&str> = c.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], "1770000000");
        assert_eq!(parts[2], "00112233445566778899aabbccddeeff");
        assert_eq!(parts[3], "12");
        assert_eq!(parts[4].len(), 64);
        // Deterministic: the same inputs sign the same way.
        assert_eq!(c, issue(KEY, NOW, NONCE, 12));
        assert_ne!(c, issue(b"another key", NOW, NONCE, 12));
    }

    #[test]
    fn a_solved_challenge_verifies() {
        let c = issue(KEY, NOW, NONCE, 12);
        let n = solve(&c);
        assert!(leading_zero_bits(&work_hash(&c, n)) >= 12);
        // The smallest solution: every counter before it fails.
        assert!((0..n).all(|m| leading_zero_bits(&work_hash(&c, m)) < 12));
        assert_eq!(verify(KEY, &c, &n.to_string(), NOW + 30, 600), Ok(()));
        // Replay is the caller's business: a second verification passes too.
        assert_eq!(verify(KEY, &c, &n.to_string(), NOW + 31, 600), Ok(()));
    }

    #[test]
    fn the_hash_is_the_documented_one() {
        // SHA-256("abc:0"), computed independently (printf 'abc:0' | sha256sum).
        assert_eq!(
            hex::encode(work_hash("abc", 0)),
            "5f36efce86f68877cee18fda5637abb2a1bb409f4326cc741fdf13200aa26980"
        );
    }

    #[test]
    fn difficulty_zero_accepts_any_counter() {
        let c = issue(KEY, NOW, NONCE, 0);
        assert_eq!(solve(&c), 0);
        assert_eq!(verify(KEY, &c, "0", NOW, 600), Ok(()));
        assert_eq!(verify(KEY, &c, "18446744073709551615", NOW, 600), Ok(()));
    }

    #[test]
    fn refusals() {
        let c = issue(KEY, NOW, NONCE, 16);
        let n = solve(&c);
        let good = n.to_string();
        // Not enough work: the first counter that fails.
        let bad = (0..)
            .find(|&m| leading_zero_bits(&work_hash(&c, m)) < 16)
            .unwrap();
        assert_eq!(
            verify(KEY, &c, &bad.to_string(), NOW, 600),
            Err(PowError::InsufficientWork)
        );
        // Wrong key, or a difficulty lowered by the client: the signature fails.
        assert_eq!(
            verify(b"wrong", &c, &good, NOW, 600),
            Err(PowError::BadSignature)
        );
        let lowered = c.replacen(".16.", ".1.", 1);
        assert_eq!(
            verify(KEY, &lowered, &good, NOW, 600),
            Err(PowError::BadSignature)
        );
        let mut flipped = c.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            verify(KEY, &flipped, &good, NOW, 600),
            Err(PowError::BadSignature)
        );
        // Age.
        assert_eq!(verify(KEY, &c, &good, NOW + 600, 600), Ok(()));
        assert_eq!(
            verify(KEY, &c, &good, NOW + 601, 600),
            Err(PowError::Expired)
        );
        assert_eq!(verify(KEY, &c, &good, NOW - 60, 600), Ok(()));
        assert_eq!(
            verify(KEY, &c, &good, NOW - 61, 600),
            Err(PowError::FromFuture)
        );
        // Solutions written another way than the solver writes them.
        for s in [
            "",
            " 1",
            "+1",
            "01",
            "1.0",
            "-1",
            "0x1",
            "18446744073709551616",
        ] {
            assert_eq!(
                verify(KEY, &c, s, NOW, 600),
                Err(PowError::Malformed),
                "{s:?}"
            );
        }
    }

    #[test]
    fn malformed_challenges() {
        let c = issue(KEY, NOW, NONCE, 8);
        let upper = {
            let (body, sig) = c.rsplit_once('.').unwrap();
            format!("{body}.{}", sig.to_uppercase())
        };
        for bad in [
            "".to_owned(),
            "v1".to_owned(),
            c.replacen("v1.", "v2.", 1),
            c.replacen(".8.", "..", 1),
            c.replacen(".8.", ".256.", 1),
            c.replacen(".8.", ".8.9.", 1),
            c.replacen("1770000000", "17x0000000", 1),
            c.replacen("00112233", "0011223", 1),
            upper,
            format!("{c}.extra"),
        ] {
            assert_eq!(
                verify(KEY, &bad, "0", NOW, 600),
                Err(PowError::Malformed),
                "{bad}"
            );
            // solve never hangs on garbage.
            let _ = solve(&bad);
        }
        assert_eq!(solve("garbage"), 0);
    }

    #[test]
    fn zero_bits() {
        assert_eq!(leading_zero_bits(&[]), 0);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x01]), 7);
        assert_eq!(leading_zero_bits(&[0x00, 0x00]), 16);
        assert_eq!(leading_zero_bits(&[0x00, 0x0f, 0xff]), 12);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x00, 0x20]), 26);
    }

    #[test]
    fn errors_are_french() {
        assert_eq!(
            PowError::Expired.to_string(),
            "vérification anti-robot expirée : rechargez la page"
        );
    }
}
