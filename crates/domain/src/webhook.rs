//! Webhooks (issue 18, point 2): the events a commune's other software may subscribe to,
//! the signature of each delivery, its verification on the receiving side, and the
//! schedule of retries. Pure: the sender (`app::webhooks`) does the I/O.
//!
//! Signatures follow the Standard Webhooks convention (<https://www.standardwebhooks.com>):
//! the secret is `whsec_` then the base64 of random bytes; each request carries
//! `webhook-id` (stable across retries), `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")>`.
//! A receiver checks the signature with [`verify`], which also refuses a timestamp more
//! than [`TOLERANCE_SECONDS`] away from its clock: a request captured and sent again later
//! is refused as a replay.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac, digest::KeyInit};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest random bytes a secret carries (Standard Webhooks: 24 to 64).
pub const MIN_SECRET_BYTES: usize = 24;
/// How far a delivery's timestamp may be from the receiver's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The events a subscription may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// An item was given its chrono number.
    ItemRegistered,
    /// An item was routed to a service or a person.
    ItemAssigned,
    /// An open item's due date is within seven days (said once per item and due date).
    ItemDueSoon,
    /// Silence kept until its date gave an implicit decision (L231-1, L231-4).
    ImplicitDecision,
    /// A letter's circuit of visas and signatures is complete.
    LetterSigned,
    /// A signed letter was sent (by email or by post), registered as an outgoing item.
    LetterSent,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::ItemRegistered,
        EventType::ItemAssigned,
        EventType::ItemDueSoon,
        EventType::ImplicitDecision,
        EventType::LetterSigned,
        EventType::LetterSent,
    ];

    /// The stable name, as in the body's `type`.
    pub fn code(self) -> &'static str {
        match self {
            EventType::ItemRegistered => "item.registered",
            EventType::ItemAssigned => "item.assigned",
            EventType::ItemDueSoon => "item.due_soon",
            EventType::ImplicitDecision => "item.implicit_decision",
            EventType::LetterSigned => "letter.signed",
            EventType::LetterSent => "letter.sent",
        }
    }

    pub fn parse(code: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.code() == code.trim())
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            EventType::ItemRegistered => "courrier enregistré",
            EventType::ItemAssigned => "courrier affecté",
            EventType::ItemDueSoon => "échéance dans les sept jours",
            EventType::ImplicitDecision => "décision implicite née",
            EventType::LetterSigned => "courrier signé",
            EventType::LetterSent => "courrier envoyé",
        }
    }
}

/// Why a secret is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRefused;

/// The key bytes of a `whsec_…` secret.
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, SecretRefused> {
    let body = secret
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SecretRefused)?;
    let bytes = STANDARD.decode(body).map_err(|_| SecretRefused)?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(SecretRefused);
    }
    Ok(bytes)
}

