//! Group commit: what taking each message will write is planned first (`Plan`), then the
//! plans of a batch are written in one transaction and one commit (`Batch::flush`). A
//! message that depends on one still waiting (the same bytes again, a reply to it) waits for
//! that commit; a batch the database refuses is written message by message.

use std::collections::HashSet;

use chrono::{SubsecRound, Utc};
use parapheur_domain::Commune;
use parapheur_mail::ParsedMail;
use parapheur_store::WriteTx;
use parapheur_store::capture::{InboundMessage, InboundState};
use uuid::Uuid;

use super::{CaptureOutcome, Captured, MessageSource, truncate};
use crate::register::{ReadyItem, Registered, register_in};
use crate::{Actor, App, AppError};

/// The largest number of messages written in one transaction: the write lock is held for
/// a fraction of a second at most, so a person registering by hand barely waits.
pub const MAX_BATCH: usize = 64;

/// Messages received at once (original and attachments stored, bytes parsed): their file
/// writes (each fsynced) overlap, the rest of their taking stays in order.
pub(super) const RECEIVING: usize = 8;

/// Messages received ahead of the one being planned: receiving goes on while a batch is
/// written.
pub(super) const RECEIVED_AHEAD: usize = 32;

/// A message received: its original stored (whatever happens next, it is kept) and its
/// bytes parsed. Independent of the other messages, so several are received at once.
pub(super) struct Received {
    pub(super) source: MessageSource,
    pub(super) content: Result<Content, String>,
}

pub(super) struct Content {
    pub(super) sha256: String,
    pub(super) size: i64,
    pub(super) mail: Result<ParsedMail, String>,
}

/// A mailbox cursor: (mailbox, UIDVALIDITY, UID).
pub(super) type Cursor = (Uuid, i64, i64);

/// What taking one message writes, decided before any transaction.
#[derive(Clone)]
pub(super) enum Plan {
    /// Taken before: nothing is written but the mailbox cursor moving past it.
    AlreadyTaken {
        cursor: Option<Cursor>,
        chrono: Option<String>,
    },
    Quarantine {
        inbound: Box<InboundMessage>,
        cursor: Option<Cursor>,
        reason: String,
    },
    Register {
        ready: Box<ReadyItem>,
        captured: Box<Captured>,
        /// A quarantined message taken again: its record exists and is resolved.
        retrying: bool,
    },
    /// A reply joining the item it answers: written in a transaction of its own, since it
    /// may complete the item's missing documents and acknowledge them.
    Attach(Box<Attach>),
}

#[derive(Clone)]
pub(super) struct Attach {
    pub(super) inbound: InboundMessage,
    pub(super) cursor: Option<Cursor>,
    pub(super) mail: ParsedMail,
    pub(super) item_id: Uuid,
    pub(super) retrying: bool,
}

/// What to do once a written plan is committed.
pub(super) enum After {
    Nothing,
    Registered(Box<Registered>),
    Quarantined { origin: String, reason: String },
}

impl Plan {
    /// Writes the plan in `tx`; an `Attach` is written by `App::attach_message` instead.
    pub(super) async fn write(
        self,
        tx: &mut WriteTx,
        commune: &Commune,
        actor: &Actor,
    ) -> Result<(CaptureOutcome, After), AppError> {
        let who = actor.journal_name();
        match self {
            Plan::AlreadyTaken { cursor, chrono } => {
                if let Some((mailbox, validity, uid)) = cursor {
                    tx.advance_mailbox(mailbox, validity, uid).await?;
                }
                Ok((CaptureOutcome::AlreadyTaken { chrono }, After::Nothing))
            }
            Plan::Quarantine {
                mut inbound,
                cursor,
                reason,
            } => {
                inbound.state = InboundState::Quarantined;
                inbound.reason = Some(truncate(&reason, 2000));
                tx.insert_inbound(&inbound, &who).await?;
                if let Some((mailbox, validity, uid)) = cursor {
                    tx.advance_mailbox(mailbox, validity, uid).await?;
                }
                let outcome = CaptureOutcome::Quarantined {
                    reason: reason.clone(),
                    inbound_id: inbound.id,
                };
                let after = After::Quarantined {
                    origin: inbound.origin.clone(),
                    reason,
                };
                Ok((outcome, after))
            }
            Plan::Register {
                ready,
                captured,
                retrying,
            } => {
                let registered = register_in(tx, commune, actor, *ready).await?;
                if retrying {
                    tx.resolve_inbound(
                        commune.id,
                        captured.inbound.id,
                        InboundState::Registered,
                        registered.item.id,
                        &who,
                    )
                    .await?;
                } else {
                    captured.record(tx, registered.item.id, &who).await?;
                }
                let outcome = CaptureOutcome::Registered {
                    chrono: registered.item.chrono.clone(),
                    item_id: registered.item.id,
                };
                Ok((outcome, After::Registered(Box::new(registered))))
            }
            Plan::Attach(_) => Err(AppError::internal(
                "un message joint à un courrier s'écrit dans sa propre transaction",
            )),
        }
    }
}

