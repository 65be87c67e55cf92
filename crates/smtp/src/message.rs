//! [`build`]: an [`OutgoingMessage`] to RFC 5322 bytes, with mail-builder.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::encoders::base64::base64_encode_mime;
use mail_builder::headers::address::Address as MbAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};

use crate::{Address, BuildError, OutgoingMessage};

/// Longest accepted address (RFC 5321: 64 for the local part, 254 in all).
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL_PART: usize = 64;
/// Longest accepted message identifier (without the angle brackets).
const MAX_MESSAGE_ID: usize = 250;

/// Builds the message: RFC 5322 bytes, ready for [`crate::send`].
///
/// Only ASCII comes out: subject and names are encoded words (RFC 2047), the text
/// is `text/plain; charset=utf-8` (7bit, quoted-printable or base64, whichever fits),
/// the HTML its `multipart/alternative` companion, and every attachment is base64.
/// `date` is written in UTC.
///
/// Refuses (with a French message for the user) a CR, LF or other control character
/// in a header value (header injection), an address that is not a plain ASCII
/// addr-spec (`local@domaine.fr`), a message without recipient, and a malformed
/// message identifier, attachment type or attachment name.
pub fn build(msg: &OutgoingMessage, date: DateTime<Utc>) -> Result<Vec<u8>, BuildError> {
    if msg.to.is_empty() {
        return Err(BuildError::NoRecipient);
    }
    let subject = header_text("Objet", &msg.subject)?;
    let from = address(&msg.from, "De")?;
    let mut to = Vec::with_capacity(msg.to.len());
    for recipient in &msg.to {
        to.push(address(recipient, "À")?);
    }
    let reply_to = msg
        .reply_to
        .as_ref()
        .map(|a| address(a, "Répondre à"))
        .transpose()?;
    let own_id = message_id("Message-ID", &msg.message_id)?;
    if !own_id.contains('@') {
        return Err(BuildError::MessageId {
            field: "Message-ID",
            value: msg.message_id.clone(),
        });
    }
    let in_reply_to = msg
        .in_reply_to
        .as_deref()
        .map(|id| message_id("In-Reply-To", id))
        .transpose()?;
    let mut references = Vec::with_capacity(msg.references.len());
    for id in &msg.references {
        references.push(message_id("References", id)?);
    }

    let mut builder = MessageBuilder::new()
        .date(Date::new(date.timestamp()))
        .from(from)
        .to(if to.len() == 1 {
            to.remove(0)
        } else {
            MbAddress::new_list(to)
        });
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to);
    }
    builder = builder.subject(subject).message_id(MessageId::new(own_id));
    if let Some(id) = in_reply_to {
        builder = builder.in_reply_to(MessageId::new(id));
    }
    if !references.is_empty() {
        builder = builder.references(MessageId::new_list(references.into_iter()));
    }
    if msg.auto_submitted {
        // RFC 3834, and Exchange's own way of saying "no out-of-office replies".
        builder = builder
            .header("Auto-Submitted", Raw::new("auto-generated"))
            .header("X-Auto-Response-Suppress", Raw::new("All"));
    }

    let text = MimePart::new("text/plain", BodyPart::Text(msg.text.as_str().into()));
    let mut body = match &msg.html {
        Some(html) => MimePart::new(
            "multipart/alternative",
            vec![
                text,
                MimePart::new("text/html", BodyPart::Text(html.as_str().into())),
            ],
        ),
        None => text,
    };
    if !msg.attachments.is_empty() {
        let mut parts = Vec::with_capacity(msg.attachments.len() + 1);
        parts.push(body);
        for attachment in &msg.attachments {
            let name = header_text("nom de la pièce jointe", &attachment.filename)?;
            if name.trim().is_empty() {
                return Err(BuildError::AttachmentName(attachment.filename.clone()));
            }
            let content_type = content_type(&attachment.content_type)?.attribute("name", name);
            // Encoded here rather than by mail-builder, which would send a text/*
            // attachment as quoted-printable (and change its line ends).
            let mut encoded = Vec::with_capacity(attachment.bytes.len() / 3 * 4 + 8);
            base64_encode_mime(&attachment.bytes, &mut encoded, false).map_err(io)?;
            parts.push(
                MimePart::new(content_type, BodyPart::Binary(encoded.into()))
                    .attachment(name)
                    .transfer_encoding("base64"),
            );
        }
        body = MimePart::new("multipart/mixed", parts);
    }
    builder.body(body).write_to_vec().map_err(io)
}

