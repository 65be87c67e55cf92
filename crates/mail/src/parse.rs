//! From raw bytes to [`ParsedMail`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{
    Addr, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};

use crate::attach::{is_pdf, pdf_flags, safe_filename};
use crate::html::{html_to_text, sanitise, text_to_html};
use crate::text::{collapse_ws, count_fr, find_bytes, size_fr, truncate_chars};
use crate::{Address, Limits, MailAttachment, ParsedMail, Rejection};

/// Multipart boundaries checked for a closing delimiter (bounds the work on odd input).
const MAX_BOUNDARY_CHECKS: usize = 64;

/// Parses one message. Checks the size first, then that the bytes look like a message
/// at all; then parses on a best-effort basis, reporting oddities as warnings.
/// Never panics: a bug in a dependency becomes [`Rejection::Internal`].
pub fn parse(raw: &[u8], limits: &Limits) -> Result<ParsedMail, Rejection> {
    if raw.len() > limits.max_message_bytes {
        return Err(Rejection::TooLarge {
            size: raw.len() as u64,
            limit: limits.max_message_bytes as u64,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Empty);
    }
    check_starts_with_header(raw)?;
    match catch_unwind(AssertUnwindSafe(|| parse_message(raw, limits))) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Rejection::Internal(format!(
                "le message n'a pas pu être analysé ({detail})"
            )))
        }
    }
}

/// Message-ids compare after this: surrounding whitespace and `< >` removed, and any
/// whitespace inside (left by header folding) removed. Case is kept.
pub fn normalise_message_id(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix('<').unwrap_or(s);
    let s = s.strip_suffix('>').unwrap_or(s);
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '\0')
        .collect()
}

/// The first line (after an optional mbox `From ` line) must be a header field.
fn check_starts_with_header(raw: &[u8]) -> Result<(), Rejection> {
    let mut rest = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    while let [b'\r' | b'\n', tail @ ..] = rest {
        rest = tail;
    }
    if rest.starts_with(b"From ") {
        rest = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => &rest[nl + 1..],
            None => &[],
        };
    }
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..line_end];
    let name_len = line
        .iter()
        .position(|&b| !(b'!'..=b'~').contains(&b) || b == b':')
        .unwrap_or(line.len());
    let after = line[name_len..]
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|p| line[name_len + p]);
    if name_len > 0 && name_len <= 100 && after == Some(b':') {
        return Ok(());
    }
    Err(Rejection::NotAMessage(what_is_it(rest).to_string()))
}

fn what_is_it(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(64)];
    let lower = head.to_ascii_lowercase();
    if head.starts_with(b"%PDF-") {
        "le fichier est un document PDF"
    } else if head.starts_with(b"PK\x03\x04") {
        "le fichier est une archive ZIP ou un document bureautique"
    } else if head.starts_with(b"\xD0\xCF\x11\xE0") {
        "le fichier est un document Microsoft Office ou un message Outlook (.msg) : l'enregistrer au format .eml"
    } else if head.starts_with(b"\x89PNG")
        || head.starts_with(b"\xFF\xD8\xFF")
        || head.starts_with(b"GIF8")
    {
        "le fichier est une image"
    } else if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        "le fichier est une page HTML"
    } else {
        "aucun en-tête de message (De, À, Objet…) au début du fichier"
    }
}

/// Collects warnings once each.
#[derive(Default)]
struct Warnings(Vec<String>);

impl Warnings {
    fn add(&mut self, w: String) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }
}

