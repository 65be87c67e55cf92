//! PAdES signatures on a folder's PDF: each signature an incremental update of the previous
//! revision, stamped in the zone the layout left, time-stamped when a TSA is configured.

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::circuit::{Action, Circuit, Permit, StepKind, delegation_mention};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::{Commune, french};
use parapheur_render::SignatureZone;
use parapheur_signing::{SignOptions, SignerKey, Stamp, VerifyReport};
use parapheur_store::parapheur::{FolderRow, FolderState};
use parapheur_store::users::User;
use uuid::Uuid;

use super::FolderData;
use super::circuits::folder_state;
use super::signing_error;
use crate::{Actor, App, AppError};

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

/// One signature of a verification report, in a sentence (French).
/// Times are read in `zone`, the commune's legal time.
pub fn describe_signature(
    s: &parapheur_signing::SignatureReport,
    zone: parapheur_domain::clock::Tz,
) -> String {
    let at = |t| parapheur_domain::clock::local_instant(t, zone);
    use parapheur_signing::SignatureKind;
    let what = match s.kind {
        SignatureKind::DocumentTimeStamp => "horodatage du document par",
        SignatureKind::Certification { .. } => "certifié par",
        SignatureKind::Approval => "signé par",
    };
    let mut text = format!("{} : {what} {}", s.field_name, s.signer);
    match (s.timestamp, s.date_proven()) {
        (Some(t), true) => text.push_str(&format!(" le {} (date prouvée par horodatage)", at(t))),
        (Some(t), false) => {
            text.push_str(&format!(" le {} selon un horodatage non reconnu", at(t)))
        }
        (None, _) => {
            if let Some(t) = s.time {
                text.push_str(&format!(
                    " le {} selon l'ordinateur du signataire (date non prouvée)",
                    at(t)
                ));
            }
        }
    }
    if let SignatureKind::Certification { permission } = s.kind {
        text.push_str(match permission {
            1 => ", certification interdisant toute modification",
            2 => ", certification autorisant le remplissage du formulaire et les signatures",
            _ => ", certification autorisant aussi les annotations",
        });
    }
    text.push_str(if s.intact && s.covers_revision {
        ", intacte"
    } else {
        ", ALTÉRÉE"
    });
    text.push_str(if s.trusted {
        ", certificat reconnu"
    } else {
        ", certificat non reconnu"
    });
    if !s.changes_after.is_empty() {
        text.push_str(&format!(
            " ; modifications interdites : {}",
            s.changes_after.join(", ")
        ));
    }
    if !s.allowed_changes.is_empty() {
        text.push_str(&format!(
            " ; ajouts permis depuis : {}",
            s.allowed_changes.join(", ")
        ));
    }
    let reasons: Vec<&str> = s
        .problems
        .iter()
        .chain(&s.trust_problems)
        .chain(&s.warnings)
        .map(String::as_str)
        .collect();
    if !reasons.is_empty() {
        text.push_str(&format!(" ; {}", reasons.join(", ")));
    }
    text.push_str(&format!(" — {}", s.verdict()));
    text
}

impl App {
    /// Signs several folders at once (the élu's "sign all"): each is done or refused on
    /// its own, with its reason. One code of the second factor covers the whole selection
    /// (it is one act); without a right code, nothing is signed.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn sign_folders<'a>(
        &'a self,
        commune: &Commune,
        actor: &Actor,
        folder_ids: &[Uuid],
        proof: super::SignerProof<'a>,
        now: DateTime<Utc>,
    ) -> Vec<(Uuid, Result<FolderRow, AppError>)> {
        // Each folder is authorized by `act_on_folder`; the second factor once, here.
        let factor = match self
            .signer_second_factor(commune, actor, proof.code, now)
            .await
        {
            Ok(()) => super::circuits::SecondFactor::Checked,
            Err(e) => {
                let message = e.to_string();
                return folder_ids
                    .iter()
                    .map(|id| (*id, Err(AppError::invalid_field("code", message.clone()))))
                    .collect();
            }
        };
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
                    self.act_on_folder_with(commune, actor, *id, action, proof.pin, factor, now)
                        .await
                }
                Err(e) => Err(e.into()),
            };
            out.push((*id, result));
        }
        out
    }

    /// The second factor of the person acting, for a signature.
    pub(super) async fn signer_second_factor(
        &self,
        commune: &Commune,
        actor: &Actor,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let Some(id) = actor.user_id() else {
            return Err(AppError::invalid(
                "une signature est faite par une personne",
            ));
        };
        let user = self.store().user(id).await?;
        self.check_second_factor(commune, &user, code, now).await
    }

    /// Applies the commune's seal while a seal step is current.
    pub(super) async fn apply_due_seals(
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
            let today = local_date(now, commune.zone());
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
            let answered = self
                .answered_item(commune, &folder, folder.state == FolderState::Signed)
                .await?;
            let signed = crate::webhooks::letter_signed(&before, &folder, answered.as_ref());
            // A seal right after a signature its signer may take back is taken back with it:
            // what it sets off waits as long.
            let event_key = signed.as_ref().map(crate::webhooks::Event::queue_key);
            let hold = match data.undo.as_mut() {
                Some(undo) if undo.until > now => {
                    undo.made.extend(folder.pdf_sha256.clone());
                    undo.events.extend(event_key.clone());
                    Some(undo.until)
                }
                _ => None,
            };
            if hold.is_some() {
                folder.circuit_json = data.to_json();
            }
            let mut tx = self.store().begin(now).await?;
            tx.update_folder(
                &before,
                &folder,
                &actor.journal_name(),
                "folder.seal",
                Some(serde_json::json!({ "action": "seal" })),
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
            self.notify_circuit(commune, &folder, &outcome.now_waiting_on, now, hold)
                .await?;
        }
    }

    fn local_stamp_time(&self, commune: &Commune, now: DateTime<Utc>) -> String {
        let local = now + chrono::Duration::minutes(utc_offset_minutes(now, commune.zone()));
        format!(
            "le {} à {}",
            french::long_date(local.date_naive()),
            french::time_of_day(local.time())
        )
    }

    /// What a signature's stamp says: who signed, their title, for whom, when.
    pub(super) fn stamp(
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
    pub(super) async fn sign_bytes(
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
            .map_err(|e| AppError::internal(format!("signature interrompue : {e}")))?
            .map_err(signing_error)
    }

    pub(super) async fn store_pdf(
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

    /// Checks the signatures of a PDF against the commune's certificates (signers) and
    /// the configured `tsa_ca` (time-stamps); certificates are judged at the date of a
    /// trusted time-stamp, else at `now`.
    #[boxed_future]
    pub async fn verify_pdf(
        &self,
        commune: &Commune,
        pdf: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<VerifyReport, AppError> {
        let anchors = parapheur_signing::TrustAnchors {
            signers: self.trusted_roots(commune).await?,
            time_stamping: self.tsa_anchors().to_vec(),
        };
        tokio::task::spawn_blocking(move || parapheur_signing::verify_pdf(&pdf, &anchors, now))
            .await
            .map_err(|e| AppError::internal(format!("vérification interrompue : {e}")))?
            .map_err(signing_error)
    }

    /// Signs any PDF as a user of the commune, outside any circuit (`parapheur sign`).
    #[boxed_future]
    pub async fn sign_pdf_as<'a>(
        &'a self,
        commune: &Commune,
        email: &str,
        proof: super::SignerProof<'a>,
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
        // Whoever runs the command signs in the person's name only with the person's code.
        self.check_second_factor(commune, &user, proof.code, now)
            .await?;
        let key = self.signer_key(commune, &user, proof.pin, now).await?;
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
}
