//! Messages received (mailboxes, imports, drop folder): the quarantine with its reasons and
//! a retry button, the original of each message, a safe view of its HTML; and the
//! administration of the commune's mailboxes and their routing rules.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::administration::views::Service;
use parapheur_app::capture::mailboxes::MailboxSettings;
use parapheur_app::capture::views::InboundState;
use parapheur_app::capture::{CaptureOutcome, Rule, RuleField};
use parapheur_app::domain::french::count;
use parapheur_mailbox::{AfterCapture, MailboxConfig, Security};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WebError;
use crate::pages::item::{file_response, parse_id};
use crate::session::{CsrfOnly, Me, Posted};
use crate::views;
use crate::{WebState, assets, templates};

#[derive(Debug, Deserialize)]
pub struct InboundQuery {
    #[serde(default)]
    etat: String,
}

fn state_label(s: InboundState) -> &'static str {
    match s {
        InboundState::Registered => "enregistré",
        InboundState::Attached => "rattaché à un élément",
        InboundState::Quarantined => "en quarantaine",
    }
}

pub async fn list(
    State(state): State<WebState>,
    me: Me,
    Query(q): Query<InboundQuery>,
) -> Result<Html<String>, WebError> {
    render_list(&state, &me, &q.etat, None, None).await
}

async fn render_list(
    state: &WebState,
    me: &Me,
    etat: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let all = etat == "tous";
    let filter = (!all).then_some(InboundState::Quarantined);
    let store = &state.app;
    let mut rows = Vec::new();
    for m in store.inbound_list(commune.id, filter, 200).await? {
        let readable = state.app.inbound_readable(&me.0, &m).await?;
        let chrono = match m.item_id {
            Some(id) if readable => Some(store.item(commune.id, id).await?.chrono),
            _ => None,
        };
        rows.push(ctx! {
            id => m.id.to_string(),
            received => views::instant(m.received_at, commune),
            origin => m.origin,
            sender => if readable { m.sender } else { None },
            subject => if readable { m.subject } else { Some("(élément confidentiel)".to_owned()) },
            state => state_label(m.state),
            quarantined => m.state == InboundState::Quarantined,
            // A scan (the copier's PDF) is registered as a document, not read again as a message.
            scan => {
                let origin = m.origin.to_lowercase();
                [".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff"].iter().any(|e| origin.ends_with(e))
            },
            reason => m.reason,
            item_id => m.item_id.filter(|_| readable).map(|i| i.to_string()),
            chrono,
            has_original => m.sha256.is_some() && readable,
        });
    }
    let quarantined = store.quarantine_count(commune.id).await?;
    Ok(Html(templates::render(
        "inbound.html",
        ctx! {
            title => "Courriels reçus", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "inbound", rows, all, quarantined, notice, error,
        },
    )?))
}