fn parse_message(raw: &[u8], limits: &Limits) -> Result<ParsedMail, Rejection> {
    let parser = MessageParser::default();
    let Some(msg) = parser.parse(raw) else {
        return Err(Rejection::NotAMessage("aucun en-tête lisible".to_string()));
    };
    let root_headers = msg
        .parts
        .first()
        .map(|p| p.headers.as_slice())
        .unwrap_or(&[]);
    if !root_headers
        .iter()
        .any(|h| !matches!(h.name, HeaderName::Other(_)))
    {
        return Err(Rejection::NotAMessage(
            "aucun en-tête de message connu (De, À, Objet, Date…)".to_string(),
        ));
    }
    let mut warnings = Warnings::default();

    // Recipients: To then Cc, the first ones kept.
    let mut to = Vec::new();
    let mut cc = Vec::new();
    let mut recipients_total = 0;
    for (list, addresses) in [
        (&mut to, msg.all_to().collect::<Vec<_>>()),
        (&mut cc, msg.all_cc().collect()),
    ] {
        for addr in addresses.into_iter().flat_map(|a| a.iter()) {
            if let Some(a) = to_address(addr) {
                if recipients_total < limits.max_recipients_kept {
                    list.push(a);
                }
                recipients_total += 1;
            }
        }
    }
    if recipients_total > limits.max_recipients_kept {
        warnings.add(format!(
            "{} destinataires : {} conservés",
            count_fr(recipients_total as u64),
            count_fr(limits.max_recipients_kept as u64)
        ));
    }

    for header in [HeaderName::Subject, HeaderName::From] {
        if let Some(raw_header) = msg.header_raw(header) {
            for cs in encoded_word_charsets(raw_header) {
                if !charset_known(cs) {
                    warnings.add(unknown_charset_warning(cs));
                }
            }
        }
    }

    let date = msg
        .date()
        .filter(|d| d.is_valid())
        .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0));

    // The first Received in the message is the topmost: the last hop, on delivery.
    let received = msg
        .received_all()
        .next()
        .and_then(|r| r.date())
        .filter(|d| d.is_valid())
        .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0));

    let header = |name: &str| {
        msg.headers()
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .and_then(|h| {
                msg.raw_message()
                    .get(h.offset_start as usize..h.offset_end as usize)
            })
            .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    let automated = header("Auto-Submitted").is_some_and(|v| !v.starts_with("no"))
        || header("Precedence")
            .is_some_and(|v| matches!(v.as_str(), "bulk" | "list" | "junk" | "auto_reply"))
        || msg.header_raw(HeaderName::ListId).is_some();

    let mut subject = collapse_ws(msg.subject().unwrap_or_default());
    subject.retain(|c| c != '\0');

    let (mut text_body, html_body) = bodies(&msg, limits, &mut warnings);
    if text_body.trim().is_empty()
        && let Some(part) = msg
            .attachments
            .iter()
            .filter_map(|&id| msg.parts.get(id as usize))
            .find(|p| is_broken_multipart(p))
    {
        text_body = match &part.body {
            PartType::Text(t) => normalise_newlines(t),
            PartType::Binary(b) => normalise_newlines(&String::from_utf8_lossy(b)),
            _ => String::new(),
        };
        warnings.add(
            "structure du message illisible (limite MIME introuvable) : le texte est montré tel quel"
                .to_string(),
        );
    }
    text_body.retain(|c| c != '\0');
    trim_blank_lines(&mut text_body);
    if truncate_chars(&mut text_body, limits.max_body_chars) {
        warnings.add(format!(
            "texte du message tronqué à {} caractères (le message d'origine est complet)",
            count_fr(limits.max_body_chars as u64)
        ));
    }

    for part in &msg.parts {
        check_part_charset(part, &mut warnings);
    }
    if msg.parts.iter().any(|p| p.is_encoding_problem) {
        warnings
            .add("une partie du message est mal formée : elle a été lue telle quelle".to_string());
    }
    if is_truncated(&msg, raw, 0) {
        warnings.add(
            "message tronqué : la fin du message manque, seules les parties présentes ont été lues"
                .to_string(),
        );
    }

    let attachments = attachments(&msg, raw, limits, &mut warnings);

    let from = msg.from().and_then(|a| a.iter().find_map(to_address));
    let mut copier_hints: Vec<String> = ["X-Mailer", "User-Agent", "X-Scanner", "X-Device"]
        .into_iter()
        .filter_map(|h| msg.header_raw(h).map(str::to_string))
        .collect();
    if let Some(f) = &from {
        copier_hints.push(f.email.clone());
        copier_hints.extend(f.name.clone());
    }
    let hints: Vec<&str> = copier_hints.iter().map(String::as_str).collect();
    let has_scan_attachment = attachments.iter().any(|a| {
        a.media_type == "application/pdf"
            || (a.media_type.starts_with("image/") && !(a.inline && a.content_id.is_some()))
    });
    let looks_like_scan = crate::scan::looks_like_scan(has_scan_attachment, &text_body, &hints);

    if from.is_none() && subject.is_empty() && text_body.trim().is_empty() && attachments.is_empty()
    {
        // Headers only, none of them saying who or what: nothing to register.
        return Err(Rejection::Empty);
    }

    Ok(ParsedMail {
        message_id: msg
            .message_id()
            .map(normalise_message_id)
            .filter(|s| !s.is_empty()),
        in_reply_to: message_ids(msg.in_reply_to()),
        references: message_ids(msg.references()),
        from,
        reply_to: msg.reply_to().and_then(|a| a.iter().find_map(to_address)),
        to,
        cc,
        recipients_total,
        subject,
        date,
        received,
        automated,
        text_body,
        html_body,
        attachments,
        warnings: warnings.0,
        looks_like_scan,
    })
}