/// The secret made of `bytes` (random, at least [`MIN_SECRET_BYTES`]).
pub fn secret_text(bytes: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC first turns the key into one hash block: hashed if longer than the block, then
    // padded with zeros (RFC 2104, section 2); doing it here gives the same MAC through
    // the constructor that cannot fail (as `pow` does).
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header of a delivery: `v1,<base64>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(key, id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Why a receiver refuses a delivery. Each has a stable code (docs/API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// A header is missing or is not what it should be (no id, a timestamp that is not a
    /// number, no `v1,` signature).
    Malformed,
    /// The secret given to the verifier is not a `whsec_` secret.
    BadSecret,
    /// The timestamp is older than the tolerance: a request sent again (replayed).
    Replayed,
    /// The timestamp is ahead of the receiver's clock by more than the tolerance.
    FromTheFuture,
    /// No signature matches: another secret, or a body or header changed on the way.
    Mismatch,
}

impl SignatureRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SignatureRefusal::Malformed => "webhook_headers_malformed",
            SignatureRefusal::BadSecret => "webhook_secret_invalid",
            SignatureRefusal::Replayed => "webhook_replayed",
            SignatureRefusal::FromTheFuture => "webhook_timestamp_in_future",
            SignatureRefusal::Mismatch => "webhook_signature_mismatch",
        }
    }

    pub fn message_fr(self) -> &'static str {
        match self {
            SignatureRefusal::Malformed => {
                "en-têtes webhook-id, webhook-timestamp ou webhook-signature absents ou mal formés"
            }
            SignatureRefusal::BadSecret => "secret invalide : « whsec_ » suivi de base64 attendu",
            SignatureRefusal::Replayed => {
                "horodatage de plus de cinq minutes : requête rejouée, refusée"
            }
            SignatureRefusal::FromTheFuture => {
                "horodatage de plus de cinq minutes dans le futur : refusé"
            }
            SignatureRefusal::Mismatch => "aucune signature ne correspond au secret",
        }
    }
}

impl std::fmt::Display for SignatureRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message_fr(), self.code())
    }
}

impl std::error::Error for SignatureRefusal {}

/// What a receiver does with a delivery: checks its headers against the shared `secret`
/// and its clock (`now`, unix seconds). The timestamp is checked before the signature, so
/// a replayed request is named as one. Several signatures (space-separated, during a
/// secret's rotation) are accepted if one matches; the comparison is in constant time.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureRefusal> {
    let key = secret_bytes(secret).map_err(|_| SignatureRefusal::BadSecret)?;
    let id = id.trim();
    if id.is_empty() {
        return Err(SignatureRefusal::Malformed);
    }
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureRefusal::Malformed)?;
    if now.saturating_sub(timestamp) > TOLERANCE_SECONDS {
        return Err(SignatureRefusal::Replayed);
    }
    if timestamp.saturating_sub(now) > TOLERANCE_SECONDS {
        return Err(SignatureRefusal::FromTheFuture);
    }
    let tags: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| STANDARD.decode(b).ok())
        .collect();
    if tags.is_empty() {
        return Err(SignatureRefusal::Malformed);
    }
    let expected = mac(&key, id, timestamp, body);
    if tags
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureRefusal::Mismatch)
    }
}

/// Seconds to wait after each failed attempt: 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h
/// (about 22 h 43 min in all); after the eighth attempt, the delivery has failed.
const RETRY_SECONDS: [i64; 7] = [30, 120, 600, 3_600, 3 * 3_600, 6 * 3_600, 12 * 3_600];

/// The wait before the next attempt after `attempts` failed ones (1 after the first), or
/// `None` when the delivery is given up.
pub fn retry_after(attempts: i64) -> Option<i64> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    RETRY_SECONDS.get(index).copied()
}

/// At most `max_chars` of what a receiver answered, on one line, without control
/// characters: shown on the administration page beside the delivery.
pub fn answer_excerpt(answer: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in answer.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && (last_space || out.is_empty()) {
            continue;
        }
        last_space = c == ' ';
        if out.chars().count() == max_chars {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification, computed by its reference
    /// libraries.
    #[test]
    fn signs_as_the_standard_webhooks_reference() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = secret_bytes(secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            &format!("v1,bm90IHRoaXMgb25l {signature}"),
            body,
            1614265330 + 10,
        )
        .unwrap();
    }

    #[test]
    fn refuses_replays_changes_and_malformed_headers() {
        let key = [7u8; 32];
        let secret = secret_text(&key);
        let body = br#"{"type":"item.registered"}"#;
        let signature = sign(&key, "d1", 1_000_000, body);
        let check = |id: &str, ts: &str, sig: &str, body: &[u8], now: i64| {
            verify(&secret, id, ts, sig, body, now)
        };
        assert_eq!(check("d1", "1000000", &signature, body, 1_000_300), Ok(()));
        assert_eq!(
            check("d1", "1000000", &signature, body, 1_000_301),
            Err(SignatureRefusal::Replayed)
        );
        assert_eq!(
            check("d1", "1000000", &signature, body, 999_699),
            Err(SignatureRefusal::FromTheFuture)
        );
        assert_eq!(
            check("d1", "1000000", &signature, b"{}", 1_000_000),
            Err(SignatureRefusal::Mismatch)
        );
        assert_eq!(
            check("d2", "1000000", &signature, body, 1_000_000),
            Err(SignatureRefusal::Mismatch)
        );
        // The timestamp is signed: moving it forward to pass the replay check fails.
        assert_eq!(
            check("d1", "1000400", &signature, body, 1_000_400),
            Err(SignatureRefusal::Mismatch)
        );
        assert_eq!(
            check("d1", "hier", &signature, body, 1_000_000),
            Err(SignatureRefusal::Malformed)
        );
        assert_eq!(
            check("d1", "1000000", "v2,abc", body, 1_000_000),
            Err(SignatureRefusal::Malformed)
        );
        assert_eq!(
            verify("secret", "d1", "1000000", &signature, body, 1_000_000),
            Err(SignatureRefusal::BadSecret)
        );
        assert_eq!(SignatureRefusal::Replayed.code(), "webhook_replayed");
    }

    #[test]
    fn secrets_carry_enough_random_bytes() {
        assert!(secret_bytes(&secret_text(&[1; 24])).is_ok());
        assert_eq!(secret_bytes(&secret_text(&[1; 16])), Err(SecretRefused));
        assert_eq!(secret_bytes("prph_abc"), Err(SecretRefused));
    }

    #[test]
    fn retries_back_off_for_about_a_day_then_stop() {
        assert_eq!(retry_after(1), Some(30));
        assert_eq!(retry_after(2), Some(120));
        assert_eq!(retry_after(7), Some(12 * 3_600));
        assert_eq!(retry_after(8), None);
        assert_eq!(retry_after(0), None);
        let total: i64 = (1..=7).filter_map(retry_after).sum();
        assert!(total > 20 * 3_600 && total < 25 * 3_600, "{total}");
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(
            answer_excerpt("  Erreur\r\n\tinterne  ", 100),
            "Erreur interne"
        );
        assert_eq!(answer_excerpt("abcdef", 3), "abc…");
        assert_eq!(answer_excerpt("\u{1b}[31mrouge", 100), "[31mrouge");
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.code()), Some(e));
        }
    }
}
