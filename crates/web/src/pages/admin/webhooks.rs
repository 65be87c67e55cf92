//! The commune's webhooks (docs/API.md, "Webhooks"): a URL of another software subscribed
//! to events, its secret shown once, paused or resumed, removed; the latest deliveries with
//! their last answer, and "Renvoyer".

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::Utc;
use parapheur_app::domain::webhook::EventType;
use parapheur_app::webhooks::{DeliveryState, NewWebhook};
use serde::{Deserialize, Serialize};

use super::actor;
use super::bad;
use crate::error::WebError;
use crate::pages::item::parse_id;
use crate::session::{CsrfOnly, Me, Posted};
use crate::views;
use crate::{WebState, assets, templates};

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    item_registered: String,
    #[serde(default)]
    item_assigned: String,
    #[serde(default)]
    item_due_soon: String,
    #[serde(default)]
    item_implicit_decision: String,
    #[serde(default)]
    letter_signed: String,
    #[serde(default)]
    letter_sent: String,
    /// Checked: created paused.
    #[serde(default)]
    paused: String,
}

crate::session::csrf_forms!(WebhookForm);

/// The form field of each event.
fn event_field(event: EventType) -> &'static str {
    match event {
        EventType::ItemRegistered => "item_registered",
        EventType::ItemAssigned => "item_assigned",
        EventType::ItemDueSoon => "item_due_soon",
        EventType::ImplicitDecision => "item_implicit_decision",
        EventType::LetterSigned => "letter_signed",
        EventType::LetterSent => "letter_sent",
    }
}

impl WebhookForm {
    fn checked(&self, event: EventType) -> bool {
        let value = match event {
            EventType::ItemRegistered => &self.item_registered,
            EventType::ItemAssigned => &self.item_assigned,
            EventType::ItemDueSoon => &self.item_due_soon,
            EventType::ImplicitDecision => &self.item_implicit_decision,
            EventType::LetterSigned => &self.letter_signed,
            EventType::LetterSent => &self.letter_sent,
        };
        !value.is_empty()
    }

    fn events(&self) -> Vec<EventType> {
        EventType::ALL
            .into_iter()
            .filter(|e| self.checked(*e))
            .collect()
    }
}

fn state_label(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "en attente",
        DeliveryState::Delivered => "remis",
        DeliveryState::Failed => "en échec",
    }
}

async fn webhooks_page(
    state: &WebState,
    me: &Me,
    form: &WebhookForm,
    error: Option<String>,
    created: Option<(String, String)>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let subscriptions = state.app.webhooks(commune, &actor(me)).await?;
    let label_of = |id: uuid::Uuid| {
        subscriptions
            .iter()
            .find(|s| s.id == id)
            .map_or_else(String::new, |s| s.label.clone())
    };
    let deliveries: Vec<_> = state
        .app
        .webhook_deliveries(commune, &actor(me), None)
        .await?
        .into_iter()
        .map(|d| {
            ctx! {
                id => d.id.to_string(), subscription => label_of(d.subscription_id),
                event => d.event_type, at => views::instant(d.created_at, commune),
                state => state_label(d.state), failed => d.state == DeliveryState::Failed,
                waiting => d.state == DeliveryState::Pending,
                attempts => d.attempts, status => d.last_status,
                answer => d.last_answer,
                last => d.last_attempt_at.map(|at| views::instant(at, commune)),
                next => (d.state == DeliveryState::Pending && d.attempts > 0)
                    .then(|| views::instant(d.next_attempt_at, commune)),
            }
        })
        .collect();
    let subscriptions: Vec<_> = subscriptions
        .into_iter()
        .map(|s| {
            let events: Vec<&str> = s
                .events
                .iter()
                .filter_map(|code| EventType::parse(code))
                .map(EventType::label_fr)
                .collect();
            ctx! {
                id => s.id.to_string(), label => s.label, url => s.url,
                events => events.join(", "), active => s.active,
                created => views::instant(s.created_at, commune),
            }
        })
        .collect();
    let events: Vec<_> = EventType::ALL
        .iter()
        .map(|e| {
            ctx! {
                field => event_field(*e), code => e.code(), label => e.label_fr(),
                checked => form.checked(*e),
            }
        })
        .collect();
    Ok(Html(templates::render(
        "admin_webhooks.html",
        ctx! {
            title => "Webhooks", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "webhooks", error, notice, subscriptions, deliveries,
            events, form, created => created.map(|(label, secret)| ctx! { label, secret }),
        },
    )?))
}

pub async fn webhooks(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    webhooks_page(&state, &me, &WebhookForm::default(), None, None, None).await
}

/// Subscribes a URL and shows its secret, this once.
pub async fn create_webhook(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<WebhookForm>,
) -> Result<Html<String>, WebError> {
    let new = NewWebhook {
        label: form.label.clone(),
        url: form.url.clone(),
        events: form.events(),
        active: form.paused.is_empty(),
    };
    match state
        .app
        .create_webhook(&me.0.commune, &actor(&me), new, Utc::now())
        .await
    {
        Ok(created) => {
            let shown = Some((created.subscription.label, created.secret));
            webhooks_page(&state, &me, &WebhookForm::default(), None, shown, None).await
        }
        Err(e) => {
            let error = bad(e)?;
            webhooks_page(&state, &me, &form, error, None, None).await
        }
    }
}

/// Pauses or resumes a subscription.
pub async fn toggle_webhook(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let id = parse_id(&id)?;
    let current = state
        .app
        .webhooks(commune, &actor(&me))
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(WebError::NotFound)?;
    let after = state
        .app
        .set_webhook_active(commune, &actor(&me), id, !current.active, Utc::now())
        .await?;
    let notice = Some(if after.active {
        format!("Abonnement « {} » repris.", after.label)
    } else {
        format!(
            "Abonnement « {} » en pause : aucun événement ne lui est plus envoyé.",
            after.label
        )
    });
    webhooks_page(&state, &me, &WebhookForm::default(), None, None, notice).await
}

/// Removes a subscription and its deliveries.
pub async fn delete_webhook(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let removed = state
        .app
        .delete_webhook(&me.0.commune, &actor(&me), parse_id(&id)?, Utc::now())
        .await?;
    let notice = Some(format!("Abonnement « {} » supprimé.", removed.label));
    webhooks_page(&state, &me, &WebhookForm::default(), None, None, notice).await
}

/// "Renvoyer": a delivery is sent again now.
pub async fn redeliver_webhook(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let notice = match state
        .app
        .redeliver_webhook(&me.0.commune, &actor(&me), parse_id(&id)?, Utc::now())
        .await
    {
        Ok(d) => Some(format!(
            "Envoi « {} » remis dans la file : il part dans un instant.",
            d.event_type
        )),
        Err(e) => {
            let error = bad(e)?;
            return webhooks_page(&state, &me, &WebhookForm::default(), error, None, None).await;
        }
    };
    webhooks_page(&state, &me, &WebhookForm::default(), None, None, notice).await
}
