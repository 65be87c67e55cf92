//! The deadline watch: implicit decisions recorded when they are born, the webhooks'
//! `item.due_soon` events, and a daily digest to each agent and élu of what is late, due
//! within 7 days, or about to be accepted by silence. Run by the server's background loop; each step is idempotent (a decision is
//! recorded once, a digest is sent once per person and day), so running it twice is harmless.
//! With several nodes, each commune's decisions and digests are claimed once per local day
//! (`daily_runs`): one node does them, and a node that dies mid-way leaves them to the next
//! round of any node once its claim has run out.

use crate::boxed_future;
use chrono::{DateTime, Duration, SubsecRound, Timelike, Utc};
use parapheur_domain::clock::{local_date, utc_offset_minutes};
use parapheur_domain::item::Item;
use parapheur_domain::watch::{self, Alert, WatchFacts};
use parapheur_domain::{Commune, Role, SilenceRule, french};
use parapheur_store::citizens::ItemMessage;
use parapheur_store::users::User;
use uuid::Uuid;

use crate::register::lifecycle::Change;
use crate::webhooks::{Event, item_data, queue_event};
use crate::{Actor, App, AppError};
use parapheur_domain::webhook::EventType;

/// Digests leave from this local hour on (the start of the mairie's day).
pub const DIGEST_HOUR: u32 = 7;
const WATCH: Actor = Actor::System("échéances");
/// How long a node holds a commune's daily work before another may take it over.
const DAILY_CLAIM: Duration = Duration::minutes(30);

/// What one round of the watch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WatchReport {
    pub decisions: usize,
    pub digests: usize,
    /// Calls erased from the call log, past its retention.
    pub calls_purged: u64,
}

/// One line of a digest or of the inbox warnings.
#[derive(Debug, Clone)]
pub struct WatchedItem {
    pub item: Item,
    pub alerts: Vec<Alert>,
}