/// Messages planned and waiting for their common commit. A message that repeats one of
/// them (same key or bytes) or answers one of them waits until they are committed, so that
/// it is recognised as taken, or joins the item they became.
pub(super) struct Batch<'a> {
    pub(super) app: &'a App,
    pub(super) commune: &'a Commune,
    pub(super) actor: Actor,
    pub(super) pending: Vec<(usize, Plan)>,
    pub(super) keys: HashSet<String>,
    pub(super) hashes: HashSet<String>,
    pub(super) message_ids: HashSet<String>,
    pub(super) outcomes: Vec<Option<CaptureOutcome>>,
}

impl Batch<'_> {
    pub(super) fn waits_for_pending(&self, key: &str, sha: Option<&str>) -> bool {
        self.keys.contains(key) || sha.is_some_and(|h| self.hashes.contains(h))
    }

    pub(super) fn answers_pending(&self, mail: &ParsedMail) -> bool {
        mail.in_reply_to
            .iter()
            .chain(&mail.references)
            .any(|id| self.message_ids.contains(id))
    }

    pub(super) fn push(&mut self, n: usize, key: String, sha: Option<String>, plan: Plan) {
        self.keys.insert(key);
        self.hashes.extend(sha);
        if let Plan::Register { captured, .. } = &plan {
            self.message_ids.extend(captured.inbound.message_id.clone());
        }
        self.pending.push((n, plan));
    }

    /// Writes the pending plans in one transaction. If it fails, each is written alone, so
    /// that one message the database refuses does not hold back the others.
    pub(super) async fn flush(&mut self) -> Result<(), AppError> {
        let pending = std::mem::take(&mut self.pending);
        self.keys.clear();
        self.hashes.clear();
        self.message_ids.clear();
        if pending.is_empty() {
            return Ok(());
        }
        // The batch's files were stored deferred (`App::receive`): on disk before the
        // messages that name them are committed, in one flush.
        self.app.files().sync().await?;
        let together = self.write_together(pending.clone()).await;
        let written = match together {
            Ok(written) => written,
            Err(e) if pending.len() == 1 => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, messages = pending.len(), "batch refused: each message alone");
                let mut written = Vec::with_capacity(pending.len());
                for plan in pending {
                    written.extend(self.write_together(vec![plan]).await?);
                }
                written
            }
        };
        let mut afters = Vec::with_capacity(written.len());
        for (n, outcome, after) in written {
            self.outcomes[n] = Some(outcome);
            afters.push(after);
        }
        self.app.after_commit(afters);
        Ok(())
    }

    pub(super) async fn write_together(
        &self,
        plans: Vec<(usize, Plan)>,
    ) -> Result<Vec<(usize, CaptureOutcome, After)>, AppError> {
        let now = Utc::now().trunc_subsecs(6);
        let mut tx = self.app.store().begin(now).await?;
        let mut written = Vec::with_capacity(plans.len());
        for (n, plan) in plans {
            let (outcome, after) = plan.write(&mut tx, self.commune, &self.actor).await?;
            written.push((n, outcome, after));
        }
        tx.commit().await?;
        Ok(written)
    }
}

impl App {
    /// After the commit of written plans: wakes the extraction worker, logs quarantines.
    pub(super) fn after_commit(&self, afters: Vec<After>) {
        for after in afters {
            match after {
                After::Nothing => {}
                After::Registered(registered) => self.registered(&registered),
                After::Quarantined { origin, reason } => {
                    tracing::warn!(%origin, %reason, "message quarantined");
                }
            }
        }
    }
}
