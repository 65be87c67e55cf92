//! What the front ends read of a commune's setup: the commune and its settings, its
//! services, people and document types, and the host's list of communes.

use crate::boxed_future;
use parapheur_domain::{Commune, DocumentType};
use uuid::Uuid;

pub use parapheur_store::communes::{CommuneSettings, CommuneSummary};
pub use parapheur_store::services::Service;
pub use parapheur_store::users::User;

use crate::{App, AppError};

impl App {
    #[boxed_future]
    pub async fn communes(&self) -> Result<Vec<Commune>, AppError> {
        Ok(self.store.communes().await?)
    }

    #[boxed_future]
    pub async fn commune_by_id(&self, id: Uuid) -> Result<Commune, AppError> {
        Ok(self.store.commune(id).await?)
    }

    #[boxed_future]
    pub async fn commune_by_insee(&self, insee: &str) -> Result<Option<Commune>, AppError> {
        Ok(self.store.commune_by_insee(insee).await?)
    }

    #[boxed_future]
    pub async fn commune_settings(&self, id: Uuid) -> Result<CommuneSettings, AppError> {
        Ok(self.store.commune_settings(id).await?)
    }

    /// Every commune with its number of users and items, for the host administrator.
    #[boxed_future]
    pub async fn commune_summaries(&self) -> Result<Vec<CommuneSummary>, AppError> {
        Ok(self.store.commune_summaries().await?)
    }

    #[boxed_future]
    pub async fn services(&self, commune_id: Uuid) -> Result<Vec<Service>, AppError> {
        Ok(self.store.services(commune_id).await?)
    }

    #[boxed_future]
    pub async fn users(&self, commune_id: Uuid) -> Result<Vec<User>, AppError> {
        Ok(self.store.users(commune_id).await?)
    }

    #[boxed_future]
    pub async fn user_by_email(
        &self,
        commune_id: Uuid,
        email: &str,
    ) -> Result<Option<User>, AppError> {
        Ok(self.store.user_by_email(commune_id, email).await?)
    }

    #[boxed_future]
    pub async fn doctypes(&self, commune_id: Uuid) -> Result<Vec<DocumentType>, AppError> {
        Ok(self.store.doctypes(commune_id).await?)
    }

    #[boxed_future]
    pub async fn doctype(
        &self,
        commune_id: Uuid,
        code: &str,
    ) -> Result<Option<DocumentType>, AppError> {
        Ok(self.store.doctype(commune_id, code).await?)
    }

    /// Every document type, retired ones included (with `false`), for the administration.
    #[boxed_future]
    pub async fn all_doctypes(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(DocumentType, bool)>, AppError> {
        Ok(self.store.all_doctypes(commune_id).await?)
    }
}
