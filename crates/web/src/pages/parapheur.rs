//! The parapheur's pages: the list of letters (phone-first for élus: what waits for me,
//! sign in two taps, or several at once), a letter's page (its text, its PDF, its
//! circuit, the actions the person may do), drafting and sending, the verification of
//! any PDF, and the administration of circuits, delegations and signing keys.

use axum::extract::{Multipart, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use parapheur_app::AppError;
use parapheur_app::domain::circuit::{Action, Circuit, CircuitDef, StepDef, StepKind, StepState};
use parapheur_app::domain::clock::local_date;
use parapheur_app::parapheur::keys::KeyOwner;
use parapheur_app::parapheur::{FolderData, LetterInput, SendBy, describe_signature};
use parapheur_app::store::parapheur::{FolderRow, FolderState, KeyKind};
use parapheur_app::store::users::User;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WebError;
use crate::pages::item::{file_response, parse_id, visible_item};
use crate::session::Me;
use crate::{WebState, assets, templates};

/// A PDF uploaded for verification: 50 MB at most (the signing library's limit).
pub const MAX_PDF_BYTES: usize = 50 * 1024 * 1024;

fn user_label(u: &User) -> String {
    match &u.title {
        Some(t) => format!("{} ({t})", u.display_name),
        None => u.display_name.clone(),
    }
}

/// A letter of this commune that this person may see: its item's confidentiality rules
/// apply; a letter without an item is seen by everyone of the commune.
async fn visible_folder(state: &WebState, me: &Me, id: &str) -> Result<FolderRow, WebError> {
    let folder = state
        .app
        .store()
        .folder(me.0.commune.id, parse_id(id)?)
        .await?;
    if let Some(item_id) = folder.item_id {
        visible_item(state, me, &item_id.to_string()).await?;
    }
    Ok(folder)
}

/// The parapheur's home: what waits for me first (big buttons, a checkbox each for
/// "sign the selection"), then letters in circuit, refused, signed and sent.
pub async fn list(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    list_page(&state, &me, None, None).await
}

async fn list_page(
    state: &WebState,
    me: &Me,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let users = state.app.store().users(commune.id).await?;
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_default()
    };
    let waiting = state
        .app
        .folders_waiting_for(commune, &me.0.user, now)
        .await?;
    let waiting_ids: Vec<Uuid> = waiting.iter().map(|(f, _)| f.id).collect();
    let mine: Vec<_> = waiting
        .iter()
        .map(|(f, for_whom)| {
            let action = FolderData::of_row(f)
                .ok()
                .and_then(|d| d.circuit)
                .map(|c| next_action_label(&c, me.0.user.id))
                .unwrap_or("Signer");
            ctx! {
                id => f.id.to_string(), subject => f.subject,
                action, for_whom => for_whom.map(name),
                since => f.updated_at.format("%d/%m/%Y").to_string(),
            }
        })
        .collect();
    let others = state
        .app
        .store()
        .folders_in(
            commune.id,
            &[
                FolderState::Draft,
                FolderState::Circuit,
                FolderState::Rejected,
                FolderState::Signed,
                FolderState::Sent,
            ],
            200,
        )
        .await?;
    let mut sections = Vec::new();
    for state_ in [
        FolderState::Rejected,
        FolderState::Signed,
        FolderState::Circuit,
        FolderState::Draft,
        FolderState::Sent,
    ] {
        let rows: Vec<_> = others
            .iter()
            .filter(|f| f.state == state_ && !waiting_ids.contains(&f.id))
            .filter(|f| {
                // Drafts are their author's business; agents see the rest.
                state_ != FolderState::Draft || f.author_id == me.0.user.id || me.can_register()
            })
            .take(if state_ == FolderState::Sent { 20 } else { 100 })
            .map(|f| {
                let waiting_on = FolderData::of_row(f)
                    .ok()
                    .and_then(|d| d.circuit)
                    .map(|c| {
                        c.waiting_on()
                            .into_iter()
                            .map(name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                ctx! {
                    id => f.id.to_string(), subject => f.subject, waiting_on,
                    at => f.updated_at.format("%d/%m/%Y").to_string(),
                }
            })
            .collect();
        if !rows.is_empty() {
            sections.push(ctx! { title => state_.label_fr(), rows });
        }
    }
    let pin_needed = state
        .app
        .store()
        .signing_key(commune.id, KeyKind::Person, Some(me.0.user.id))
        .await?
        .is_some_and(|k| k.pin_protected);
    Ok(Html(templates::render(
        "parapheur.html",
        ctx! {
            title => "Parapheur", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur",
            mine, sections, pin_needed, notice, error,
        },
    )?))
}

/// "Viser" or "Signer": what the person's current step asks.
fn next_action_label(circuit: &Circuit, user: Uuid) -> &'static str {
    let Some(stage) = circuit.current_stage() else {
        return "Signer";
    };
    let visa = circuit.stages[stage]
        .iter()
        .any(|s| s.kind == StepKind::Visa && s.user_id == Some(user) && !s.state.is_done());
    if visa { "Viser" } else { "Signer" }
}

/// A letter's page.
pub async fn show(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    folder_page(&state, &me, &folder, None).await
}

async fn folder_page(
    state: &WebState,
    me: &Me,
    folder: &FolderRow,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let users = state.app.store().users(commune.id).await?;
    let name = |id: Option<Uuid>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map(user_label)
            .unwrap_or_else(|| "la commune (cachet)".to_owned())
    };
    let data = FolderData::of_row(folder).map_err(WebError::from)?;
    let circuit = data.circuit.clone();
    let steps: Vec<_> = circuit
        .iter()
        .flat_map(|c| c.stages.iter().enumerate())
        .flat_map(|(n, stage)| {
            let parallel = stage.len() > 1;
            stage.iter().map(move |s| (n, parallel, s))
        })
        .map(|(n, parallel, s)| {
            let state_label = match s.state {
                StepState::Waiting => "à venir",
                StepState::Current => "en attente",
                StepState::Approved => "visé",
                StepState::Signed => "signé",
                StepState::Sealed => "cacheté",
                StepState::Bypassed => "contourné",
            };
            ctx! {
                number => n + 1, parallel, kind => s.kind.label_fr(), who => name(s.user_id),
                state => state_label, done => s.state.is_done(), current => s.state == StepState::Current,
                by => s.done_by.filter(|b| Some(*b) != s.user_id && !b.is_nil()).map(|b| name(Some(b))),
                at => s.done_at.map(|t| t.format("%d/%m/%Y %H:%M").to_string()),
                comment => s.comment,
                opinions => s.opinions.iter().map(|o| ctx! {
                    of => name(Some(o.asked_of)), answer => o.answer,
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let rejection = circuit.as_ref().and_then(|c| c.rejection.as_ref()).map(|r| {
        ctx! { by => name(Some(r.by)), comment => r.comment, at => r.at.format("%d/%m/%Y %H:%M").to_string() }
    });
    let waiting = state
        .app
        .folders_waiting_for(commune, &me.0.user, now)
        .await?;
    let my_turn = waiting.iter().find(|(f, _)| f.id == folder.id);
    let action = match (&circuit, my_turn) {
        (Some(c), Some(_)) => Some(next_action_label(c, me.0.user.id)),
        _ => None,
    };
    let for_whom = my_turn.and_then(|(_, w)| *w).map(|w| name(Some(w)));
    let opinion_pending = circuit.as_ref().is_some_and(|c| {
        c.stages.iter().flatten().any(|s| {
            s.state == StepState::Current
                && s.opinions
                    .iter()
                    .any(|o| o.asked_of == me.0.user.id && o.answer.is_none())
        })
    });
    let editable = matches!(folder.state, FolderState::Draft | FolderState::Rejected)
        && (me.can_register() || folder.author_id == me.0.user.id);
    let item = match folder.item_id {
        Some(id) => Some(state.app.store().item(commune.id, id).await?),
        None => None,
    };
    let circuits = state.app.store().circuit_templates(commune.id).await?;
    let default_circuit = state
        .app
        .default_circuit(commune, folder.doctype_code.as_deref())
        .await?
        .map(|d| circuit_summary(&d, &users));
    let people: Vec<_> = users
        .iter()
        .filter(|u| u.active)
        .map(|u| ctx! { id => u.id.to_string(), label => user_label(u) })
        .collect();
    let pin_needed = state
        .app
        .store()
        .signing_key(commune.id, KeyKind::Person, Some(me.0.user.id))
        .await?
        .is_some_and(|k| k.pin_protected);
    let has_email = match &item {
        Some(item) => {
            let mut found = false;
            for (role, contact) in state.app.store().item_contacts(item.id).await? {
                if role == "sender" {
                    let c = state.app.store().contact(commune.id, contact).await?;
                    found = c.email.as_deref().is_some_and(|e| !e.trim().is_empty());
                }
            }
            found
        }
        None => false,
    };
    Ok(Html(templates::render(
        "folder.html",
        ctx! {
            title => format!("Courrier — {}", folder.subject), style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur", error,
            folder => ctx! {
                id => folder.id.to_string(), subject => folder.subject, recipient => folder.recipient,
                body => folder.body, state => folder.state.label_fr(), state_code => folder.state.code(),
                signer => folder.signer_id.map(|s| s.to_string()).unwrap_or_default(),
                registered_number => folder.registered_number, sent_via => folder.sent_via,
                reply_item => folder.reply_item_id.map(|i| i.to_string()),
                pdf_kb => folder.pdf_size.map(|s| (s + 1023) / 1024),
            },
            item => item.as_ref().map(|i| ctx! { id => i.id.to_string(), chrono => i.chrono, subject => i.subject, status => i.status.label_fr() }),
            steps, rejection, action, for_whom, opinion_pending, editable, pin_needed, has_email,
            circuits => circuits.iter().map(|c| ctx! { code => c.code, name => c.name }).collect::<Vec<_>>(),
            default_circuit, people,
            is_admin => me.0.user.role.can_administer(),
            in_circuit => folder.state == FolderState::Circuit,
            signed => folder.state == FolderState::Signed,
            can_send => folder.state == FolderState::Signed && (me.can_register() || folder.author_id == me.0.user.id),
        },
    )?))
}

/// "Visa : Marie Dupont → Signature : Jeanne Martin".
fn circuit_summary(def: &CircuitDef, users: &[User]) -> String {
    def.stages
        .iter()
        .map(|stage| {
            stage
                .iter()
                .map(
                    |s| match s.user_id.and_then(|id| users.iter().find(|u| u.id == id)) {
                        Some(u) => format!("{} : {}", s.kind.label_fr(), u.display_name),
                        None => s.kind.label_fr().to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[derive(Debug, Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    modele: String,
}

/// Drafts a reply letter to an item (from the item page).
pub async fn draft(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<DraftForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    me.require_register()?;
    let item = visible_item(&state, &me, &id).await?;
    let folder = state
        .app
        .draft_letter(
            &me.0.commune,
            &me.0.actor(),
            item.id,
            Some(form.modele.as_str()).filter(|m| !m.is_empty()),
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/parapheur/{}", folder.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    destinataire: String,
    #[serde(default)]
    texte: String,
    #[serde(default)]
    signataire: String,
}

/// Saves the draft's text (and lays the letter out again).
pub async fn save(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<EditForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service peut modifier ce courrier".into(),
        ));
    }
    let input = LetterInput {
        subject: form.objet,
        recipient: form.destinataire,
        body: form.texte,
        signer_id: Uuid::parse_str(&form.signataire).ok(),
    };
    match state
        .app
        .save_letter(&me.0.commune, &me.0.actor(), folder.id, &input, Utc::now())
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/parapheur/{}?enregistre=1", folder.id)).into_response())
        }
        Err(e @ AppError::Invalid(_)) => refused(&state, &me, &folder, e).await,
        Err(e) => Err(e.into()),
    }
}

/// The page again with the reason, status 400: nothing was changed.
async fn refused(
    state: &WebState,
    me: &Me,
    folder: &FolderRow,
    e: AppError,
) -> Result<Response, WebError> {
    let folder = state.app.store().folder(me.0.commune.id, folder.id).await?;
    let page = folder_page(state, me, &folder, Some(e.to_string())).await?;
    Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
}

/// The circuit form: a named circuit, or up to five steps chosen here.
#[derive(Debug, Deserialize)]
pub struct CircuitForm {
    #[serde(default)]
    csrf: String,
    /// A circuit's code, or "" for the steps below.
    #[serde(default)]
    circuit: String,
    #[serde(default)]
    etape1: String,
    #[serde(default)]
    personne1: String,
    #[serde(default)]
    etape2: String,
    #[serde(default)]
    personne2: String,
    #[serde(default)]
    etape3: String,
    #[serde(default)]
    personne3: String,
    #[serde(default)]
    etape4: String,
    #[serde(default)]
    personne4: String,
    /// "2" when step 2 runs with step 1, and so on.
    #[serde(default)]
    parallele2: String,
    #[serde(default)]
    parallele3: String,
    #[serde(default)]
    parallele4: String,
}

impl CircuitForm {
    /// The steps typed in the form: each a (kind, person) in order; a step marked
    /// parallel joins the previous stage.
    fn definition(&self) -> Result<CircuitDef, WebError> {
        let rows = [
            (&self.etape1, &self.personne1, ""),
            (&self.etape2, &self.personne2, self.parallele2.as_str()),
            (&self.etape3, &self.personne3, self.parallele3.as_str()),
            (&self.etape4, &self.personne4, self.parallele4.as_str()),
        ];
        let mut stages: Vec<Vec<StepDef>> = Vec::new();
        for (kind, person, parallel) in rows {
            if kind.is_empty() {
                continue;
            }
            let kind: StepKind = kind
                .parse()
                .map_err(|_| WebError::BadRequest(format!("type d'étape inconnu « {kind} »")))?;
            let user_id = if kind == StepKind::Seal {
                None
            } else {
                Some(Uuid::parse_str(person).map_err(|_| {
                    WebError::BadRequest(format!(
                        "choisissez la personne de l'étape « {} »",
                        kind.label_fr()
                    ))
                })?)
            };
            let step = StepDef { kind, user_id };
            match stages.last_mut() {
                Some(last) if parallel == "1" && kind != StepKind::Seal => last.push(step),
                _ => stages.push(vec![step]),
            }
        }
        Ok(CircuitDef { stages })
    }
}

/// Puts the letter into its circuit.
pub async fn start(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CircuitForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service peut lancer le circuit".into(),
        ));
    }
    let commune = &me.0.commune;
    let def = if form.circuit.is_empty() {
        match form.definition() {
            Ok(def) if !def.stages.is_empty() => def,
            Ok(_) => match state
                .app
                .default_circuit(commune, folder.doctype_code.as_deref())
                .await?
            {
                Some(def) => def,
                None => {
                    return refused(
                        &state,
                        &me,
                        &folder,
                        AppError::invalid("choisissez un circuit ou ses étapes"),
                    )
                    .await;
                }
            },
            Err(WebError::BadRequest(m)) => {
                return refused(&state, &me, &folder, AppError::invalid(m)).await;
            }
            Err(e) => return Err(e),
        }
    } else {
        let template = state
            .app
            .store()
            .circuit_templates(commune.id)
            .await?
            .into_iter()
            .find(|c| c.code == form.circuit)
            .ok_or(WebError::NotFound)?;
        serde_json::from_str(&template.definition_json)
            .map_err(|e| WebError::Internal(format!("circuit illisible : {e}")))?
    };
    match state
        .app
        .start_circuit(commune, &me.0.actor(), folder.id, &def, Utc::now())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/parapheur/{}", folder.id)).into_response()),
        Err(e @ AppError::Invalid(_)) => refused(&state, &me, &folder, e).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    commentaire: String,
    #[serde(default)]
    personne: String,
    #[serde(default)]
    code: String,
}

/// A circuit action on the letter: visa, signature, refusal, transfer, opinion, bypass.
pub async fn act(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    let folder = visible_folder(&state, &me, &id).await?;
    let person = || {
        Uuid::parse_str(&form.personne)
            .map_err(|_| WebError::BadRequest("choisissez une personne".into()))
    };
    let action = match form.action.as_str() {
        "approve" => Action::Approve,
        "sign" => Action::Sign,
        "reject" => Action::Reject {
            comment: form.commentaire.trim().to_owned(),
        },
        "transfer" => Action::Transfer { to: person()? },
        "ask_opinion" => Action::AskOpinion { of: person()? },
        "answer_opinion" => Action::AnswerOpinion {
            text: form.commentaire.trim().to_owned(),
        },
        "bypass" => Action::Bypass {
            comment: form.commentaire.trim().to_owned(),
        },
        _ => return Err(WebError::BadRequest("action inconnue".into())),
    };
    let signed = action == Action::Sign;
    match state
        .app
        .act_on_folder(
            &me.0.commune,
            &me.0.actor(),
            folder.id,
            action,
            Some(form.code.as_str()).filter(|c| !c.is_empty()),
            Utc::now(),
        )
        .await
    {
        // Back to the list: the next letter to sign is there.
        Ok(_) if signed => Ok(Redirect::to("/parapheur?fait=1").into_response()),
        Ok(_) => Ok(Redirect::to(&format!("/parapheur/{}", folder.id)).into_response()),
        Err(e @ AppError::Invalid(_)) => refused(&state, &me, &folder, e).await,
        Err(e) => Err(e.into()),
    }
}

/// Signs (or approves) every checked letter of the list at once.
pub async fn sign_selection(
    State(state): State<WebState>,
    me: Me,
    body: String,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut code = String::new();
    let mut ids = Vec::new();
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match &*key {
            "csrf" => csrf = value.into_owned(),
            "code" => code = value.into_owned(),
            "courrier" => ids.push(parse_id(&value)?),
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    if ids.is_empty() {
        let page = list_page(
            &state,
            &me,
            None,
            Some("cochez les courriers à signer".into()),
        )
        .await?;
        return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
    }
    if ids.len() > 100 {
        return Err(WebError::BadRequest(
            "100 courriers au plus à la fois".into(),
        ));
    }
    for id in &ids {
        visible_folder(&state, &me, &id.to_string()).await?;
    }
    let results = state
        .app
        .sign_folders(
            &me.0.commune,
            &me.0.actor(),
            &ids,
            Some(code.as_str()).filter(|c| !c.is_empty()),
            Utc::now(),
        )
        .await;
    let done = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    let notice = Some(format!("{done} courrier(s) signé(s) ou visé(s)"));
    let error = (!failed.is_empty()).then(|| format!("refusé : {}", failed.join(" ; ")));
    Ok(list_page(&state, &me, notice, error).await?.into_response())
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    par: String,
    #[serde(default)]
    recommande: String,
}

/// Sends the signed letter by email or records it as posted; the request is closed.
pub async fn send(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<SendForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service envoie le courrier".into(),
        ));
    }
    let by = match form.par.as_str() {
        "courriel" => SendBy::Email,
        "poste" => SendBy::Post {
            registered_number: Some(form.recommande).filter(|r| !r.trim().is_empty()),
        },
        _ => return Err(WebError::BadRequest("choisissez courriel ou poste".into())),
    };
    match state
        .app
        .send_letter(&me.0.commune, &me.0.actor(), folder.id, by, Utc::now())
        .await
    {
        Ok(registered) => Ok(Redirect::to(&format!(
            "/courrier/{}?enregistre=1",
            registered.item.id
        ))
        .into_response()),
        Err(e @ AppError::Invalid(_)) => refused(&state, &me, &folder, e).await,
        Err(e) => Err(e.into()),
    }
}

/// The letter's current PDF (with the signatures made so far).
pub async fn document(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state.app.folder_pdf(&me.0.commune, &folder).await?;
    Ok(file_response(pdf, "courrier.pdf", "application/pdf"))
}

/// The *bordereau de signature*.
pub async fn bordereau(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state
        .app
        .bordereau_pdf(&me.0.commune, folder.id, Utc::now())
        .await?;
    Ok(file_response(
        pdf,
        "bordereau-de-signature.pdf",
        "application/pdf",
    ))
}

/// The verification of the letter's own PDF.
pub async fn verify_folder(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state.app.folder_pdf(&me.0.commune, &folder).await?;
    verification_page(&state, &me, Some(pdf), Some(folder.subject.clone()), None).await
}

/// Verify any PDF: the upload form.
pub async fn verify_form(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    verification_page(&state, &me, None, None, None).await
}

/// Verify any PDF: the report.
pub async fn verify_upload(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::BadRequest("envoi interrompu ou trop gros (50 Mo au plus)".into()))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("fichier") => {
                let name = field.file_name().unwrap_or("document.pdf").to_owned();
                let bytes = field.bytes().await.map_err(|_| {
                    WebError::BadRequest("envoi interrompu ou trop gros (50 Mo au plus)".into())
                })?;
                if bytes.len() > MAX_PDF_BYTES {
                    return Err(WebError::BadRequest("50 Mo au plus".into()));
                }
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let page = verification_page(
            &state,
            &me,
            None,
            None,
            Some("choisissez un fichier PDF".into()),
        )
        .await?;
        return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
    };
    Ok(
        verification_page(&state, &me, Some(bytes), Some(name), None)
            .await?
            .into_response(),
    )
}

async fn verification_page(
    state: &WebState,
    me: &Me,
    pdf: Option<Vec<u8>>,
    name: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let (report, error) = match pdf {
        None => (None, error),
        Some(pdf) => match state.app.verify_pdf(&me.0.commune, pdf).await {
            Ok(report) => (Some(report), error),
            Err(e @ AppError::Invalid(_)) => (None, Some(e.to_string())),
            Err(e) => return Err(e.into()),
        },
    };
    let signatures: Vec<_> = report
        .iter()
        .flat_map(|r| r.signatures.iter())
        .map(|s| {
            let ok = s.intact && s.trusted && s.changes_after.is_empty();
            ctx! {
                ok, text => describe_signature(s), signer => s.signer, intact => s.intact,
                trusted => s.trusted, changes => s.changes_after, problems => s.problems,
                time => s.timestamp.or(s.time).map(|t| t.format("%d/%m/%Y %H:%M UTC").to_string()),
                timestamped => s.timestamp.is_some(),
            }
        })
        .collect();
    let verdict = report.as_ref().map(|r| {
        if r.signatures.is_empty() {
            "Ce PDF ne porte aucune signature."
        } else if r
            .signatures
            .iter()
            .all(|s| s.intact && s.trusted && s.changes_after.is_empty())
        {
            "Toutes les signatures sont valides, et rien n'a été modifié après elles."
        } else {
            "Attention : au moins une signature n'est pas valide, ou le document a été modifié après."
        }
    });
    Ok(Html(templates::render(
        "verify.html",
        ctx! {
            title => "Vérifier un PDF signé", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur", error,
            name, verdict, signatures, revisions => report.as_ref().map(|r| r.revisions),
        },
    )?))
}

/// Administration: circuits, delegations, signing keys.
pub async fn admin(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    admin_page(&state, &me, None, None).await
}

async fn admin_page(
    state: &WebState,
    me: &Me,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    require_admin(me)?;
    let commune = &me.0.commune;
    let users = state.app.store().users(commune.id).await?;
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(user_label)
            .unwrap_or_default()
    };
    let today = local_date(Utc::now(), &commune.departement);
    let circuits: Vec<_> = state
        .app
        .store()
        .circuit_templates(commune.id)
        .await?
        .into_iter()
        .map(|c| {
            let summary = serde_json::from_str::<CircuitDef>(&c.definition_json)
                .map(|d| circuit_summary(&d, &users))
                .unwrap_or_default();
            ctx! { code => c.code, name => c.name, doctype => c.doctype_code, summary }
        })
        .collect();
    let delegations: Vec<_> = state
        .app
        .store()
        .delegations(commune.id, today)
        .await?
        .into_iter()
        .map(|d| {
            ctx! {
                id => d.id.to_string(), from => name(d.from_user), to => name(d.to_user),
                starts => d.starts_on.format("%d/%m/%Y").to_string(),
                ends => d.ends_on.format("%d/%m/%Y").to_string(),
                doctypes => if d.doctypes.is_empty() { "tous".to_owned() } else { d.doctypes.join(", ") },
                active => d.starts_on <= today,
            }
        })
        .collect();
    let keys = state.app.store().signing_keys(commune.id).await?;
    let signers: Vec<_> = users
        .iter()
        .filter(|u| u.active)
        .map(|u| {
            let key = keys
                .iter()
                .rev()
                .find(|k| k.kind == KeyKind::Person && k.user_id == Some(u.id));
            ctx! {
                id => u.id.to_string(), label => user_label(u), email => u.email,
                key => key.map(|k| ctx! {
                    subject => k.subject, until => k.not_after.format("%d/%m/%Y").to_string(),
                    pin => k.pin_protected,
                }),
            }
        })
        .collect();
    let doctypes: Vec<_> = state
        .app
        .store()
        .doctypes(commune.id)
        .await?
        .into_iter()
        .map(|d| ctx! { code => d.code, label => d.label })
        .collect();
    Ok(Html(templates::render(
        "admin_parapheur.html",
        ctx! {
            title => "Parapheur — administration", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "admin", section => "parapheur",
            notice, error, circuits, delegations, signers, doctypes,
            people => users.iter().filter(|u| u.active).map(|u| ctx! { id => u.id.to_string(), label => user_label(u) }).collect::<Vec<_>>(),
            today => today.format("%Y-%m-%d").to_string(),
        },
    )?))
}

fn require_admin(me: &Me) -> Result<(), WebError> {
    if me.0.user.role.can_administer() {
        Ok(())
    } else {
        Err(WebError::Forbidden("réservé aux administrateurs".into()))
    }
}

#[derive(Debug, Deserialize)]
pub struct CircuitTemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    type_document: String,
    #[serde(flatten)]
    steps: CircuitForm,
}

