//! SEDA 2.3 messages: the `ArchiveTransfer` of a selection of items, and reading what the
//! archives answer (`Acknowledgement`, `ArchiveTransferReply`).
//!
//! The message is written by hand (a fixed shape, every text escaped) in the order the
//! official schema (`seda-2.3-main.xsd`) requires; [`Package::check`] refuses a package
//! missing a mandatory element before anything is written, so the archives never receive a
//! message that their validator would reject for it. Files travel inside the message
//! (`Attachment`, base64): one file to download and to keep, whatever the archives' SAE.

use std::fmt::Write as _;

use base64::Engine;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use parapheur_domain::retention::FinalAction;

use crate::AppError;

pub const NAMESPACE: &str = "fr:gouv:culture:archivesdefrance:seda:v2.3";

/// What a transfer says about the parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The message's `MessageIdentifier` ("VERS-21004-2026-0001").
    pub identifier: String,
    pub date: DateTime<Utc>,
    /// The archives' identifier (`ArchivalAgency`): "AD01" for the Archives of Ain.
    pub archival_agency: String,
    /// The commune's SIREN (`TransferringAgency`, `OriginatingAgencyIdentifier`).
    pub siren: String,
    /// "Commune de Montbazon" (a comment in the message).
    pub commune_name: String,
}

/// One item of the register, as one `ArchiveUnit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The chrono number (`OriginatingSystemId`).
    pub chrono: String,
    pub title: String,
    pub description: Option<String>,
    /// The document type's label (`DocumentType`).
    pub document_type: String,
    pub senders: Vec<String>,
    pub addressees: Vec<String>,
    pub received: Option<NaiveDate>,
    pub sent: Option<NaiveDate>,
    pub registered: NaiveDate,
    /// `AppraisalRule`: the DUA in years, its start date, and the final action.
    pub retention_years: u32,
    pub retention_start: NaiveDate,
    pub final_action: FinalAction,
    /// Confidential items are not communicable until the archives say so.
    pub confidential: bool,
    pub files: Vec<File>,
}

/// One file of an item, as a `BinaryDataObject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// SHA-512 of the bytes, in hex.
    pub sha512: String,
    /// A PDF/A-2b copy made for the archives when the original is an image typst can lay
    /// out (`parapheur_render::image_pdf`): sent beside it as its group's
    /// `BinaryMaster_2`, the original staying `BinaryMaster_1`.
    pub pdf_a: Option<PdfA>,
}

/// A PDF/A-2b copy of a file, with its SHA-512 in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfA {
    pub bytes: Vec<u8>,
    pub sha512: String,
}

impl File {
    /// The name of the PDF/A copy: the original's name with `.pdf` for its extension.
    fn pdf_a_name(&self) -> String {
        let stem = match self.filename.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => &self.filename,
        };
        format!("{stem}.pdf")
    }
}

/// A selection of items ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub parties: Parties,
    pub units: Vec<Unit>,
}

/// The PRONOM identifier of the formats a commune sends most; others go with their MIME
/// type alone (the archives identify them on arrival).
fn pronom(media_type: &str, bytes: &[u8]) -> Option<&'static str> {
    match media_type {
        // PDF/A-2 (a, b or u) when the file says so in its metadata, else plain PDF 1.7.
        "application/pdf" => Some(pdf_a2_conformance(bytes).unwrap_or("fmt/276")),
        "image/png" => Some("fmt/12"),
        "image/jpeg" => Some("fmt/43"),
        "image/tiff" => Some("fmt/353"),
        "text/plain" => Some("x-fmt/111"),
        "message/rfc822" => Some("fmt/950"),
        _ => None,
    }
}