fn to_address(addr: &Addr<'_>) -> Option<Address> {
    let email = addr.address.as_deref()?.trim();
    let email = email.strip_prefix('<').unwrap_or(email);
    let email = email.strip_suffix('>').unwrap_or(email).trim();
    if email.is_empty() {
        return None;
    }
    let mut email = match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_string(),
    };
    email.retain(|c| !c.is_control());
    let name = addr
        .name
        .as_deref()
        .map(|n| {
            let mut n = collapse_ws(n);
            n.retain(|c| !c.is_control());
            n
        })
        .filter(|n| !n.is_empty());
    Some(Address { name, email })
}

fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(normalise_message_id)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The readable text and the sanitised HTML of the message's body parts.
fn bodies(msg: &Message<'_>, limits: &Limits, warnings: &mut Warnings) -> (String, Option<String>) {
    let mut text = String::new();
    for part in msg
        .text_body
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
    {
        let piece = match &part.body {
            PartType::Text(t) => normalise_newlines(t),
            PartType::Html(h) => html_to_text(h),
            _ => continue,
        };
        append_block(&mut text, piece.trim_end());
    }

    let html_parts: Vec<&MessagePart<'_>> = msg
        .html_body
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .collect();
    let has_html = html_parts
        .iter()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let html = if has_html {
        let mut source = String::new();
        for part in &html_parts {
            match &part.body {
                PartType::Html(h) => source.push_str(h),
                PartType::Text(t) => source.push_str(&text_to_html(t)),
                _ => {}
            }
        }
        if text.trim().is_empty() {
            text = html_to_text(&source);
        }
        if truncate_chars(&mut source, limits.max_body_chars) {
            warnings.add(format!(
                "mise en forme du message tronquée à {} caractères (le message d'origine est complet)",
                count_fr(limits.max_body_chars as u64)
            ));
        }
        let mut clean = sanitise(&source);
        clean.retain(|c| c != '\0');
        let shows_something = clean.contains("<img") || !html_to_text(&clean).trim().is_empty();
        shows_something.then_some(clean)
    } else {
        None
    };
    (text, html)
}

fn normalise_newlines(t: &str) -> String {
    if t.contains('\r') {
        t.replace("\r\n", "\n")
    } else {
        t.to_string()
    }
}

/// Removes blank lines at the start and whitespace at the end, keeping the indentation
/// of the first line of text.
fn trim_blank_lines(text: &mut String) {
    let end = text.trim_end().len();
    text.truncate(end);
    let first_text_line = text
        .split_inclusive('\n')
        .take_while(|line| line.trim().is_empty())
        .map(str::len)
        .sum::<usize>();
    text.drain(..first_text_line);
}

fn append_block(out: &mut String, piece: &str) {
    if piece.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(piece);
}

