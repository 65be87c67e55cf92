//! The second factor that makes a signature its signer's own act: a TOTP code (RFC 6238)
//! from an authenticator application the signer enrolled themself. The secret is sealed
//! with the commune's key; a code is accepted once (its time step is remembered); an
//! administrator can only reset it visibly: journaled, the person told by email, their
//! signing key re-issued (signatures already made stay valid).

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::{Commune, Permission};
use parapheur_store::users::User;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

use crate::{Actor, App, AppError};

/// Seconds a code lasts.
const STEP: i64 = 30;
/// Steps before and after the current one still accepted (a phone's clock drifts).
const SKEW: i64 = 1;

/// What a person needs to enrol their authenticator application.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The secret in base32, to type by hand.
    pub secret: String,
    /// The `otpauth://` address the QR code carries.
    pub uri: String,
    /// The QR code, as SVG markup (no script, fine under the strict CSP).
    pub qr_svg: String,
}

fn seal_context(commune_id: Uuid, user_id: Uuid) -> String {
    format!("second-factor:{commune_id}:{user_id}")
}

fn totp(secret: Vec<u8>, commune: &Commune, user: &User) -> Result<TOTP, AppError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        STEP as u64,
        secret,
        Some(format!("Parapheur {}", commune.name).replace(':', " ")),
        user.email.replace(':', " "),
    )
    .map_err(|e| AppError::internal(format!("second facteur : {e}")))
}

/// The time step of `code` around `now`, if it is right.
fn matching_step(totp: &TOTP, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp().div_euclid(STEP);
    (current - SKEW..=current + SKEW)
        .find(|step| *step >= 0 && totp.check(&code, (*step * STEP) as u64))
}

