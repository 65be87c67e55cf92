//! The archivist's page: the retention rules (editable), the items whose DUA has run out,
//! legal holds, proposals of elimination (bordereau PDF, visa, elimination, certificate) and
//! SEDA transfers (message download, the archives' answer). Every route is the archivist's
//! (`Access::Archivist`); the use cases check it again.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::domain::french::long_date;
use parapheur_app::domain::retention::{
    EliminationState, FinalAction, RetentionRule, StartEvent, TransferState, Visa,
};
use parapheur_app::{AppError, ErrorKind};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WebError;
use crate::pages::item::file_response;
use crate::session::{Me, Posted, csrf_forms};
use crate::{WebState, assets, templates};

fn uuid(id: &str) -> Result<Uuid, WebError> {
    id.parse().map_err(|_| WebError::NotFound)
}

fn back() -> Response {
    Redirect::to("/archives").into_response()
}

pub async fn page(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let app = &state.app;
    let commune = &me.0.commune;
    let actor = me.0.actor();
    let now = Utc::now();
    let rules: Vec<_> = app
        .retention_schedules(commune, &actor)
        .await?
        .into_iter()
        .map(|s| {
            ctx! {
                code => s.doctype, label => s.label, years => s.rule.years,
                fate => s.rule.final_action.code(), start => s.start.code(),
            }
        })
        .collect();
    let due: Vec<_> = app
        .items_due(commune, &actor, now)
        .await?
        .into_iter()
        .map(|d| {
            ctx! {
                id => d.item.id.to_string(), chrono => d.item.chrono, subject => d.item.subject,
                since => long_date(d.since), fate => d.schedule.rule.final_action.label_fr(),
                proposable => d.may_be_proposed(),
                hold => d.hold.map(|h| h.reason), in_procedure => d.in_procedure,
            }
        })
        .collect();
    let mut holds = Vec::new();
    for h in app.legal_holds(commune, &actor).await? {
        let item = app.item(commune.id, h.item_id).await?;
        holds.push(ctx! {
            id => h.item_id.to_string(), chrono => item.chrono, subject => item.subject, reason => h.reason,
        });
    }
    let proposals: Vec<_> = app
        .eliminations(commune, &actor)
        .await?
        .into_iter()
        .map(|e| {
            ctx! {
                id => e.id.to_string(), number => e.number, count => e.items.len(),
                state => e.state.label_fr(),
                awaiting_visa => e.state == EliminationState::Proposed,
                approved => e.state == EliminationState::Approved,
                done => e.state == EliminationState::Done,
                visa => e.visa.map(|v| format!("visa n° {} de {}, le {}", v.reference, v.signed_by, long_date(v.signed_on))),
            }
        })
        .collect();
    let transfers: Vec<_> = app
        .transfers(commune, &actor)
        .await?
        .into_iter()
        .map(|t| {
            ctx! {
                id => t.id.to_string(), identifier => t.identifier, count => t.items.len(),
                state => t.state.label_fr(), pending => t.state.is_pending(),
                reply => t.reply_code,
            }
        })
        .collect();
    let fates: Vec<_> = FinalAction::ALL
        .iter()
        .map(|a| ctx! { code => a.code(), label => a.label_fr() })
        .collect();
    let starts: Vec<_> = StartEvent::ALL
        .iter()
        .map(|s| ctx! { code => s.code(), label => s.label_fr() })
        .collect();
    Ok(Html(templates::render(
        "archives.html",
        ctx! {
            title => "Archives", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "archives", rules, due, holds, proposals, transfers, fates, starts,
            source => parapheur_app::domain::retention::SOURCE,
            today => parapheur_app::domain::clock::local_date(now, commune.zone()).to_string(),
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    years: String,
    #[serde(default)]
    fate: String,
    #[serde(default)]
    start: String,
}

pub async fn set_rule(
    State(state): State<WebState>,
    me: Me,
    Path(code): Path<String>,
    Posted(form): Posted<RuleForm>,
) -> Result<Response, WebError> {
    let invalid = |m: String| WebError::BadRequest(m);
    let years: u32 = form
        .years
        .trim()
        .parse()
        .map_err(|_| invalid("durée d'utilité administrative : un nombre d'années".into()))?;
    let rule = RetentionRule {
        years,
        final_action: form.fate.parse().map_err(invalid)?,
    };
    let start: StartEvent = form.start.parse().map_err(invalid)?;
    state
        .app
        .set_retention(&me.0.commune, &me.0.actor(), &code, rule, start, Utc::now())
        .await
        .map_err(|e| match e {
            AppError::UnknownDoctype(_) => WebError::NotFound,
            other => other.into(),
        })?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    motif: String,
    /// "1" lifts the hold.
    #[serde(default)]
    lever: String,
}

pub async fn hold(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<HoldForm>,
) -> Result<Response, WebError> {
    let reason = (form.lever != "1").then_some(form.motif.as_str());
    state
        .app
        .set_legal_hold(&me.0.commune, &me.0.actor(), uuid(&id)?, reason, Utc::now())
        .await?;
    Ok(back())
}

/// The `ids` chosen in a form (checkboxes), and its CSRF token.
fn chosen(body: &str) -> (String, Vec<Uuid>) {
    let mut csrf = String::new();
    let mut ids = Vec::new();
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "ids" if ids.len() < 500 => ids.extend(v.parse::<Uuid>().ok()),
            _ => {}
        }
    }
    (csrf, ids)
}

pub async fn propose(
    State(state): State<WebState>,
    me: Me,
    body: String,
) -> Result<Response, WebError> {
    let (csrf, ids) = chosen(&body);
    me.check_csrf(&csrf)?;
    // Another commune's ids are "not to eliminate" here, never a sign they exist.
    let e = state
        .app
        .propose_elimination(&me.0.commune, &me.0.actor(), &ids, Utc::now())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => WebError::BadRequest(
                "un des éléments choisis n'est pas à éliminer dans cette commune".into(),
            ),
            _ => e.into(),
        })?;
    Ok(Redirect::to(&format!("/archives#proposition-{}", e.id)).into_response())
}

