//! PAdES signatures of PDFs for parapheur: signing (baseline B-B and B-T), verification,
//! and the keys and small PKI a commune needs.
//!
//! Verification ([`verify_pdf`]) judges as pyHanko does by default: certificate paths to
//! [`TrustAnchors`] (signers and time-stamping authorities apart), at the date of a trusted
//! time-stamp or else at the given `now`, and after each signature only the changes
//! ISO 32000-2 and PAdES allow (later signatures, DSS, document time-stamps, form filling
//! and annotations as its DocMDP permission and field locks allow). Its tests include
//! documents signed and tampered with by pyHanko itself (`tests/pyhanko/make_cases.py`).
//!
//! Dependencies, one line each:
//! - `lopdf`: reads PDFs and writes the incremental update (no hand-rolled PDF parser).
//! - `cms`, `der`, `spki`, `x509-cert`: CMS SignedData and X.509 structures (RustCrypto, 0.2/0.7 line).
//! - `pkcs8`: (encrypted) PKCS#8 import and export of the private key.
//! - `p256`: ECDSA P-256, the signing algorithm for our keys.
//! - `rsa`: verification only, for signatures made by other producers with RSA keys.
//! - `sha2`: SHA-256 (and SHA-384/512 when verifying others' signatures).
//! - `x509-tsp`, `cmpv2`: RFC 3161 time-stamp request/response structures and the PKI status.
//! - `ureq`: a small blocking HTTP client (no TLS features) to reach the time-stamping authority.
//! - `p12-keystore`: reads PKCS#12 files as OpenSSL 3 writes them (PBES2/AES, PBKDF2-SHA256 MAC).
//! - `png`, `flate2`: decode a PNG handwritten signature and re-compress it for the PDF.
//! - `rand_core`: OS randomness for keys, serial numbers and nonces.
//! - `zeroize`: wipes exported private key bytes.
//! - `chrono`, `thiserror`: the workspace's time type and error derivation.
#![forbid(unsafe_code)]

mod cmsutil;
mod error;
mod key;
mod pdf;
pub mod pki;
mod sign;
mod stamp;
mod tsp;
mod verify;

pub use error::{KeyError, SignError};
pub use key::SignerKey;
pub use pdf::MAX_PDF_SIZE;
pub use sign::{SignOptions, Stamp, sign_pdf};
pub use tsp::{HttpTimeStamper, TimeStamper};
pub use verify::{
    SignatureKind, SignatureReport, TimeStampCheck, TrustAnchors, UNREADABLE_SIGNER, VerifyReport,
    verify_pdf, verify_time_stamp,
};