impl App {
    /// Starts (or restarts) the enrolment of the person's own authenticator: a new secret,
    /// kept pending until [`App::confirm_second_factor`].
    #[boxed_future]
    pub async fn begin_second_factor(
        &self,
        commune: &Commune,
        user: &User,
    ) -> Result<Enrolment, AppError> {
        let mut secret = zeroize::Zeroizing::new([0u8; 20]);
        getrandom::fill(secret.as_mut())
            .map_err(|e| AppError::internal(format!("aléa indisponible : {e}")))?;
        let totp = totp(secret.to_vec(), commune, user)?;
        let key = self.data_key(commune.id).await?;
        let sealed = key.seal(secret.as_ref(), &seal_context(commune.id, user.id))?;
        self.store()
            .set_pending_second_factor(user.id, &sealed)
            .await?;
        let uri = totp.get_url();
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| AppError::internal(format!("code QR : {e}")))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(Enrolment {
            secret: totp.get_secret_base32(),
            uri,
            qr_svg,
        })
    }

    /// Confirms the pending secret with a first code from the application.
    #[boxed_future]
    pub async fn confirm_second_factor(
        &self,
        commune: &Commune,
        user: &User,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let stored = self.store().second_factor(user.id).await?;
        let Some(pending) = stored.pending_sealed else {
            return Err(AppError::invalid(
                "aucune inscription en cours : recommencez depuis le début",
            ));
        };
        let key = self.data_key(commune.id).await?;
        let secret = key.open(&pending, &seal_context(commune.id, user.id))?;
        let totp = totp(secret.to_vec(), commune, user)?;
        let step = matching_step(&totp, code, now).ok_or_else(|| {
            AppError::invalid_field("code", "ce code ne correspond pas : vérifiez l'heure du téléphone et saisissez le code affiché")
        })?;
        let mut tx = self.store().begin(now).await?;
        tx.confirm_second_factor(user, &pending, step, &Actor::User(user.id).journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enrols a known secret at once (the demo's élus, whose key the demo prints so that a
    /// visitor can add it to an authenticator application).
    pub(crate) async fn enrol_known_second_factor(
        &self,
        commune: &Commune,
        user: &User,
        secret_base32: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let secret = totp_rs::Secret::Encoded(secret_base32.to_owned())
            .to_bytes()
            .map_err(|e| AppError::internal(format!("clé de démonstration : {e:?}")))?;
        let key = self.data_key(commune.id).await?;
        let sealed = key.seal(&secret, &seal_context(commune.id, user.id))?;
        let mut tx = self.store().begin(now).await?;
        tx.confirm_second_factor(user, &sealed, 0, &Actor::System("demo").journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the person has enrolled a second factor.
    #[boxed_future]
    pub async fn has_second_factor(&self, user_id: Uuid) -> Result<bool, AppError> {
        Ok(self.store().second_factor(user_id).await?.sealed.is_some())
    }

    /// Checks a code of the person's second factor, once: the same code (time step) is
    /// refused the second time. Without an enrolled factor, refuses with how to enrol.
    #[boxed_future]
    pub async fn check_second_factor(
        &self,
        commune: &Commune,
        user: &User,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let stored = self.store().second_factor(user.id).await?;
        let Some(sealed) = stored.sealed else {
            return Err(AppError::Forbidden(
                "pour signer, activez d'abord la double authentification (menu « Mon compte »)"
                    .into(),
            ));
        };
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                AppError::invalid_field(
                    "code",
                    "saisissez le code à six chiffres de votre application d'authentification",
                )
            })?;
        let key = self.data_key(commune.id).await?;
        let secret = key.open(&sealed, &seal_context(commune.id, user.id))?;
        let totp = totp(secret.to_vec(), commune, user)?;
        let step = matching_step(&totp, code, now)
            .ok_or_else(|| AppError::invalid_field("code", "code d'authentification incorrect"))?;
        let mut tx = self.store().begin(now).await?;
        let fresh = tx.use_second_factor_step(user.id, step).await?;
        tx.commit().await?;
        if fresh {
            Ok(())
        } else {
            Err(AppError::invalid_field(
                "code",
                "ce code a déjà servi : attendez le suivant (30 secondes)",
            ))
        }
    }

    /// An administrator removes a person's second factor (a lost phone). Visible by
    /// design: journaled, the person told by email, their signing key re-issued so that
    /// nothing signed before can be confused with what follows (old signatures stay valid).
    #[boxed_future]
    pub async fn reset_second_factor(
        &self,
        commune: &Commune,
        actor: &Actor,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        let admin = self
            .authorize(commune, actor, Permission::Administer)
            .await?;
        let user = match &admin {
            Some(admin) => self.managed_user(commune, admin, user_id).await?,
            None => {
                let user = self.store().user(user_id).await?;
                if user.commune_id != commune.id {
                    return Err(parapheur_store::StoreError::not_found("utilisateur").into());
                }
                user
            }
        };
        let mut tx = self.store().begin(now).await?;
        tx.reset_second_factor(&user, &actor.journal_name()).await?;
        tx.commit().await?;
        let had_key = self
            .store()
            .signing_key(
                commune.id,
                parapheur_store::parapheur::KeyKind::Person,
                Some(user.id),
            )
            .await?
            .is_some();
        if had_key {
            self.issue_signer_key(
                commune,
                &Actor::System("second-factor-reset"),
                user.id,
                None,
                now,
            )
            .await?;
        }
        let who = admin.as_ref().map_or_else(
            || "l'administrateur du serveur".to_owned(),
            |a| a.display_name.clone(),
        );
        let text = format!(
            "Bonjour {},\n\nLa double authentification de votre compte ({}) a été réinitialisée par {who} le {}.{}\n\nPour signer de nouveau, activez-la depuis « Mon compte ». Si vous n'avez rien demandé, prévenez le maire ou le secrétariat de mairie sans attendre.\n",
            user.display_name,
            user.email,
            now.format("%d/%m/%Y à %H:%M UTC"),
            if had_key {
                " Votre certificat de signature a été renouvelé ; vos signatures déjà faites restent valables."
            } else {
                ""
            },
        );
        let message = self.notice_to(
            commune,
            &user,
            format!(
                "Mairie de {} : double authentification réinitialisée",
                commune.name
            ),
            text,
        );
        let email = self
            .prepare_email(commune, None, "second_factor_reset", &message, None, now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        self.queue_email(&mut tx, &email).await?;
        tx.commit().await?;
        self.outbox_queued();
        Ok(user)
    }
}

/// The code an authenticator shows at `at` for a base32 secret (tests, the demo's
/// instructions).
pub fn code_at(secret_base32: &str, at: DateTime<Utc>) -> Option<String> {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .ok()?;
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        0,
        STEP as u64,
        secret,
        None,
        String::new(),
    );
    Some(totp.generate(at.timestamp().max(0) as u64))
}
