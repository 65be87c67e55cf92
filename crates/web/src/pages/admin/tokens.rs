//! The commune's API tokens (docs/API.md): created for a user of the commune with scopes,
//! shown once, listed without their secret, revoked at once.

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{NaiveDate, Utc};
use parapheur_app::api::{NewToken, Scope};
use serde::{Deserialize, Serialize};

use super::actor;
use super::bad;
use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{CsrfOnly, Me, Posted};
use crate::views;
use crate::{WebState, assets, templates};

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    owner: String,
    /// Last day of validity (the commune's), empty for none.
    #[serde(default)]
    expires: String,
    #[serde(default)]
    items_read: String,
    #[serde(default)]
    items_write: String,
    #[serde(default)]
    contacts_read: String,
    #[serde(default)]
    contacts_write: String,
    #[serde(default)]
    cti_events: String,
}

crate::session::csrf_forms!(TokenForm);

impl TokenForm {
    fn scopes(&self) -> Vec<Scope> {
        [
            (&self.items_read, Scope::ItemsRead),
            (&self.items_write, Scope::ItemsWrite),
            (&self.contacts_read, Scope::ContactsRead),
            (&self.contacts_write, Scope::ContactsWrite),
            (&self.cti_events, Scope::CtiEvents),
        ]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(_, s)| s)
        .collect()
    }
}

/// The form field of each scope.
fn scope_field(scope: Scope) -> &'static str {
    match scope {
        Scope::ItemsRead => "items_read",
        Scope::ItemsWrite => "items_write",
        Scope::ContactsRead => "contacts_read",
        Scope::ContactsWrite => "contacts_write",
        Scope::CtiEvents => "cti_events",
    }
}

async fn tokens_page(
    state: &WebState,
    me: &Me,
    form: &TokenForm,
    error: Option<String>,
    created: Option<(String, String, Option<String>)>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let users = state.app.users(commune.id).await?;
    let name_of = |id: uuid::Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.display_name.clone())
    };
    let tokens: Vec<_> = state
        .app
        .api_tokens(commune, &actor(me))
        .await?
        .into_iter()
        .map(|t| {
            let state = if t.revoked_at.is_some() {
                "révoqué".to_owned()
            } else if t.expires_at.is_some_and(|at| at <= Utc::now()) {
                "expiré".to_owned()
            } else {
                "actif".to_owned()
            };
            ctx! {
                id => t.id.to_string(), label => t.label, hint => format!("{}…", t.hint),
                owner => name_of(t.owner_id), scopes => t.scopes.join(", "),
                created => views::instant(t.created_at, commune),
                expires => t.expires_at.map(|at| views::instant(at, commune)),
                used => t.last_used_at.map(|at| views::instant(at, commune)),
                revoked => t.revoked_at.map(|at| views::instant(at, commune)),
                active => t.revoked_at.is_none(), state,
            }
        })
        .collect();
    let owner = if form.owner.is_empty() {
        me.0.user.id.to_string()
    } else {
        form.owner.clone()
    };
    let owners: Vec<_> = users
        .iter()
        .filter(|u| u.active)
        .map(|u| {
            ctx! {
                id => u.id.to_string(), selected => u.id.to_string() == owner,
                name => format!("{} ({})", u.display_name, u.role.label_fr()),
            }
        })
        .collect();
    let scopes: Vec<_> = Scope::ALL
        .iter()
        .map(|s| {
            let field = scope_field(*s);
            let checked = match s {
                Scope::ItemsRead => !form.items_read.is_empty(),
                Scope::ItemsWrite => !form.items_write.is_empty(),
                Scope::ContactsRead => !form.contacts_read.is_empty(),
                Scope::ContactsWrite => !form.contacts_write.is_empty(),
                Scope::CtiEvents => !form.cti_events.is_empty(),
            };
            ctx! { field, code => s.code(), label => s.label_fr(), checked }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_tokens.html",
        ctx! {
            title => "Jetons d'API", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "tokens", error, notice, tokens, owners, scopes, form,
            created => created.map(|(label, secret, cti)| {
                let cti = cti.map(|base| format!("{base}{secret}"));
                ctx! { label, secret, cti }
            }),
        },
    )?))
}

pub async fn tokens(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    tokens_page(&state, &me, &TokenForm::default(), None, None, None).await
}

/// Creates a token and shows its secret, this once.
pub async fn create_token(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<TokenForm>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let owner = match uuid::Uuid::parse_str(form.owner.trim()) {
        Ok(id) => id,
        Err(_) => {
            let error = Some("choisissez le titulaire du jeton".to_owned());
            return tokens_page(&state, &me, &form, error, None, None).await;
        }
    };
    let expires_at = match form.expires.trim() {
        "" => None,
        day => match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            // Valid through that day, the commune's: until the next midnight there.
            Ok(day) => day
                .succ_opt()
                .and_then(|next| next.and_hms_opt(0, 0, 0))
                .and_then(|midnight| {
                    midnight
                        .and_local_timezone(commune.zone())
                        .earliest()
                        .map(|t| t.with_timezone(&Utc))
                }),
            Err(_) => {
                let error = Some("date d'expiration invalide (AAAA-MM-JJ)".to_owned());
                return tokens_page(&state, &me, &form, error, None, None).await;
            }
        },
    };
    let new = NewToken {
        label: form.label.clone(),
        owner_id: owner,
        scopes: form.scopes(),
        expires_at,
    };
    match state
        .app
        .create_api_token(commune, &actor(&me), new, Utc::now())
        .await
    {
        Ok(created) => {
            let cti = created
                .token
                .scopes
                .iter()
                .any(|s| s == Scope::CtiEvents.code());
            // The address to give the phone system's bridge, the token in it.
            let cti = cti.then(|| {
                format!(
                    "{}/api/v1/cti/",
                    state.app.public_url().trim_end_matches('/')
                )
            });
            let shown = Some((created.token.label, created.secret, cti));
            tokens_page(&state, &me, &TokenForm::default(), None, shown, None).await
        }
        Err(e) => {
            let error = bad(e)?;
            tokens_page(&state, &me, &form, error, None, None).await
        }
    }
}

/// Revokes a token, at once.
pub async fn revoke_token(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let token = state
        .app
        .revoke_api_token(&me.0.commune, &actor(&me), parse_id(&id)?, Utc::now())
        .await?;
    let notice = Some(format!("Jeton « {} » révoqué.", token.label));
    tokens_page(&state, &me, &TokenForm::default(), None, None, notice).await
}