fn charset_known(cs: &str) -> bool {
    let lower = cs.trim().to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "utf-8"
            | "utf8"
            | "unicode-1-1-utf-8"
            | "unicode11utf8"
            | "unicode20utf8"
            | "x-unicode20utf8"
            | "us-ascii"
            | "ascii"
    ) || charset_decoder(lower.as_bytes()).is_some()
}

fn unknown_charset_warning(cs: &str) -> String {
    let shown: String = cs.chars().filter(|c| !c.is_control()).take(40).collect();
    format!("jeu de caractères inconnu « {shown} » : texte lu en UTF-8 avec remplacements")
}

fn check_part_charset(part: &MessagePart<'_>, warnings: &mut Warnings) {
    let (PartType::Text(text) | PartType::Html(text)) = &part.body else {
        return;
    };
    let charset = part.content_type().and_then(|ct| ct.attribute("charset"));
    match charset {
        Some(cs) if !cs.trim().is_empty() && !charset_known(cs) => {
            warnings.add(unknown_charset_warning(cs));
        }
        _ if text.contains('\u{fffd}') => warnings.add(
            "certains caractères du texte étaient illisibles : ils ont été remplacés par « \u{fffd} »"
                .to_string(),
        ),
        _ => {}
    }
}

/// Charsets named by RFC 2047 encoded words (`=?charset?Q?…?=`) in a raw header.
fn encoded_word_charsets(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("=?") {
        let after = &rest[start + 2..];
        let Some(q) = after.find('?') else { break };
        let cs = &after[..q];
        let cs = cs.split('*').next().unwrap_or(cs); // RFC 2231 language suffix
        let rest_after = &after[q + 1..];
        // Only a real encoded word: `?B?` or `?Q?` follows.
        if rest_after.len() >= 2
            && matches!(rest_after.as_bytes()[0], b'B' | b'b' | b'Q' | b'q')
            && rest_after.as_bytes()[1] == b'?'
            && !cs.is_empty()
            && !out.contains(&cs)
        {
            out.push(cs);
        }
        rest = rest_after;
    }
    out
}

/// A multipart whose closing delimiter never comes, or a final base64 part whose length
/// is not a multiple of four: the transfer was cut.
fn is_truncated(msg: &Message<'_>, raw: &[u8], depth: usize) -> bool {
    let mut checks = 0;
    for part in &msg.parts {
        match &part.body {
            PartType::Multipart(_) => {
                let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary"))
                else {
                    continue;
                };
                checks += 1;
                if checks > MAX_BOUNDARY_CHECKS {
                    break;
                }
                let closing = format!("--{boundary}--");
                let from = (part.offset_body as usize).min(raw.len());
                if find_bytes(&raw[from..], closing.as_bytes()).is_none() {
                    return true;
                }
            }
            PartType::Message(nested)
                if depth < 3 && is_truncated(nested, nested.raw_message.as_ref(), depth + 1) =>
            {
                return true;
            }
            _ => {}
        }
        if part.encoding == Encoding::Base64 {
            let start = (part.offset_body as usize).min(raw.len());
            let end = (part.offset_end as usize).clamp(start, raw.len());
            let at_end = raw[end..].iter().all(u8::is_ascii_whitespace);
            if at_end {
                let chars = raw[start..end]
                    .iter()
                    .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                    .count();
                if chars % 4 != 0 {
                    return true;
                }
            }
        }
    }
    false
}

/// A multipart whose boundary never appears: mail-parser keeps it as one text part.
fn is_broken_multipart(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Text(_) | PartType::Binary(_))
        && part
            .content_type()
            .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
}

fn media_type_of(part: &MessagePart<'_>) -> String {
    if let Some(ct) = part.content_type() {
        let ctype = ct.ctype().trim().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or_default().trim().to_ascii_lowercase();
        let plausible = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.!#$&^_".contains(c))
        };
        if plausible(&ctype) && plausible(&sub) {
            return format!("{ctype}/{sub}");
        }
    }
    match part.body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    }
    .to_string()
}

