//! The item page: fields, documents, notes, history, and the actions the person may take.

mod actions;
mod files;

pub use actions::{
    accept_suggestion, add_note, assign, change_status, copy, correct_arrival, documents_received,
    documents_requested, forward, link,
};
pub(crate) use files::file_response;
pub use files::{file, file_signatures, searchable_pdf};

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use parapheur_app::domain::clock::local_date;
use parapheur_app::domain::{CloseReason, Item, Status};
use parapheur_app::register::views::TextStatus;
use parapheur_app::{Change, domain::Commune};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WebError;
use crate::flash::Done;
use crate::session::Me;
use crate::views::{self, Choice};
use crate::{WebState, assets, templates};

/// An id from a URL: a malformed one is "not found", like another commune's.
pub(crate) fn parse_id(text: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(text).map_err(|_| WebError::NotFound)
}

/// The item, if this person may see it (`App::readable_item`: the one confidentiality rule).
pub(crate) async fn visible_item(state: &WebState, me: &Me, id: &str) -> Result<Item, WebError> {
    Ok(state.app.readable_item(&me.0, parse_id(id)?).await?)
}

fn action_label(action: &str, before: Option<&str>, after: Option<&str>) -> String {
    let status_of = |json: Option<&str>| -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(json?).ok()?;
        let code = value.get("status")?.as_str()?;
        code.parse::<Status>().ok().map(|s| s.label_fr().to_owned())
    };
    match action {
        "item.registered" => "Enregistré".to_owned(),
        "item.status" => format!(
            "Statut : {} → {}",
            status_of(before).unwrap_or_default(),
            status_of(after).unwrap_or_default()
        ),
        "item.assigned" => "Affecté".to_owned(),
        "item.incomplete" => "Pièces demandées (L114-5)".to_owned(),
        "item.completed" => "Pièces reçues".to_owned(),
        "note.added" => "Note ajoutée".to_owned(),
        "attachment.added" => "Document joint".to_owned(),
        "item.copied" => "Copie transmise".to_owned(),
        "item.linked" => "Lié à un autre élément".to_owned(),
        other => other.to_owned(),
    }
}

