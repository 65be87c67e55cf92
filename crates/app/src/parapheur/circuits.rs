//! Circuits of visas and signatures: templates, the mayor's default circuit, delegations in
//! force, the folders waiting for someone, and each action journaled with the folder before
//! and after.

use crate::boxed_future;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use parapheur_domain::circuit::{Action, Circuit, CircuitDef, CircuitStatus, Delegation};
use parapheur_domain::clock::local_date;
use parapheur_domain::{Commune, Status};
use parapheur_store::parapheur::{CircuitTemplateRow, DelegationRow, FolderRow, FolderState};
use parapheur_store::users::User;
use uuid::Uuid;

use super::FolderData;
use super::signing_error;
use crate::register::lifecycle::Change;
use crate::{Actor, App, AppError};

/// Where a letter is once its circuit is in `status`.
pub(super) fn folder_state(status: CircuitStatus) -> FolderState {
    match status {
        CircuitStatus::InProgress => FolderState::Circuit,
        CircuitStatus::Rejected => FolderState::Rejected,
        CircuitStatus::Complete => FolderState::Signed,
    }
}

impl App {
    /// The circuit of the folder's document type, else the commune's first circuit.
    #[boxed_future]
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
    #[boxed_future]
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
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
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
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
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
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn start_circuit(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        def: &CircuitDef,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
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
        self.notify_circuit(commune, &after, &circuit.waiting_on(), now, None)
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
    #[boxed_future]
    pub async fn folders_waiting_for(
        &self,
        commune: &Commune,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Vec<(FolderRow, Option<Uuid>)>, AppError> {
        let today = local_date(now, commune.zone());
        let delegations = self.delegations_in_force(commune, today).await?;
        let mut out = Vec::new();
        for folder in self
            .store()
            .folders_in(commune.id, &[FolderState::Circuit], None, 500)
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
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn act_on_folder<'a>(
        &'a self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        action: Action,
        proof: super::SignerProof<'a>,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.act_on_folder_with(
            commune,
            actor,
            folder_id,
            action,
            proof.pin,
            SecondFactor::Code(proof.code),
            now,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn act_on_folder_with(
        &self,
        commune: &Commune,
        actor: &Actor,
        folder_id: Uuid,
        action: Action,
        pin: Option<&str>,
        factor: SecondFactor<'_>,
        now: DateTime<Utc>,
    ) -> Result<FolderRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Member)
            .await?;
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
        let today = local_date(now, commune.zone());
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
        // Any new act on the letter makes the signature before it final.
        data.undo = None;
        if action == Action::Sign {
            // The person may sign this step: now their second factor, once.
            if let SecondFactor::Code(code) = factor {
                self.check_second_factor(commune, &user, code, now).await?;
            }
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
            data.undo = Some(super::SignatureUndo {
                by: user.id,
                until: now + chrono::Duration::seconds(super::SIGNATURE_UNDO_SECONDS),
                pdf_sha256: before.pdf_sha256.clone(),
                pdf_size: before.pdf_size,
                circuit: circuit.clone(),
                made: after.pdf_sha256.iter().cloned().collect(),
                events: Vec::new(),
            });
        }
        let hold = data.undo.as_ref().map(|u| u.until);
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
        let answered = self
            .answered_item(commune, &after, after.state == FolderState::Signed)
            .await?;
        let signed = crate::webhooks::letter_signed(&before, &after, answered.as_ref());
        let event_key = signed.as_ref().map(crate::webhooks::Event::queue_key);
        if let (Some(key), Some(undo)) = (&event_key, data.undo.as_mut()) {
            undo.events.push(key.clone());
            data.circuit = Some(circuit.clone());
            after.circuit_json = data.to_json();
        }
        let mut tx = self.store().begin(now).await?;
        tx.update_folder(
            &before,
            &after,
            &actor.journal_name(),
            &format!("folder.{}", action.code()),
            Some(detail),
        )
        .await?;
        if let Some(event) = signed {
            crate::webhooks::queue_event(&mut tx, commune, event, now).await?;
            if let (Some(key), Some(until)) = (&event_key, hold) {
                tx.hold_webhook_event(commune.id, key, &until).await?;
            }
        }
        tx.commit().await?;
        self.webhooks_queued();
        if outcome.status == CircuitStatus::Rejected
            && let Some(item_id) = after.item_id
        {
            let item = self.store().item(commune.id, item_id).await?;
            if item.status == Status::InCircuit {
                self.change_item_as_consequence(
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
        self.notify_circuit(commune, &after, &waiting, now, hold)
            .await?;
        if matches!(after.state, FolderState::Rejected | FolderState::Signed) {
            self.notify_circuit(commune, &after, &[after.author_id], now, hold)
                .await?;
        }
        Ok(after)
    }

    /// Tells people by email that a letter waits for them (or, for its author, that it was
    /// refused or fully signed); the emails wait in the queue until `hold` when set (a
    /// signature its signer may still take back).
    pub(super) async fn notify_circuit(
        &self,
        commune: &Commune,
        folder: &FolderRow,
        users: &[Uuid],
        now: DateTime<Utc>,
        hold: Option<DateTime<Utc>>,
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
            let mut email = self
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
            if let Some(until) = hold {
                email.row.next_attempt_at = until;
            }
            let mut tx = self.store().begin(now).await?;
            let queued = self.queue_email(&mut tx, &email).await?;
            tx.commit().await?;
            if queued {
                self.outbox_queued();
            }
        }
        Ok(())
    }

    /// Records that `to_user` signs for `from_user` between two dates (for some document
    /// types only, or all when the list is empty).
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
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
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let today = local_date(now, commune.zone());
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

    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn revoke_delegation(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.revoke_delegation(commune.id, id, now, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether the signer's second factor is still to be checked for this action.
#[derive(Debug, Clone, Copy)]
pub(super) enum SecondFactor<'a> {
    /// This code, checked (once) just before signing.
    Code(Option<&'a str>),
    /// Already checked for the whole selection ([`App::sign_folders`]).
    Checked,
}
