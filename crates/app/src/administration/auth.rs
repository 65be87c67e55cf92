//! Who is at the keyboard: logins with argon2id passwords, server-side sessions, password
//! changes and resets, and a limit on failed logins per account and per address.
//!
//! Secrets handed to the browser (session cookie, reset link) are random 256-bit tokens; the
//! database keeps only their SHA-256, so a copy of it opens no session.

use crate::boxed_future;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use parapheur_domain::Commune;
use parapheur_store::sessions::Session;
use parapheur_store::users::User;
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError, hash_password, verify_password};

/// A session lasts this long without activity.
pub const SESSION_IDLE: Duration = Duration::hours(8);
/// A session ends this long after its login whatever its activity: a stolen cookie does
/// not live for ever by being used.
pub const SESSION_MAX: Duration = Duration::hours(12);
/// A reset link works this long, once.
pub const RESET_VALIDITY: Duration = Duration::hours(1);
/// How long the link sent to a new user to choose a password stays valid.
pub const INVITATION_VALIDITY: Duration = Duration::days(7);
/// Password links a user can be sent in an hour through "mot de passe oublié".
pub const RESETS_PER_HOUR: i64 = 3;
/// How long "forgotten password" takes to answer, account or not.
pub const RESET_ANSWER_TIME: std::time::Duration = std::time::Duration::from_millis(400);

/// Why a password link is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordLink {
    /// "Mot de passe oublié": valid an hour.
    Reset,
    /// A new account, or an administrator's new link: valid a week.
    Invitation,
}
/// Failed logins allowed per window, per account and per address.
/// Failures for one account from one address before that address waits: a stranger
/// elsewhere cannot lock the owner out.
const MAX_FAILURES_PER_ACCOUNT: usize = 5;
/// Failures for one account from all addresses together: a distributed guess slows down
/// long before it could succeed, far above what one person's typos reach.
const MAX_FAILURES_PER_ACCOUNT_EVERYWHERE: usize = 100;
const MAX_FAILURES_PER_ADDRESS: usize = 20;
const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// A random token for the browser and its hash for the database.
pub fn new_token() -> Result<(String, String), AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::invalid(format!("aléa indisponible : {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The keys a failed login counts under, each with its limit per [`FAILURE_WINDOW`]: the
/// account from this address, the account from everywhere, and the address.
fn failure_keys(email: &str, ip: Option<IpAddr>) -> [(String, usize); 3] {
    let account = email.trim().to_lowercase();
    let address = ip.map(|i| i.to_string()).unwrap_or_default();
    [
        (
            format!("login:account:{account}@{address}"),
            MAX_FAILURES_PER_ACCOUNT,
        ),
        (
            format!("login:account:{account}"),
            MAX_FAILURES_PER_ACCOUNT_EVERYWHERE,
        ),
        (format!("login:ip:{address}"), MAX_FAILURES_PER_ADDRESS),
    ]
}

fn failure_window() -> std::time::Duration {
    FAILURE_WINDOW.to_std().unwrap_or_default()
}

impl App {
    /// `Some(minutes to wait)` when this account or address is blocked. The failures are
    /// counted in the database: every node sees the same.
    pub(crate) async fn login_blocked(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, AppError> {
        let mut longest = None;
        for (key, max) in failure_keys(email, ip) {
            if let Some(wait) = self
                .limit_wait(&key, &[(max, failure_window())], now)
                .await?
            {
                longest = longest.max(Some(wait));
            }
        }
        Ok(longest.map(|wait| i64::try_from(wait.as_secs() / 60).unwrap_or(i64::MAX) + 1))
    }

    pub(crate) async fn record_login_failure(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        for (key, _) in failure_keys(email, ip) {
            self.limit_record(&key, failure_window(), now).await?;
        }
        Ok(())
    }

    pub(crate) async fn clear_login_failures(
        &self,
        email: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let [(mine, _), ..] = failure_keys(email, ip);
        self.limit_forget(&mine).await
    }
}

/// Why a login did not open a session. Messages never say whether the account exists.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("adresse ou mot de passe incorrect")]
    BadCredentials,
    #[error("trop de tentatives de connexion : réessayez dans {} minute{}", .0, if *.0 >= 2 { "s" } else { "" })]
    TooManyAttempts(i64),
    /// The same email and password open accounts in several communes: choose one.
    #[error("ce compte existe dans plusieurs communes : choisissez-en une")]
    ChooseCommune(Vec<Commune>),
    /// An administrator's password was right: now the code of their second factor.
    #[error("saisissez le code à six chiffres de votre application d'authentification")]
    SecondFactorNeeded,
    #[error("code d'authentification incorrect ou déjà utilisé")]
    BadSecondFactor,
    #[error(transparent)]
    App(#[from] AppError),
}

/// What the web layer keeps after a login: the cookie token (to send once) and the CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
    pub commune: Commune,
}

/// A request's authenticated identity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    pub commune: Commune,
    /// The commune's journal position when the request began: what was read for an
    /// earlier request at the same position is still true.
    pub journal_seq: i64,
}

impl Authenticated {
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.id)
    }

    /// `None` when this person reads every confidential item, else their id: what every
    /// list, count and search of theirs filters on.
    pub fn confidential_reader(&self) -> Option<uuid::Uuid> {
        self.user.role.confidential_reader(self.user.id)
    }
}