pub(crate) async fn render_item(
    state: &WebState,
    me: &Me,
    item: &Item,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune: &Commune = &me.0.commune;
    let store = &state.app;
    let today = local_date(Utc::now(), commune.zone());
    let users = store.users(commune.id).await?;
    let services = store.services(commune.id).await?;
    let name_of_user = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
    };
    let doctype = match &item.doctype_code {
        Some(code) => store.doctype(commune.id, code).await?,
        None => None,
    };
    let mut senders = Vec::new();
    let mut recipients = Vec::new();
    // The numbers to call back (a call's page is useless without one).
    let mut phones = Vec::new();
    let mut dials: Vec<String> = Vec::new();
    // A reply by email goes to the first sender: offered only when they have an address.
    let mut sender_email = None;
    for (role, contact_id) in store.item_contacts(item.id).await? {
        let contact = store.contact(commune.id, contact_id).await?;
        let name = contact.display_name();
        if role == "sender" {
            if senders.is_empty() {
                sender_email = contact.email.clone().filter(|e| !e.trim().is_empty());
            }
            if let Some(phone) = contact
                .phone
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                let dial: String = phone
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                dials.push(dial.clone());
                phones.push(ctx! { shown => phone, dial });
            }
            senders.push(name)
        } else {
            recipients.push(name)
        }
    }
    // A missed call's callback task: the number that called, with or without a contact.
    if item.channel == parapheur_app::domain::Channel::Phone
        && let Some(call) = store.call_of_item(commune, item.id).await?
    {
        let number = parapheur_app::domain::cti::caller_number(if call.direction == "out" {
            &call.to_number
        } else {
            &call.from_number
        });
        if let Some(dial) = number.dialable().map(str::to_owned)
            && !dials.contains(&dial)
        {
            dials.push(dial.clone());
            phones.push(ctx! { shown => number.display(), dial });
        }
    }
    // A phone item's "Numéro à rappeler" line (the call form's, a voicemail's): dialable too.
    if item.channel == parapheur_app::domain::Channel::Phone {
        let written = item
            .body
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.strip_prefix("Numéro à rappeler : "))
            .map(|rest| rest.split(" (").next().unwrap_or(rest))
            .map(parapheur_app::domain::cti::caller_number);
        for number in written {
            if let parapheur_app::domain::cti::CallerNumber::Phone(dial) = &number
                && !dials.contains(dial)
            {
                dials.push(dial.clone());
                phones.push(ctx! { shown => number.display(), dial });
            }
        }
    }
    let files: Vec<_> = store
        .item_files(commune, item.id)
        .await?
        .into_iter()
        .map(|f| {
            let a = f.attachment;
            let kind = match a.media_type.as_str() {
                "application/pdf" => "pdf",
                "image/png" | "image/jpeg" => "image",
                "audio/wav" | "audio/mpeg" => "audio",
                _ => "other",
            };
            let text_status = match f.text {
                TextStatus::Extracted {
                    ocr_pages: Some(pages),
                } => {
                    format!(
                        "texte reconnu (OCR, {})",
                        parapheur_app::domain::french::count(pages as usize, "page", "pages")
                    )
                }
                TextStatus::Extracted { ocr_pages: None } => "texte extrait".to_owned(),
                TextStatus::NotExtracted { reason } => format!(
                    "texte non extrait : {}",
                    reason.as_deref().unwrap_or("raison inconnue")
                ),
                TextStatus::Pending => "texte en cours d'extraction".to_owned(),
                TextStatus::NotExtractable => String::new(),
            };
            let url = format!("/courrier/{}/fichier/{}", item.id, a.id);
            // What its signatures came to when it arrived (a signed PDF only).
            let signed = f.signatures.map(|check| {
                let lines: Vec<_> = check
                    .signatures
                    .iter()
                    .map(|s| {
                        ctx! {
                            text => s.line_fr(commune.zone()),
                            ok => s.intact && s.changes_after.is_empty(),
                        }
                    })
                    .collect();
                ctx! {
                    lines, verdict => check.verdict.label_fr(), problem => check.problem,
                    intact => check.verdict.intact(),
                    verified_at => views::instant(check.verified_at, commune),
                }
            });
            ctx! {
                searchable => f.searchable.then(|| format!("{url}/texte")),
                signatures => (kind == "pdf").then(|| format!("{url}/signatures")),
                url, name => a.filename, size => views::size(a.size), kind, text_status,
                signed, sha256 => a.sha256, media_type => a.media_type,
            }
        })
        .collect();
    let messages: Vec<_> = store
        .inbound_of_item(commune.id, item.id)
        .await?
        .into_iter()
        .map(|m| {
            ctx! {
                id => m.id.to_string(),
                received => views::instant(m.received_at, commune),
                sender => m.sender, subject => m.subject, warnings => m.reason,
                original => m.sha256.is_some(),
            }
        })
        .collect();
    let suggestion = if me.can_register() && item.status.is_open() {
        state.app.suggest(item).await?.map(|s| {
            ctx! {
                doctype_code => s.doctype.as_ref().map(|d| d.0.clone()),
                doctype => s.doctype.map(|d| d.1),
                service_id => s.service.as_ref().map(|x| x.0.to_string()),
                service => s.service.map(|x| x.1),
                reasons => s.reasons.join(" ; "),
            }
        })
    } else {
        None
    };
    let notes: Vec<_> = store
        .notes(commune.id, item.id)
        .await?
        .into_iter()
        .map(|n| {
            ctx! {
                author => n.author_id.and_then(name_of_user).unwrap_or_else(|| "système".into()),
                at => views::instant(n.created_at, commune),
                body => n.body,
            }
        })
        .collect();
    let timeline: Vec<_> = store
        .journal_of(commune.id, "item", &item.id.to_string())
        .await?
        .into_iter()
        .map(|e| {
            let who = e
                .actor
                .strip_prefix("user:")
                .and_then(|id| Uuid::parse_str(id).ok())
                .and_then(name_of_user)
                .unwrap_or_else(|| "système".into());
            ctx! {
                at => views::instant(e.at, commune),
                what => action_label(&e.action, e.before.as_deref(), e.after.as_deref()),
                who,
            }
        })
        .collect();
    let next_statuses: Vec<Choice> = item
        .status
        .allowed_next()
        .iter()
        .filter(|s| **s != item.status)
        // Archived and destroyed are reached from the Archives page only.
        .filter(|s| parapheur_app::domain::retention::disposition_refusal(**s).is_none())
        .map(|s| Choice {
            code: s.code().into(),
            label: s.label_fr().into(),
        })
        .collect();
    let reasons: Vec<Choice> = CloseReason::ALL
        .iter()
        .map(|r| Choice {
            code: r.code().into(),
            label: r.label_fr().into(),
        })
        .collect();
    let can_assign = item.status == Status::Assigned || item.status.can_move_to(Status::Assigned);
    let copies: Vec<_> = store
        .copies(commune.id, item.id)
        .await?
        .into_iter()
        .map(|(user, purpose)| {
            ctx! {
                name => name_of_user(user).unwrap_or_default(),
                purpose => match purpose {
                    parapheur_app::domain::item::CopyPurpose::Opinion => "pour avis",
                    parapheur_app::domain::item::CopyPurpose::Information => "pour information",
                },
            }
        })
        .collect();
    let linked = store.links_of(commune.id, item.id).await?;
    // A message registered apart, to reconcile with the item it seems to follow: one
    // button, until it is linked.
    let to_reconcile = item
        .body
        .as_deref()
        .and_then(parapheur_app::capture::reconcile_target)
        .filter(|target| !linked.iter().any(|(_, chrono, _, _)| chrono == target))
        .map(str::to_owned);
    let links: Vec<_> = linked
        .into_iter()
        .map(|(other, chrono, kind, outgoing)| {
            ctx! {
                url => format!("/courrier/{other}"), chrono,
                label => if outgoing { kind.label_fr() } else { kind.reverse_label_fr() },
            }
        })
        .collect();
    let link_kinds: Vec<Choice> = parapheur_app::domain::LinkKind::ALL
        .iter()
        .map(|k| Choice {
            code: k.code().into(),
            label: k.label_fr().into(),
        })
        .collect();
    // The public thread and the email of this item, and what the deadline watch says.
    let thread: Vec<_> = store
        .item_messages(commune.id, item.id)
        .await?
        .into_iter()
        .map(|m| {
            ctx! {
                at => views::instant(m.created_at, commune),
                subject => m.subject, body => m.body, from_citizen => m.from_citizen,
                reply => m.reply_item_id.map(|r| format!("/courrier/{r}")),
                files => m.attachment_ids.len(),
            }
        })
        .collect();
    let emails: Vec<_> = store
        .outbox_of_item(commune.id, item.id)
        .await?
        .into_iter()
        .map(|m| {
            ctx! {
                at => views::instant(m.created_at, commune),
                subject => m.subject, to => m.recipients, state => m.state.label_fr(),
                failed => m.state == parapheur_app::citizens::views::OutboxState::Failed,
                error => m.last_error,
            }
        })
        .collect();
    let silence = doctype
        .as_ref()
        .map_or(parapheur_app::domain::SilenceRule::None, |d| d.silence);
    let alerts: Vec<String> = parapheur_app::domain::watch::alerts(
        &parapheur_app::background::deadline_watch::facts_of(item, silence),
        today,
        commune.holiday_zone(),
    )
    .iter()
    .filter(|a| {
        matches!(
            a,
            parapheur_app::domain::watch::Alert::AcceptanceSoon { .. }
        )
    })
    .map(|a| a.label_fr())
    .collect();
    let incoming = item.direction == parapheur_app::domain::Direction::Incoming;
    let can_acknowledge = incoming && doctype.as_ref().is_some_and(|d| !d.no_acknowledgement);
    let letters: Vec<_> = state
        .app
        .folders_of_item(commune.id, item.id)
        .await?
        .into_iter()
        .map(|f| ctx! { id => f.id.to_string(), subject => f.subject, state => f.state.label_fr() })
        .collect();
    let letter_templates: Vec<_> = if incoming && me.can_register() {
        state
            .app
            .reply_templates(commune.id)
            .await?
            .into_iter()
            .filter(|t| t.active)
            .map(|t| ctx! { code => t.code, name => t.name })
            .collect()
    } else {
        Vec::new()
    };
    let item_view = ctx! {
        id => item.id.to_string(), chrono => item.chrono, subject => item.subject,
        status => item.status.label_fr(), status_code => item.status.code(), close_reason => item.close_reason.map(|r| r.label_fr()),
        direction => item.direction.label_fr(), channel => item.channel.label_fr(),
        registered_number => item.registered_number, arrival => views::date(item.arrival_date),
        letter_date => item.letter_date.map(views::date), first_receipt => item.first_receipt_elsewhere.map(views::date),
        registered_at => views::instant(item.registered_at, commune),
        sender_reference => item.sender_reference, due => item.due_date.map(views::date),
        late => item.is_late(today), silence_date => item.silence_date.map(views::date),
        incomplete_requested_on => item.incomplete_requested_on.map(views::date),
        incomplete_completed_on => item.incomplete_completed_on.map(views::date),
        incomplete_deadline => item.incomplete_deadline.map(views::date),
        priority => item.priority.code(), tags => item.tags, body => item.body,
        missing_documents => item.missing_documents,
        implicit_decision => item.implicit_decision.as_deref().map(|d| if d == "accepted" { "acceptation implicite" } else { "rejet implicite" }),
        implicit_decision_on => item.implicit_decision_on.map(views::date),
        acknowledged_at => item.acknowledged_at.map(|a| views::instant(a, commune)),
    };
    Ok(Html(templates::render(
        "item.html",
        ctx! {
            title => format!("{} — {}", item.chrono, item.subject), style_url => assets::style_url(),
            me => me.view(), csrf => me.csrf(), nav => "", notice, error,
            item => item_view,
            doctype => doctype.map(|d| ctx! { label => d.label, delay => d.delay.label_fr(), silence => d.silence.label_fr() }),
            senders, recipients, phones,
            service => item.service_id.and_then(|s| services.iter().find(|x| x.id == s).map(|x| x.name.clone())),
            assignee => item.assignee_id.and_then(name_of_user),
            files, messages, suggestion, notes, timeline, can_act => me.can_register(), next_statuses, reasons, can_assign, copies,
            links, link_kinds, thread, emails, alerts, can_acknowledge,
            can_reply => incoming && item.status != Status::Destroyed && sender_email.is_some(),
            letters, letter_templates,
            to_reconcile,
            today => today.format("%Y-%m-%d").to_string(),
            can_request_documents => item.status.can_move_to(Status::AwaitingDocuments),
            can_receive_documents => item.status == Status::AwaitingDocuments,
            can_correct_arrival => incoming && item.status.is_open() && item.implicit_decision.is_none(),
            can_forward => incoming && item.status.can_move_to(Status::Closed),
            arrival_value => item.arrival_date.format("%Y-%m-%d").to_string(),
            services => services.iter().filter(|s| s.active || Some(s.id) == item.service_id).map(|s| ctx! { id => s.id.to_string(), name => s.name, selected => Some(s.id) == item.service_id }).collect::<Vec<_>>(),
            users => users.iter().filter(|u| u.active).map(|u| ctx! { id => u.id.to_string(), name => u.display_name, selected => Some(u.id) == item.assignee_id }).collect::<Vec<_>>(),
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    enregistre: Option<String>,
    #[serde(default)]
    fait: String,
}

pub async fn show(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> Result<Html<String>, WebError> {
    let item = visible_item(&state, &me, &id).await?;
    let mut notice = q
        .enregistre
        .map(|_| format!("Enregistré sous le numéro {}.", item.chrono));
    if let Some(done) = Done::parse(&q.fait) {
        let commune = me.0.commune.id;
        let service = match item.service_id {
            Some(id) => state
                .app
                .services(commune)
                .await?
                .into_iter()
                .find(|s| s.id == id)
                .map(|s| s.name),
            None => None,
        };
        let assignee = match item.assignee_id {
            Some(id) => state
                .app
                .users(commune)
                .await?
                .into_iter()
                .find(|u| u.id == id)
                .map(|u| u.display_name),
            None => None,
        };
        notice = notice.or(done_sentence(
            done,
            &item,
            service.as_deref(),
            assignee.as_deref(),
        ));
    }
    render_item(&state, &me, &item, notice, None).await
}

/// After an action on an item: back to its page, or, when the action was refused, the page
/// again with the reason (nothing was saved).
pub(crate) async fn outcome<T>(
    state: &WebState,
    me: &Me,
    item: &Item,
    result: Result<T, parapheur_app::AppError>,
    done: Done,
) -> Result<Response, WebError> {
    match result {
        Ok(_) => Ok(crate::flash::redirect(
            &format!("/courrier/{}", item.id),
            done,
        )),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let page = render_item(state, me, item, None, Some(e.to_string())).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Applies a change to an item the person may process.
async fn apply(
    state: &WebState,
    me: &Me,
    id: &str,
    change: Change,
    done: Done,
) -> Result<Response, WebError> {
    let item = visible_item(state, me, id).await?;
    let result = state
        .app
        .change_item(&me.0.commune, &me.0.actor(), item.id, change, Utc::now())
        .await;
    outcome(state, me, &item, result, done).await
}

/// What was just done to the item, and what comes next, from its state now.
fn done_sentence(
    done: Done,
    item: &Item,
    service: Option<&str>,
    assignee: Option<&str>,
) -> Option<String> {
    Some(match done {
        Done::Status if item.status == parapheur_app::domain::Status::Closed => {
            "Statut changé : clos. Le courrier quitte les listes « À traiter » et reste au registre.".to_owned()
        }
        Done::Status => format!(
            "Statut changé : {}. Le courrier reste dans les listes « À traiter ».",
            item.status.label_fr()
        ),
        Done::Assigned => match (service, assignee) {
            (_, Some(person)) => format!(
                "Courrier affecté à {person}. Il apparaît dans sa liste « Pour moi »."
            ),
            (Some(service), None) => format!(
                "Courrier affecté au service {service}. Il apparaît dans la liste « Mon service » de ses agents."
            ),
            (None, None) => "Affectation retirée. Le courrier revient dans « À affecter ».".to_owned(),
        },
        Done::Note => "Note ajoutée. Tous ceux qui voient ce courrier peuvent la lire.".to_owned(),
        Done::Suggestion => {
            "Suggestion appliquée : le type et le service sont enregistrés, les échéances suivent."
                .to_owned()
        }
        Done::DocumentsRequested => {
            "Pièces demandées. L'expéditeur en reçoit la liste ; le délai attend leur arrivée."
                .to_owned()
        }
        Done::DocumentsReceived => {
            "Arrivée des pièces enregistrée. Le délai de réponse court de nouveau.".to_owned()
        }
        Done::Arrival => {
            "Date d'arrivée corrigée (inscrit au journal). Les échéances ont été recalculées."
                .to_owned()
        }
        Done::Forwarded => {
            "Demande transmise à l'autorité compétente. L'expéditeur en est informé ; la demande est close."
                .to_owned()
        }
        Done::Copied => {
            "Copie donnée. La personne la trouve dans « Ce qui m'attend ».".to_owned()
        }
        Done::Linked => "Lien ajouté entre les deux courriers.".to_owned(),
        Done::Acknowledged => {
            "Accusé de réception fait. Il figure dans l'historique du courrier.".to_owned()
        }
        _ => return None,
    })
}
