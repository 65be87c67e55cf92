//! The parapheur: a reply letter drafted from the commune's templates, its circuit of
//! visas and signatures (with delegation), PAdES signatures on its PDF, and its sending
//! by email or post, which registers the outgoing item and closes the incoming one.
//!
//! The circuit's rules live in `domain::circuit`; this module reads and writes folders,
//! signs the PDF (each signature an incremental update of the previous revision), and
//! journals every action with the folder's state before and after, so the *bordereau de
//! signature* is read back from the journal.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use parapheur_domain::circuit::{
    Action, Circuit, CircuitDef, CircuitStatus, Delegation, Permit, StepKind, delegation_mention,
};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::item::{Channel, Direction, NewItem};
use parapheur_domain::{CloseReason, Commune, Item, Status, french, reply_template};
use parapheur_render::{LetterDocument, LetterSection, Logo, LogoFormat, SignatureZone};
use parapheur_signing::{SignOptions, SignerKey, Stamp, VerifyReport};
use parapheur_smtp::{Attachment as MailAttachment, OutgoingMessage};
use parapheur_store::parapheur::{CircuitTemplateRow, DelegationRow, FolderRow, FolderState};
use parapheur_store::users::User;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::lifecycle::Change;
use crate::register::{NewFile, Registered, register_in};
use crate::{Actor, App, AppError, Party};

/// The version of what `folders.circuit_json` holds.
const FOLDER_DATA_VERSION: u32 = 1;

/// What a folder keeps besides its columns: its circuit and where its stamps go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FolderData {
    pub v: u32,
    pub circuit: Option<Circuit>,
    /// The blank zone the letter's layout left under the signature block.
    pub zone: Option<SignatureZone>,
}

impl FolderData {
    pub fn of_row(folder: &FolderRow) -> Result<FolderData, AppError> {
        match &folder.circuit_json {
            None => Ok(FolderData {
                v: FOLDER_DATA_VERSION,
                ..FolderData::default()
            }),
            Some(text) => {
                let data: FolderData = serde_json::from_str(text)
                    .map_err(|e| AppError::invalid(format!("circuit illisible : {e}")))?;
                if data.v != FOLDER_DATA_VERSION {
                    return Err(AppError::invalid(format!(
                        "circuit au format {} : mettez parapheur à jour",
                        data.v
                    )));
                }
                Ok(data)
            }
        }
    }

    fn to_json(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

/// What the author writes: the letter's subject, address block and text, and whose
/// signature block it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LetterInput {
    pub subject: String,
    pub recipient: String,
    pub body: String,
    pub signer_id: Option<Uuid>,
}

/// How a signed letter leaves the mairie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendBy {
    /// The signed PDF attached to an email to the correspondent.
    Email,
    /// Printed and posted; the registered letter's number when there is one.
    Post { registered_number: Option<String> },
}

/// One line of the *bordereau de signature*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitEvent {
    pub at: DateTime<Utc>,
    pub who: String,
    pub what: String,
}