fn attachments(
    msg: &Message<'_>,
    raw: &[u8],
    limits: &Limits,
    warnings: &mut Warnings,
) -> Vec<MailAttachment> {
    let mut kept = Vec::new();
    let candidates: Vec<&MessagePart<'_>> = msg
        .attachments
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .filter(|p| !matches!(p.body, PartType::Multipart(_)) && !is_broken_multipart(p))
        .collect();
    for (index, part) in candidates.iter().enumerate() {
        let number = index + 1;
        let media_type = media_type_of(part);
        let raw_name = part
            .attachment_name()
            .map(str::to_string)
            .or_else(|| match &part.body {
                PartType::Message(m) => m
                    .subject()
                    .map(|s| format!("{}.eml", collapse_ws(s)))
                    .filter(|s| s.len() > 4),
                _ => None,
            });
        let filename = safe_filename(raw_name.as_deref(), &media_type, number);
        let bytes: &[u8] = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
            PartType::Message(m) => {
                if part.encoding == Encoding::None {
                    let start = (part.offset_body as usize).min(raw.len());
                    let end = (part.offset_end as usize).clamp(start, raw.len());
                    &raw[start..end]
                } else {
                    m.raw_message.as_ref()
                }
            }
            PartType::Multipart(_) => continue,
        };
        if bytes.len() > limits.max_attachment_bytes {
            warnings.add(format!(
                "pièce jointe « {filename} » ({}) non conservée : elle dépasse {} — elle reste dans le message d'origine",
                size_fr(bytes.len() as u64),
                size_fr(limits.max_attachment_bytes as u64)
            ));
            continue;
        }
        if kept.len() >= limits.max_attachments {
            warnings.add(format!(
                "{} pièces jointes : les {} premières sont conservées, les autres restent dans le message d'origine",
                count_fr(candidates.len() as u64),
                count_fr(limits.max_attachments as u64)
            ));
            break;
        }
        if is_pdf(&media_type, &filename, bytes) {
            let flags = pdf_flags(bytes);
            if flags.encrypted {
                warnings.add(format!(
                    "pièce jointe « {filename} » : PDF chiffré (protégé par un mot de passe ou des restrictions)"
                ));
            }
            if flags.javascript {
                warnings.add(format!(
                    "pièce jointe « {filename} » : PDF contenant du JavaScript (jamais exécuté)"
                ));
            }
        }
        let content_id = part
            .content_id()
            .map(normalise_message_id)
            .filter(|s| !s.is_empty());
        let disposition_inline = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
        let inline = matches!(part.body, PartType::InlineBinary(_))
            || (disposition_inline && content_id.is_some());
        kept.push(MailAttachment {
            filename,
            media_type,
            bytes: bytes.to_vec(),
            inline,
            content_id,
        });
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_normalised() {
        assert_eq!(normalise_message_id(" <abc@x.fr> "), "abc@x.fr");
        assert_eq!(normalise_message_id("<abc@\r\n x.fr>"), "abc@x.fr");
        assert_eq!(normalise_message_id("<>"), "");
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            encoded_word_charsets("=?x-foo?Q?a?= =?UTF-8*fr?B?YQ==?= =?nope"),
            vec!["x-foo", "UTF-8"]
        );
        assert!(charset_known("UTF-8"));
        assert!(charset_known("windows-1252"));
        assert!(!charset_known("x-foo"));
    }

    #[test]
    fn header_check() {
        assert!(check_starts_with_header(b"Subject: x\n\nbody").is_ok());
        assert!(check_starts_with_header(b"From a@b Sat Jan 1\nSubject: x\n").is_ok());
        assert!(check_starts_with_header(b"\xEF\xBB\xBF\r\nX-Foo : bar\r\n").is_ok());
        assert!(matches!(
            check_starts_with_header(b"%PDF-1.7\n"),
            Err(Rejection::NotAMessage(r)) if r.contains("PDF")
        ));
        assert!(check_starts_with_header(b"hello world: no\n").is_err());
        assert!(check_starts_with_header(b": x\n").is_err());
    }
}