/// Saves a named circuit.
pub async fn save_circuit(
    State(state): State<WebState>,
    me: Me,
    axum::Form(form): axum::Form<CircuitTemplateForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    require_admin(&me)?;
    let def = form.steps.definition();
    let result = match def {
        Ok(def) => {
            state
                .app
                .save_circuit_template(
                    &me.0.commune,
                    &me.0.actor(),
                    &form.code,
                    &form.nom,
                    Some(form.type_document.as_str()),
                    &def,
                    Utc::now(),
                )
                .await
        }
        Err(WebError::BadRequest(m)) => Err(AppError::invalid(m)),
        Err(e) => return Err(e),
    };
    admin_result(&state, &me, result.map(|_| "circuit enregistré".to_owned())).await
}

async fn admin_result(
    state: &WebState,
    me: &Me,
    result: Result<String, AppError>,
) -> Result<Response, WebError> {
    match result {
        Ok(notice) => Ok(admin_page(state, me, Some(notice), None)
            .await?
            .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::UnknownDoctype(_))) => {
            let page = admin_page(state, me, None, Some(e.to_string())).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct DelegationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    absent: String,
    #[serde(default)]
    delegue: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    type_document: String,
}

/// Records a delegation.
pub async fn add_delegation(
    State(state): State<WebState>,
    me: Me,
    axum::Form(form): axum::Form<DelegationForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    require_admin(&me)?;
    let date = |text: &str, what: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(format!("date de {what} invalide")))
    };
    let person = |text: &str| {
        Uuid::parse_str(text).map_err(|_| AppError::invalid("choisissez les deux personnes"))
    };
    let result = async {
        let row = state
            .app
            .add_delegation(
                &me.0.commune,
                &me.0.actor(),
                person(&form.absent)?,
                person(&form.delegue)?,
                date(&form.du, "début")?,
                date(&form.au, "fin")?,
                Some(form.type_document.clone())
                    .filter(|d| !d.is_empty())
                    .into_iter()
                    .collect(),
                Utc::now(),
            )
            .await?;
        Ok::<_, AppError>(format!(
            "délégation enregistrée du {} au {}",
            row.starts_on.format("%d/%m/%Y"),
            row.ends_on.format("%d/%m/%Y")
        ))
    }
    .await;
    admin_result(&state, &me, result).await
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Ends a delegation now.
pub async fn revoke_delegation(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    require_admin(&me)?;
    let result = state
        .app
        .revoke_delegation(&me.0.commune, &me.0.actor(), parse_id(&id)?, Utc::now())
        .await
        .map(|_| "délégation révoquée".to_owned());
    admin_result(&state, &me, result).await
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Creates (or renews) a person's certificate from the commune's authority.
pub async fn issue_key(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<IssueForm>,
) -> Result<Response, WebError> {
    me.check_csrf(&form.csrf)?;
    require_admin(&me)?;
    let result = state
        .app
        .issue_signer_key(
            &me.0.commune,
            &me.0.actor(),
            parse_id(&id)?,
            Some(form.code.as_str()).filter(|c| !c.is_empty()),
            Utc::now(),
        )
        .await
        .map(|k| format!("certificat créé pour {}", k.subject));
    admin_result(&state, &me, result).await
}

/// Imports a PKCS#12 key for a person or for the commune's seal.
pub async fn import_key(
    State(state): State<WebState>,
    me: Me,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    require_admin(&me)?;
    let (mut csrf, mut owner, mut password, mut code) =
        (String::new(), String::new(), String::new(), String::new());
    let mut file = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::BadRequest("envoi interrompu ou trop gros".into()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "fichier" {
            file = field
                .bytes()
                .await
                .map_err(|_| WebError::BadRequest("envoi interrompu".into()))?
                .to_vec();
        } else {
            let text = field.text().await.unwrap_or_default();
            match name.as_str() {
                "csrf" => csrf = text,
                "titulaire" => owner = text,
                "mot_de_passe" => password = text,
                "code" => code = text,
                _ => {}
            }
        }
    }
    me.check_csrf(&csrf)?;
    let owner = if owner == "cachet" {
        Ok(KeyOwner::Seal)
    } else {
        Uuid::parse_str(&owner)
            .map(KeyOwner::Person)
            .map_err(|_| AppError::invalid("choisissez le titulaire de la clé"))
    };
    let result = match owner {
        Ok(_) if file.is_empty() => Err(AppError::invalid("choisissez le fichier PKCS#12")),
        Ok(owner) => state
            .app
            .import_signing_key(
                &me.0.commune,
                &me.0.actor(),
                owner,
                &file,
                &password,
                Some(code.as_str()).filter(|c| !c.is_empty()),
                Utc::now(),
            )
            .await
            .map(|k| format!("clé de {} importée", k.subject)),
        Err(e) => Err(e),
    };
    admin_result(&state, &me, result).await
}

/// The commune's CA certificate, for verifiers.
pub async fn ca_certificate(State(state): State<WebState>, me: Me) -> Result<Response, WebError> {
    let pem = state
        .app
        .ca_certificate_pem(&me.0.commune, Utc::now())
        .await?;
    let mut response = pem.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-pem-file"),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"autorite-commune.pem\""),
    );
    Ok(response)
}
