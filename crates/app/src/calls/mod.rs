//! The phone system (issue 18, point 3): the call events the commune's PBX posts, in
//! Zammad's generic CTI format, through a bridge written for Zammad (Asterisk AMI bridges,
//! 3CX's CRM template, Sipgate, Placetel), to `/api/v1/cti/{token}`.
//!
//! * **Calls.** Each call moves along newCall, answer, hangup (the domain's
//!   [`transition`]): a replayed event changes nothing and is answered the same; an answer
//!   or hang-up of a call never heard ringing, or an event that cannot follow where the
//!   call stands, is refused with its stable code, and nothing is written.
//! * **Who calls, who it rings.** The outside number is read in every French form and
//!   looked up among the contacts' phones; the agent is the user whose extension (set on
//!   the user's administration page) rings, picks up (`answeringNumber`), or is named in
//!   `user[]`.
//! * **Missed calls.** An incoming call hung up while ringing is journaled (`call.missed`)
//!   and leaves a callback task: a phone item "Appel manqué de … — à rappeler", assigned to
//!   the agent whose phone rang (unassigned otherwise, in the registrars' inbox), with the
//!   contact as sender and the number to call back, registered in the hang-up's own
//!   transaction.
//!
//! The token that posts acts as its owner, like every API token: the owner's role must
//! allow registering mail, and the callback items are journaled as theirs.

use crate::boxed_future;

use chrono::{DateTime, SubsecRound, Utc};
use parapheur_domain::clock::local_date;
use parapheur_domain::contact::Contact;
use parapheur_domain::cti::{
    CallDirection, CallEvent, CallRefusal, CallState, CallerNumber, Transition, caller_number,
    cause_fr, missed_call_subject, transition,
};
use parapheur_domain::item::NewItem;
use parapheur_domain::{Channel, Commune, Permission};
use parapheur_store::users::User;
use uuid::Uuid;

pub use parapheur_store::calls::Call;

use crate::register::{Registered, register_in};
use crate::{Actor, App, AppError, Party};

/// What an event did.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub call: Call,
    pub transition: Transition,
    /// A missed call's callback item, registered now.
    pub callback: Option<Registered>,
}

/// News of a call for the pages open: which call, whose phone, where it stands. Sent on
/// this node only (a page listening on another node of a cluster sees the ringing call on
/// its next load, through the home page's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallNotice {
    pub commune_id: Uuid,
    pub call_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub state: CallState,
}

/// How long a call not yet answered nor hung up is shown as ringing (a lost hang-up must
/// not leave it ringing for ever).
pub const RINGING_FOR: chrono::Duration = chrono::Duration::minutes(5);

/// The longest an extension may be.
const MAX_EXTENSION: usize = 32;

/// How two numbers of the PBX compare: phone numbers in the contacts' form, extensions by
/// their digits, anything else case-insensitively.
fn number_key(raw: &str) -> String {
    match caller_number(raw) {
        CallerNumber::Phone(p) | CallerNumber::Extension(p) => p,
        CallerNumber::Other(o) => o.to_lowercase(),
        CallerNumber::Hidden => String::new(),
    }
}

/// The user `hint` names: by extension, email, or name (as `user[]` gives it).
fn user_named<'a>(
    users: &'a [User],
    extensions: &[(Uuid, String)],
    hint: &str,
) -> Option<&'a User> {
    let key = number_key(hint);
    if key.is_empty() {
        return None;
    }
    let folded = parapheur_domain::contact::fold(hint);
    let by_extension = extensions
        .iter()
        .find(|(_, ext)| number_key(ext) == key)
        .and_then(|(id, _)| users.iter().find(|u| u.id == *id));
    by_extension
        .or_else(|| {
            users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(hint.trim()))
        })
        .or_else(|| {
            users
                .iter()
                .find(|u| parapheur_domain::contact::fold(&u.display_name) == folded)
        })
        .filter(|u| u.active)
}