/// The PRONOM identifier of the PDF/A-2 level a PDF declares in its XMP metadata (element
/// or attribute form): fmt/476 for 2a, fmt/477 for 2b (the register's own letters), fmt/478
/// for 2u.
fn pdf_a2_conformance(bytes: &[u8]) -> Option<&'static str> {
    let find = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if !(find(b"pdfaid:part>2<") || find(b"pdfaid:part=\"2\"")) {
        return None;
    }
    let level = |l: &str| {
        find(format!("pdfaid:conformance>{l}<").as_bytes())
            || find(format!("pdfaid:conformance=\"{l}\"").as_bytes())
    };
    if level("A") {
        Some("fmt/476")
    } else if level("U") {
        Some("fmt/478")
    } else {
        Some("fmt/477")
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl Package {
    /// Refuses a package that lacks what the schema or the archives require, with every
    /// missing element named, in French.
    pub fn check(&self) -> Result<(), AppError> {
        let mut missing = Vec::new();
        let p = &self.parties;
        if p.identifier.trim().is_empty() {
            missing.push("l'identifiant du message (MessageIdentifier)".to_owned());
        }
        if p.archival_agency.trim().is_empty() {
            missing.push("le service d'archives destinataire (ArchivalAgency)".to_owned());
        }
        if p.siren.trim().is_empty() {
            missing.push("le SIREN de la commune (TransferringAgency)".to_owned());
        }
        if self.units.is_empty() {
            missing.push("au moins un élément à verser (ArchiveUnit)".to_owned());
        }
        for u in &self.units {
            if u.title.trim().is_empty() {
                missing.push(format!("l'objet de {} (Title)", u.chrono));
            }
            if u.chrono.trim().is_empty() {
                missing.push("le numéro chrono d'un élément (OriginatingSystemId)".to_owned());
            }
            for f in &u.files {
                let copy_ok = f.pdf_a.as_ref().is_none_or(|a| a.sha512.len() == 128);
                if f.filename.trim().is_empty() || f.sha512.len() != 128 || !copy_ok {
                    missing.push(format!(
                        "le nom ou l'empreinte SHA-512 d'un fichier de {}",
                        u.chrono
                    ));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AppError::invalid(format!(
                "versement refusé avant export, il manque : {}",
                missing.join(" ; ")
            )))
        }
    }

    /// The `ArchiveTransfer` message, after [`Package::check`].
    pub fn to_xml(&self) -> Result<String, AppError> {
        self.check()?;
        let p = &self.parties;
        let mut x = String::new();
        let date = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        // `write!` to a String cannot fail.
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ArchiveTransfer xmlns=\"{NAMESPACE}\">\n\
             <Comment>{}</Comment>\n\
             <Date>{}</Date>\n\
             <MessageIdentifier>{}</MessageIdentifier>\n\
             <CodeListVersions>\n<ReplyCodeListVersion>ReplyCodeListVersion0</ReplyCodeListVersion>\n\
             <MessageDigestAlgorithmCodeListVersion>MessageDigestAlgorithmCodeListVersion0</MessageDigestAlgorithmCodeListVersion>\n\
             <MimeTypeCodeListVersion>MimeTypeCodeListVersion0</MimeTypeCodeListVersion>\n\
             <FileFormatCodeListVersion>FileFormatCodeListVersion0</FileFormatCodeListVersion>\n\
             </CodeListVersions>\n<DataObjectPackage>\n",
            escape(&format!(
                "Versement du registre du courrier, commune : {}",
                p.commune_name
            )),
            p.date.to_rfc3339_opts(SecondsFormat::Secs, true),
            escape(&p.identifier),
        );
        // One group per file: several files of an item are several documents, not versions
        // of one (each is its group's BinaryMaster_1).
        for (u, unit) in self.units.iter().enumerate() {
            for (f, file) in unit.files.iter().enumerate() {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&file.bytes);
                let _ = write!(
                    x,
                    "<DataObjectGroup id=\"GRP{u}_{f}\">\n<BinaryDataObject id=\"BDO{u}_{f}\">\n\
                     <DataObjectVersion>BinaryMaster_1</DataObjectVersion>\n\
                     <Attachment filename=\"{}\">{encoded}</Attachment>\n\
                     <MessageDigest algorithm=\"SHA-512\">{}</MessageDigest>\n\
                     <Size>{}</Size>\n<FormatIdentification>\n<MimeType>{}</MimeType>\n",
                    escape(&file.filename),
                    file.sha512,
                    file.bytes.len(),
                    escape(&file.media_type),
                );
                if let Some(id) = pronom(&file.media_type, &file.bytes) {
                    let _ = writeln!(x, "<FormatId>{id}</FormatId>");
                }
                let _ = write!(
                    x,
                    "</FormatIdentification>\n<FileInfo>\n<Filename>{}</Filename>\n</FileInfo>\n\
                     </BinaryDataObject>\n",
                    escape(&file.filename)
                );
                if let Some(copy) = &file.pdf_a {
                    let name = escape(&file.pdf_a_name());
                    let _ = write!(
                        x,
                        "<BinaryDataObject id=\"BDO{u}_{f}_A\">\n\
                         <DataObjectVersion>BinaryMaster_2</DataObjectVersion>\n\
                         <Attachment filename=\"{name}\">{}</Attachment>\n\
                         <MessageDigest algorithm=\"SHA-512\">{}</MessageDigest>\n\
                         <Size>{}</Size>\n<FormatIdentification>\n<MimeType>application/pdf</MimeType>\n\
                         <FormatId>{}</FormatId>\n</FormatIdentification>\n\
                         <FileInfo>\n<Filename>{name}</Filename>\n</FileInfo>\n</BinaryDataObject>\n",
                        base64::engine::general_purpose::STANDARD.encode(&copy.bytes),
                        copy.sha512,
                        copy.bytes.len(),
                        pdf_a2_conformance(&copy.bytes).unwrap_or("fmt/477"),
                    );
                }
                x.push_str("</DataObjectGroup>\n");
            }
        }
        x.push_str("<DescriptiveMetadata>\n");
        for (u, unit) in self.units.iter().enumerate() {
            let final_action = match unit.final_action {
                FinalAction::Destroy => "Destroy",
                FinalAction::Keep | FinalAction::Sort => "Keep",
            };
            let _ = write!(
                x,
                "<ArchiveUnit id=\"AU{u}\">\n<Management>\n<AppraisalRule>\n\
                 <Rule>{}</Rule>\n<StartDate>{}</StartDate>\n<FinalAction>{final_action}</FinalAction>\n\
                 </AppraisalRule>\n<AccessRule>\n<Rule>{}</Rule>\n<StartDate>{}</StartDate>\n\
                 </AccessRule>\n</Management>\n<Content>\n<DescriptionLevel>{}</DescriptionLevel>\n\
                 <Title>{}</Title>\n<OriginatingSystemId>{}</OriginatingSystemId>\n",
                escape(&format!("APP{}Y", unit.retention_years)),
                date(unit.retention_start),
                // AccessRule codes of the French archives' referential: immediately
                // communicable, or 50 years for private life (Code du patrimoine L213-2).
                if unit.confidential {
                    "ACC00020"
                } else {
                    "ACC00001"
                },
                date(unit.registered),
                if unit.files.len() > 1 { "File" } else { "Item" },
                escape(&unit.title),
                escape(&unit.chrono),
            );
            if let Some(d) = &unit.description {
                let _ = writeln!(x, "<Description>{}</Description>", escape(d));
            }
            let _ = writeln!(
                x,
                "<DocumentType>{}</DocumentType>",
                escape(&unit.document_type)
            );
            let _ = write!(
                x,
                "<OriginatingAgency>\n<Identifier>{}</Identifier>\n</OriginatingAgency>\n",
                escape(&p.siren)
            );
            for a in &unit.addressees {
                let _ = writeln!(
                    x,
                    "<Addressee>\n<FullName>{}</FullName>\n</Addressee>",
                    escape(a)
                );
            }
            for s in &unit.senders {
                let _ = writeln!(x, "<Sender>\n<FullName>{}</FullName>\n</Sender>", escape(s));
            }
            if let Some(d) = unit.sent {
                let _ = writeln!(x, "<SentDate>{}</SentDate>", date(d));
            }
            if let Some(d) = unit.received {
                let _ = writeln!(x, "<ReceivedDate>{}</ReceivedDate>", date(d));
            }
            let _ = write!(
                x,
                "<RegisteredDate>{}</RegisteredDate>\n</Content>\n",
                date(unit.registered)
            );
            let reference = |x: &mut String, f: usize| {
                let _ = write!(
                    x,
                    "<DataObjectReference>\n<DataObjectGroupReferenceId>GRP{u}_{f}</DataObjectGroupReferenceId>\n\
                     </DataObjectReference>\n"
                );
            };
            match unit.files.len() {
                0 => {}
                1 => reference(&mut x, 0),
                // An item of several files: one child unit (a "pièce") per file.
                _ => {
                    for (f, file) in unit.files.iter().enumerate() {
                        let _ = write!(
                            x,
                            "<ArchiveUnit id=\"AU{u}_{f}\">\n<Content>\n<DescriptionLevel>Item</DescriptionLevel>\n\
                             <Title>{}</Title>\n</Content>\n",
                            escape(&file.filename)
                        );
                        reference(&mut x, f);
                        x.push_str("</ArchiveUnit>\n");
                    }
                }
            }
            x.push_str("</ArchiveUnit>\n");
        }
        let _ = write!(
            x,
            "</DescriptiveMetadata>\n<ManagementMetadata>\n\
             <OriginatingAgencyIdentifier>{siren}</OriginatingAgencyIdentifier>\n\
             <SubmissionAgencyIdentifier>{siren}</SubmissionAgencyIdentifier>\n\
             </ManagementMetadata>\n</DataObjectPackage>\n\
             <ArchivalAgency>\n<Identifier>{}</Identifier>\n</ArchivalAgency>\n\
             <TransferringAgency>\n<Identifier>{siren}</Identifier>\n</TransferringAgency>\n\
             </ArchiveTransfer>\n",
            escape(&p.archival_agency),
            siren = escape(&p.siren),
        );
        Ok(x)
    }
}