impl App {
    /// The alerts of a commune's open items today (the inbox and the item page show them).
    #[boxed_future]
    pub async fn watched_items(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<Vec<WatchedItem>, AppError> {
        let today = local_date(now, commune.zone());
        let doctypes = self.store().doctypes(commune.id).await?;
        let items = self
            .store()
            .watched_items(
                commune.id,
                today + Duration::days(7),
                today + Duration::days(15),
                today - Duration::days(60),
            )
            .await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let silence = item
                    .doctype_code
                    .as_ref()
                    .and_then(|c| doctypes.iter().find(|d| &d.code == c))
                    .map_or(SilenceRule::None, |d| d.silence);
                let alerts =
                    watch::alerts(&facts_of(&item, silence), today, commune.holiday_zone());
                (!alerts.is_empty()).then_some(WatchedItem { item, alerts })
            })
            .collect())
    }

    /// One round of the watch for every commune.
    #[boxed_future]
    pub async fn run_deadline_watch(&self, now: DateTime<Utc>) -> Result<WatchReport, AppError> {
        let mut report = WatchReport::default();
        for commune in self.store().communes().await? {
            // A request from a form whose acknowledgements could not be queued when it was
            // submitted (a crash in between, a layout error) gets them now.
            for item in self
                .store()
                .unacknowledged_items(commune.id, None, 100)
                .await?
            {
                if item.channel == parapheur_domain::Channel::Form
                    && let Err(e) = self.acknowledge_submission(&commune, &item, now).await
                {
                    tracing::warn!(chrono = %item.chrono, error = %e, "acknowledgement");
                }
            }
            let today = local_date(now, commune.zone());
            if self
                .claim_daily("decisions", commune.id, today, now, DAILY_CLAIM)
                .await?
            {
                let done = self.record_implicit_decisions(&commune, now).await;
                self.finish_daily("decisions", commune.id, today, done.is_ok(), now)
                    .await?;
                report.decisions += done?;
            }
            // Webhooks' "due soon", once per item and due date (see queue_due_soon_events).
            if self
                .claim_daily("webhooks_due_soon", commune.id, today, now, DAILY_CLAIM)
                .await?
            {
                let done = self.queue_due_soon_events(&commune, now).await;
                self.finish_daily("webhooks_due_soon", commune.id, today, done.is_ok(), now)
                    .await?;
                done?;
            }
            // The phone system's call log keeps a year (domain::cti::CALL_LOG_DAYS).
            if self
                .claim_daily("calls_purge", commune.id, today, now, DAILY_CLAIM)
                .await?
            {
                let done = self.purge_call_log(&commune, now).await;
                self.finish_daily("calls_purge", commune.id, today, done.is_ok(), now)
                    .await?;
                report.calls_purged += done?;
            }
            if digest_time(&commune, now)
                && self
                    .claim_daily("digests", commune.id, today, now, DAILY_CLAIM)
                    .await?
            {
                let done = self.send_digests(&commune, now).await;
                self.finish_daily("digests", commune.id, today, done.is_ok(), now)
                    .await?;
                report.digests += done?;
            }
        }
        Ok(report)
    }

    /// Erases the calls older than the call log keeps them.
    #[boxed_future]
    pub async fn purge_call_log(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        let before = now - chrono::Duration::days(parapheur_domain::cti::CALL_LOG_DAYS);
        let mut tx = self.store().begin(now).await?;
        let purged = tx
            .purge_calls_before(
                commune.id,
                before,
                "système (conservation du journal des appels)",
            )
            .await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Records every implicit decision born by now (at the end of its silence date).
    #[boxed_future]
    pub async fn record_implicit_decisions(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let today = local_date(now, commune.zone());
        let doctypes = self.store().doctypes(commune.id).await?;
        let mut recorded = 0;
        // Only dates that have run out; no arrival is after today, so no AR-only item.
        let after_today = today + Duration::days(1);
        let items = self
            .store()
            .watched_items(commune.id, today, today, after_today)
            .await?;
        for item in items {
            let silence = item
                .doctype_code
                .as_ref()
                .and_then(|c| doctypes.iter().find(|d| &d.code == c))
                .map_or(SilenceRule::None, |d| d.silence);
            let Some(decision) = watch::implicit_decision(&facts_of(&item, silence), today) else {
                continue;
            };
            let (code, text) = match decision.kind {
                watch::ImplicitKind::Accepted => (
                    "accepted",
                    format!(
                        "Sans décision expresse de la mairie, votre demande est réputée acceptée depuis le {} (article L231-1 du code des relations entre le public et l'administration). Vous pouvez demander une attestation de cette décision (article L232-3).",
                        french::long_date(decision.born_on)
                    ),
                ),
                watch::ImplicitKind::Rejected => (
                    "rejected",
                    format!(
                        "Sans décision expresse de la mairie, votre demande est réputée rejetée depuis le {} (article L231-4 du code des relations entre le public et l'administration). Vous pouvez former un recours gracieux auprès du maire ou un recours contentieux devant le tribunal administratif dans les deux mois.",
                        french::long_date(decision.born_on)
                    ),
                ),
            };
            // The decision and the citizen's notice of it land together or not at all.
            let mut tx = self.store().begin(now).await?;
            self.apply_change(
                &mut tx,
                commune,
                &WATCH,
                item.id,
                Change::ImplicitDecision {
                    decision: code.to_owned(),
                    born_on: decision.born_on,
                },
                now,
            )
            .await?;
            tx.insert_item_message(
                commune.id,
                &ItemMessage {
                    id: Uuid::now_v7(),
                    item_id: item.id,
                    kind: "implicit_decision".to_owned(),
                    from_citizen: false,
                    subject: "Décision implicite".to_owned(),
                    body: text,
                    reply_item_id: None,
                    attachment_ids: Vec::new(),
                    author_id: None,
                    created_at: now,
                },
                &WATCH.journal_name(),
            )
            .await?;
            tx.commit().await?;
            recorded += 1;
        }
        if recorded > 0 {
            self.webhooks_queued();
        }
        Ok(recorded)
    }

    /// Queues `item.due_soon` for each open item of the commune whose due date is within
    /// seven days, once per item and due date (a due date moved later is told again). Run
    /// once a day by the deadline watch; returns how many deliveries were queued.
    #[boxed_future]
    pub async fn queue_due_soon_events(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        if !self
            .store()
            .webhook_listened(commune.id, EventType::ItemDueSoon.code())
            .await?
        {
            return Ok(0);
        }
        let now = now.trunc_subsecs(6);
        let mut queued = 0;
        for watched in self.watched_items(commune, now).await? {
            for alert in &watched.alerts {
                let Alert::DueSoon {
                    due,
                    days_left,
                    working_days_left,
                } = alert
                else {
                    continue;
                };
                let event = Event {
                    event_type: EventType::ItemDueSoon,
                    key: format!("{}:{due}", watched.item.id),
                    data: serde_json::json!({
                        "item": item_data(&watched.item),
                        "days_left": days_left,
                        "working_days_left": working_days_left,
                    }),
                };
                let mut tx = self.store().begin(now).await?;
                queued += queue_event(&mut tx, commune, event, now).await?;
                tx.commit().await?;
            }
        }
        if queued > 0 {
            self.webhooks_queued();
        }
        Ok(queued)
    }

    /// Today's digest to each agent and élu with something to watch, once a day from
    /// [`DIGEST_HOUR`] local time.
    #[boxed_future]
    pub async fn send_digests(
        &self,
        commune: &Commune,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        if !digest_time(commune, now) {
            return Ok(0);
        }
        let today = local_date(now, commune.zone());
        let watched = self.watched_items(commune, now).await?;
        if watched.is_empty() {
            return Ok(0);
        }
        let mut sent = 0;
        for user in self.store().users(commune.id).await? {
            if !user.active || !matches!(user.role, Role::Agent | Role::Elu | Role::Administrateur)
            {
                continue;
            }
            let key = format!("digest:{}:{today}", user.id);
            if self.store().outbox_has_key(commune.id, &key).await? {
                continue;
            }
            let mine: Vec<&WatchedItem> = watched
                .iter()
                .filter(|w| concerns(&user, &w.item))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let subject = format!(
                "Échéances du {} : {} courrier{} à surveiller",
                french::long_date(today),
                mine.len(),
                if mine.len() > 1 { "s" } else { "" }
            );
            let text = digest_text(self.public_url(), &user, &mine, today);
            let message = self.notice_to(commune, &user, subject, text);
            let email = self
                .prepare_email(commune, None, "digest", &message, Some(key), now)
                .await?;
            let mut tx = self.store().begin(now).await?;
            if self.queue_email(&mut tx, &email).await? {
                sent += 1;
            }
            tx.commit().await?;
        }
        if sent > 0 {
            self.outbox_queued();
        }
        Ok(sent)
    }
}