fn signing_error(e: impl std::fmt::Display) -> AppError {
    AppError::invalid(e.to_string())
}

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
    pub async fn draft_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        item_id: Uuid,
        template_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        let now = now.trunc_subsecs(6);
        let Some(author_id) = actor.user_id() else {
            return Err(AppError::invalid("un courrier est rédigé par une personne"));
        };
        let item = self.store().item(commune.id, item_id).await?;
        if item.direction != Direction::Incoming {
            return Err(AppError::invalid("on répond à un courrier reçu"));
        }
        let values = self.template_values(commune, actor, &item, now).await?;
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
                    values
                        .get("contact.civilite")
                        .filter(|c| !c.is_empty())
                        .cloned()
                        .unwrap_or_else(|| "Madame, Monsieur".to_owned()),
                    values
                        .get("contact.civilite")
                        .filter(|c| !c.is_empty())
                        .cloned()
                        .unwrap_or_else(|| "Madame, Monsieur".to_owned()),
                ),
            ),
        };
        let recipient = match self.sender_of(commune, &item).await? {
            Some(contact) => crate::citizens::address_block(&contact).join("\n"),
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
    pub async fn save_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        input: &LetterInput,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
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
    async fn render_folder(
        &self,
        commune: &Commune,
        folder: &mut FolderRow,
        item: Option<&Item>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let doc = self.letter_document(commune, folder, item, now).await?;
        let (pdf, zone) = tokio::task::spawn_blocking(move || {
            lay_out(doc, parapheur_render::letter_pdf_with_zone)
        })
        .await
        .map_err(|e| AppError::Config(format!("mise en page interrompue : {e}")))?
        .map_err(|e| AppError::Config(e.to_string()))?;
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

    /// The commune's letterhead (address, phone, email, free text) and logo.
    pub(crate) async fn letterhead(
        &self,
        commune: &Commune,
    ) -> Result<(Vec<String>, Option<Logo>), AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let mut lines: Vec<String> = settings
            .address
            .iter()
            .flat_map(|a| a.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        lines.extend(settings.phone.iter().map(|p| format!("Tél. {p}")));
        lines.extend(settings.email.iter().cloned());
        lines.extend(
            settings
                .letterhead
                .iter()
                .flat_map(|l| l.lines().map(str::to_owned).collect::<Vec<_>>()),
        );
        let logo = match (&settings.logo_sha256, settings.logo_type.as_deref()) {
            (Some(sha), Some(kind)) => {
                let format = match kind {
                    "image/png" => Some(LogoFormat::Png),
                    "image/jpeg" => Some(LogoFormat::Jpeg),
                    _ => None,
                };
                match format {
                    Some(format) => Some(Logo {
                        bytes: self.read_file(commune.id, sha).await?,
                        format,
                    }),
                    None => None,
                }
            }
            _ => None,
        };
        Ok((lines, logo))
    }

    async fn letter_document(
        &self,
        commune: &Commune,
        folder: &FolderRow,
        item: Option<&Item>,
        now: DateTime<Utc>,
    ) -> Result<LetterDocument, AppError> {
        let (letterhead, logo) = self.letterhead(commune).await?;
        let today = local_date(now, &commune.departement);
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

    /// The circuit of the folder's document type, else the commune's first circuit.
    pub async fn default_circuit(
        &self,
        commune: &Commune,
        doctype: Option<&str>,
    ) -> Result<Option<CircuitDef>, AppError> {
        let templates = self.store().circuit_templates(commune.id).await?;
        let chosen = templates
            .iter()
            .find(|t| doctype.is_some() && t.doctype_code.as_deref() == doctype)
            .or_else(|| templates.iter().find(|t| t.doctype_code.is_none()))
            .or(templates.first());
        chosen
            .map(|t| {
                serde_json::from_str(&t.definition_json).map_err(|e| {
                    AppError::invalid(format!("circuit « {} » illisible : {e}", t.name))
                })
            })
            .transpose()
    }

    /// The commune's maire: the elected user titled "Maire", else the first elected user.
    pub async fn mayor(&self, commune: &Commune) -> Result<Option<User>, AppError> {
        let users = self.store().users(commune.id).await?;
        let elected = || {
            users
                .iter()
                .filter(|u| u.active && u.role == parapheur_domain::Role::Elu)
        };
        Ok(elected()
            .find(|u| {
                u.title
                    .as_deref()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("maire"))
            })
            .or_else(|| elected().next())
            .cloned())
    }

    /// Saves a named circuit (the default of `doctype_code` when set).
    #[allow(clippy::too_many_arguments)]
    pub async fn save_circuit_template(
        &self,
        commune: &Commune,
        actor: &Actor,
        code: &str,
        name: &str,
        doctype_code: Option<&str>,
        def: &CircuitDef,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let code = code.trim();
        if !parapheur_domain::doctype::is_valid_code(code) {
            return Err(AppError::invalid(
                "code de circuit invalide : lettres minuscules, chiffres et tirets",
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("le nom compte de 1 à 100 caractères"));
        }
        def.validate().map_err(signing_error)?;
        self.check_circuit_users(commune, def).await?;
        let existing = self
            .store()
            .circuit_templates(commune.id)
            .await?
            .into_iter()
            .find(|t| t.code == code);
        let row = CircuitTemplateRow {
            id: existing.map_or_else(Uuid::now_v7, |t| t.id),
            commune_id: commune.id,
            code: code.to_owned(),
            name: name.to_owned(),
            doctype_code: doctype_code.filter(|d| !d.is_empty()).map(str::to_owned),
            definition_json: serde_json::to_string(def).unwrap_or_default(),
        };
        let mut tx = self.store().begin(now).await?;
        tx.save_circuit_template(&row, now, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every person of a circuit is an active user of the commune who may act in it.
    async fn check_circuit_users(
        &self,
        commune: &Commune,
        def: &CircuitDef,
    ) -> Result<(), AppError> {
        for id in def.users() {
            let user = self.store().user(id).await.map_err(|_| {
                AppError::invalid("une personne du circuit n'est pas de cette commune")
            })?;
            if user.commune_id != commune.id || !user.active {
                return Err(AppError::invalid(
                    "une personne du circuit n'est pas de cette commune",
                ));
            }
        }
        Ok(())
    }

    /// Puts a draft into its circuit: the letter is laid out afresh (a refused letter's
    /// earlier signatures are dropped with it), the first stage's people are told.
    pub async fn start_circuit(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        def: &CircuitDef,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        let now = now.trunc_subsecs(6);
        let before = self.store().folder(commune.id, folder_id).await?;
        if !matches!(before.state, FolderState::Draft | FolderState::Rejected) {
            return Err(AppError::invalid("ce courrier est déjà dans son circuit"));
        }
        self.check_circuit_users(commune, def).await?;
        let circuit = Circuit::start(def).map_err(signing_error)?;
        let mut after = before.clone();
        let item = match before.item_id {
            Some(id) => Some(self.store().item(commune.id, id).await?),
            None => None,
        };
        if before.state == FolderState::Rejected {
            self.render_folder(commune, &mut after, item.as_ref(), now)
                .await?;
        }
        let mut data = FolderData::of_row(&after)?;
        data.circuit = Some(circuit.clone());
        after.circuit_json = data.to_json();
        after.state = FolderState::Circuit;
        after.version += 1;
        after.updated_at = now;
        let mut tx = self.store().begin(now).await?;
        tx.update_folder(
            &before,
            &after,
            &actor.journal_name(),
            "folder.circuit_started",
            Some(serde_json::json!({ "circuit": def })),
        )
        .await?;
        tx.commit().await?;
        if let Some(item) = item {
            self.move_item(commune, actor, &item, &[Status::InCircuit], now)
                .await?;
        }
        // A circuit that starts with the seal is sealed at once.
        let after = self.apply_due_seals(commune, actor, after, now).await?;
        self.notify_circuit(commune, &after, &circuit.waiting_on(), now)
            .await?;
        Ok(after)
    }

    /// The delegations in force for the commune, as the circuit rules read them.
    async fn delegations_in_force(
        &self,
        commune: &Commune,
        today: NaiveDate,
    ) -> Result<Vec<Delegation>, AppError> {
        Ok(self
            .store()
            .delegations(commune.id, today)
            .await?
            .into_iter()
            .map(|d| Delegation {
                from_user: d.from_user,
                to_user: d.to_user,
                starts_on: d.starts_on,
                ends_on: d.ends_on,
                doctypes: d.doctypes,
            })
            .collect())
    }

    /// The folders waiting for this user's action, own steps and delegated ones.
    pub async fn folders_waiting_for(
        &self,
        commune: &Commune,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Vec<(FolderRow, Option<Uuid>)>, AppError> {
        let today = local_date(now, &commune.departement);
        let delegations = self.delegations_in_force(commune, today).await?;
        let mut out = Vec::new();
        for folder in self
            .store()
            .folders_in(commune.id, &[FolderState::Circuit], 500)
            .await?
        {
            let Some(circuit) = FolderData::of_row(&folder)?.circuit else {
                continue;
            };
            for action in [Action::Sign, Action::Approve] {
                if let Ok(permit) = circuit.permit(
                    user.id,
                    false,
                    &action,
                    None,
                    &delegations,
                    folder.doctype_code.as_deref(),
                    today,
                ) {
                    out.push((folder.clone(), permit.on_behalf_of));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Does `action` on the folder as `actor`: a visa, a signature (the PDF is signed with
    /// the actor's key, the stamp saying for whom when by delegation), a refusal back to
    /// the author, a transfer, an opinion asked or given, or a bypass by an administrator.
    /// A due seal is applied at once. Nothing is stored unless everything succeeded.
    pub async fn act_on_folder(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        action: Action,
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        let now = now.trunc_subsecs(6);
        let Some(user_id) = actor.user_id() else {
            return Err(AppError::invalid(
                "une action du circuit est faite par une personne",
            ));
        };
        let user = self.store().user(user_id).await?;
        if user.commune_id != commune.id || !user.active {
            return Err(AppError::Forbidden(
                "utilisateur inconnu dans cette commune".into(),
            ));
        }
        if let Action::Transfer { to } | Action::AskOpinion { of: to } = &action {
            let target = self
                .store()
                .user(*to)
                .await
                .map_err(|_| AppError::invalid("cette personne n'est pas de la commune"))?;
            if target.commune_id != commune.id || !target.active {
                return Err(AppError::invalid("cette personne n'est pas de la commune"));
            }
        }
        let before = self.store().folder(commune.id, folder_id).await?;
        if before.state != FolderState::Circuit {
            return Err(AppError::invalid(match before.state {
                FolderState::Draft => "ce courrier n'est pas encore dans un circuit",
                FolderState::Rejected => "ce courrier a été refusé : il est revenu à son rédacteur",
                _ => "le circuit de ce courrier est terminé",
            }));
        }
        let mut data = FolderData::of_row(&before)?;
        let Some(mut circuit) = data.circuit.clone() else {
            return Err(AppError::invalid("ce courrier n'a pas de circuit"));
        };
        let today = local_date(now, &commune.departement);
        let delegations = self.delegations_in_force(commune, today).await?;
        let is_admin = user.role.can_administer();
        let permit = circuit
            .permit(
                user.id,
                is_admin,
                &action,
                None,
                &delegations,
                before.doctype_code.as_deref(),
                today,
            )
            .map_err(signing_error)?;
        let mut after = before.clone();
        if action == Action::Sign {
            let key = self.signer_key(commune, &user, pin, now).await?;
            let pdf = self.folder_pdf(commune, &before).await?;
            let absent = match permit.on_behalf_of {
                Some(id) => Some(self.store().user(id).await?),
                None => None,
            };
            let stamp = self.stamp(commune, &user, absent.as_ref(), &data, &circuit, now);
            let signed = self
                .sign_bytes(pdf, key, stamp, Some("Signature du courrier"), commune, now)
                .await?;
            self.store_pdf(commune, &mut after, &signed).await?;
        }
        let detail = serde_json::json!({
            "action": action.code(),
            "on_behalf_of": permit.on_behalf_of,
            "comment": match &action {
                Action::Reject { comment } | Action::Bypass { comment } => Some(comment.clone()),
                Action::AnswerOpinion { text } => Some(text.clone()),
                _ => None,
            },
        });
        let outcome = circuit
            .apply(&permit, user.id, action.clone(), now)
            .map_err(signing_error)?;
        data.circuit = Some(circuit.clone());
        after.circuit_json = data.to_json();
        after.state = folder_state(outcome.status);
        after.version += 1;
        after.updated_at = now;
        let mut tx = self.store().begin(now).await?;
        tx.update_folder(
            &before,
            &after,
            &actor.journal_name(),
            &format!("folder.{}", action.code()),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        if outcome.status == CircuitStatus::Rejected
            && let Some(item_id) = after.item_id
        {
            let item = self.store().item(commune.id, item_id).await?;
            if item.status == Status::InCircuit {
                self.change_item(
                    commune,
                    actor,
                    item_id,
                    Change::Status {
                        to: Status::InProgress,
                        reason: None,
                    },
                    now,
                )
                .await?;
            }
        }
        let after = self.apply_due_seals(commune, actor, after, now).await?;
        let waiting = match &action {
            Action::AskOpinion { of } => vec![*of],
            Action::Transfer { to } => vec![*to],
            _ => outcome.now_waiting_on.clone(),
        };
        self.notify_circuit(commune, &after, &waiting, now).await?;
        if matches!(after.state, FolderState::Rejected | FolderState::Signed) {
            self.notify_circuit(commune, &after, &[after.author_id], now)
                .await?;
        }
        Ok(after)
    }

    /// Signs several folders at once (the élu's "sign all"): each is done or refused on
    /// its own, with its reason.
    pub async fn sign_folders(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_ids: &[Uuid],
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Vec<(Uuid, Result<FolderRow, AppError>)> {
        let mut out = Vec::with_capacity(folder_ids.len());
        for id in folder_ids {
            let result = match self.store().folder(commune.id, *id).await {
                Ok(folder) => {
                    // A folder waiting for a visa gets the visa; one for a signature, signed.
                    let action = match FolderData::of_row(&folder)
                        .ok()
                        .and_then(|d| d.circuit)
                        .and_then(|c| c.current_stage().map(|s| (c, s)))
                    {
                        Some((c, stage))
                            if c.stages[stage].iter().any(|s| {
                                s.kind == StepKind::Visa
                                    && !s.state.is_done()
                                    && s.user_id == actor.user_id()
                            }) =>
                        {
                            Action::Approve
                        }
                        _ => Action::Sign,
                    };
                    self.act_on_folder(commune, actor, *id, action, pin, now)
                        .await
                }
                Err(e) => Err(e.into()),
            };
            out.push((*id, result));
        }
        out
    }

    /// Applies the commune's seal while a seal step is current.
    async fn apply_due_seals(
        &self,
        commune: &Commune,
        actor: &Actor,
        mut folder: FolderRow,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        loop {
            let mut data = FolderData::of_row(&folder)?;
            let Some(mut circuit) = data.circuit.clone() else {
                return Ok(folder);
            };
            if circuit.seal_due().is_none() || folder.state != FolderState::Circuit {
                return Ok(folder);
            }
            let today = local_date(now, &commune.departement);
            let system = Uuid::nil();
            let permit: Permit = circuit
                .permit(system, false, &Action::Seal, None, &[], None, today)
                .map_err(signing_error)?;
            let key = self.seal_key(commune, now).await?;
            let pdf = self.folder_pdf(commune, &folder).await?;
            let stamp = Stamp {
                lines: vec![
                    format!("Cachet de la mairie de {}", commune.name),
                    self.local_stamp_time(commune, now),
                ],
                image: None,
                page: data.zone.map(|z| z.page),
                rect: slot(data.zone, circuit.signatures_done()),
            };
            let signed = self
                .sign_bytes(
                    pdf,
                    key,
                    Some(stamp),
                    Some("Cachet de la commune"),
                    commune,
                    now,
                )
                .await?;
            let before = folder.clone();
            self.store_pdf(commune, &mut folder, &signed).await?;
            let outcome = circuit
                .apply(&permit, system, Action::Seal, now)
                .map_err(signing_error)?;
            data.circuit = Some(circuit);
            folder.circuit_json = data.to_json();
            folder.state = folder_state(outcome.status);
            folder.version += 1;
            folder.updated_at = now;
            let mut tx = self.store().begin(now).await?;
            tx.update_folder(
                &before,
                &folder,
                &actor.journal_name(),
                "folder.seal",
                Some(serde_json::json!({ "action": "seal" })),
            )
            .await?;
            tx.commit().await?;
            self.notify_circuit(commune, &folder, &outcome.now_waiting_on, now)
                .await?;
        }
    }

    fn local_stamp_time(&self, commune: &Commune, now: DateTime<Utc>) -> String {
        let local = now + chrono::Duration::minutes(utc_offset_minutes(now, &commune.departement));
        format!(
            "le {} à {}",
            french::long_date(local.date_naive()),
            french::time_of_day(local.time())
        )
    }

    /// What a signature's stamp says: who signed, their title, for whom, when.
    fn stamp(
        &self,
        commune: &Commune,
        signer: &User,
        absent: Option<&User>,
        data: &FolderData,
        circuit: &Circuit,
        now: DateTime<Utc>,
    ) -> Option<Stamp> {
        let mut lines = vec![format!("Signé par {}", signer.display_name)];
        if let Some(title) = &signer.title {
            lines.push(title.clone());
        }
        if let Some(absent) = absent {
            lines.push(delegation_mention(
                &absent.display_name,
                absent.title.as_deref().unwrap_or("titulaire"),
            ));
        }
        lines.push(self.local_stamp_time(commune, now));
        Some(Stamp {
            lines,
            image: None,
            page: data.zone.map(|z| z.page),
            rect: slot(data.zone, circuit.signatures_done()),
        })
    }

    /// Signs PDF bytes (time-stamped when a TSA is configured), off the async threads.
    async fn sign_bytes(
        &self,
        pdf: Vec<u8>,
        key: SignerKey,
        stamp: Option<Stamp>,
        reason: Option<&str>,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let options = SignOptions {
            field_name: None,
            reason: reason.map(str::to_owned),
            location: Some(commune.name.clone()),
            signer_name: Some(key.subject_common_name()),
            time: now,
            stamp,
            timestamper: self
                .tsa_url()
                .map(|url| Box::new(parapheur_signing::HttpTimeStamper::new(url)) as _),
        };
        tokio::task::spawn_blocking(move || parapheur_signing::sign_pdf(&pdf, &key, &options))
            .await
            .map_err(|e| AppError::Config(format!("signature interrompue : {e}")))?
            .map_err(signing_error)
    }

    async fn store_pdf(
        &self,
        commune: &Commune,
        folder: &mut FolderRow,
        pdf: &[u8],
    ) -> Result<(), AppError> {
        let key = self.data_key(commune.id).await?;
        let stored = self.files().put(&commune.id.to_string(), &key, pdf).await?;
        folder.pdf_sha256 = Some(stored.sha256);
        folder.pdf_size = i64::try_from(pdf.len()).ok();
        Ok(())
    }

    /// Tells people by email that a letter waits for them (or, for its author, that it was
    /// refused or fully signed).
    async fn notify_circuit(
        &self,
        commune: &Commune,
        folder: &FolderRow,
        users: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        for user_id in users {
            let Ok(user) = self.store().user(*user_id).await else {
                continue;
            };
            if user.commune_id != commune.id || !user.active {
                continue;
            }
            let url = format!("{}/parapheur/{}", self.public_url(), folder.id);
            let (subject, text) = match folder.state {
                FolderState::Rejected => (
                    format!("Courrier refusé : {}", folder.subject),
                    format!(
                        "Bonjour,\n\nLe courrier « {} » a été refusé dans son circuit. Le motif est indiqué sur sa page :\n{url}\n",
                        folder.subject
                    ),
                ),
                FolderState::Signed => (
                    format!("Courrier signé, à envoyer : {}", folder.subject),
                    format!(
                        "Bonjour,\n\nLe courrier « {} » est signé. Il reste à l'envoyer :\n{url}\n",
                        folder.subject
                    ),
                ),
                _ => (
                    format!("À viser ou signer : {}", folder.subject),
                    format!(
                        "Bonjour,\n\nLe courrier « {} » attend votre visa ou votre signature :\n{url}\n\nVous pouvez signer depuis votre téléphone.",
                        folder.subject
                    ),
                ),
            };
            let message = self.notice_to(commune, &user, subject, text);
            let email = self
                .prepare_email(
                    commune,
                    None,
                    "circuit",
                    &message,
                    Some(format!(
                        "circuit:{}:{}:{}",
                        folder.id, folder.version, user.id
                    )),
                    now,
                )
                .await?;
            let mut tx = self.store().begin(now).await?;
            let queued = self.queue_email(&mut tx, &email).await?;
            tx.commit().await?;
            if queued {
                self.outbox_queued();
            }
        }
        Ok(())
    }

    /// Sends a signed letter: by email (the signed PDF attached) or by post. Either way
    /// the outgoing item is registered with its own chrono number and the PDF, linked to
    /// the request, and the request is closed as answered.
    pub async fn send_letter(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        by: SendBy,
        now: DateTime<Utc>,
    ) -> Result<Registered, AppError> {
        let now = now.trunc_subsecs(6);
        let before = self.store().folder(commune.id, folder_id).await?;
        if before.state != FolderState::Signed {
            return Err(AppError::invalid(match before.state {
                FolderState::Sent => "ce courrier est déjà envoyé",
                _ => "ce courrier n'est pas encore signé",
            }));
        }
        let pdf = self.folder_pdf(commune, &before).await?;
        let filename = format!(
            "courrier-{}.pdf",
            before.id.simple().to_string().get(..8).unwrap_or("signe")
        );
        let item = match before.item_id {
            Some(id) => Some(self.store().item(commune.id, id).await?),
            None => None,
        };
        let sender = match &item {
            Some(item) => self.sender_of(commune, item).await?,
            None => None,
        };
        let channel;
        let mut after = before.clone();
        let email = match &by {
            SendBy::Email => {
                channel = Channel::Email;
                let to = sender
                    .as_ref()
                    .and_then(crate::citizens::contact_address)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "le correspondant n'a pas d'adresse électronique : envoyez par la poste",
                        )
                    })?;
                let settings = self.store().commune_settings(commune.id).await?;
                let reference = item
                    .as_ref()
                    .map(|i| format!(" [{}]", i.chrono))
                    .unwrap_or_default();
                let message = OutgoingMessage {
                    from: self.sender_address(commune),
                    to: vec![to],
                    reply_to: self.reply_to(commune, &settings),
                    subject: format!("{}{reference}", before.subject),
                    text: format!(
                        "Madame, Monsieur,\n\nVeuillez trouver ci-joint la réponse de la mairie de {}, signée électroniquement.\n\n--\nMairie de {}",
                        commune.name, commune.name
                    ),
                    html: None,
                    attachments: vec![MailAttachment {
                        filename: filename.clone(),
                        content_type: "application/pdf".to_owned(),
                        bytes: pdf.clone(),
                    }],
                    message_id: parapheur_smtp::new_message_id(&self.message_id_domain(commune)),
                    in_reply_to: None,
                    references: Vec::new(),
                    auto_submitted: false,
                };
                after.sent_via = Some("email".to_owned());
                Some(Box::new(
                    self.prepare_email(
                        commune,
                        item.as_ref().map(|i| i.id),
                        "letter",
                        &message,
                        None,
                        now,
                    )
                    .await?,
                ))
            }
            SendBy::Post { registered_number } => {
                channel = Channel::Paper;
                let number = registered_number
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty());
                if let Some(n) = number
                    && (n.chars().count() > 40
                        || !n
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-'))
                {
                    return Err(AppError::invalid(
                        "numéro de recommandé invalide : lettres, chiffres, espaces et tirets, 40 au plus",
                    ));
                }
                after.sent_via = Some("post".to_owned());
                after.registered_number = number.map(str::to_owned);
                None
            }
        };
        after.state = FolderState::Sent;
        after.sent_at = Some(now);
        after.version += 1;
        after.updated_at = now;
        let mut new = NewItem::incoming(
            channel,
            before.subject.clone(),
            local_date(now, &commune.departement),
        );
        new.direction = Direction::Outgoing;
        new.body = Some(before.body.clone());
        new.service_id = item.as_ref().and_then(|i| i.service_id);
        if let Some(number) = &after.registered_number {
            new.channel = Channel::Registered;
            new.registered_number = Some(number.clone());
        }
        let ready = self
            .ready_item(
                commune,
                new,
                sender.as_ref().map(|s| Party::Existing(s.id)),
                vec![NewFile {
                    filename,
                    media_type: "application/pdf".to_owned(),
                    bytes: pdf,
                }],
                now,
            )
            .await?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        if let Some(answers) = &item {
            tx.insert_link(
                commune.id,
                registered.item.id,
                answers.id,
                parapheur_domain::item::LinkKind::ReplyTo,
                &who,
            )
            .await?;
        }
        after.reply_item_id = Some(registered.item.id);
        let via = after.sent_via.clone();
        tx.update_folder(
            &before,
            &after,
            &who,
            "folder.sent",
            Some(serde_json::json!({ "via": via, "item": registered.item.chrono })),
        )
        .await?;
        let queued = match &email {
            Some(email) => tx.insert_outbox(&email.row).await?,
            None => false,
        };
        tx.commit().await?;
        self.registered(&registered);
        if queued {
            self.outbox_queued();
        }
        if let Some(item) = item {
            let item = self.store().item(commune.id, item.id).await?;
            self.move_item(
                commune,
                actor,
                &item,
                &[Status::ReplySent, Status::Closed],
                now,
            )
            .await?;
        }
        Ok(registered)
    }

    /// Moves an open item along `path` (each status in turn), going through "in progress"
    /// first when the item cannot reach the path's first status directly (a request still
    /// "registered" or "assigned" gets its answer too). A closed item is left alone.
    async fn move_item(
        &self,
        commune: &Commune,
        actor: &Actor,
        item: &Item,
        path: &[Status],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let Some(first) = path.first() else {
            return Ok(());
        };
        if !item.status.is_open() && item.status != Status::ReplySent {
            return Ok(());
        }
        let mut status = item.status;
        let mut steps: Vec<Status> = Vec::new();
        if !status.can_move_to(*first) && status != *first && status.can_move_to(Status::InProgress)
        {
            steps.push(Status::InProgress);
            status = Status::InProgress;
        }
        for next in path {
            if status == *next {
                continue;
            }
            if !status.can_move_to(*next) {
                break;
            }
            steps.push(*next);
            status = *next;
        }
        for to in steps {
            let reason = (to == Status::Closed).then_some(CloseReason::Answered);
            self.change_item(commune, actor, item.id, Change::Status { to, reason }, now)
                .await?;
        }
        Ok(())
    }

    /// Who did what on the folder, from the journal: the *bordereau de signature*.
    pub async fn circuit_history(
        &self,
        commune: &Commune,
        folder_id: Uuid,
    ) -> Result<Vec<CircuitEvent>, AppError> {
        let users: BTreeMap<String, User> = self
            .store()
            .users(commune.id)
            .await?
            .into_iter()
            .map(|u| (format!("user:{}", u.id), u))
            .collect();
        let name_of = |id: &serde_json::Value| -> Option<String> {
            let id = id.as_str()?;
            users
                .get(&format!("user:{id}"))
                .map(|u| u.display_name.clone())
        };
        let mut out = Vec::new();
        for entry in self
            .store()
            .journal_of(commune.id, "folder", &folder_id.to_string())
            .await?
        {
            let who = users
                .get(&entry.actor)
                .map(|u| match &u.title {
                    Some(t) => format!("{} ({t})", u.display_name),
                    None => u.display_name.clone(),
                })
                .unwrap_or_else(|| "Parapheur".to_owned());
            let after: serde_json::Value = entry
                .after
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let detail = &after["detail"];
            let mut what = match entry.action.as_str() {
                "folder.created" => "Courrier rédigé".to_owned(),
                "folder.edited" => "Courrier modifié".to_owned(),
                "folder.circuit_started" => "Circuit lancé".to_owned(),
                "folder.approve" => "Visa".to_owned(),
                "folder.sign" => "Signature".to_owned(),
                "folder.seal" => "Cachet de la commune apposé".to_owned(),
                "folder.reject" => "Refus".to_owned(),
                "folder.transfer" => "Étape transférée".to_owned(),
                "folder.ask_opinion" => "Avis demandé".to_owned(),
                "folder.answer_opinion" => "Avis donné".to_owned(),
                "folder.bypass" => "Étape contournée (administrateur)".to_owned(),
                "folder.sent" => "Courrier envoyé".to_owned(),
                other => other.to_owned(),
            };
            if let Some(name) = name_of(&detail["on_behalf_of"]) {
                what.push_str(&format!(" pour {name}, par délégation"));
            }
            if let Some(comment) = detail["comment"].as_str() {
                what.push_str(&format!(" : « {comment} »"));
            }
            if let Some(via) = detail["via"].as_str() {
                what.push_str(match via {
                    "email" => " par courriel",
                    _ => " par la poste",
                });
            }
            out.push(CircuitEvent {
                at: entry.at,
                who,
                what,
            });
        }
        Ok(out)
    }

    /// The *bordereau de signature* as a PDF: the letter, then every action of its circuit.
    pub async fn bordereau_pdf(
        &self,
        commune: &Commune,
        folder_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let folder = self.store().folder(commune.id, folder_id).await?;
        let events = self.circuit_history(commune, folder_id).await?;
        let (letterhead, logo) = self.letterhead(commune).await?;
        let offset = |at: DateTime<Utc>| {
            at + chrono::Duration::minutes(utc_offset_minutes(at, &commune.departement))
        };
        let report = match &folder.pdf_sha256 {
            Some(_) => {
                let pdf = self.folder_pdf(commune, &folder).await?;
                Some(self.verify_pdf(commune, pdf).await?)
            }
            None => None,
        };
        let mut sections = vec![LetterSection {
            heading: Some("Document".to_owned()),
            paragraphs: vec![format!(
                "« {} » — état : {}. Empreinte SHA-256 du PDF : {}",
                folder.subject,
                folder.state.label_fr(),
                folder.pdf_sha256.as_deref().unwrap_or("aucune")
            )],
            list: Vec::new(),
        }];
        sections.push(LetterSection {
            heading: Some("Circuit".to_owned()),
            paragraphs: Vec::new(),
            list: events
                .iter()
                .map(|e| {
                    let local = offset(e.at);
                    format!(
                        "{} à {} — {} — {}",
                        french::long_date(local.date_naive()),
                        french::time_of_day(local.time()),
                        e.who,
                        e.what
                    )
                })
                .collect(),
        });
        if let Some(report) = report {
            sections.push(LetterSection {
                heading: Some("Signatures du PDF".to_owned()),
                paragraphs: if report.signatures.is_empty() {
                    vec!["Aucune signature.".to_owned()]
                } else {
                    Vec::new()
                },
                list: report.signatures.iter().map(describe_signature).collect(),
            });
        }
        let doc = LetterDocument {
            commune_name: format!("Mairie de {}", commune.name),
            letterhead,
            logo,
            place_and_date: format!(
                "{}, le {}",
                commune.name,
                french::long_date(local_date(now, &commune.departement))
            ),
            recipient: Vec::new(),
            reference: None,
            subject: format!("Objet : {}", folder.subject),
            title: Some("Bordereau de signature".to_owned()),
            opening: None,
            sections,
            closing: None,
            signature: Vec::new(),
            footer: Some("Établi à partir du journal chaîné du registre".to_owned()),
            generated_at: now,
            signature_zone: false,
        };
        tokio::task::spawn_blocking(move || lay_out(doc, parapheur_render::letter_pdf))
            .await
            .map_err(|e| AppError::Config(format!("mise en page interrompue : {e}")))?
            .map_err(|e| AppError::Config(e.to_string()))
    }

    /// Checks the signatures of a PDF against the commune's certificates.
    pub async fn verify_pdf(
        &self,
        commune: &Commune,
        pdf: Vec<u8>,
    ) -> Result<VerifyReport, AppError> {
        let roots = self.trusted_roots(commune).await?;
        tokio::task::spawn_blocking(move || parapheur_signing::verify_pdf(&pdf, &roots))
            .await
            .map_err(|e| AppError::Config(format!("vérification interrompue : {e}")))?
            .map_err(signing_error)
    }

    /// Signs any PDF as a user of the commune, outside any circuit (`parapheur sign`).
    pub async fn sign_pdf_as(
        &self,
        commune: &Commune,
        email: &str,
        pin: Option<&str>,
        pdf: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, AppError> {
        let user = self
            .store()
            .user_by_email(commune.id, email)
            .await?
            .ok_or_else(|| {
                AppError::invalid(format!("aucun utilisateur « {email} » dans cette commune"))
            })?;
        if !user.active {
            return Err(AppError::invalid("ce compte est désactivé"));
        }
        let key = self.signer_key(commune, &user, pin, now).await?;
        let mut lines = vec![format!("Signé par {}", user.display_name)];
        lines.extend(user.title.clone());
        lines.push(self.local_stamp_time(commune, now));
        let stamp = Stamp {
            lines,
            image: None,
            page: None,
            rect: None,
        };
        self.sign_bytes(pdf, key, Some(stamp), None, commune, now)
            .await
    }

    /// Records that `to_user` signs for `from_user` between two dates (for some document
    /// types only, or all when the list is empty).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_delegation(
        &self,
        commune: &Commune,
        actor: &Actor,
        from_user: Uuid,
        to_user: Uuid,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        doctypes: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<DelegationRow, AppError> {
        let today = local_date(now, &commune.departement);
        let delegation = Delegation {
            from_user,
            to_user,
            starts_on,
            ends_on,
            doctypes: doctypes.clone(),
        };
        delegation.validate(today).map_err(signing_error)?;
        for id in [from_user, to_user] {
            let user = self.store().user(id).await?;
            if user.commune_id != commune.id || !user.active {
                return Err(AppError::invalid("cette personne n'est pas de la commune"));
            }
        }
        let known: Vec<String> = self
            .store()
            .doctypes(commune.id)
            .await?
            .into_iter()
            .map(|d| d.code)
            .collect();
        if let Some(unknown) = doctypes.iter().find(|d| !known.contains(d)) {
            return Err(AppError::UnknownDoctype(unknown.clone()));
        }
        let row = DelegationRow {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            from_user,
            to_user,
            starts_on,
            ends_on,
            doctypes,
            created_by: actor.user_id(),
            created_at: now.trunc_subsecs(6),
            revoked_at: None,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_delegation(&row, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn revoke_delegation(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let mut tx = self.store().begin(now).await?;
        tx.revoke_delegation(commune.id, id, now, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Where a letter is once its circuit is in `status`.
fn folder_state(status: CircuitStatus) -> FolderState {
    match status {
        CircuitStatus::InProgress => FolderState::Circuit,
        CircuitStatus::Rejected => FolderState::Rejected,
        CircuitStatus::Complete => FolderState::Signed,
    }
}

/// Lays a letter out; a logo typst cannot decode must not stop the mail, so the letter is
/// then laid out without it (and the administrator finds it in the log).
pub(crate) fn lay_out<T>(
    doc: LetterDocument,
    render: fn(&LetterDocument) -> Result<T, parapheur_render::RenderError>,
) -> Result<T, parapheur_render::RenderError> {
    render(&doc).or_else(|e| match doc.logo {
        Some(_) => {
            tracing::warn!(error = %e, "logo illisible : courrier mis en page sans logo");
            render(&LetterDocument { logo: None, ..doc })
        }
        None => Err(e),
    })
}

/// [`lay_out`] for a batch of letters of one commune (they share its logo).
pub(crate) fn lay_out_batch(
    docs: Vec<LetterDocument>,
    render: fn(&[LetterDocument]) -> Result<Vec<u8>, parapheur_render::RenderError>,
) -> Result<Vec<u8>, parapheur_render::RenderError> {
    render(&docs).or_else(|e| {
        if docs.iter().all(|d| d.logo.is_none()) {
            return Err(e);
        }
        tracing::warn!(error = %e, "logo illisible : courriers mis en page sans logo");
        let docs: Vec<LetterDocument> = docs
            .into_iter()
            .map(|d| LetterDocument { logo: None, ..d })
            .collect();
        render(&docs)
    })
}

/// Where the `n`-th stamp goes in the letter's signature zone: two side by side, then
/// two more above them would overlap the text, so from the third on the signing library
/// finds a free slot itself.
fn slot(zone: Option<SignatureZone>, n: usize) -> Option<[f32; 4]> {
    let zone = zone?;
    let [x1, y1, x2, y2] = zone.rect;
    let half = (x2 - x1) / 2.0;
    match n {
        0 => Some([x1 + half + 4.0, y1, x2, y2]),
        1 => Some([x1, y1, x1 + half - 4.0, y2]),
        _ => None,
    }
}

/// One signature of a verification report, in a sentence.
pub fn describe_signature(s: &parapheur_signing::SignatureReport) -> String {
    let mut text = format!("{} : signé par {}", s.field_name, s.signer);
    if let Some(t) = s.timestamp.or(s.time) {
        text.push_str(&format!(" le {}", t.format("%d/%m/%Y %H:%M UTC")));
    }
    text.push_str(if s.intact { ", intacte" } else { ", ALTÉRÉE" });
    text.push_str(if s.trusted {
        ", certificat reconnu"
    } else {
        ", certificat non reconnu"
    });
    if s.timestamp.is_some() {
        text.push_str(", horodatée");
    }
    if !s.changes_after.is_empty() {
        text.push_str(&format!(
            " ; modifié après la signature : {}",
            s.changes_after.join(", ")
        ));
    }
    if !s.problems.is_empty() {
        text.push_str(&format!(" ; {}", s.problems.join(", ")));
    }
    text
}