/// A real argon2id hash of a random password: verified when the account does not exist, so
/// a failed login takes the same time either way.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = new_token()
            .map(|(t, _)| t)
            .unwrap_or_else(|_| "x".repeat(32));
        hash_password(&secret).unwrap_or_default()
    })
}

impl App {
    /// Checks an email and password and opens a session.
    /// An administrator who enrolled a second factor gives its code too (`second_factor`),
    /// when the installation asks for it (the default).
    #[boxed_future]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        commune_insee: Option<&str>,
        second_factor: Option<&str>,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<NewSession, LoginError> {
        if let Some(minutes) = self.login_blocked(email, ip, now).await? {
            tracing::warn!(?ip, "login rate limited");
            return Err(LoginError::TooManyAttempts(minutes));
        }
        let candidates = self
            .store()
            .users_by_email(email)
            .await
            .map_err(AppError::from)?;
        let mut matching = Vec::new();
        for user in candidates {
            let hash = self
                .store()
                .password_hash(user.id)
                .await
                .map_err(AppError::from)?;
            let password = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || {
                hash.is_some_and(|h| verify_password(&password, &h))
            })
            .await
            .unwrap_or(false);
            if ok {
                matching.push(user);
            }
        }
        if matching.is_empty() {
            // Same work as a real check, so timing does not tell whether the account exists.
            let password = password.to_owned();
            let _ =
                tokio::task::spawn_blocking(move || verify_password(&password, dummy_hash())).await;
            self.record_login_failure(email, ip, now).await?;
            return Err(LoginError::BadCredentials);
        }
        let mut communes = Vec::new();
        for user in &matching {
            communes.push(
                self.store()
                    .commune(user.commune_id)
                    .await
                    .map_err(AppError::from)?,
            );
        }
        let chosen = match (matching.len(), commune_insee) {
            (1, _) => 0,
            (_, Some(insee)) => communes
                .iter()
                .position(|c| c.insee == insee)
                .ok_or(LoginError::BadCredentials)?,
            (_, None) => return Err(LoginError::ChooseCommune(communes)),
        };
        let user = matching.swap_remove(chosen);
        let commune = communes.swap_remove(chosen);
        if self.login_needs_second_factor(&user).await? {
            let Some(code) = second_factor.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(LoginError::SecondFactorNeeded);
            };
            match self
                .check_second_factor(&commune, &user, Some(code), now)
                .await
            {
                Ok(()) => {}
                Err(e) if e.kind() == crate::ErrorKind::Invalid => {
                    self.record_login_failure(email, ip, now).await?;
                    return Err(LoginError::BadSecondFactor);
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.clear_login_failures(email, ip).await?;
        let session = self.open_session(user, commune, now).await?;
        tracing::info!(user = %session.user.id, commune = %session.commune.insee, method = "password", "login");
        Ok(session)
    }

    /// A new session for `user`, once they have proved who they are (password or
    /// ProConnect, and the second factor where one is due).
    pub(crate) async fn open_session(
        &self,
        user: User,
        commune: Commune,
        now: DateTime<Utc>,
    ) -> Result<NewSession, AppError> {
        let (token, id_hash) = new_token()?;
        let (csrf_token, _) = new_token()?;
        self.store()
            .create_session(&id_hash, &user, &csrf_token, now, now + SESSION_IDLE)
            .await?;
        Ok(NewSession {
            token,
            csrf_token,
            user,
            commune,
        })
    }

    /// Whether `user` gives their second factor to log in: an administrator (of the commune
    /// or of the installation) who enrolled one, when the installation asks for it.
    pub(crate) async fn login_needs_second_factor(&self, user: &User) -> Result<bool, AppError> {
        Ok(self.admin_second_factor()
            && (user.role.can_administer() || user.host_admin)
            && self.has_second_factor(user.id).await?)
    }

    /// The identity behind a session cookie, if the session is live; slides its expiry.
    #[boxed_future]
    pub async fn authenticate(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Authenticated>, AppError> {
        let id_hash = token_hash(token);
        let Some(context) = self.store().session_context(&id_hash, now).await? else {
            return Ok(None);
        };
        let session = context.session;
        let user = context.user;
        if !user.active
            || user.commune_id != session.commune_id
            || now - session.created_at > SESSION_MAX
        {
            self.store().delete_session(&id_hash).await?;
            return Ok(None);
        }
        // Writing on every request would serialise reads on SQLite: slide once a minute.
        if now - session.last_seen_at > Duration::minutes(1) {
            self.store()
                .touch_session(&id_hash, now, now + SESSION_IDLE)
                .await?;
        }
        Ok(Some(Authenticated {
            session,
            user,
            commune: context.commune,
            journal_seq: context.journal_seq,
        }))
    }

    #[boxed_future]
    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        Ok(self.store().delete_session(&token_hash(token)).await?)
    }

    /// Changes a password after checking the current one; ends the user's other sessions.
    #[boxed_future]
    pub async fn change_password(
        &self,
        who: &Authenticated,
        current: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let hash = self.store().password_hash(who.user.id).await?;
        if !hash.is_some_and(|h| verify_password(current, &h)) {
            return Err(AppError::invalid("le mot de passe actuel est incorrect"));
        }
        self.set_password(&who.user, new, &who.actor(), now).await
    }

    async fn set_password(
        &self,
        user: &User,
        new: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let new = new.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&new))
            .await
            .map_err(|e| AppError::invalid(e.to_string()))??;
        let mut tx = self.store().begin(now).await?;
        tx.set_password_hash(user, &hash, &actor.journal_name())
            .await?;
        tx.commit().await?;
        self.store().delete_user_sessions(user.id).await?;
        Ok(())
    }

    /// Emails a reset link to every active account with this email, at most
    /// [`RESETS_PER_HOUR`] an hour each (a stranger must not flood someone's mailbox).
    /// Returns how many were sent; the requester is never told whether the email exists.
    /// The answer comes no sooner than [`RESET_ANSWER_TIME`] either way, so its delay does
    /// not tell whether the address has an account.
    #[boxed_future]
    pub async fn request_password_reset(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let started = tokio::time::Instant::now();
        let result = self.send_password_resets(email, now).await;
        if started.elapsed() > RESET_ANSWER_TIME {
            tracing::warn!("password reset took longer than its fixed answer time");
        }
        tokio::time::sleep_until(started + RESET_ANSWER_TIME).await;
        result
    }

    async fn send_password_resets(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let mut sent = 0;
        for user in self.store().users_by_email(email).await? {
            let recent = self
                .store()
                .password_resets_since(user.id, now - Duration::hours(1))
                .await?;
            if recent >= RESETS_PER_HOUR {
                tracing::warn!(user = %user.email, "password reset links: hourly limit reached");
                continue;
            }
            self.email_password_link(&user, PasswordLink::Reset, now)
                .await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// A new single-use link for `user` to choose a password, emailed to them through the
    /// outbox (the link is never logged). Returned so an administrator can also pass it on
    /// by hand, for a commune without an SMTP server yet.
    #[boxed_future]
    pub async fn email_password_link(
        &self,
        user: &User,
        purpose: PasswordLink,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        let (token, hash) = new_token()?;
        let validity = match purpose {
            PasswordLink::Reset => RESET_VALIDITY,
            PasswordLink::Invitation => INVITATION_VALIDITY,
        };
        self.store()
            .create_password_reset(&hash, user.id, now, now + validity)
            .await?;
        let commune = self.store().commune(user.commune_id).await?;
        let url = format!(
            "{}/mot-de-passe-oublie/nouveau?jeton={token}",
            self.public_url().trim_end_matches('/')
        );
        let (subject, text) = match purpose {
            PasswordLink::Reset => (
                format!("Mairie de {} : nouveau mot de passe", commune.name),
                format!(
                    "Bonjour {},\n\nUne demande de nouveau mot de passe a été faite pour votre compte ({}). Pour choisir votre mot de passe, ouvrez ce lien dans l'heure :\n\n{url}\n\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe actuel reste valable.\n",
                    user.display_name, user.email
                ),
            ),
            PasswordLink::Invitation => (
                format!("Mairie de {} : votre accès au courrier", commune.name),
                format!(
                    "Bonjour {},\n\nUn compte a été ouvert pour vous ({}) dans le logiciel de courrier de la mairie de {}. Pour choisir votre mot de passe, ouvrez ce lien dans les 7 jours :\n\n{url}\n\nPassé ce délai, demandez un nouveau lien à l'administrateur de la mairie.\n",
                    user.display_name, user.email, commune.name
                ),
            ),
        };
        let message = self.notice_to(&commune, user, subject, text);
        let email = self
            .prepare_email(&commune, None, "password_link", &message, None, now)
            .await?;
        let mut tx = self.store().begin(now).await?;
        self.queue_email(&mut tx, &email).await?;
        tx.commit().await?;
        self.outbox_queued();
        Ok(token)
    }

    /// Sets a new password from a reset link; the link works once, within its validity.
    #[boxed_future]
    pub async fn reset_password(
        &self,
        token: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        crate::administration::password::check_strength(new)?;
        let user_id = self
            .store()
            .consume_password_reset(&token_hash(token), now)
            .await?
            .ok_or_else(|| {
                AppError::invalid("ce lien de réinitialisation est invalide ou expiré")
            })?;
        let user = self.store().user(user_id).await?;
        self.set_password(&user, new, &Actor::User(user.id), now)
            .await?;
        Ok(user)
    }
}