fn io(e: std::io::Error) -> BuildError {
    BuildError::Io(e.to_string())
}

/// A header value: no control character but the tab (a CR or LF would end the
/// header and start another one).
fn header_text<'a>(field: &'static str, value: &'a str) -> Result<&'a str, BuildError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(BuildError::HeaderInjection { field });
    }
    Ok(value)
}

fn address<'a>(a: &'a Address, field: &'static str) -> Result<MbAddress<'a>, BuildError> {
    if !is_addr_spec(&a.email) {
        return Err(BuildError::Address {
            field,
            address: a.email.clone(),
        });
    }
    let name = match a.name.as_deref() {
        Some(name) => {
            let name = header_text(field, name)?.trim();
            (!name.is_empty()).then_some(name)
        }
        None => None,
    };
    Ok(MbAddress::new_address(name, a.email.as_str()))
}

/// `local@domain` as RFC 5321 accepts it in a MAIL FROM or RCPT TO, ASCII only: the
/// local part a dot-atom, the domain host names (letters, digits, hyphens).
pub(crate) fn is_addr_spec(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= MAX_ADDRESS
        && !local.is_empty()
        && local.len() <= MAX_LOCAL_PART
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || is_atext_symbol(b))
        })
        && is_domain(domain)
}

/// The symbols of RFC 5322 `atext`.
fn is_atext_symbol(b: u8) -> bool {
    b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A host name: dot-separated labels of letters, digits and inner hyphens.
pub(crate) fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A message identifier without its angle brackets (one surrounding pair is taken
/// off if given). Identifiers of received messages (In-Reply-To, References) are
/// not always well-formed, so any printable ASCII without space or angle bracket
/// passes.
fn message_id<'a>(field: &'static str, id: &'a str) -> Result<&'a str, BuildError> {
    let bare = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id);
    if bare.is_empty()
        || bare.len() > MAX_MESSAGE_ID
        || !bare
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(BuildError::MessageId {
            field,
            value: id.to_owned(),
        });
    }
    Ok(bare)
}

/// `type/subtype`, optionally followed by `; key=value` parameters.
fn content_type(value: &str) -> Result<ContentType<'_>, BuildError> {
    let bad = || BuildError::ContentType(value.to_owned());
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let (kind, sub) = essence.split_once('/').ok_or_else(bad)?;
    if !is_token(kind) || !is_token(sub) {
        return Err(bad());
    }
    let mut ct = ContentType::new(Cow::Owned(essence.to_ascii_lowercase()));
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (key, val) = param.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        let val = val.trim();
        let val = val
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(val);
        if !is_token(key)
            || key.eq_ignore_ascii_case("name")
            || !val
                .bytes()
                .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'"' && b != b'\\')
        {
            return Err(bad());
        }
        ct = ct.attribute(Cow::Owned(key.to_ascii_lowercase()), val);
    }
    Ok(ct)
}

