//! The keys that sign: a commune's own certification authority, its server seal, and one
//! key per signer. Private keys never leave the database in clear: each PKCS#8 is sealed
//! with the commune's data key, and a signer may add a personal code (then the PKCS#8 is
//! encrypted with it too, and signing asks for it).

use crate::boxed_future;
use chrono::{DateTime, Duration, Utc};
use parapheur_domain::Commune;
use parapheur_signing::{SignerKey, pki};
use parapheur_store::parapheur::{KeyKind, SigningKeyRow};
use parapheur_store::users::User;
use uuid::Uuid;

use super::signing_error;
use crate::{Actor, App, AppError};

/// How long the certificates the commune's CA issues are valid.
const PERSON_DAYS: u32 = 3 * 365;
const CA_YEARS: i64 = 10;

/// A personal code protecting a signer's key: 4 to 64 characters.
fn check_pin(pin: &str) -> Result<(), AppError> {
    let n = pin.chars().count();
    if !(4..=64).contains(&n) {
        return Err(AppError::invalid(
            "le code de signature compte de 4 à 64 caractères",
        ));
    }
    Ok(())
}

fn seal_context(commune_id: Uuid, key_id: Uuid) -> String {
    format!("signing-key:{commune_id}:{key_id}")
}

/// Who a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    /// The commune's server seal.
    Seal,
    /// A signer.
    Person(Uuid),
}

