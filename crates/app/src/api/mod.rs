//! The HTTP API's side of the register (issue 18, point 1): what lets the commune's other
//! software (a citizen portal, the accounting, the GED) call the same use cases as the web
//! pages, and nothing else.
//!
//! * **Tokens.** A commune administrator creates a token (the administration page, or
//!   `parapheur tokens create`) for a user of the commune, its *owner*, with scopes
//!   ([`Scope`]). The token acts as its owner: every use case checks the owner's role and
//!   the confidentiality rule as for the owner's own pages, and every write is journaled
//!   as theirs. The scopes narrow that further. The token is shown once; only its SHA-256
//!   is kept (`api_tokens`): it carries 256 random bits, so the hash cannot be reversed
//!   by trying, and a fast hash costs nothing per request, where argon2 (made for the
//!   few bits of a password) would cost tens of milliseconds and megabytes of every call,
//!   and would need a lookup key beside it. A token is revocable at once, may expire, and
//!   is refused when its owner is deactivated.
//! * **Limits.** Each token may make `api_requests_per_minute` calls a minute, counted by
//!   the shared limiter (`limits.rs`), so every node counts the same.
//! * **Idempotency.** A creation may carry a key: what it answered is written in the
//!   creation's own transaction (`api_idempotency`), so a retried POST is answered the
//!   same and registers once, even when the retry races the first attempt.
//! * **Pages.** Lists are read after a cursor (the last row of the previous page), never
//!   by offset: a registration meanwhile neither repeats nor skips a row.

use crate::boxed_future;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::contact::{Contact, NewContact};
use parapheur_domain::item::{Item, NewItem};
use parapheur_domain::{Commune, Permission};
use parapheur_store::api::IdempotentAnswer;
use parapheur_store::items::ItemFilter;
use parapheur_store::{StoreError, WriteTx};
use serde::Serialize;
use uuid::Uuid;

pub use parapheur_store::api::ApiToken;

use crate::administration::auth::{Authenticated, token_hash};
use crate::register::{NewFile, Registered, register_in};
use crate::{Actor, App, AppError, Party};

/// What a token may do, within its owner's rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Scope {
    /// Read items, their files and their history; search the register.
    ItemsRead,
    /// Register items, change their status, assign them.
    ItemsWrite,
    /// Read the contact directory.
    ContactsRead,
    /// Create contacts.
    ContactsWrite,
    /// Post the phone system's call events (`/api/v1/cti/{token}`: the token is in the
    /// address, as Zammad's bridges send it).
    CtiEvents,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::ItemsRead,
        Scope::ItemsWrite,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::CtiEvents,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Scope::ItemsRead => "items:read",
            Scope::ItemsWrite => "items:write",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::CtiEvents => "cti:events",
        }
    }

    pub fn parse(code: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.code() == code.trim())
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Scope::ItemsRead => "lire le courrier et chercher dans le registre",
            Scope::ItemsWrite => "enregistrer le courrier, changer son statut, l'affecter",
            Scope::ContactsRead => "lire l'annuaire des contacts",
            Scope::ContactsWrite => "créer des contacts",
            Scope::CtiEvents => {
                "recevoir les appels du standard téléphonique (jeton placé dans l'adresse : \
                 ne lui donnez aucune autre permission)"
            }
        }
    }

    /// What the owner's role must allow for the token to get this scope.
    pub fn permission(self) -> Permission {
        match self {
            Scope::ItemsRead | Scope::ContactsRead => Permission::Member,
            Scope::ItemsWrite | Scope::ContactsWrite | Scope::CtiEvents => Permission::ProcessMail,
        }
    }
}

/// Tokens start with this, so that a secret scanner (or a person) recognises one.
pub const TOKEN_PREFIX: &str = "prph_";
/// How many characters of a token are kept in clear to recognise it in a list.
const HINT_CHARS: usize = 12;
/// How long the answer to an idempotency key is kept.
pub const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::hours(24);
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub label: String,
    /// The user it acts for.
    pub owner_id: Uuid,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just created: its secret is shown this once, and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// Why a request's token is refused (401): each has its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// No such token (mistyped, or of another installation).
    Unknown,
    Revoked,
    Expired,
    /// Its owner's account was deactivated.
    OwnerInactive,
}

