//! Drafting: a reply letter from the commune's templates, saved and laid out as a PDF with a
//! blank zone under the signature block for the stamps.

use crate::boxed_future;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::circuit::StepKind;
use parapheur_domain::clock::local_date;
use parapheur_domain::item::Direction;
use parapheur_domain::{Commune, Item, french, reply_template};
use parapheur_render::{LetterDocument, LetterSection};
use parapheur_store::parapheur::{FolderRow, FolderState};
use uuid::Uuid;

use super::FolderData;
use super::LetterInput;
use crate::{Actor, App, AppError};
use parapheur_render::{Job, Laid};

/// The letter's text split as the layout wants it: the salutation, the paragraphs, and
/// the closing formula (kept on the signature's page).
fn letter_sections(body: &str) -> (Option<String>, Vec<String>, Option<String>) {
    let mut paragraphs: Vec<String> = body
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let opening = match paragraphs.first() {
        Some(first) if reply_template::is_salutation(first) => Some(paragraphs.remove(0)),
        _ => None,
    };
    let closing = match paragraphs.last() {
        Some(last) if reply_template::is_closing_formula(last) => paragraphs.pop(),
        _ => None,
    };
    (opening, paragraphs, closing)
}

impl App {
    /// Drafts a reply letter to an incoming item, from a template when given: the text is
    /// filled with the item's, the correspondent's and the commune's values, then laid out.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn draft_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        template_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let Some(author_id) = actor.user_id() else {
            return Err(AppError::invalid("un courrier est rédigé par une personne"));
        };
        let item = self.store().item(commune.id, item_id).await?;
        if item.direction != Direction::Incoming {
            return Err(AppError::invalid("on répond à un courrier reçu"));
        }
        let values = self.template_values(commune, actor, &item, now).await?;
        // Already "Madame, Monsieur" when the civility is unknown.
        let salutation = french::salutation(values.get("contact.civilite").map(String::as_str));
        let (subject, body) = match template_code.filter(|c| !c.is_empty()) {
            Some(code) => {
                let template = self
                    .store()
                    .reply_template(commune.id, code)
                    .await?
                    .ok_or_else(|| AppError::invalid(format!("modèle inconnu « {code} »")))?;
                let fill = |text: &str| {
                    reply_template::fill(text, &values)
                        .map_err(|e| AppError::invalid(e.to_string()))
                };
                (
                    fill(&template.subject)?,
                    reply_template::letter_body(&fill(&template.body)?),
                )
            }
            None => (
                format!("Votre demande n° {}", item.chrono),
                format!(
                    "{},\n\n\n\nJe vous prie d'agréer, {}, l'expression de mes salutations distinguées.",
                    salutation, salutation,
                ),
            ),
        };
        let recipient = match self.sender_of(commune, &item).await? {
            Some(contact) => crate::letters::address_block(&contact).join("\n"),
            None => String::new(),
        };
        let circuit = self
            .default_circuit(commune, item.doctype_code.as_deref())
            .await?;
        let signer_id = circuit
            .as_ref()
            .and_then(|c| {
                c.stages
                    .iter()
                    .flatten()
                    .filter(|s| s.kind == StepKind::Signature)
                    .filter_map(|s| s.user_id)
                    .next_back()
            })
            .or(self.mayor(commune).await?.map(|u| u.id));
        let mut folder = FolderRow {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            item_id: Some(item.id),
            reply_item_id: None,
            doctype_code: item.doctype_code.clone(),
            template_code: template_code.map(str::to_owned),
            subject: subject.chars().take(200).collect(),
            recipient,
            body,
            signer_id,
            author_id,
            state: FolderState::Draft,
            circuit_json: None,
            pdf_sha256: None,
            pdf_size: None,
            version: 0,
            sent_via: None,
            registered_number: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        };
        self.render_folder(commune, &mut folder, Some(&item), now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.insert_folder(&folder, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(folder)
    }

    /// Saves the author's changes to a draft (or to a refused letter, which goes back to
    /// being a draft) and lays it out again.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn save_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        input: &LetterInput,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        let before = self.store().folder(commune.id, folder_id).await?;
        if !matches!(before.state, FolderState::Draft | FolderState::Rejected) {
            return Err(AppError::invalid(
                "ce courrier est dans son circuit ou signé : il ne se modifie plus",
            ));
        }
        let subject = input.subject.trim();
        if subject.is_empty() || subject.chars().count() > 200 {
            return Err(AppError::invalid("l'objet compte de 1 à 200 caractères"));
        }
        let body = input.body.trim();
        if body.is_empty() || body.chars().count() > 50_000 {
            return Err(AppError::invalid(
                "le texte compte de 1 à 50 000 caractères",
            ));
        }
        let recipient = input.recipient.trim();
        if recipient.lines().count() > 8 || recipient.chars().count() > 500 {
            return Err(AppError::invalid(
                "l'adresse tient en 8 lignes et 500 caractères au plus",
            ));
        }
        if let Some(signer) = input.signer_id {
            let user = self.store().user(signer).await?;
            if user.commune_id != commune.id || !user.active {
                return Err(AppError::invalid("signataire inconnu dans cette commune"));
            }
        }
        let mut after = before.clone();
        after.subject = subject.to_owned();
        after.body = body.to_owned();
        after.recipient = recipient.to_owned();
        after.signer_id = input.signer_id;
        after.state = FolderState::Draft;
        after.circuit_json = None;
        after.version += 1;
        after.updated_at = now;
        let item = match before.item_id {
            Some(id) => Some(self.store().item(commune.id, id).await?),
            None => None,
        };
        self.render_folder(commune, &mut after, item.as_ref(), now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.update_folder(
            &before,
            &after,
            &actor.journal_name(),
            "folder.edited",
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Lays the letter out and stores its PDF (unsigned) as the folder's document.
    pub(super) async fn render_folder(
        &self,
        commune: &Commune,
        folder: &mut FolderRow,
        item: Option<&Item>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let doc = self.letter_document(commune, folder, item, now).await?;
        let Laid { pdf, zone } = self.lay_out(Job::LetterWithZone(doc)).await?;
        let key = self.data_key(commune.id).await?;
        let stored = self
            .files()
            .put(&commune.id.to_string(), &key, &pdf)
            .await?;
        let mut data = FolderData::of_row(folder)?;
        data.zone = zone;
        folder.circuit_json = data.to_json();
        folder.pdf_sha256 = Some(stored.sha256);
        folder.pdf_size = i64::try_from(pdf.len()).ok();
        Ok(())
    }

    async fn letter_document(
        &self,
        commune: &Commune,
        folder: &FolderRow,
        item: Option<&Item>,
        now: DateTime<Utc>,
    ) -> Result<LetterDocument, AppError> {
        let (letterhead, logo) = self.letterhead(commune).await?;
        let today = local_date(now, commune.zone());
        let signer = match folder.signer_id {
            Some(id) => Some(self.store().user(id).await?),
            None => None,
        };
        let mut signature = Vec::new();
        if let Some(signer) = &signer {
            signature.push(signer.display_name.clone());
            if let Some(title) = &signer.title {
                signature.push(title.clone());
            }
        } else {
            signature.push(format!("Le maire de {}", commune.name));
        }
        let (opening, paragraphs, closing) = letter_sections(&folder.body);
        Ok(LetterDocument {
            commune_name: format!("Mairie de {}", commune.name),
            letterhead,
            logo,
            place_and_date: format!("{}, le {}", commune.name, french::long_date(today)),
            recipient: folder
                .recipient
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            reference: item.map(|i| {
                format!(
                    "Réf. : votre courrier n° {} du {}",
                    i.chrono,
                    french::long_date(i.arrival_date)
                )
            }),
            subject: format!("Objet : {}", folder.subject),
            title: None,
            opening,
            sections: vec![LetterSection {
                heading: None,
                paragraphs,
                list: Vec::new(),
            }],
            closing,
            signature,
            footer: None,
            generated_at: now,
            signature_zone: true,
        })
    }

    /// The folder's current PDF: the letter, with every signature made so far.
    #[boxed_future]
    pub async fn folder_pdf(
        &self,
        commune: &Commune,
        folder: &FolderRow,
    ) -> Result<Vec<u8>, AppError> {
        let sha = folder
            .pdf_sha256
            .as_deref()
            .ok_or_else(|| AppError::invalid("ce courrier n'a pas encore de PDF"))?;
        self.read_file(commune.id, sha).await
    }
}