/// The `Acknowledgement` an archive service sends when a transfer arrives (the demo plays
/// the archives with it, and so do the tests).
pub fn acknowledgement_xml(
    identifier: &str,
    transfer: &str,
    date: DateTime<Utc>,
    archival_agency: &str,
    siren: &str,
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Acknowledgement xmlns=\"{NAMESPACE}\">\n<Date>{}</Date>\n\
         <MessageIdentifier>{}</MessageIdentifier>\n\
         <MessageReceivedIdentifier>{}</MessageReceivedIdentifier>\n\
         <Sender>\n<Identifier>{}</Identifier>\n</Sender>\n\
         <Receiver>\n<Identifier>{}</Identifier>\n</Receiver>\n</Acknowledgement>\n",
        date.to_rfc3339_opts(SecondsFormat::Secs, true),
        escape(identifier),
        escape(transfer),
        escape(archival_agency),
        escape(siren),
    )
}

/// The `ArchiveTransferReply` of an archive service (`code` "OK" accepts).
pub fn reply_xml(
    identifier: &str,
    transfer: &str,
    code: &str,
    date: DateTime<Utc>,
    archival_agency: &str,
    siren: &str,
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ArchiveTransferReply xmlns=\"{NAMESPACE}\">\n<Date>{date}</Date>\n\
         <MessageIdentifier>{}</MessageIdentifier>\n\
         <CodeListVersions>\n<ReplyCodeListVersion>ReplyCodeListVersion0</ReplyCodeListVersion>\n\
         </CodeListVersions>\n<ReplyCode>{}</ReplyCode>\n\
         <MessageRequestIdentifier>{}</MessageRequestIdentifier>\n<GrantDate>{date}</GrantDate>\n\
         <ArchivalAgency>\n<Identifier>{}</Identifier>\n</ArchivalAgency>\n\
         <TransferringAgency>\n<Identifier>{}</Identifier>\n</TransferringAgency>\n\
         </ArchiveTransferReply>\n",
        escape(identifier),
        escape(code),
        escape(transfer),
        escape(archival_agency),
        escape(siren),
        date = date.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// What the archives answered, read from their message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Acknowledgement`: the transfer arrived.
    Acknowledgement { identifier: String },
    /// `ArchiveTransferReply`: accepted (`OK` or an `OK…` code) or refused (any other).
    Reply {
        identifier: String,
        code: String,
        accepted: bool,
    },
}