impl TokenRefusal {
    pub fn code(self) -> &'static str {
        match self {
            TokenRefusal::Missing => "token_missing",
            TokenRefusal::Unknown => "token_invalid",
            TokenRefusal::Revoked => "token_revoked",
            TokenRefusal::Expired => "token_expired",
            TokenRefusal::OwnerInactive => "token_owner_inactive",
        }
    }

    pub fn message_fr(self) -> &'static str {
        match self {
            TokenRefusal::Missing => {
                "jeton manquant : envoyez l'en-tête « Authorization: Bearer <jeton> »"
            }
            TokenRefusal::Unknown => "jeton inconnu",
            TokenRefusal::Revoked => "ce jeton a été révoqué",
            TokenRefusal::Expired => "ce jeton a expiré",
            TokenRefusal::OwnerInactive => "le compte auquel ce jeton appartient est désactivé",
        }
    }
}

/// The caller of an API request: its token, and the owner it acts as (the same identity
/// the web pages' use cases take, so the same rules apply).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token: ApiToken,
    pub who: Authenticated,
}

impl ApiCaller {
    pub fn has(&self, scope: Scope) -> bool {
        self.token.scopes.iter().any(|s| s == scope.code())
    }

    /// The journal's actor: the token's owner.
    pub fn actor(&self) -> Actor {
        self.who.actor()
    }

    pub fn commune(&self) -> &Commune {
        &self.who.commune
    }
}

/// An idempotency key of a creation: the token's, and a fingerprint of the request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub token_id: Uuid,
    pub key: String,
    /// SHA-256 of the request (method, path, body): the same key with another request is
    /// refused rather than answered with the first one's result.
    pub fingerprint: String,
}

/// What a creation answered: now, or earlier under the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// Created now; the body answered (also kept under the key, if any).
    Created { status: u16, body: String },
    /// A retry: what the first request was answered.
    Replayed { status: u16, body: String },
    /// The key was used for another request.
    KeyReused,
}

impl Answered {
    fn of_kept(kept: IdempotentAnswer, fingerprint: &str) -> Answered {
        if kept.fingerprint == fingerprint {
            Answered::Replayed {
                status: u16::try_from(kept.status).unwrap_or(200),
                body: kept.response,
            }
        } else {
            Answered::KeyReused
        }
    }
}