impl App {
    /// Creates the commune's CA and seal the first time they are needed.
    #[boxed_future]
    pub async fn ensure_pki(&self, commune: &Commune, now: DateTime<Utc>) -> Result<(), AppError> {
        if self
            .store()
            .signing_key(commune.id, KeyKind::Ca, None)
            .await?
            .is_none()
        {
            let ca = pki::new_ca(
                &format!("Autorité de certification de la mairie de {}", commune.name),
                &format!("Mairie de {}", commune.name),
                now,
            )
            .map_err(signing_error)?;
            self.store_key(
                commune,
                &Actor::System("pki"),
                None,
                KeyKind::Ca,
                &ca,
                None,
                now,
            )
            .await?;
        }
        if self
            .store()
            .signing_key(commune.id, KeyKind::Seal, None)
            .await?
            .is_none()
        {
            let ca = self.commune_ca(commune).await?;
            let seal = pki::issue(
                &ca,
                &pki::Subject {
                    common_name: format!("Mairie de {} - cachet", commune.name),
                    organisation: format!("Mairie de {}", commune.name),
                    email: None,
                    title: None,
                    seal: true,
                },
                now,
                u32::try_from(CA_YEARS * 365 - 1).unwrap_or(PERSON_DAYS),
            )
            .map_err(signing_error)?;
            self.store_key(
                commune,
                &Actor::System("pki"),
                None,
                KeyKind::Seal,
                &seal,
                None,
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Issues a new key for a signer from the commune's CA (replacing any previous one),
    /// protected by `pin` when given.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn issue_signer_key(
        &self,
        commune: &Commune,
        actor: &Actor,
        user_id: Uuid,
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKeyRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        if let Some(pin) = pin {
            check_pin(pin)?;
        }
        let user = self.store().user(user_id).await?;
        if user.commune_id != commune.id {
            // Another commune's person: as if it did not exist.
            return Err(parapheur_store::StoreError::not_found("utilisateur").into());
        }
        if !user.active {
            return Err(AppError::invalid("ce compte est désactivé"));
        }
        self.ensure_pki(commune, now).await?;
        let ca = self.commune_ca(commune).await?;
        let key = pki::issue(
            &ca,
            &pki::Subject {
                common_name: user.display_name.clone(),
                organisation: format!("Mairie de {}", commune.name),
                email: Some(user.email.clone()),
                title: user.title.clone(),
                seal: false,
            },
            now,
            PERSON_DAYS,
        )
        .map_err(signing_error)?;
        self.store_key(
            commune,
            actor,
            Some(user_id),
            KeyKind::Person,
            &key,
            pin,
            now,
        )
        .await
    }

    /// Imports a key and its certificate from a PKCS#12 file (a certificate bought from a
    /// qualified provider, or the commune's seal).
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn import_signing_key(
        &self,
        commune: &Commune,
        actor: &Actor,
        owner: KeyOwner,
        pkcs12: &[u8],
        password: &str,
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKeyRow, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        if pkcs12.len() > 1_000_000 {
            return Err(AppError::invalid(
                "un fichier PKCS#12 pèse quelques Ko : celui-ci est trop gros",
            ));
        }
        if let Some(pin) = pin {
            check_pin(pin)?;
        }
        let key = SignerKey::from_pkcs12(pkcs12, password).map_err(signing_error)?;
        key.check_usable_at(now).map_err(signing_error)?;
        let (user, kind) = match owner {
            KeyOwner::Seal => (None, KeyKind::Seal),
            KeyOwner::Person(id) => {
                let user = self.store().user(id).await?;
                if user.commune_id != commune.id {
                    return Err(AppError::invalid("utilisateur inconnu dans cette commune"));
                }
                (Some(id), KeyKind::Person)
            }
        };
        self.store_key(commune, actor, user, kind, &key, pin, now)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_key(
        &self,
        commune: &Commune,
        actor: &Actor,
        user_id: Option<Uuid>,
        kind: KeyKind,
        key: &SignerKey,
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKeyRow, AppError> {
        let id = Uuid::now_v7();
        let data_key = self.data_key(commune.id).await?;
        let pkcs8 = match pin {
            Some(pin) => {
                zeroize::Zeroizing::new(key.to_encrypted_pkcs8(pin).map_err(signing_error)?)
            }
            None => key.to_pkcs8_der(),
        };
        let sealed_key = data_key.seal(&pkcs8, &seal_context(commune.id, id))?;
        let chain_pem = key
            .chain_der()
            .iter()
            .map(|der| pki::certificate_pem(der))
            .collect::<Vec<_>>()
            .join("");
        let row = SigningKeyRow {
            id,
            commune_id: commune.id,
            user_id,
            kind,
            subject: key.subject_common_name(),
            not_after: key.not_after(),
            sealed_key,
            pin_protected: pin.is_some(),
            chain_pem,
            image_sha256: None,
            created_at: now,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_signing_key(&row, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Opens a stored key; a code-protected key needs its code.
    pub(crate) async fn open_key(
        &self,
        commune: &Commune,
        row: &SigningKeyRow,
        pin: Option<&str>,
    ) -> Result<SignerKey, AppError> {
        let data_key = self.data_key(commune.id).await?;
        let der = data_key.open(&row.sealed_key, &seal_context(commune.id, row.id))?;
        let chain = pem_chain(&row.chain_pem)?;
        let password = if row.pin_protected {
            match pin.filter(|p| !p.is_empty()) {
                Some(p) => Some(p),
                None => {
                    return Err(AppError::invalid(
                        "votre clé est protégée : saisissez votre code de signature",
                    ));
                }
            }
        } else {
            None
        };
        SignerKey::from_pkcs8_der(&der, password, &chain).map_err(signing_error)
    }

    async fn commune_ca(&self, commune: &Commune) -> Result<SignerKey, AppError> {
        let row = self
            .store()
            .signing_key(commune.id, KeyKind::Ca, None)
            .await?
            .ok_or_else(|| {
                AppError::invalid("la commune n'a pas encore d'autorité de certification")
            })?;
        self.open_key(commune, &row, None).await
    }

    /// The signer's key, ready to sign at `now`.
    pub(crate) async fn signer_key(
        &self,
        commune: &Commune,
        user: &User,
        pin: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SignerKey, AppError> {
        let Some(row) = self
            .store()
            .signing_key(commune.id, KeyKind::Person, Some(user.id))
            .await?
        else {
            return Err(AppError::invalid(format!(
                "{} n'a pas de certificat de signature : un administrateur doit en créer un (Administration › Signatures)",
                user.display_name
            )));
        };
        let key = self.open_key(commune, &row, pin).await?;
        key.check_usable_at(now).map_err(signing_error)?;
        Ok(key)
    }

    /// The commune's seal key.
    pub(crate) async fn seal_key(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<SignerKey, AppError> {
        self.ensure_pki(commune, now).await?;
        let row = self
            .store()
            .signing_key(commune.id, KeyKind::Seal, None)
            .await?
            .ok_or_else(|| AppError::invalid("la commune n'a pas de cachet"))?;
        let key = self.open_key(commune, &row, None).await?;
        key.check_usable_at(now).map_err(signing_error)?;
        Ok(key)
    }

    /// The certificate a verifier must trust for this commune's signatures, in PEM.
    #[boxed_future]
    pub async fn ca_certificate_pem(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        self.ensure_pki(commune, now).await?;
        let row = self
            .store()
            .signing_key(commune.id, KeyKind::Ca, None)
            .await?
            .ok_or_else(|| AppError::invalid("la commune n'a pas d'autorité de certification"))?;
        let chain = pem_chain(&row.chain_pem)?;
        chain
            .first()
            .map(|der| pki::certificate_pem(der))
            .ok_or_else(|| AppError::invalid("certificat de la commune illisible"))
    }

    /// The roots a PDF of this commune is checked against: every CA the commune has had,
    /// and the top of every imported chain (a qualified provider's root).
    #[boxed_future]
    pub async fn trusted_roots(&self, commune: &Commune) -> Result<Vec<Vec<u8>>, AppError> {
        let mut roots = Vec::new();
        for row in self.store().signing_keys(commune.id).await? {
            if let Some(last) = pem_chain(&row.chain_pem)?.pop()
                && !roots.contains(&last)
            {
                roots.push(last);
            }
        }
        Ok(roots)
    }

    /// The signers' keys of a commune, for the administration page.
    #[boxed_future]
    pub async fn signer_keys(&self, commune: &Commune) -> Result<Vec<SigningKeyRow>, AppError> {
        let now = Utc::now();
        Ok(self
            .store()
            .signing_keys(commune.id)
            .await?
            .into_iter()
            .filter(|k| k.kind != KeyKind::Ca && k.not_after > now - Duration::days(3650))
            .collect())
    }
}

/// The certificates of a PEM bundle, in order, as DER.
pub fn pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, AppError> {
    pki::certificates_from_pem(pem).map_err(signing_error)
}