/// An RFC 2045 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::Attachment;
    use mail_parser::MimeHeaders;

    fn date() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T09:30:00+01:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn message() -> OutgoingMessage {
        OutgoingMessage {
            from: Address {
                name: Some("Mairie de Saint-Étienne-du-Bois".into()),
                email: "mairie@saint-etienne-du-bois.fr".into(),
            },
            to: vec![Address {
                name: Some("Hélène Dupré".into()),
                email: "helene.dupre@example.fr".into(),
            }],
            reply_to: None,
            subject: "Accusé de réception de votre demande".into(),
            text: "Bonjour,\nnous avons bien reçu votre courrier.\n".into(),
            html: None,
            attachments: vec![],
            message_id: "abc123@saint-etienne-du-bois.fr".into(),
            in_reply_to: None,
            references: vec![],
            auto_submitted: false,
        }
    }

    fn text(raw: &[u8]) -> &str {
        std::str::from_utf8(raw).unwrap()
    }

    fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(raw).unwrap()
    }

    #[test]
    fn plain_message_is_ascii_with_encoded_headers() {
        let raw = build(&message(), date()).unwrap();
        assert!(raw.is_ascii(), "{}", String::from_utf8_lossy(&raw));
        let s = text(&raw);
        assert!(
            s.contains("Date: Sat, 28 Nov 2026 08:30:00 +0000\r\n"),
            "{s}"
        );
        assert!(s.contains("Message-ID: <abc123@saint-etienne-du-bois.fr>\r\n"));
        assert!(s.contains("MIME-Version: 1.0\r\n"));
        assert!(s.contains("Content-Type: text/plain; charset=\"utf-8\""));
        assert!(!s.contains("Auto-Submitted"));
        assert!(!s.contains("In-Reply-To"));
        assert!(!s.contains("References"));
        let m = parse(&raw);
        assert_eq!(m.subject(), Some("Accusé de réception de votre demande"));
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Mairie de Saint-Étienne-du-Bois"));
        assert_eq!(from.address(), Some("mairie@saint-etienne-du-bois.fr"));
        let to = m.to().unwrap().first().unwrap();
        assert_eq!(to.name(), Some("Hélène Dupré"));
        assert_eq!(
            m.body_text(0).unwrap().replace("\r\n", "\n"),
            "Bonjour,\nnous avons bien reçu votre courrier.\n"
        );
        assert_eq!(m.attachment_count(), 0);
    }

    #[test]
    fn threading_auto_submitted_html_and_several_recipients() {
        let mut msg = message();
        msg.to.push(Address {
            name: None,
            email: "secretariat@example.fr".into(),
        });
        msg.reply_to = Some(Address {
            name: Some("Secrétariat".into()),
            email: "secretariat@saint-etienne-du-bois.fr".into(),
        });
        msg.html = Some("<p>Bonjour, nous avons bien reçu votre courrier.</p>".into());
        msg.in_reply_to = Some("<CAF=x+y@mail.example.com>".into());
        msg.references = vec![
            "first@example.com".into(),
            "CAF=x+y@mail.example.com".into(),
        ];
        msg.auto_submitted = true;
        let raw = build(&msg, date()).unwrap();
        assert!(raw.is_ascii());
        let s = text(&raw);
        assert!(
            s.contains("In-Reply-To: <CAF=x+y@mail.example.com>\r\n"),
            "{s}"
        );
        assert!(s.contains("References: <first@example.com> <CAF=x+y@mail.example.com>\r\n"));
        assert!(s.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(s.contains("Content-Type: multipart/alternative"));
        let m = parse(&raw);
        assert_eq!(m.to().unwrap().iter().count(), 2);
        assert_eq!(
            m.reply_to().unwrap().first().unwrap().address(),
            Some("secretariat@saint-etienne-du-bois.fr")
        );
        assert_eq!(m.in_reply_to().as_text(), Some("CAF=x+y@mail.example.com"));
        assert!(m.body_html(0).unwrap().contains("bien reçu"));
        assert!(m.body_text(0).unwrap().contains("bien reçu"));
    }

    #[test]
    fn attachments_are_base64_and_intact() {
        let mut msg = message();
        let pdf = b"%PDF-1.7\n\x00\x01\xff binary \r\n. \n".repeat(100);
        msg.attachments = vec![
            Attachment {
                filename: "Récépissé n° 2026-A-000042.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: pdf.clone(),
            },
            Attachment {
                filename: "liste.csv".into(),
                content_type: "Text/CSV; charset=utf-8".into(),
                bytes: b"nom;ville\nDupr\xc3\xa9;Bourg\n".to_vec(),
            },
        ];
        let raw = build(&msg, date()).unwrap();
        assert!(raw.is_ascii());
        let s = text(&raw);
        assert!(s.contains("Content-Type: multipart/mixed"));
        assert_eq!(s.matches("Content-Transfer-Encoding: base64").count(), 2);
        assert!(s.contains("Content-Type: text/csv; charset=\"utf-8\"; name=\"liste.csv\""));
        let m = parse(&raw);
        assert_eq!(m.attachment_count(), 2);
        let first = m.attachment(0).unwrap();
        assert_eq!(
            first.attachment_name(),
            Some("Récépissé n° 2026-A-000042.pdf")
        );
        assert_eq!(first.contents(), &pdf[..]);
        let second = m.attachment(1).unwrap();
        assert_eq!(second.contents(), b"nom;ville\nDupr\xc3\xa9;Bourg\n");
        assert!(m.body_text(0).unwrap().contains("bien reçu"));
    }

    #[test]
    fn long_subject_and_names_are_folded() {
        let mut msg = message();
        msg.subject = "Réponse à votre demande d'autorisation d'occupation du domaine public \
                       pour la terrasse du café de la place de l'Église, été 2027"
            .into();
        let raw = build(&msg, date()).unwrap();
        for line in text(&raw).split("\r\n") {
            assert!(line.len() <= 78, "line too long: {line}");
        }
        assert_eq!(parse(&raw).subject(), Some(msg.subject.as_str()));
    }

    #[test]
    fn header_injection_is_refused() {
        for subject in [
            "Objet\r\nBcc: x@y.fr",
            "Objet\nBcc: x@y.fr",
            "Objet\rx",
            "a\0b",
        ] {
            let mut msg = message();
            msg.subject = subject.into();
            let err = build(&msg, date()).unwrap_err();
            assert_eq!(err, BuildError::HeaderInjection { field: "Objet" });
            assert!(err.to_string().contains("Objet"), "{err}");
        }
        let mut msg = message();
        msg.to[0].name = Some("Hélène\r\nBcc: x@y.fr".into());
        assert_eq!(
            build(&msg, date()).unwrap_err(),
            BuildError::HeaderInjection { field: "À" }
        );
        let mut msg = message();
        msg.attachments = vec![Attachment {
            filename: "a\r\nb.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: vec![1],
        }];
        assert!(matches!(
            build(&msg, date()).unwrap_err(),
            BuildError::HeaderInjection { .. }
        ));
        let mut msg = message();
        msg.in_reply_to = Some("a@b\r\nBcc: x@y.fr".into());
        assert!(matches!(
            build(&msg, date()).unwrap_err(),
            BuildError::MessageId {
                field: "In-Reply-To",
                ..
            }
        ));
        // A tab is allowed (unfolded headers may keep one).
        let mut msg = message();
        msg.subject = "Objet\tsuite".into();
        build(&msg, date()).unwrap();
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "helene",
            "@example.fr",
            "helene@",
            "helene@@example.fr",
            "hélène@example.fr",
            "helene@exemple-é.fr",
            "helene dupre@example.fr",
            "helene@example.fr>, x@y.fr",
            "helene@example.fr\r\nBcc: x@y.fr",
            ".helene@example.fr",
            "helene..dupre@example.fr",
            "helene@-example.fr",
            "helene@example..fr",
            "\"helene\"@example.fr",
            "helene@[192.0.2.1]",
        ] {
            let mut msg = message();
            msg.to[0].email = bad.into();
            let err = build(&msg, date()).unwrap_err();
            assert_eq!(
                err,
                BuildError::Address {
                    field: "À",
                    address: bad.into()
                },
                "{bad:?}"
            );
            assert!(err.to_string().contains("adresse"), "{err}");
        }
        let mut msg = message();
        msg.from.email = "mairie".into();
        assert!(matches!(
            build(&msg, date()).unwrap_err(),
            BuildError::Address { field: "De", .. }
        ));
        for good in [
            "helene.dupre@example.fr",
            "h+tag@sub.example.fr",
            "o'brien@example.ie",
            "mairie-a@test",
            "x_y=z@a-b.c0",
        ] {
            assert!(is_addr_spec(good), "{good}");
        }
    }

    #[test]
    fn other_refusals() {
        let mut msg = message();
        msg.to.clear();
        assert_eq!(build(&msg, date()).unwrap_err(), BuildError::NoRecipient);

        for bad in ["", "no-at-sign", "a b@c", "a@b>"] {
            let mut msg = message();
            msg.message_id = bad.into();
            assert!(
                matches!(
                    build(&msg, date()).unwrap_err(),
                    BuildError::MessageId {
                        field: "Message-ID",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        for bad in [
            "pdf",
            "application/",
            "application/pdf; name=x",
            "a/b; c",
            "a/b; c=\"d\"e\"",
        ] {
            let mut msg = message();
            msg.attachments = vec![Attachment {
                filename: "x.pdf".into(),
                content_type: bad.into(),
                bytes: vec![1],
            }];
            assert!(
                matches!(build(&msg, date()).unwrap_err(), BuildError::ContentType(_)),
                "{bad:?}"
            );
        }
        let mut msg = message();
        msg.attachments = vec![Attachment {
            filename: "  ".into(),
            content_type: "application/pdf".into(),
            bytes: vec![1],
        }];
        assert!(matches!(
            build(&msg, date()).unwrap_err(),
            BuildError::AttachmentName(_)
        ));
    }

    #[test]
    fn message_id_brackets_are_tolerated() {
        let mut msg = message();
        msg.message_id = "<abc@example.fr>".into();
        let raw = build(&msg, date()).unwrap();
        assert!(text(&raw).contains("Message-ID: <abc@example.fr>\r\n"));
    }
}