/// Digests leave from [`DIGEST_HOUR`], the commune's local time.
fn digest_time(commune: &Commune, now: DateTime<Utc>) -> bool {
    let local = now + Duration::minutes(utc_offset_minutes(now, commune.zone()));
    local.hour() >= DIGEST_HOUR
}

/// What the watch looks at in an item, under its document type's silence rule.
pub fn facts_of(item: &Item, silence: SilenceRule) -> WatchFacts {
    WatchFacts {
        status_open: item.status.is_open(),
        due: item.due_date,
        silence,
        silence_date: item.silence_date,
        waiting_for_documents: item.incomplete_requested_on.is_some()
            && item.incomplete_completed_on.is_none(),
        implicit_decision_recorded: item.implicit_decision.is_some(),
        // L112-11: a request that came electronically is owed an electronic AR.
        electronic_receipt_due: (item.direction == parapheur_domain::Direction::Incoming
            && matches!(
                item.channel,
                parapheur_domain::Channel::Email | parapheur_domain::Channel::Form
            )
            && item.acknowledged_at.is_none())
        .then(|| parapheur_domain::acknowledgement::electronic_receipt_due(item.arrival_date)),
    }
}

/// Élus and administrators watch the whole commune (a small one); an agent watches what is
/// theirs, and what waits in their service for no one in particular.
fn concerns(user: &User, item: &Item) -> bool {
    // A digest names only what its reader is in charge of: copies are not included.
    if !item.is_visible_to(user.role.confidential_reader(user.id), &[]) {
        return false;
    }
    match user.role {
        Role::Elu | Role::Administrateur => true,
        _ => {
            item.assignee_id == Some(user.id)
                || (item.assignee_id.is_none()
                    && item.service_id.is_some()
                    && item.service_id == user.service_id)
        }
    }
}

fn digest_text(
    base: &str,
    user: &User,
    items: &[&WatchedItem],
    today: chrono::NaiveDate,
) -> String {
    let mut late = Vec::new();
    let mut soon = Vec::new();
    let mut acceptance = Vec::new();
    let mut receipts = Vec::new();
    for w in items {
        let line = |what: String| {
            format!(
                "- {} — {} ({what})\n  {base}/courrier/{}",
                w.item.chrono, w.item.subject, w.item.id
            )
        };
        for alert in &w.alerts {
            match alert {
                Alert::Late { .. } => late.push(line(alert.label_fr())),
                Alert::DueSoon { .. } => soon.push(line(alert.label_fr())),
                Alert::AcceptanceSoon { .. } => acceptance.push(line(alert.label_fr())),
                Alert::ElectronicReceiptDue { .. } => receipts.push(line(alert.label_fr())),
            }
        }
    }
    let mut text = format!(
        "Bonjour {},\n\nVoici les échéances du courrier au {}.\n",
        user.display_name,
        french::long_date(today)
    );
    for (title, lines) in [
        ("En retard", &late),
        ("À traiter dans les 7 jours", &soon),
        (
            "Acceptation tacite prochaine (silence vaut acceptation)",
            &acceptance,
        ),
        ("Accusés de réception électroniques à envoyer", &receipts),
    ] {
        if !lines.is_empty() {
            text.push_str(&format!(
                "\n{title} ({}) :\n{}\n",
                lines.len(),
                lines.join("\n")
            ));
        }
    }
    text.push_str(&format!(
        "\nCe message est envoyé chaque matin par parapheur. Tout le courrier à traiter : {base}/a-traiter\n"
    ));
    text
}