/// A new token secret: the prefix and 256 random bits.
fn new_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::internal(format!("aléa indisponible : {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl App {
    /// Creates a token for a user of the commune: an administrator's act, journaled. The
    /// owner's role must allow every scope asked (a token never does more than its owner).
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn create_api_token(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewToken,
        now: DateTime<Utc>,
    ) -> Result<CreatedToken, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let now = now.trunc_subsecs(6);
        let label = new.label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(AppError::invalid_field(
                "label",
                "donnez au jeton un nom de 1 à 100 caractères (le logiciel qui l'utilise)",
            ));
        }
        if new.scopes.is_empty() {
            return Err(AppError::invalid_field(
                "scopes",
                "choisissez au moins une permission",
            ));
        }
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(AppError::invalid_field(
                "expires",
                "la date d'expiration est déjà passée",
            ));
        }
        let owner = self
            .store()
            .user(new.owner_id)
            .await
            .ok()
            .filter(|u| u.commune_id == commune.id && u.active)
            .ok_or_else(|| {
                AppError::invalid_field(
                    "owner",
                    "titulaire inconnu ou désactivé dans cette commune",
                )
            })?;
        let mut scopes = new.scopes.clone();
        scopes.sort();
        scopes.dedup();
        if let Some(refused) = scopes.iter().find(|s| !owner.role.may(s.permission())) {
            return Err(AppError::invalid_field(
                "scopes",
                format!(
                    "le rôle de {} ({}) ne permet pas « {} »",
                    owner.display_name,
                    owner.role.label_fr(),
                    refused.code()
                ),
            ));
        }
        let secret = new_secret()?;
        let token = ApiToken {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            owner_id: owner.id,
            label: label.to_owned(),
            hint: secret.chars().take(HINT_CHARS).collect(),
            scopes: scopes.iter().map(|s| s.code().to_owned()).collect(),
            created_by: actor.journal_name(),
            created_at: now,
            expires_at: new.expires_at.map(|t| t.trunc_subsecs(6)),
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
        };
        let mut tx = self.store().begin(now).await?;
        tx.insert_api_token(&token, &token_hash(&secret), &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(CreatedToken { token, secret })
    }

    /// The commune's tokens (never their secrets), newest first: administrators only.
    #[boxed_future]
    pub async fn api_tokens(
        &self,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<Vec<ApiToken>, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        Ok(self.store().api_tokens(commune.id).await?)
    }

    /// Revokes a token of the commune, at once: an administrator's act, journaled.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, actor = %actor.journal_name()))]
    #[boxed_future]
    pub async fn revoke_api_token(
        &self,
        commune: &Commune,
        actor: &Actor,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let token = tx
            .revoke_api_token(commune.id, id, &actor.journal_name())
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The caller behind a bearer token, or why it is refused.
    #[boxed_future]
    pub async fn authenticate_token(
        &self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<ApiCaller, TokenRefusal>, AppError> {
        let secret = secret.trim();
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Ok(Err(TokenRefusal::Unknown));
        }
        let Some(found) = self.store().api_token_context(&token_hash(secret)).await? else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        let token = found.token;
        if token.revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Revoked));
        }
        if token.expires_at.is_some_and(|at| at <= now) {
            return Ok(Err(TokenRefusal::Expired));
        }
        if !found.owner.active || found.owner.commune_id != token.commune_id {
            return Ok(Err(TokenRefusal::OwnerInactive));
        }
        // When it was last used, for the administration's list: written at most once a
        // minute, not on every call.
        if token
            .last_used_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(1))
        {
            self.store().touch_api_token(token.id, now).await?;
        }
        // An API call is a session of one request: the same identity the pages' use cases
        // take (no CSRF token: there is no form and no cookie).
        let session = parapheur_store::sessions::Session {
            user_id: found.owner.id,
            commune_id: found.commune.id,
            csrf_token: String::new(),
            created_at: token.created_at,
            last_seen_at: now,
            expires_at: token.expires_at.unwrap_or(now),
        };
        Ok(Ok(ApiCaller {
            who: Authenticated {
                session,
                user: found.owner,
                commune: found.commune,
                journal_seq: found.journal_seq,
            },
            token,
        }))
    }

    /// Counts a call of the token; `Some(wait)` when it made its minute's calls already
    /// (the call is then not counted).
    #[boxed_future]
    pub async fn api_rate(
        &self,
        token: &ApiToken,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, AppError> {
        let key = format!("api:token:{}", token.id);
        let window = Duration::from_secs(60);
        let max = usize::try_from(self.api_requests_per_minute).unwrap_or(usize::MAX);
        if let Some(wait) = self.limit_wait(&key, &[(max, window)], now).await? {
            return Ok(Some(wait));
        }
        self.limit_record(&key, window, now).await?;
        Ok(None)
    }

    /// Forgets the idempotency answers older than [`IDEMPOTENCY_KEPT`] (with the limits'
    /// own pruning, on the deadline watch's round).
    pub(crate) async fn prune_idempotency(&self, now: DateTime<Utc>) -> Result<u64, AppError> {
        Ok(self
            .store()
            .prune_idempotency(now - IDEMPOTENCY_KEPT)
            .await?)
    }

    /// What an earlier request with this key was answered, if any.
    async fn kept_answer(
        &self,
        key: Option<&IdempotencyKey>,
    ) -> Result<Option<Answered>, AppError> {
        let Some(key) = key else { return Ok(None) };
        Ok(self
            .store()
            .idempotent_answer(key.token_id, &key.key)
            .await?
            .map(|kept| Answered::of_kept(kept, &key.fingerprint)))
    }

    /// After a creation lost the race to a retry with the same key: the winner's answer.
    async fn raced_answer(&self, key: &IdempotencyKey) -> Result<Answered, AppError> {
        self.kept_answer(Some(key)).await?.ok_or_else(|| {
            AppError::Conflict(
                "requête concurrente avec la même clé d'idempotence : réessayez".into(),
            )
        })
    }

    /// Registers an item as `register_with_party` does (the same checks, rights and
    /// transaction), answering with `answer` and keeping that answer under the idempotency
    /// key, if any, in the same transaction: a retry registers nothing more.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_once(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewItem,
        party: Option<Party>,
        files: Vec<NewFile>,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        answer: impl FnOnce(&Registered) -> Result<String, AppError>,
    ) -> Result<(Answered, Option<Registered>), AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        if let Some(kept) = self.kept_answer(key).await? {
            return Ok((kept, None));
        }
        let ready = self.ready_item(commune, new, party, files, now).await?;
        let mut tx = self.store().begin(ready.now()).await?;
        let registered = register_in(&mut tx, commune, actor, ready).await?;
        let body = answer(&registered)?;
        if let Some(raced) = self.commit_keeping_answer(tx, key, &body).await? {
            return Ok((raced, None));
        }
        self.registered(&registered);
        Ok((Answered::Created { status: 201, body }, Some(registered)))
    }

    /// Creates a contact of the commune (a registrar's act, journaled), refusing one that
    /// looks like an existing contact (`AppError::Conflict` naming them: use it, or merge).
    #[boxed_future]
    pub async fn create_contact(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewContact,
        now: DateTime<Utc>,
    ) -> Result<Contact, AppError> {
        let (_, created) = self
            .create_contact_once(commune, actor, new, now, None, |_| Ok(String::new()))
            .await?;
        created.ok_or_else(|| AppError::internal("contact non créé"))
    }

    /// [`App::create_contact`] under an idempotency key: the answer kept in the creation's
    /// transaction. A likely duplicate is `AppError::Conflict`, naming them.
    pub async fn create_contact_once(
        &self,
        commune: &Commune,
        actor: &Actor,
        new: NewContact,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        answer: impl FnOnce(&Contact) -> Result<String, AppError>,
    ) -> Result<(Answered, Option<Contact>), AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        if let Some(kept) = self.kept_answer(key).await? {
            return Ok((kept, None));
        }
        new.validate()
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let duplicates = self.store().likely_duplicates(commune.id, &new).await?;
        if !duplicates.is_empty() {
            return Err(AppError::Conflict(format!(
                "ce contact existe probablement déjà : {}",
                duplicates
                    .iter()
                    .map(|c| format!("{} ({})", c.display_name(), c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        let contact = tx
            .insert_contact(commune.id, &new, &actor.journal_name())
            .await?;
        let body = answer(&contact)?;
        if let Some(raced) = self.commit_keeping_answer(tx, key, &body).await? {
            return Ok((raced, None));
        }
        Ok((Answered::Created { status: 201, body }, Some(contact)))
    }

    /// Keeps a creation's answer under its idempotency key in the creation's own transaction,
    /// then commits. When a simultaneous retry kept its answer first, nothing is committed and
    /// that answer is returned instead.
    async fn commit_keeping_answer(
        &self,
        mut tx: WriteTx,
        key: Option<&IdempotencyKey>,
        body: &str,
    ) -> Result<Option<Answered>, AppError> {
        if let Some(key) = key {
            let kept = IdempotentAnswer {
                fingerprint: key.fingerprint.clone(),
                status: 201,
                response: body.to_owned(),
            };
            match tx
                .record_idempotent_answer(key.token_id, &key.key, &kept)
                .await
            {
                Ok(()) => {}
                Err(StoreError::AlreadyExists(_)) => {
                    drop(tx);
                    return Ok(Some(self.raced_answer(key).await?));
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(None)
    }

    /// A page of the items this person may read, newest first, after `before` (the last
    /// item of the previous page): the confidentiality rule as in every list.
    #[boxed_future]
    pub async fn items_page(
        &self,
        who: &Authenticated,
        mut filter: ItemFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Item>, AppError> {
        filter.confidential_visible_to = who.confidential_reader();
        Ok(self
            .store()
            .items_page(who.commune.id, &filter, before, limit)
            .await?)
    }

    /// A page of the contact directory in creation order, after the contact `after`.
    #[boxed_future]
    pub async fn contacts_page(
        &self,
        who: &Authenticated,
        q: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Contact>, AppError> {
        Ok(self
            .store()
            .contacts_page(who.commune.id, q, after, limit)
            .await?)
    }
}
