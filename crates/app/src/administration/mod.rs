//! Administration of a commune (its letterhead, services, users and document types) and of
//! the installation (its communes). Every change goes through one transaction and leaves a
//! journal entry with the state before and after.

use crate::boxed_future;
pub mod auth;
mod authorization;
pub mod password;
pub mod proconnect;
pub mod second_factor;
pub mod setup;
pub mod views;

use chrono::{DateTime, Utc};
use parapheur_domain::contact::{normalize_email, normalize_phone};
use parapheur_domain::doctype::DocumentType;
use parapheur_domain::{Commune, Role};
use parapheur_store::communes::CommuneSettings;
use parapheur_store::services::Service;
use parapheur_store::users::User;
use uuid::Uuid;

use crate::administration::auth::PasswordLink;
use crate::{Actor, App, AppError, NewUser};

/// A logo is printed small on letters: a few hundred KB is plenty.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

/// The height in pixels of the logo's rendition for the pages' header (shown at half that
/// size in CSS pixels: sharp on a phone's dense screen).
pub const LOGO_SMALL_HEIGHT: u32 = 96;
/// Its widest: a very wide logo is made smaller rather than wider.
pub const LOGO_SMALL_MAX_WIDTH: u32 = 288;

/// The logo's small rendition: at most [`LOGO_SMALL_HEIGHT`] high and
/// [`LOGO_SMALL_MAX_WIDTH`] wide (never enlarged), as PNG, or as JPEG when the picture has
/// no transparency and the JPEG is smaller; with its width and height.
pub fn logo_rendition(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    use image::ImageEncoder;
    let picture = image::load_from_memory(bytes).map_err(|e| e.to_string())?;
    let small = if picture.height() > LOGO_SMALL_HEIGHT || picture.width() > LOGO_SMALL_MAX_WIDTH {
        picture.resize(
            LOGO_SMALL_MAX_WIDTH,
            LOGO_SMALL_HEIGHT,
            image::imageops::FilterType::Lanczos3,
        )
    } else {
        picture
    };
    let (width, height) = (small.width(), small.height());
    let rgba = small.to_rgba8();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)
    .map_err(|e| e.to_string())?;
    if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
        let rgb = small.to_rgb8();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
            .map_err(|e| e.to_string())?;
        if jpeg.len() < png.len() {
            return Ok((jpeg, width, height));
        }
    }
    Ok((png, width, height))
}

/// The commune's contact details and letterhead as typed in the form.
#[derive(Debug, Clone, Default)]
pub struct SettingsForm {
    pub address: String,
    pub phone: String,
    pub email: String,
    pub letterhead: String,
    pub logo: LogoChange,
    /// The data protection officer's contact (RGPD art. 13(1)(b)), in every form's notice.
    pub dpo_contact: String,
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
}

/// An account just created. The link its owner uses to choose a password always goes to
/// the account's own address; `shown_token` is the same link for the administrator to pass
/// on by hand, only where [`may_show_password_link`] allows it.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user: User,
    pub shown_token: Option<String>,
}

/// A password link an administrator asked for: sent to `user`'s own address, and shown to
/// the administrator only where [`may_show_password_link`] allows it.
#[derive(Debug, Clone)]
pub struct PasswordLinkSent {
    pub user: User,
    pub shown_token: Option<String>,
}

