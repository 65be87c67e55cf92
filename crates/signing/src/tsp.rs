//! RFC 3161 time-stamping (B-T level).
use std::time::Duration;

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Int, OctetString};
use der::{Any, Decode, Encode};
use rand_core::RngCore;
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::SignError;
use crate::cmsutil::{OID_SHA256, OID_TST_INFO};

/// Something that returns an RFC 3161 TimeStampToken (DER ContentInfo) over a SHA-256 digest.
pub trait TimeStamper: Send + Sync {
    fn timestamp(&self, sha256_of_data: &[u8; 32]) -> Result<Vec<u8>, SignError>;
}

/// A time-stamping authority reached over HTTP POST (`application/timestamp-query`).
#[derive(Debug, Clone)]
pub struct HttpTimeStamper {
    url: String,
    timeout: Duration,
}

impl HttpTimeStamper {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            timeout: Duration::from_secs(20),
        }
    }

    /// Changes the timeout of the whole exchange (20 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

fn ts_err(e: impl std::fmt::Display) -> SignError {
    SignError::Timestamp(e.to_string())
}

/// The TSTInfo inside a TimeStampToken.
pub(crate) fn tst_info(token: &ContentInfo) -> Result<(SignedData, TstInfo, Vec<u8>), String> {
    let sd: SignedData = token.content.decode_as().map_err(|e| e.to_string())?;
    if sd.encap_content_info.econtent_type != OID_TST_INFO {
        return Err("le jeton ne contient pas de TSTInfo".into());
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("jeton sans contenu")?;
    let octets: OctetString = econtent.decode_as().map_err(|e| e.to_string())?;
    let bytes = octets.as_bytes().to_vec();
    // Many TSAs (and pyHanko's) give genTime with fractions of a second, which DER allows
    // (RFC 3161 2.4.2) and the `der` crate does not read: retry without the fraction.
    let info = match TstInfo::from_der(&bytes) {
        Ok(info) => info,
        Err(e) => without_fraction(&bytes)
            .and_then(|b| TstInfo::from_der(&b).ok())
            .ok_or_else(|| e.to_string())?,
    };
    Ok((sd, info, bytes))
}

/// A DER header at `pos`: (tag, header length, content length).
fn tlv(b: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *b.get(pos)?;
    let first = *b.get(pos + 1)?;
    if first & 0x80 == 0 {
        return Some((tag, 2, usize::from(first)));
    }
    let k = usize::from(first & 0x7f);
    if k == 0 || k > 4 {
        return None;
    }
    let len = b
        .get(pos + 2..pos + 2 + k)?
        .iter()
        .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
    Some((tag, 2 + k, len))
}

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![u8::try_from(len).unwrap_or(0)];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | u8::try_from(bytes.len()).unwrap_or(0)];
    out.extend(bytes);
    out
}

/// The TSTInfo with the fraction of a second of its genTime (5th element) removed.
fn without_fraction(b: &[u8]) -> Option<Vec<u8>> {
    let (tag, h, len) = tlv(b, 0)?;
    if tag != 0x30 || h + len > b.len() {
        return None;
    }
    let mut pos = h;
    let mut content = Vec::new();
    let mut index = 0;
    while pos < h + len {
        let (t, hh, l) = tlv(b, pos)?;
        let whole = b.get(pos..pos + hh + l)?;
        let value = b.get(pos + hh..pos + hh + l)?;
        match value.iter().position(|c| *c == b'.') {
            Some(dot) if index == 4 && t == 0x18 => {
                let mut v = value[..dot].to_vec();
                v.push(b'Z');
                content.push(0x18);
                content.extend(der_len(v.len()));
                content.extend(v);
            }
            _ => content.extend_from_slice(whole),
        }
        pos += hh + l;
        index += 1;
    }
    let mut out = vec![0x30];
    out.extend(der_len(content.len()));
    out.extend(content);
    Some(out)
}

impl TimeStamper for HttpTimeStamper {
    fn timestamp(&self, sha256_of_data: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        let mut nonce_bytes = [0u8; 8];
        rand_core::OsRng.fill_bytes(&mut nonce_bytes);
        nonce_bytes[0] = (nonce_bytes[0] & 0x7f) | 0x01;
        let nonce = Int::new(&nonce_bytes).map_err(ts_err)?;
        let req = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: OID_SHA256,
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(sha256_of_data.to_vec()).map_err(ts_err)?,
            },
            req_policy: None,
            nonce: Some(nonce.clone()),
            cert_req: true,
            extensions: None,
        };
        let body = req.to_der().map_err(ts_err)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .build()
            .into();
        let mut resp = agent
            .post(&self.url)
            .header("Content-Type", "application/timestamp-query")
            .send(&body[..])
            .map_err(|e| SignError::Timestamp(format!("serveur d'horodatage injoignable : {e}")))?;
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .map_err(ts_err)?;
        let parsed = TimeStampResp::from_der(&bytes)
            .map_err(|e| SignError::Timestamp(format!("réponse illisible : {e}")))?;
        use cmpv2::status::PkiStatus;
        if !matches!(
            parsed.status.status,
            PkiStatus::Accepted | PkiStatus::GrantedWithMods
        ) {
            return Err(SignError::Timestamp(format!(
                "le serveur a refusé la demande (statut {:?})",
                parsed.status.status
            )));
        }
        let token = parsed
            .time_stamp_token
            .ok_or_else(|| SignError::Timestamp("réponse sans jeton".into()))?;
        let (_, info, _) = tst_info(&token).map_err(SignError::Timestamp)?;
        if info.nonce.as_ref() != Some(&nonce) {
            return Err(SignError::Timestamp("nonce de la réponse incorrect".into()));
        }
        if info.message_imprint.hashed_message.as_bytes() != sha256_of_data {
            return Err(SignError::Timestamp(
                "empreinte horodatée incorrecte".into(),
            ));
        }
        token.to_der().map_err(ts_err)
    }
}
