//! Administration of a commune (its letterhead, services, users and document types) and of
//! the installation (its communes). Every change goes through one transaction and leaves a
//! journal entry with the state before and after.

pub mod auth;
pub mod password;
pub mod setup;

use chrono::{DateTime, Utc};
use parapheur_domain::contact::{normalize_email, normalize_phone};
use parapheur_domain::doctype::DocumentType;
use parapheur_domain::{Commune, Role};
use parapheur_store::communes::CommuneSettings;
use parapheur_store::services::Service;
use parapheur_store::users::User;
use uuid::Uuid;

use crate::{Actor, App, AppError, NewUser};

/// A logo is printed small on letters: a few hundred KB is plenty.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

/// The commune's contact details and letterhead as typed in the form.
#[derive(Debug, Clone, Default)]
pub struct SettingsForm {
    pub address: String,
    pub phone: String,
    pub email: String,
    pub letterhead: String,
    pub logo: LogoChange,
}

#[derive(Debug, Clone, Default)]
pub enum LogoChange {
    #[default]
    Keep,
    Remove,
    /// A PNG or JPEG, already identified from its bytes.
    Replace {
        bytes: Vec<u8>,
        media_type: String,
    },
}

/// What an administrator may change about a user.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub display_name: String,
    pub title: Option<String>,
    pub role: Role,
    pub service_id: Option<Uuid>,
    pub active: bool,
    pub host_admin: bool,
}

/// An account just created, with the link its owner uses to choose a password.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user: User,
    pub token: String,
}

fn optional(text: &str, max: usize, what: &str) -> Result<Option<String>, AppError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(AppError::invalid(format!(
            "{what} : {max} caractères au plus"
        )));
    }
    Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
}

fn required(text: &str, max: usize, what: &str) -> Result<String, AppError> {
    optional(text, max, what)?.ok_or_else(|| AppError::invalid(format!("{what} est obligatoire")))
}

fn optional_email(text: &str) -> Result<Option<String>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    normalize_email(text)
        .map(Some)
        .ok_or_else(|| AppError::invalid(format!("adresse électronique invalide « {text} »")))
}

fn optional_phone(text: &str) -> Result<Option<String>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    normalize_phone(text)
        .map(|_| Some(text.to_owned()))
        .ok_or_else(|| AppError::invalid(format!("numéro de téléphone invalide « {text} »")))
}

