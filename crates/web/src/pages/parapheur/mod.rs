//! The parapheur's pages: the list of letters (phone-first for élus: what waits for me,
//! sign in two taps, or several at once), a letter's page (its text, its PDF, its
//! circuit, the actions the person may do), drafting and sending, the verification of
//! any PDF, and the administration of circuits, delegations and signing keys.

mod circuit;
mod drafting;
mod settings;
mod verify;

pub use circuit::{act, bordereau, document, send, sign_selection, start, undo_signature};
pub use drafting::{draft, save};
pub use settings::{
    add_delegation, admin, ca_certificate, import_key, issue_key, revoke_delegation, save_circuit,
};
pub(crate) use verify::verification_page_with;
pub use verify::{verify_folder, verify_form, verify_upload};

use axum::extract::{Path, Query, State};
use axum::response::Html;
use chrono::Utc;
use parapheur_app::administration::views::User;
use parapheur_app::domain::circuit::{Circuit, CircuitDef, StepKind, StepState};
use parapheur_app::parapheur::FolderData;
use parapheur_app::parapheur::views::{FolderRow, FolderState, KeyKind};
use uuid::Uuid;

use crate::error::WebError;
use crate::flash::{Done, DoneQuery};
use crate::pages::item::{parse_id, visible_item};
use crate::session::Me;
use crate::{WebState, assets, templates};
use circuit::CircuitForm;

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
    let folder = state.app.folder(me.0.commune.id, parse_id(id)?).await?;
    let author = folder.author_id == me.0.user.id;
    // A draft is its author's and the agents' business, as on the list; a letter answering
    // a confidential item is its author's and the item's readers'.
    if folder.state == FolderState::Draft && !author && !me.can_register() {
        return Err(WebError::NotFound);
    }
    if let Some(item_id) = folder.item_id
        && !author
    {
        visible_item(state, me, &item_id.to_string()).await?;
    }
    Ok(folder)
}

/// The parapheur's home: what waits for me first (big buttons, a checkbox each for
/// "sign the selection"), then letters in circuit, refused, signed and sent. After a
/// signature, it says what was signed and who sends it.
pub async fn list(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, WebError> {
    let mut undo = None;
    let notice = match q.done() {
        Some(done) => {
            let folder = match visible_folder(&state, &me, &q.courrier).await {
                Ok(folder) => Some(folder),
                Err(WebError::NotFound | WebError::BadRequest(_)) => None,
                Err(e) => return Err(e),
            };
            if done == Done::Signed {
                undo = folder.as_ref().and_then(|f| undo_offer(&me, f));
            }
            Some(done_sentence(&state, &me, done, folder.as_ref()).await?)
        }
        None => None,
    };
    list_page_with(&state, &me, notice, None, undo).await
}

/// "Annuler la signature", while this person's signature of the letter may still be taken
/// back: the letter and the seconds left.
fn undo_offer(me: &Me, folder: &FolderRow) -> Option<minijinja::Value> {
    let now = Utc::now();
    let data = FolderData::of_row(folder).ok()?;
    let undo = data.undo_open(me.0.user.id, now)?;
    // Rounded up: "1 seconde" until the very end.
    let seconds = ((undo.until - now).num_milliseconds() + 999) / 1000;
    Some(ctx! {
        id => folder.id.to_string(), seconds,
        left => parapheur_app::domain::french::count(seconds, "seconde", "secondes"),
    })
}

/// The letters waiting for this person's visa or signature, as the list and "Ce qui
/// m'attend" show them: what to do, to whom the letter goes, which request it answers.
pub(crate) async fn waiting_rows(
    state: &WebState,
    me: &Me,
) -> Result<Vec<minijinja::Value>, WebError> {
    let commune = &me.0.commune;
    let users = state.app.users(commune.id).await?;
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_default()
    };
    let waiting = state
        .app
        .folders_waiting_for(commune, &me.0.user, Utc::now())
        .await?;
    let mut rows = Vec::new();
    for (f, for_whom) in &waiting {
        let action = FolderData::of_row(f)
            .ok()
            .and_then(|d| d.circuit)
            .map(|c| next_action_label(&c, me.0.user.id))
            .unwrap_or("Signer");
        let answers = match f.item_id {
            Some(id) => match state.app.item(commune.id, id).await {
                Ok(item) => Some(item.chrono),
                Err(e) if e.kind() == parapheur_app::ErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        rows.push(ctx! {
            id => f.id.to_string(), subject => f.subject,
            action, for_whom => for_whom.map(name),
            since => crate::views::date(f.updated_at.with_timezone(&commune.zone()).date_naive()),
            recipient => f.recipient.lines().find(|l| !l.trim().is_empty()).map(str::trim),
            answers,
        });
    }
    Ok(rows)
}

/// What was just done to a letter, and what comes next, from its state now.
async fn done_sentence(
    state: &WebState,
    me: &Me,
    done: Done,
    folder: Option<&FolderRow>,
) -> Result<String, WebError> {
    let what = match done {
        Done::Approved => "Courrier visé.",
        Done::Signed => "Courrier signé.",
        // What it waits for now follows: "Il attend maintenant la signature de …".
        Done::SignatureUndone => "Signature annulée.",
        Done::Rejected => "Courrier refusé.",
        Done::Transferred => "Étape transférée.",
        Done::OpinionAsked => "Avis demandé ; votre étape attend sa réponse.",
        Done::OpinionGiven => "Avis donné.",
        Done::Bypassed => "Étape contournée (inscrit au journal).",
        Done::CircuitStarted => "Circuit lancé.",
        Done::Saved => "Courrier enregistré et remis en page.",
        _ => return Ok(String::new()),
    };
    let Some(folder) = folder else {
        return Ok(what.to_owned());
    };
    let users = state.app.users(me.0.commune.id).await?;
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| "son rédacteur".to_owned())
    };
    let next = match folder.state {
        FolderState::Circuit => {
            let circuit = FolderData::of_row(folder).ok().and_then(|d| d.circuit);
            let waiting: Vec<String> = circuit
                .iter()
                .flat_map(|c| c.stages.iter().flatten())
                .filter(|s| s.state == StepState::Current)
                .map(|s| match (s.kind, s.user_id) {
                    (StepKind::Visa, Some(u)) => format!("le visa de {}", name(u)),
                    (StepKind::Signature, Some(u)) => format!("la signature de {}", name(u)),
                    _ => "le cachet de la commune".to_owned(),
                })
                .collect();
            if waiting.is_empty() {
                String::new()
            } else {
                format!(" Il attend maintenant {}.", waiting.join(" et "))
            }
        }
        FolderState::Signed => format!(" Il part à {} pour l'envoi.", name(folder.author_id)),
        FolderState::Rejected => format!(
            " Il revient à {} avec le motif du refus.",
            name(folder.author_id)
        ),
        _ => String::new(),
    };
    Ok(format!("{what}{next}"))
}

