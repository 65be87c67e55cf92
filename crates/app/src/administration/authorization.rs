//! Who may call a use case. Each use case names the [`Permission`] it needs and asks
//! [`App::authorize`] first, whatever the front end (web, command line, API): a handler that
//! forgets its own check still cannot act beyond the person's rights.

use crate::boxed_future;
use parapheur_domain::item::Item;
use parapheur_domain::{Commune, Permission};
use parapheur_store::users::User;

use crate::{Actor, App, AppError};

impl App {
    /// Refuses a person of another commune, a deactivated account, or a role without
    /// `permission`. The system actors (command line, background jobs, capture, demo) act
    /// for the installation and pass. Returns the person, when there is one.
    #[boxed_future]
    pub async fn authorize(
        &self,
        commune: &Commune,
        actor: &Actor,
        permission: Permission,
    ) -> Result<Option<User>, AppError> {
        let Some(id) = actor.user_id() else {
            return Ok(None);
        };
        let user = self.store().user(id).await?;
        if user.commune_id != commune.id || !user.active {
            return Err(AppError::Forbidden(Permission::Member.refusal_fr().into()));
        }
        if !user.role.may(permission) {
            return Err(AppError::Forbidden(permission.refusal_fr().into()));
        }
        Ok(Some(user))
    }

    /// [`App::authorize`], and the item must be one this person may read (a confidential
    /// item is refused as if it did not exist).
    #[boxed_future]
    pub async fn authorize_item(
        &self,
        commune: &Commune,
        actor: &Actor,
        permission: Permission,
        item: &Item,
    ) -> Result<Option<User>, AppError> {
        let user = self.authorize(commune, actor, permission).await?;
        if let Some(user) = &user
            && !self
                .is_readable_by(item, user.role.confidential_reader(user.id))
                .await?
        {
            return Err(parapheur_store::StoreError::not_found("élément").into());
        }
        Ok(user)
    }

    /// Whether `reader` (as [`parapheur_domain::Role::confidential_reader`] gives it) may
    /// read `item`: the one confidentiality rule, with the people the item was copied to.
    #[boxed_future]
    pub async fn is_readable_by(
        &self,
        item: &Item,
        reader: Option<uuid::Uuid>,
    ) -> Result<bool, AppError> {
        if item.is_visible_to(reader, &[]) {
            return Ok(true);
        }
        let copied_to: Vec<uuid::Uuid> = self
            .store()
            .copies(item.commune_id, item.id)
            .await?
            .into_iter()
            .map(|(user, _)| user)
            .collect();
        Ok(item.is_visible_to(reader, &copied_to))
    }

    /// Refuses anyone but a host administrator (or the installation's own command line):
    /// creating communes is the host's business.
    #[boxed_future]
    pub async fn authorize_host(&self, actor: &Actor) -> Result<(), AppError> {
        let Some(id) = actor.user_id() else {
            return Ok(());
        };
        let user = self.store().user(id).await?;
        if user.active && user.host_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "réservé aux administrateurs de l'hébergement".into(),
            ))
        }
    }
}