pub async fn retry(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    let id = parse_id(&id)?;
    // Another commune's message is not found here.
    state.app.inbound(me.0.commune.id, id).await?;
    match state
        .app
        .retry_inbound(&me.0.commune, &Actor::User(me.0.user.id), id, Utc::now())
        .await
    {
        Ok(
            CaptureOutcome::Registered { item_id, .. } | CaptureOutcome::Attached { item_id, .. },
        ) => Ok(Redirect::to(&format!("/courrier/{item_id}")).into_response()),
        Ok(other) => Ok(render_list(&state, &me, "", Some(other.to_string()), None)
            .await?
            .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            Ok(render_list(&state, &me, "", None, Some(e.user_message()))
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The message exactly as received (.eml), always downloaded.
pub async fn original(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (m, bytes) = state.app.readable_inbound(&me.0, parse_id(&id)?).await?;
    let name = match m.source.as_str() {
        "folder" => m.origin.rsplit('/').next().unwrap_or("fichier").to_owned(),
        _ => format!("message-{}.eml", m.id),
    };
    Ok(file_response(bytes, &name, "message/rfc822"))
}

/// The message as its sender formatted it, sanitised: no script, no form, no remote
/// image or style (the page's policy would block them anyway).
pub async fn preview(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let (m, parsed) = state.app.inbound_preview(&me.0, parse_id(&id)?).await?;
    let html = parsed.html_body.map(minijinja::Value::from_safe_string);
    Ok(Html(templates::render(
        "inbound_preview.html",
        ctx! {
            title => "Message reçu", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "inbound", id => m.id.to_string(), subject => parsed.subject,
            from => parsed.from.map(|a| match a.name { Some(n) => format!("{n} <{}>", a.email), None => a.email }),
            date => parsed.date.map(|d| views::instant(d, &me.0.commune)),
            text => parsed.text_body, html, warnings => parsed.warnings,
            item_id => m.item_id.map(|i| i.to_string()),
        },
    )?))
}

// --- Administration of mailboxes ---------------------------------------------------------

/// A rule as one line: `objet contient permis -> type urbanisme, service urba`.
fn rule_line(rule: &Rule, services: &[Service]) -> String {
    let field = match rule.field {
        RuleField::From => "expéditeur",
        RuleField::To => "destinataire",
        RuleField::Subject => "objet",
        RuleField::Text => "texte",
    };
    let mut then = Vec::new();
    if let Some(t) = &rule.doctype {
        then.push(format!("type {t}"));
    }
    if let Some(s) = rule.service_id
        && let Some(service) = services.iter().find(|x| x.id == s)
    {
        then.push(format!("service {}", service.code));
    }
    format!("{field} contient {} -> {}", rule.contains, then.join(", "))
}

fn parse_rules(text: &str, services: &[Service]) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fail = |why: &str| format!("règle ligne {} : {why} (« {} »)", n + 1, line.trim());
        let (when, then) = line
            .split_once("->")
            .ok_or_else(|| fail("il manque « -> »"))?;
        let when = when.trim();
        let (field, rest) = when
            .split_once(' ')
            .ok_or_else(|| fail("champ puis texte"))?;
        let field = match field.to_lowercase().as_str() {
            "expéditeur" | "expediteur" => RuleField::From,
            "destinataire" => RuleField::To,
            "objet" => RuleField::Subject,
            "texte" => RuleField::Text,
            _ => return Err(fail("champ : expéditeur, destinataire, objet ou texte")),
        };
        let contains = rest
            .trim()
            .strip_prefix("contient")
            .unwrap_or(rest)
            .trim()
            .to_owned();
        let mut rule = Rule {
            field,
            contains,
            doctype: None,
            service_id: None,
        };
        for part in then.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once(' ') {
                Some(("type", code)) => rule.doctype = Some(code.trim().to_owned()),
                Some(("service", code)) => {
                    let s = services
                        .iter()
                        .find(|s| s.code == code.trim())
                        .ok_or_else(|| fail("service inconnu"))?;
                    rule.service_id = Some(s.id);
                }
                _ => return Err(fail("après « -> » : type CODE, service CODE")),
            }
        }
        if rule.doctype.is_none() && rule.service_id.is_none() {
            return Err(fail("indiquez un type ou un service"));
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct MailboxForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    username: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    move_to: String,
    #[serde(default)]
    rules: String,
    #[serde(default)]
    active: String,
}

impl MailboxForm {
    fn settings(&self, services: &[Service]) -> Result<MailboxSettings, String> {
        let security = match self.security.as_str() {
            "starttls" => Security::StartTls,
            "plain" => Security::Plain,
            _ => Security::Tls,
        };
        let after_capture = match self.after.as_str() {
            "seen" => AfterCapture::MarkSeen,
            "move" => AfterCapture::MoveTo(self.move_to.trim().to_owned()),
            _ => AfterCapture::Leave,
        };
        Ok(MailboxSettings {
            label: self.label.clone(),
            config: MailboxConfig {
                host: self.host.trim().to_owned(),
                port: self
                    .port
                    .trim()
                    .parse()
                    .map_err(|_| "port invalide (993 en TLS)".to_owned())?,
                security,
                username: self.username.trim().to_owned(),
                password: self.password.clone(),
                folder: match self.folder.trim() {
                    "" => "INBOX".to_owned(),
                    f => f.to_owned(),
                },
                after_capture,
                // The application applies the installation's policy.
                network: Default::default(),
            },
            rules: parse_rules(&self.rules, services)?,
            active: !self.active.is_empty(),
        })
    }
}

async fn mailboxes_page(
    state: &WebState,
    me: &Me,
    form: &MailboxForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let commune = &me.0.commune;
    let mailboxes: Vec<_> = state
        .app
        .mailboxes(commune.id)
        .await?
        .into_iter()
        .map(|m| ctx! {
            id => m.id.to_string(), label => m.label, active => m.active, last_uid => m.last_uid,
            polled => m.last_polled_at.map(|t| views::instant(t, commune)),
            error => m.last_error,
        })
        .collect();
    Ok(Html(templates::render(
        "admin_mailboxes.html",
        ctx! {
            title => "Boîtes aux lettres", style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "mailboxes", mailboxes, form, error, notice, editing => false,
        },
    )?))
}

pub async fn mailboxes(State(state): State<WebState>, me: Me) -> Result<Html<String>, WebError> {
    let form = MailboxForm {
        port: "993".into(),
        folder: "INBOX".into(),
        active: "1".into(),
        ..MailboxForm::default()
    };
    mailboxes_page(&state, &me, &form, None, None).await
}

pub async fn add_mailbox(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<MailboxForm>,
) -> Result<Html<String>, WebError> {
    let services = state.app.services(me.0.commune.id).await?;
    let settings = match form.settings(&services) {
        Ok(s) => s,
        Err(e) => return mailboxes_page(&state, &me, &form, Some(e), None).await,
    };
    match state
        .app
        .add_mailbox(
            &me.0.commune,
            &Actor::User(me.0.user.id),
            settings,
            Utc::now(),
        )
        .await
    {
        Ok(_) => {
            let notice = Some(format!("Boîte « {} » ajoutée.", form.label.trim()));
            mailboxes_page(&state, &me, &MailboxForm::default(), None, notice).await
        }
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            mailboxes_page(&state, &me, &form, Some(e.to_string()), None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn mailbox_page(
    state: &WebState,
    me: &Me,
    id: Uuid,
    form: Option<&MailboxForm>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Html<String>, WebError> {
    let store = &state.app;
    let row = store.mailbox(me.0.commune.id, id).await?;
    let services = store.services(me.0.commune.id).await?;
    let loaded;
    let form = match form {
        Some(f) => f,
        None => {
            let config = state.app.mailbox_config(&row).await?;
            let rules: Vec<Rule> = serde_json::from_str(&row.rules_json).unwrap_or_default();
            loaded = MailboxForm {
                label: row.label.clone(),
                host: config.host,
                port: config.port.to_string(),
                security: match config.security {
                    Security::Tls => "tls",
                    Security::StartTls => "starttls",
                    Security::Plain => "plain",
                }
                .into(),
                username: config.username,
                folder: config.folder,
                after: match &config.after_capture {
                    AfterCapture::Leave => "leave",
                    AfterCapture::MarkSeen => "seen",
                    AfterCapture::MoveTo(_) => "move",
                }
                .into(),
                move_to: match config.after_capture {
                    AfterCapture::MoveTo(f) => f,
                    _ => String::new(),
                },
                rules: rules
                    .iter()
                    .map(|r| rule_line(r, &services))
                    .collect::<Vec<_>>()
                    .join("\n"),
                active: if row.active {
                    "1".into()
                } else {
                    String::new()
                },
                ..MailboxForm::default()
            };
            &loaded
        }
    };
    Ok(Html(templates::render(
        "admin_mailboxes.html",
        ctx! {
            title => format!("Boîte « {} »", row.label), style_url => assets::style_url(), me => me.view(), csrf => me.csrf(),
            nav => "admin", section => "mailboxes", form, error, notice, editing => true,
            id => row.id.to_string(), last_uid => row.last_uid,
            polled => row.last_polled_at.map(|t| views::instant(t, &me.0.commune)),
            last_error => row.last_error,
        },
    )?))
}

pub async fn mailbox(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    mailbox_page(&state, &me, parse_id(&id)?, None, None, None).await
}

pub async fn update_mailbox(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<MailboxForm>,
) -> Result<Response, WebError> {
    let id = parse_id(&id)?;
    let services = state.app.services(me.0.commune.id).await?;
    let settings = match form.settings(&services) {
        Ok(s) => s,
        Err(e) => {
            return Ok(mailbox_page(&state, &me, id, Some(&form), Some(e), None)
                .await?
                .into_response());
        }
    };
    let keep_password = form.password.is_empty();
    match state
        .app
        .update_mailbox(
            &me.0.commune,
            &Actor::User(me.0.user.id),
            id,
            settings,
            keep_password,
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/administration/boites").into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            Ok(
                mailbox_page(&state, &me, id, Some(&form), Some(e.to_string()), None)
                    .await?
                    .into_response(),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Polls a mailbox now and says what came in (or why the server refused).
pub async fn poll_now(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Html<String>, WebError> {
    let id = parse_id(&id)?;
    let row = state.app.mailbox(me.0.commune.id, id).await?;
    let (notice, error) = match state.app.poll_mailbox(&me.0.commune, &row, Utc::now).await {
        Ok(r) => (
            Some(format!(
                "Relève faite : {}, {}, {} en quarantaine.",
                count(r.registered as usize, "enregistré", "enregistrés"),
                count(r.attached as usize, "rattaché", "rattachés"),
                r.quarantined
            )),
            None,
        ),
        Err(e) => (None, Some(e.to_string())),
    };
    mailbox_page(&state, &me, id, None, error, notice).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_back_as_written() {
        let service = Service {
            id: Uuid::now_v7(),
            commune_id: Uuid::now_v7(),
            code: "urba".into(),
            name: "Urbanisme".into(),
            email: None,
            phone: None,
            active: true,
        };
        let services = vec![service];
        let text = "objet contient permis de construire -> type urbanisme, service urba\n\nexpéditeur contient @caf.fr -> type social";
        let rules = parse_rules(text, &services).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].contains, "permis de construire");
        assert_eq!(rules[0].service_id, Some(services[0].id));
        assert_eq!(rules[1].field, RuleField::From);
        let written: Vec<String> = rules.iter().map(|r| rule_line(r, &services)).collect();
        assert_eq!(parse_rules(&written.join("\n"), &services).unwrap(), rules);
        assert!(
            parse_rules("objet permis", &services)
                .unwrap_err()
                .contains("->")
        );
        assert!(parse_rules("sujet contient x -> type a", &services).is_err());
        assert!(parse_rules("objet contient x -> service inconnu", &services).is_err());
    }
}

crate::session::csrf_forms!(MailboxForm);