/// Whether an administrator may see the password link of `user`: only for an account that
/// never had a password, and never for one who signs (an élu) or administers. Otherwise an
/// administrator could log in as the maire and sign in their name.
pub fn may_show_password_link(user: &User, has_password: bool) -> bool {
    !has_password && !user.host_admin && !matches!(user.role, Role::Elu | Role::Administrateur)
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
    /// Makes the header's rendition of each logo uploaded before renditions existed (or
    /// whose rendition was lost): journaled as the system's change of the commune's
    /// settings. How many were made. A logo the image library cannot read is left as it is.
    #[boxed_future]
    pub async fn make_missing_logo_renditions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let mut made = 0;
        for commune in self.store().communes().await? {
            let before = self.store().commune_settings(commune.id).await?;
            let (Some(sha), None) = (&before.logo_sha256, &before.logo_small) else {
                continue;
            };
            let key = self.data_key(commune.id).await?;
            let dir = commune.id.to_string();
            let bytes = self.files().get(&dir, &key, sha).await?;
            let Ok((small, width, height)) =
                tokio::task::spawn_blocking(move || logo_rendition(&bytes))
                    .await
                    .map_err(|e| AppError::internal(format!("logo interrompu : {e}")))?
            else {
                continue;
            };
            let stored = self.files().put(&dir, &key, &small).await?;
            let after = CommuneSettings {
                logo_small: Some(parapheur_domain::HeaderLogo {
                    sha256: stored.sha256,
                    width,
                    height,
                }),
                ..before.clone()
            };
            let mut tx = self.store().begin(now).await?;
            tx.set_commune_settings(
                commune.id,
                &before,
                &after,
                &Actor::System("logo").journal_name(),
            )
            .await?;
            tx.commit().await?;
            made += 1;
        }
        Ok(made)
    }

    /// Saves the commune's contact details, letterhead and logo. A new logo is written to
    /// the file store before the transaction that points to it.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn update_commune_settings(
        &self,
        commune: &Commune,
        actor: &Actor,
        form: SettingsForm,
        now: DateTime<Utc>,
    ) -> Result<CommuneSettings, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        let before = self.store().commune_settings(commune.id).await?;
        let mut after = CommuneSettings {
            address: optional(&form.address, 500, "l'adresse")?,
            phone: optional_phone(&form.phone)?,
            email: optional_email(&form.email)?,
            letterhead: optional(&form.letterhead, 2000, "l'en-tête")?,
            logo_sha256: before.logo_sha256.clone(),
            logo_type: before.logo_type.clone(),
            dpo_contact: optional(&form.dpo_contact, 500, "le contact du délégué")?,
            logo_small: before.logo_small.clone(),
        };
        match form.logo {
            LogoChange::Keep => {}
            LogoChange::Remove => {
                after.logo_sha256 = None;
                after.logo_type = None;
                after.logo_small = None;
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
                // The header's rendition: a logo the image library cannot read still
                // prints on letters (the renderer reads it its own way), without one.
                after.logo_small = match tokio::task::spawn_blocking(move || logo_rendition(&bytes))
                    .await
                    .map_err(|e| AppError::internal(format!("logo interrompu : {e}")))?
                {
                    Ok((small, width, height)) => {
                        let stored = self
                            .files()
                            .put(&commune.id.to_string(), &key, &small)
                            .await?;
                        Some(parapheur_domain::HeaderLogo {
                            sha256: stored.sha256,
                            width,
                            height,
                        })
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the logo has no rendition for the header");
                        None
                    }
                };
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
    #[boxed_future]
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
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
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
    #[boxed_future]
    pub async fn invite_user(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<Invitation, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        self.invite_user_unchecked(commune, actor, new, now).await
    }

    /// [`App::invite_user`] for a caller that has already checked the actor's rights.
    async fn invite_user_unchecked(
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
        let token = self
            .email_password_link(&user, PasswordLink::Invitation, now)
            .await?;
        let shown_token = may_show_password_link(&user, false).then_some(token);
        Ok(Invitation { user, shown_token })
    }

    /// A new single-use link for a user of the commune to choose a password (valid a week),
    /// emailed to the user's own address; returned for the administrator only where
    /// [`may_show_password_link`] allows it. A host administrator is not found by a commune
    /// administrator.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %who.email))]
    #[boxed_future]
    pub async fn new_password_link(
        &self,
        commune: &Commune,
        who: &User,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<PasswordLinkSent, AppError> {
        let user = self.managed_user(commune, who, id).await?;
        let has_password = self.store().password_hash(user.id).await?.is_some();
        let token = self
            .email_password_link(&user, PasswordLink::Invitation, now)
            .await?;
        let shown_token = may_show_password_link(&user, has_password).then_some(token);
        Ok(PasswordLinkSent { user, shown_token })
    }

    /// A user of `commune` that `who` may manage: a host administrator's account is
    /// invisible to a commune administrator who is not one.
    #[boxed_future]
    pub async fn managed_user(
        &self,
        commune: &Commune,
        who: &User,
        id: Uuid,
    ) -> Result<User, AppError> {
        if !who.role.can_administer() || who.commune_id != commune.id {
            return Err(AppError::Forbidden(
                "réservé aux administrateurs de la commune".into(),
            ));
        }
        let user = self.store().user(id).await?;
        if user.commune_id != commune.id || (user.host_admin && !who.host_admin) {
            return Err(parapheur_store::StoreError::not_found("utilisateur").into());
        }
        Ok(user)
    }

    /// The users of the commune that `who` may see on the administration pages.
    #[boxed_future]
    pub async fn managed_users(
        &self,
        commune: &Commune,
        who: &User,
    ) -> Result<Vec<User>, AppError> {
        if !who.role.can_administer() || who.commune_id != commune.id {
            return Err(AppError::Forbidden(
                "réservé aux administrateurs de la commune".into(),
            ));
        }
        Ok(self
            .store()
            .users(commune.id)
            .await?
            .into_iter()
            .filter(|u| who.host_admin || !u.host_admin)
            .collect())
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
    /// administration rights or account, and a commune always keeps an administrator.
    /// Host rights are not changed here: only [`App::set_host_admin`] (the command line)
    /// gives or takes them.
    #[boxed_future]
    pub async fn update_user(
        &self,
        commune: &Commune,
        who: &User,
        id: Uuid,
        change: UserChange,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        let before = self.managed_user(commune, who, id).await?;
        if let Some(service) = change.service_id
            && before.service_id != Some(service)
        {
            self.check_service(commune, service).await?;
        }
        if who.id == id && (!change.active || change.role != Role::Administrateur) {
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

    /// Gives or takes the right to administer the installation (create communes, see
    /// their counts) to the active account with this email. Only the command line of the
    /// installation calls this: no commune administrator can, and creating a commune never
    /// makes one.
    #[boxed_future]
    pub async fn set_host_admin(
        &self,
        email: &str,
        grant: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        let email = normalize_email(email).ok_or_else(|| {
            AppError::invalid(format!(
                "adresse électronique invalide « {} »",
                email.trim()
            ))
        })?;
        let mut found = self.store().users_by_email(&email).await?;
        let before = match found.len() {
            0 => return Err(parapheur_store::StoreError::not_found("utilisateur").into()),
            1 => found.remove(0),
            n => {
                return Err(AppError::Conflict(format!(
                    "{n} comptes actifs portent l'adresse {email} : un seul peut administrer l'hébergement"
                )));
            }
        };
        if before.host_admin == grant {
            return Ok(before);
        }
        let after = User {
            host_admin: grant,
            ..before.clone()
        };
        let mut tx = self.store().begin(now).await?;
        tx.update_user(&before, &after, &actor.journal_name())
            .await?;
        tx.commit().await?;
        if !grant {
            self.store().delete_user_sessions(after.id).await?;
        }
        Ok(after)
    }

    /// The installation's host administrators.
    #[boxed_future]
    pub async fn host_admins(&self) -> Result<Vec<User>, AppError> {
        let mut out = Vec::new();
        for summary in self.store().commune_summaries().await? {
            out.extend(
                self.store()
                    .users(summary.commune.id)
                    .await?
                    .into_iter()
                    .filter(|u| u.host_admin),
            );
        }
        Ok(out)
    }

    /// Changes a document type's label, delay, silence rule, retention or activity.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn update_doctype(
        &self,
        commune: &Commune,
        actor: &Actor,
        after: DocumentType,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
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
    #[boxed_future]
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
        self.authorize_host(actor).await?;
        let commune = self.create_commune(insee, actor, now).await?;
        let invitation = self
            .invite_user_unchecked(
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