impl App {
    /// Saves the commune's contact details, letterhead and logo. A new logo is written to
    /// the file store before the transaction that points to it.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    pub async fn update_commune_settings(
        &self,
        commune: &Commune,
        actor: &Actor,
        form: SettingsForm,
        now: DateTime<Utc>,
    ) -> Result<CommuneSettings, AppError> {
        let before = self.store().commune_settings(commune.id).await?;
        let mut after = CommuneSettings {
            address: optional(&form.address, 500, "l'adresse")?,
            phone: optional_phone(&form.phone)?,
            email: optional_email(&form.email)?,
            letterhead: optional(&form.letterhead, 2000, "l'en-tête")?,
            logo_sha256: before.logo_sha256.clone(),
            logo_type: before.logo_type.clone(),
        };
        match form.logo {
            LogoChange::Keep => {}
            LogoChange::Remove => {
                after.logo_sha256 = None;
                after.logo_type = None;
            }
            LogoChange::Replace { bytes, media_type } => {
                if !matches!(media_type.as_str(), "image/png" | "image/jpeg") {
                    return Err(AppError::invalid("le logo doit être une image PNG ou JPEG"));
                }
                if bytes.len() > MAX_LOGO_BYTES {
                    return Err(AppError::invalid(format!(
                        "le logo pèse {} Ko : {} Ko au plus",
                        bytes.len() / 1024,
                        MAX_LOGO_BYTES / 1024
                    )));
                }
                let key = self.data_key(commune.id).await?;
                let stored = self
                    .files()
                    .put(&commune.id.to_string(), &key, &bytes)
                    .await?;
                after.logo_sha256 = Some(stored.sha256);
                after.logo_type = Some(media_type);
            }
        }
        if after != before {
            let mut tx = self.store().begin(now).await?;
            tx.set_commune_settings(commune.id, &before, &after, &actor.journal_name())
                .await?;
            tx.commit().await?;
        }
        Ok(after)
    }

    /// Renames a service, changes its address and phone, retires or restores it.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    pub async fn update_service(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        name: &str,
        email: &str,
        phone: &str,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Service, AppError> {
        let before = self
            .store()
            .services(commune.id)
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| parapheur_store::StoreError::not_found("service"))?;
        let after = Service {
            name: required(name, 200, "le nom du service")?,
            email: optional_email(email)?,
            phone: optional_phone(phone)?,
            active,
            ..before.clone()
        };
        if after != before {
            let mut tx = self.store().begin(now).await?;
            tx.update_service(&before, &after, &actor.journal_name())
                .await?;
            tx.commit().await?;
        }
        Ok(after)
    }

    /// Creates an account without a password and the link its owner uses to choose one.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    pub async fn invite_user(
        &self,
        commune: &Commune,
        actor: &Actor,
        mut new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<Invitation, AppError> {
        new.display_name = required(&new.display_name, 200, "le nom")?;
        new.title = new
            .title
            .as_deref()
            .map(|t| optional(t, 200, "la fonction"))
            .transpose()?
            .flatten();
        new.password = None;
        if let Some(service) = new.service_id {
            self.check_service(commune, service).await?;
        }
        let user = self.add_user(commune, new, actor, now).await?;
        let token = self.invitation_link(&user, now).await?;
        Ok(Invitation { user, token })
    }

    /// A new single-use link for a user to choose a password (valid a week), emailed to
    /// them and returned for the administrator.
    pub async fn invitation_link(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        self.email_password_link(
            user,
            crate::administration::auth::PasswordLink::Invitation,
            now,
        )
        .await
    }

    async fn check_service(&self, commune: &Commune, service: Uuid) -> Result<(), AppError> {
        let known = self
            .store()
            .services(commune.id)
            .await?
            .iter()
            .any(|s| s.id == service && s.active);
        if known {
            Ok(())
        } else {
            Err(AppError::invalid(
                "ce service n'existe pas ou n'est plus actif",
            ))
        }
    }

    /// Changes a user's name, role, service or activity. Nobody removes their own
    /// administration rights or account, and a commune always keeps an administrator;
    /// only a host administrator gives or takes host rights.
    pub async fn update_user(
        &self,
        commune: &Commune,
        who: &User,
        id: Uuid,
        change: UserChange,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        let before = self.store().user(id).await?;
        if before.commune_id != commune.id {
            return Err(parapheur_store::StoreError::not_found("utilisateur").into());
        }
        if let Some(service) = change.service_id
            && before.service_id != Some(service)
        {
            self.check_service(commune, service).await?;
        }
        if change.host_admin != before.host_admin && !who.host_admin {
            return Err(AppError::Forbidden(
                "seul un administrateur de l'hébergement donne ou retire ce droit".into(),
            ));
        }
        if who.id == id
            && (!change.active
                || change.role != Role::Administrateur
                || (before.host_admin && !change.host_admin))
        {
            return Err(AppError::invalid(
                "vous ne pouvez pas retirer vos propres droits ni désactiver votre compte : demandez-le à un autre administrateur",
            ));
        }
        let after = User {
            display_name: required(&change.display_name, 200, "le nom")?,
            title: change
                .title
                .as_deref()
                .map(|t| optional(t, 200, "la fonction"))
                .transpose()?
                .flatten(),
            role: change.role,
            service_id: change.service_id,
            active: change.active,
            host_admin: change.host_admin,
            ..before.clone()
        };
        if after == before {
            return Ok(after);
        }
        let mut tx = self.store().begin(now).await?;
        tx.update_user(&before, &after, &Actor::User(who.id).journal_name())
            .await?;
        // Checked inside the transaction: two administrators demoting each other at once
        // cannot both succeed.
        if tx.active_administrators(commune.id).await? == 0 {
            tx.rollback().await?;
            return Err(AppError::invalid(
                "la commune doit garder au moins un administrateur actif",
            ));
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Changes a document type's label, delay, silence rule, retention or activity.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    pub async fn update_doctype(
        &self,
        commune: &Commune,
        actor: &Actor,
        after: DocumentType,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let (before, was_active) = self
            .store()
            .all_doctypes(commune.id)
            .await?
            .into_iter()
            .find(|(d, _)| d.code == after.code)
            .ok_or_else(|| parapheur_store::StoreError::not_found("type de document"))?;
        let after = DocumentType {
            label: required(&after.label, 200, "le libellé")?,
            ..after
        };
        if after == before && active == was_active {
            return Ok(());
        }
        let mut tx = self.store().begin(now).await?;
        tx.update_doctype(commune.id, &before, &after, active, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a commune with its first administrator (invited by a link), for a host
    /// administrator.
    pub async fn create_commune_with_admin(
        &self,
        insee: &str,
        admin_email: &str,
        admin_name: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Commune, Invitation), AppError> {
        let admin_name = required(admin_name, 200, "le nom de l'administrateur")?;
        let email = normalize_email(admin_email).ok_or_else(|| {
            AppError::invalid(format!(
                "adresse électronique invalide « {} »",
                admin_email.trim()
            ))
        })?;
        let commune = self.create_commune(insee, actor, now).await?;
        let invitation = self
            .invite_user(
                &commune,
                actor,
                NewUser {
                    email,
                    display_name: admin_name,
                    title: Some("Administrateur".into()),
                    role: Role::Administrateur,
                    service_id: None,
                    password: None,
                    host_admin: false,
                },
                now,
            )
            .await?;
        Ok((commune, invitation))
    }
}