async fn list_page(
    state: &WebState,
    me: &Me,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    list_page_with(state, me, notice, error, None).await
}

async fn list_page_with(
    state: &WebState,
    me: &Me,
    notice: Option<String>,
    error: Option<String>,
    undo: Option<minijinja::Value>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let users = state.app.users(commune.id).await?;
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
    let mine = waiting_rows(state, me).await?;
    let others = state
        .app
        .folders_in(
            commune.id,
            &[
                FolderState::Draft,
                FolderState::Circuit,
                FolderState::Rejected,
                FolderState::Signed,
                FolderState::Sent,
            ],
            me.confidential_filter(),
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
                    at => crate::views::date(f.updated_at.with_timezone(&commune.zone()).date_naive()),
                }
            })
            .collect();
        if !rows.is_empty() {
            sections.push(ctx! { title => state_.label_fr(), rows });
        }
    }
    let pin_needed = state
        .app
        .signing_key(commune.id, KeyKind::Person, Some(me.0.user.id))
        .await?
        .is_some_and(|k| k.pin_protected);
    Ok(Html(templates::render(
        "parapheur.html",
        ctx! {
            title => "Parapheur", style_url => assets::style_url(),
            script_url => assets::script_url(),
            me => me.view(), csrf => me.csrf(), nav => "parapheur",
            mine, sections, pin_needed, notice, error, undo,
            second_factor => state.app.has_second_factor(me.0.user.id).await?,
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
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let notice = match q.done() {
        Some(done) => Some(done_sentence(&state, &me, done, Some(&folder)).await?),
        None => None,
    };
    folder_page(&state, &me, &folder, notice, None).await
}

async fn folder_page(
    state: &WebState,
    me: &Me,
    folder: &FolderRow,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let now = Utc::now();
    let users = state.app.users(commune.id).await?;
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
                at => s.done_at.map(|t| crate::views::instant(t, commune)),
                comment => s.comment,
                opinions => s.opinions.iter().map(|o| ctx! {
                    of => name(Some(o.asked_of)), answer => o.answer,
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let rejection = circuit.as_ref().and_then(|c| c.rejection.as_ref()).map(|r| {
        ctx! { by => name(Some(r.by)), comment => r.comment, at => crate::views::instant(r.at, commune) }
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
        Some(id) => Some(state.app.item(commune.id, id).await?),
        None => None,
    };
    let circuits = state.app.circuit_templates(commune.id).await?;
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
        .signing_key(commune.id, KeyKind::Person, Some(me.0.user.id))
        .await?
        .is_some_and(|k| k.pin_protected);
    let has_email = match &item {
        Some(item) => {
            let mut found = false;
            for (role, contact) in state.app.item_contacts(item.id).await? {
                if role == "sender" {
                    let c = state.app.contact(commune.id, contact).await?;
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
            me => me.view(), csrf => me.csrf(), nav => "parapheur", notice, error,
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
            second_factor => state.app.has_second_factor(me.0.user.id).await?,
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

impl CircuitForm {}