impl App {
    /// Takes one call event of the commune's PBX: `Ok(Err(refusal))` when it is refused
    /// (unknown call, out of order), with nothing written.
    #[tracing::instrument(level = "info", skip_all, fields(commune = %commune.insee, event = event.kind.code()))]
    #[boxed_future]
    pub async fn call_event(
        &self,
        commune: &Commune,
        actor: &Actor,
        event: CallEvent,
        now: DateTime<Utc>,
    ) -> Result<Result<CallOutcome, CallRefusal>, AppError> {
        self.authorize(commune, actor, Permission::ProcessMail)
            .await?;
        let now = now.trunc_subsecs(6);
        // Two rounds at most: a change raced by the same event's replay is read again.
        for _ in 0..2 {
            let known = self
                .store()
                .call_by_ref(commune.id, &event.call_ref)
                .await?;
            let direction = match &known {
                Some(call) => CallDirection::parse(&call.direction).unwrap_or(event.direction),
                None => event.direction,
            };
            let step = match transition(known.as_ref().map(|c| c.state), direction, &event) {
                Ok(step) => step,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let done = match (step, known) {
                (Transition::Replay, Some(call)) => Some(CallOutcome {
                    call,
                    transition: Transition::Replay,
                    callback: None,
                }),
                (Transition::Create, _) => self.new_call(commune, &event, now).await?,
                (Transition::Answer, Some(call)) => {
                    self.answered(commune, &event, call, now).await?
                }
                (Transition::Hangup { missed }, Some(call)) => {
                    self.hung_up(commune, actor, &event, call, missed, now)
                        .await?
                }
                (_, None) => return Ok(Err(CallRefusal::Unknown)),
            };
            if let Some(done) = done {
                return Ok(Ok(done));
            }
        }
        Err(AppError::Conflict(
            "cet appel change en ce moment : renvoyez l'événement".into(),
        ))
    }

    /// The agents of the commune and their extensions.
    async fn agents(
        &self,
        commune: &Commune,
    ) -> Result<(Vec<User>, Vec<(Uuid, String)>), AppError> {
        Ok((
            self.store().users(commune.id).await?,
            self.store().phone_extensions(commune.id).await?,
        ))
    }

    /// The contact a number is: the oldest of those with this phone.
    pub(crate) async fn contact_of_number(
        &self,
        commune: &Commune,
        number: &CallerNumber,
    ) -> Result<Option<Contact>, AppError> {
        let Some(key) = number.phone_key() else {
            return Ok(None);
        };
        Ok(self
            .store()
            .contacts_by_phone(commune.id, key)
            .await?
            .into_iter()
            .next())
    }

    async fn new_call(
        &self,
        commune: &Commune,
        event: &CallEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<CallOutcome>, AppError> {
        let outside = caller_number(event.outside_number());
        let contact = self.contact_of_number(commune, &outside).await?;
        let (users, extensions) = self.agents(commune).await?;
        let agent = std::iter::once(event.inside_number())
            .chain(event.users.iter().map(String::as_str))
            .find_map(|hint| user_named(&users, &extensions, hint))
            .map(|u| u.id);
        let call = Call {
            id: Uuid::now_v7(),
            commune_id: commune.id,
            call_ref: event.call_ref.clone(),
            direction: event.direction.code().to_owned(),
            from_number: event.from.clone(),
            to_number: event.to.clone(),
            caller_number: outside.phone_key().map(str::to_owned),
            contact_id: contact.map(|c| c.id),
            agent_id: agent,
            users: event.users.clone(),
            state: CallState::Ringing,
            cause: None,
            missed: false,
            item_id: None,
            started_at: now,
            answered_at: None,
            ended_at: None,
        };
        let mut tx = self.store().begin(now).await?;
        if !tx.insert_call(&call).await? {
            return Ok(None);
        }
        tx.commit().await?;
        self.call_rang(&call);
        Ok(Some(CallOutcome {
            call,
            transition: Transition::Create,
            callback: None,
        }))
    }

    async fn answered(
        &self,
        commune: &Commune,
        event: &CallEvent,
        call: Call,
        now: DateTime<Utc>,
    ) -> Result<Option<CallOutcome>, AppError> {
        let (users, extensions) = self.agents(commune).await?;
        let answering = event
            .answering_number
            .iter()
            .chain(event.users.iter())
            .find_map(|hint| user_named(&users, &extensions, hint))
            .map(|u| u.id);
        let after = Call {
            state: CallState::Answered,
            agent_id: answering.or(call.agent_id),
            answered_at: Some(now),
            ..call.clone()
        };
        let mut tx = self.store().begin(now).await?;
        if !tx.advance_call(call.state, &after).await? {
            return Ok(None);
        }
        tx.commit().await?;
        self.call_rang(&after);
        Ok(Some(CallOutcome {
            call: after,
            transition: Transition::Answer,
            callback: None,
        }))
    }

    async fn hung_up(
        &self,
        commune: &Commune,
        actor: &Actor,
        event: &CallEvent,
        call: Call,
        missed: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<CallOutcome>, AppError> {
        let mut after = Call {
            state: CallState::Ended,
            cause: event.cause.clone(),
            missed,
            ended_at: Some(now),
            ..call.clone()
        };
        let outside = match &call.caller_number {
            Some(number) => CallerNumber::Phone(number.clone()),
            None => caller_number(if call.direction == "out" {
                &call.to_number
            } else {
                &call.from_number
            }),
        };
        // A missed call from a number that can be called back leaves a callback task, made
        // ready (its checks) before the transaction.
        let ready = if missed && outside != CallerNumber::Hidden {
            let contact = match call.contact_id {
                Some(id) => Some(self.store().contact(commune.id, id).await?),
                None => None,
            };
            let today = local_date(now, commune.zone());
            let local = now.with_timezone(&commune.zone());
            let mut new = NewItem::incoming(
                Channel::Phone,
                missed_call_subject(
                    contact.as_ref().map(|c| c.display_name()).as_deref(),
                    &outside,
                ),
                today,
            );
            if self.store().doctype(commune.id, "appel").await?.is_some() {
                new.doctype_code = Some("appel".into());
            }
            let (users, _) = self.agents(commune).await?;
            new.assignee_id = call
                .agent_id
                .filter(|id| users.iter().any(|u| u.id == *id && u.active));
            let rang = match (&call.agent_id, call.to_number.trim()) {
                (_, "") => String::new(),
                (_, to) => format!(" sur le {}", caller_number(to).display()),
            };
            new.body = Some(format!(
                "Numéro à rappeler : {}\nAppel manqué le {} à {}{rang} ({}).",
                outside.display(),
                parapheur_domain::french::long_date(today),
                parapheur_domain::french::time_of_day(local.time()),
                cause_fr(event.cause.as_deref()),
            ));
            let party = contact.map(|c| Party::Existing(c.id));
            Some(
                self.ready_item(commune, new, party, Vec::new(), now)
                    .await?,
            )
        } else {
            None
        };
        let mut tx = self.store().begin(now).await?;
        let callback = match ready {
            Some(ready) => {
                let registered = register_in(&mut tx, commune, actor, ready).await?;
                after.item_id = Some(registered.item.id);
                Some(registered)
            }
            None => None,
        };
        if !tx.advance_call(call.state, &after).await? {
            // Raced by the same hang-up: nothing of this one is kept.
            return Ok(None);
        }
        if missed {
            tx.journal_missed_call(&after, &actor.journal_name());
        }
        tx.commit().await?;
        if let Some(registered) = &callback {
            self.registered(registered);
        }
        self.call_rang(&after);
        Ok(Some(CallOutcome {
            call: after,
            transition: Transition::Hangup { missed },
            callback,
        }))
    }

    /// Tells the pages open that a call changed (the call sheet's stream). Nobody listening
    /// is not an error.
    fn call_rang(&self, call: &Call) {
        let _ = self.call_notices.send(CallNotice {
            commune_id: call.commune_id,
            call_id: call.id,
            agent_id: call.agent_id,
            state: call.state,
        });
    }

    /// Ends the call sheets' streams: the server is stopping (a stream never ends by
    /// itself, and would hold the graceful stop for its whole grace).
    pub fn end_call_streams(&self) {
        let _ = self.call_notices.send(CallNotice {
            commune_id: Uuid::nil(),
            call_id: Uuid::nil(),
            agent_id: None,
            state: CallState::Ended,
        });
    }

    /// The calls' news, for a page's stream (this node's: see [`CallNotice`]); a notice of
    /// no commune ([`App::end_call_streams`]) ends every stream.
    pub fn call_notices(&self) -> tokio::sync::broadcast::Receiver<CallNotice> {
        self.call_notices.subscribe()
    }

    /// A call of the commune, by its id.
    #[boxed_future]
    pub async fn call(&self, commune: &Commune, id: Uuid) -> Result<Option<Call>, AppError> {
        Ok(self.store().call(commune.id, id).await?)
    }

    /// The calls ringing now on this person's phone (begun in the last [`RINGING_FOR`]).
    #[boxed_future]
    pub async fn ringing_for(
        &self,
        commune: &Commune,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Call>, AppError> {
        Ok(self
            .store()
            .ringing_calls(commune.id, now - RINGING_FOR)
            .await?
            .into_iter()
            .filter(|c| c.agent_id == Some(user_id))
            .collect())
    }

    /// Who a call is with, for its sheet: the contact (if matched) and the number.
    #[boxed_future]
    pub async fn call_party(
        &self,
        commune: &Commune,
        call: &Call,
    ) -> Result<(Option<Contact>, CallerNumber), AppError> {
        let number = caller_number(if call.direction == "out" {
            &call.to_number
        } else {
            &call.from_number
        });
        let contact = match call.contact_id {
            Some(id) => Some(self.store().contact(commune.id, id).await?),
            None => None,
        };
        Ok((contact, number))
    }

    /// Recognises a voice message the PBX emailed (an audio attachment, and a caller's
    /// number in the subject or body) and makes `new` its phone item: "Message vocal de …",
    /// the number to call back, the type "appel", the agent whose mailbox (extension) it
    /// was left in, the audio served as audio. Returns the caller's contact as the item's
    /// party (`Some(None)` when none matches: the PBX's address is not the sender), or
    /// `None` when the email is not a voicemail.
    pub(crate) async fn voicemail(
        &self,
        commune: &Commune,
        subject: &str,
        body: &str,
        new: &mut NewItem,
        files: &mut [crate::register::NewFile],
    ) -> Result<Option<Option<Party>>, AppError> {
        use parapheur_domain::cti::{is_voicemail_audio, voicemail_caller, voicemail_media_type};
        if !files
            .iter()
            .any(|f| is_voicemail_audio(&f.media_type, &f.filename))
        {
            return Ok(None);
        }
        let Some(caller) = voicemail_caller(subject, body) else {
            return Ok(None);
        };
        let contact = self.contact_of_number(commune, &caller.number).await?;
        let who = contact
            .as_ref()
            .map(|c| c.display_name())
            .or(caller.name.clone())
            .unwrap_or_else(|| caller.number.display());
        new.channel = Channel::Phone;
        new.subject = format!("Message vocal de {who}");
        let heard = match (&contact, &caller.name) {
            (None, Some(name)) => format!(" ({name}, selon le standard)"),
            _ => String::new(),
        };
        let line = format!("Numéro à rappeler : {}{heard}", caller.number.display());
        new.body = Some(match new.body.take() {
            Some(text) => format!("{line}\n\n{text}"),
            None => line,
        });
        if new.doctype_code.is_none() && self.store().doctype(commune.id, "appel").await?.is_some()
        {
            new.doctype_code = Some("appel".into());
        }
        if new.assignee_id.is_none()
            && new.service_id.is_none()
            && let Some(mailbox) = &caller.mailbox
        {
            let (users, extensions) = self.agents(commune).await?;
            new.assignee_id = user_named(&users, &extensions, mailbox).map(|u| u.id);
        }
        for file in files.iter_mut() {
            if is_voicemail_audio(&file.media_type, &file.filename) {
                file.media_type = voicemail_media_type(&file.media_type, &file.filename).to_owned();
            }
        }
        Ok(Some(contact.map(|c| Party::Existing(c.id))))
    }

    /// A call of the commune by its PBX id.
    #[boxed_future]
    pub async fn call_by_ref(
        &self,
        commune: &Commune,
        call_ref: &str,
    ) -> Result<Option<Call>, AppError> {
        Ok(self.store().call_by_ref(commune.id, call_ref).await?)
    }

    /// The call a callback item was registered for.
    #[boxed_future]
    pub async fn call_of_item(
        &self,
        commune: &Commune,
        item_id: Uuid,
    ) -> Result<Option<Call>, AppError> {
        Ok(self.store().call_of_item(commune.id, item_id).await?)
    }

    /// The extension of each user of the commune that has one.
    #[boxed_future]
    pub async fn phone_extensions(
        &self,
        commune: &Commune,
    ) -> Result<Vec<(Uuid, String)>, AppError> {
        Ok(self.store().phone_extensions(commune.id).await?)
    }

    /// Sets (or clears, when empty) the extension that rings on a user's desk, in the form
    /// calls are compared in (`0247000100`, `100`): an administrator's act, journaled. Two
    /// users may not share one.
    #[boxed_future]
    pub async fn set_phone_extension(
        &self,
        commune: &Commune,
        actor: &Actor,
        user_id: Uuid,
        extension: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.authorize(commune, actor, Permission::Administer)
            .await?;
        let extension = extension.trim();
        if extension.chars().count() > MAX_EXTENSION || extension.chars().any(|c| c.is_control()) {
            return Err(AppError::invalid_field(
                "phone_extension",
                "poste téléphonique : 32 caractères au plus",
            ));
        }
        let user = self
            .store()
            .user(user_id)
            .await
            .ok()
            .filter(|u| u.commune_id == commune.id)
            .ok_or_else(|| AppError::invalid("personne inconnue dans cette commune"))?;
        // Kept in the form calls are compared in, so that "02 47 00 01 00" and
        // "0247000100" are one extension, and two people cannot share it.
        let stored = match caller_number(extension) {
            CallerNumber::Phone(p) | CallerNumber::Extension(p) => p,
            CallerNumber::Other(o) => o,
            CallerNumber::Hidden => String::new(),
        };
        let mut tx = self.store().begin(now.trunc_subsecs(6)).await?;
        tx.set_phone_extension(
            &user,
            Some(stored.as_str()).filter(|e| !e.is_empty()),
            &actor.journal_name(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_in_any_form() {
        assert_eq!(number_key("+33 2 35 00 01 00"), number_key("0235000100"));
        assert_eq!(number_key("100"), "100");
        assert_eq!(number_key("anonymous"), "");
    }
}
