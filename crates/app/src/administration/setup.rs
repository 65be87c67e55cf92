//! Setting up communes, their users, services and document types.

use crate::boxed_future;
use chrono::{DateTime, Utc};
use parapheur_domain::doctype::{self, DocumentType};
use parapheur_domain::{ChronoFormat, Commune, Role};
use parapheur_files::DataKey;
use parapheur_store::services::Service;
use parapheur_store::users::User;
use uuid::Uuid;

use crate::{Actor, App, AppError, hash_password};

/// A user to create, with an optional password (hashed here, never stored in clear).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub title: Option<String>,
    pub role: Role,
    pub service_id: Option<Uuid>,
    pub password: Option<String>,
    /// Also manages the installation's communes.
    pub host_admin: bool,
}

impl App {
    /// Creates a commune from its INSEE code, with its file key, the default document types
    /// and a first service. Refuses an unknown code and a commune already in the register.
    #[boxed_future]
    pub async fn create_commune(
        &self,
        insee: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Commune, AppError> {
        self.authorize_host(actor).await?;
        let insee = insee.trim().to_uppercase();
        let record = parapheur_communes::by_insee(&insee)
            .ok_or_else(|| AppError::UnknownInsee(insee.clone()))?;
        if self.store().commune_by_insee(&insee).await?.is_some() {
            return Err(parapheur_store::StoreError::AlreadyExists(format!(
                "la commune {} ({insee})",
                record.name
            ))
            .into());
        }
        let commune = Commune {
            id: Uuid::now_v7(),
            insee: record.insee.to_owned(),
            name: record.name.to_owned(),
            siren: record.siren.to_owned(),
            postal_code: record.main_postal_code().to_owned(),
            departement: record.departement.to_owned(),
            chrono_format: ChronoFormat::default(),
            good_friday: true,
            header_logo: None,
        };
        let key = DataKey::generate()?;
        let wrapped = self.master.wrap(&key, &commune.id.to_string())?;
        let who = actor.journal_name();
        let mut tx = self.store().begin(now).await?;
        tx.insert_commune(&commune, &wrapped, &who).await?;
        for d in doctype::default_set() {
            tx.insert_doctype(commune.id, &d, &who).await?;
        }
        tx.insert_service(
            &Service {
                id: Uuid::now_v7(),
                commune_id: commune.id,
                code: "secretariat".into(),
                name: "Secrétariat de mairie".into(),
                email: None,
                phone: None,
                active: true,
            },
            &who,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(insee = %commune.insee, name = %commune.name, "commune created");
        Ok(commune)
    }

    /// The commune with this INSEE code, which must be in the register.
    #[boxed_future]
    pub async fn commune(&self, insee: &str) -> Result<Commune, AppError> {
        let insee = insee.trim().to_uppercase();
        if parapheur_communes::by_insee(&insee).is_none() {
            return Err(AppError::UnknownInsee(insee));
        }
        self.store()
            .commune_by_insee(&insee)
            .await?
            .ok_or(AppError::CommuneNotInRegister(insee))
    }

    #[boxed_future]
    pub async fn add_user(
        &self,
        commune: &Commune,
        new: NewUser,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        let email = new.email.trim().to_lowercase();
        if parapheur_domain::contact::normalize_email(&email).is_none() {
            return Err(AppError::invalid(format!(
                "adresse électronique invalide « {email} »"
            )));
        }
        let hash = new.password.as_deref().map(hash_password).transpose()?;
        let user = User {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            email,
            display_name: new.display_name,
            title: new.title,
            role: new.role,
            service_id: new.service_id,
            active: true,
            host_admin: new.host_admin,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_user(&user, hash.as_deref(), &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    #[boxed_future]
    pub async fn add_service(
        &self,
        commune: &Commune,
        code: &str,
        name: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Service, AppError> {
        if !doctype::is_valid_code(code) {
            return Err(AppError::invalid(format!(
                "code de service invalide « {code} » : lettres minuscules, chiffres, - ou _"
            )));
        }
        let service = Service {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            code: code.to_owned(),
            name: name.trim().to_owned(),
            email: None,
            phone: None,
            active: true,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_service(&service, &actor.journal_name()).await?;
        tx.commit().await?;
        Ok(service)
    }

    #[boxed_future]
    pub async fn add_doctype(
        &self,
        commune: &Commune,
        doctype: &DocumentType,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if !doctype::is_valid_code(&doctype.code) {
            return Err(AppError::invalid(format!(
                "code de type invalide « {} » : 1 à 40 lettres minuscules, chiffres, - ou _",
                doctype.code
            )));
        }
        if doctype.label.trim().is_empty() {
            return Err(AppError::invalid("le libellé est obligatoire"));
        }
        let mut tx = self.store().begin(now).await?;
        tx.insert_doctype(commune.id, doctype, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    #[boxed_future]
    pub async fn set_chrono_format(
        &self,
        commune: &Commune,
        pattern: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ChronoFormat, AppError> {
        let format = ChronoFormat::parse(pattern).map_err(|e| AppError::invalid(e.to_string()))?;
        let mut tx = self.store().begin(now).await?;
        tx.set_chrono_format(commune, &format, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(format)
    }

    /// Alsace-Moselle: whether Good Friday is a holiday in this commune (code du travail,
    /// L3134-13: communes with a Protestant temple or a mixed church). Deadlines computed
    /// from now on follow it; those already computed stay as the acknowledgements gave them.
    #[boxed_future]
    pub async fn set_good_friday(
        &self,
        commune: &Commune,
        good_friday: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Commune, AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::Administer)
            .await?;
        if !matches!(
            commune.holiday_zone(),
            parapheur_domain::HolidayZone::AlsaceMoselle
                | parapheur_domain::HolidayZone::AlsaceMoselleWithoutGoodFriday
        ) {
            return Err(AppError::invalid(
                "le Vendredi saint n'est férié qu'en Moselle, dans le Bas-Rhin et le Haut-Rhin \
                 (article L3134-13 du code du travail)",
            ));
        }
        let mut tx = self.store().begin(now).await?;
        tx.set_good_friday(commune, good_friday, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(Commune {
            good_friday,
            ..commune.clone()
        })
    }
}

impl App {
    /// Finds the contact a person means by `text` (an id, an email, or an exact name); when
    /// there is none, returns the contact to create (the caller creates it in its own
    /// transaction, so a refused registration leaves no contact behind). Several equally
    /// good matches are an error listing them.
    #[boxed_future]
    pub async fn resolve_contact(
        &self,
        commune: &Commune,
        text: &str,
        phone: Option<&str>,
    ) -> Result<Party, AppError> {
        use parapheur_domain::contact::{NewContact, normalize_email};
        let text = text.trim();
        if text.is_empty() {
            return Err(AppError::invalid("le nom du contact est vide"));
        }
        if let Ok(id) = Uuid::parse_str(text) {
            return Ok(Party::Existing(
                self.store().contact(commune.id, id).await?.id,
            ));
        }
        let mut candidate = match normalize_email(text) {
            Some(email) => NewContact {
                name: email.clone(),
                email: Some(email),
                ..Default::default()
            },
            None => NewContact {
                name: text.to_owned(),
                ..Default::default()
            },
        };
        candidate.phone = phone
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        candidate
            .validate()
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let matches: Vec<_> = if candidate.email.is_some() || candidate.phone.is_some() {
            self.store()
                .likely_duplicates(commune.id, &candidate)
                .await?
        } else {
            self.store()
                .search_contacts(commune.id, text, 20)
                .await?
                .into_iter()
                .filter(|c| {
                    // "Martin Jeanne" is "Jeanne Martin": the same words, in either order.
                    let words = |s: &str| {
                        let mut words: Vec<String> = parapheur_domain::contact::fold(s)
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect();
                        words.sort();
                        words
                    };
                    let typed = words(text);
                    words(&c.display_name()) == typed || words(&c.name) == typed
                })
                .collect()
        };
        match matches.as_slice() {
            [one] => Ok(Party::Existing(one.id)),
            [] => Ok(Party::New(Box::new(candidate))),
            many => Err(AppError::invalid(format!(
                "plusieurs contacts correspondent à « {text} » : {}",
                many.iter()
                    .map(|c| c.display_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The sender or recipient of an item being registered: known, or to create with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    Existing(Uuid),
    New(Box<parapheur_domain::contact::NewContact>),
}

impl App {
    /// Merges a duplicate contact into the one kept; the history stays readable.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn merge_contacts(
        &self,
        commune: &Commune,
        actor: &Actor,
        keep: Uuid,
        duplicate: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, parapheur_domain::Permission::ProcessMail)
            .await?;
        let mut tx = self.store().begin(now).await?;
        tx.merge_contact(commune.id, keep, duplicate, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