pub async fn proposal_pdf(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let pdf = state
        .app
        .elimination_proposal_pdf(&me.0.commune, &me.0.actor(), uuid(&id)?, Utc::now())
        .await?;
    Ok(file_response(
        pdf,
        "bordereau-elimination.pdf",
        "application/pdf",
    ))
}

#[derive(Debug, Deserialize)]
pub struct VisaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    signataire: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    numero: String,
}

pub async fn visa(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<VisaForm>,
) -> Result<Response, WebError> {
    let id = uuid(&id)?;
    // Found first: another commune's proposal is "not found", whatever the form says.
    state
        .app
        .elimination(&me.0.commune, &me.0.actor(), id)
        .await?;
    let signed_on = NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d")
        .map_err(|_| WebError::BadRequest("date du visa invalide (AAAA-MM-JJ)".into()))?;
    let visa = Visa {
        signed_by: form.signataire,
        signed_on,
        reference: form.numero,
    };
    state
        .app
        .record_visa(&me.0.commune, &me.0.actor(), id, visa, Utc::now())
        .await?;
    Ok(back())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn eliminate(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfForm>,
) -> Result<Response, WebError> {
    state
        .app
        .eliminate(&me.0.commune, &me.0.actor(), uuid(&id)?, Utc::now())
        .await?;
    Ok(back())
}

pub async fn certificate(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let pdf = state
        .app
        .destruction_certificate_pdf(&me.0.commune, &me.0.actor(), uuid(&id)?, Utc::now())
        .await?;
    Ok(file_response(
        pdf,
        "certificat-de-destruction.pdf",
        "application/pdf",
    ))
}

#[derive(Debug, Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    csrf: String,
    /// Chrono numbers, separated by spaces, commas or lines.
    #[serde(default)]
    numeros: String,
    /// The archives' identifier; empty: the Archives départementales.
    #[serde(default)]
    service: String,
}

pub async fn transfer(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<TransferForm>,
) -> Result<Response, WebError> {
    let commune = &me.0.commune;
    let mut ids = Vec::new();
    for number in form
        .numeros
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|n| !n.is_empty())
        .take(500)
    {
        match state.app.item_by_chrono(commune.id, number).await {
            Ok(item) => ids.push(item.id),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(WebError::BadRequest(format!(
                    "aucun élément n° « {number} » dans le registre"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let agency = Some(form.service.trim()).filter(|s| !s.is_empty());
    state
        .app
        .transfer_to_archives(commune, &me.0.actor(), &ids, agency, Utc::now())
        .await?;
    Ok(back())
}

pub async fn message(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = uuid(&id)?;
    let transfer = state.app.transfer(&me.0.commune, &me.0.actor(), id).await?;
    let xml = state
        .app
        .transfer_message(&me.0.commune, &me.0.actor(), id)
        .await?;
    Ok(file_response(
        xml,
        &format!("{}.xml", transfer.identifier),
        "application/xml",
    ))
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    /// The archives' message (Acknowledgement or ArchiveTransferReply), pasted.
    #[serde(default)]
    reponse: String,
}

pub async fn answer(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<AnswerForm>,
) -> Result<Response, WebError> {
    let id = uuid(&id)?;
    let transfer = state.app.transfer(&me.0.commune, &me.0.actor(), id).await?;
    if transfer.state != TransferState::Sent && transfer.state != TransferState::Acknowledged {
        return Err(WebError::BadRequest(format!(
            "le versement {} est déjà {}",
            transfer.identifier,
            transfer.state.label_fr()
        )));
    }
    state
        .app
        .record_transfer_answer(
            &me.0.commune,
            &me.0.actor(),
            id,
            form.reponse.trim().as_bytes(),
            Utc::now(),
        )
        .await?;
    Ok(back())
}

csrf_forms!(
    RuleForm,
    HoldForm,
    VisaForm,
    CsrfForm,
    TransferForm,
    AnswerForm
);