/// The text of the first element named `name` (any namespace prefix), unescaped.
fn element_text(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let local = tag
            .split_whitespace()
            .next()
            .unwrap_or("")
            .rsplit(':')
            .next()
            .unwrap_or("");
        if local == name && !tag.starts_with('/') && !tag.ends_with('/') {
            let body = &rest[end + 1..];
            let close = body.find("</")?;
            let text = body[..close].trim();
            return Some(
                text.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            );
        }
    }
}

/// Reads an answer of the archives to the transfer `identifier`: an answer to another
/// message, or a message that is neither kind, is refused.
pub fn read_answer(xml: &str, identifier: &str) -> Result<Answer, AppError> {
    let root = xml
        .split('<')
        .map(str::trim)
        .find(|t| !t.is_empty() && !t.starts_with('?') && !t.starts_with('!'))
        .and_then(|t| t.split(|c: char| c.is_whitespace() || c == '>').next())
        .map(|t| t.rsplit(':').next().unwrap_or(t).to_owned())
        .unwrap_or_default();
    let about = match root.as_str() {
        "Acknowledgement" => element_text(xml, "MessageReceivedIdentifier"),
        "ArchiveTransferReply" => element_text(xml, "MessageRequestIdentifier"),
        _ => {
            return Err(AppError::invalid(
                "ce fichier n'est ni un accusé de réception (Acknowledgement) ni une réponse \
                 (ArchiveTransferReply) SEDA",
            ));
        }
    };
    if about.as_deref() != Some(identifier) {
        return Err(AppError::invalid(format!(
            "cette réponse concerne le message « {} », pas le versement « {identifier} »",
            about.unwrap_or_default()
        )));
    }
    let own = element_text(xml, "MessageIdentifier").unwrap_or_default();
    if root == "Acknowledgement" {
        return Ok(Answer::Acknowledgement { identifier: own });
    }
    let code = element_text(xml, "ReplyCode").unwrap_or_default();
    let accepted = code.starts_with("OK") || code == "000";
    Ok(Answer::Reply {
        identifier: own,
        code,
        accepted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registers_own_letters_are_identified_as_pdf_a() {
        let letter = parapheur_render::LetterDocument {
            commune_name: "Mairie de Montbazon".into(),
            subject: "Objet : essai".into(),
            generated_at: chrono::Utc::now(),
            ..Default::default()
        };
        let pdf = parapheur_render::letter_pdf(&letter).unwrap();
        // PDF/A-2b is fmt/477 in PRONOM (fmt/476 is 2a, fmt/478 is 2u).
        assert_eq!(pronom("application/pdf", &pdf), Some("fmt/477"));
        assert_eq!(pronom("application/pdf", b"%PDF-1.4 scan"), Some("fmt/276"));
        let declared = |level: &str| {
            format!(
                "%PDF-1.7 <pdfaid:part>2</pdfaid:part><pdfaid:conformance>{level}</pdfaid:conformance>"
            )
        };
        assert_eq!(
            pronom("application/pdf", declared("A").as_bytes()),
            Some("fmt/476")
        );
        assert_eq!(
            pronom("application/pdf", declared("U").as_bytes()),
            Some("fmt/478")
        );
        let file = |name: &str| File {
            filename: name.into(),
            media_type: "image/png".into(),
            bytes: Vec::new(),
            sha512: String::new(),
            pdf_a: None,
        };
        assert_eq!(file("scan.mairie.png").pdf_a_name(), "scan.mairie.pdf");
        assert_eq!(file("scan").pdf_a_name(), "scan.pdf");
        assert_eq!(file(".png").pdf_a_name(), ".png.pdf");
    }

    #[test]
    fn answers_are_read_and_matched_to_their_transfer() {
        let reply = "<?xml version=\"1.0\"?><ArchiveTransferReply xmlns=\"x\"><Date>2026-01-01T00:00:00Z</Date>\
            <MessageIdentifier>R-1</MessageIdentifier><ReplyCode>OK</ReplyCode>\
            <MessageRequestIdentifier>VERS-1</MessageRequestIdentifier></ArchiveTransferReply>";
        assert_eq!(
            read_answer(reply, "VERS-1").unwrap(),
            Answer::Reply {
                identifier: "R-1".into(),
                code: "OK".into(),
                accepted: true
            }
        );
        assert!(read_answer(reply, "VERS-2").is_err());
        assert!(read_answer("<Other/>", "VERS-1").is_err());
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot; ");
    }
}
