//! The visa and signature circuit of a document (the parapheur).
//!
//! A circuit is a list of ordered stages; each stage holds one to five steps that run in
//! parallel. A stage is done when all its steps are done, and then the next one becomes
//! current. A step is a visa (someone approves), a signature (someone signs) or the
//! commune's seal (*cachet serveur*, applied by the server with the commune's own key).
//!
//! People act on the current steps: approve, sign, reject (the whole circuit stops and the
//! document goes back to its author), transfer their step to someone else, ask someone's
//! opinion (which never blocks) and answer it. An administrator may bypass a step, with a
//! comment that stays in the record. Someone absent may delegate to someone else for a
//! period, optionally for some document types only; the delegate then acts on the absent
//! person's steps and the stamp says so (see [`delegation_mention`]).
//!
//! Nothing here signs a file or touches a database: [`Circuit::permit`] decides who may do
//! what, with the facts that live elsewhere (roles, delegations, the document type, today),
//! and [`Circuit::apply`] records the action, re-checking the state so that two concurrent
//! signatures of the same step cannot both land.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doctype;

/// At most this many stages in a circuit.
pub const MAX_STAGES: usize = 10;
/// At most this many parallel steps in a stage.
pub const MAX_STEPS_PER_STAGE: usize = 5;
/// At most this many characters in a comment or an opinion.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// A delegation lasts at most this many days, both ends included.
pub const MAX_DELEGATION_DAYS: i64 = 366;

/// What a step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Someone approves the document.
    Visa,
    /// Someone signs the document.
    Signature,
    /// The server applies the commune's seal (*cachet serveur*).
    Seal,
}

impl StepKind {
    pub const ALL: [StepKind; 3] = [StepKind::Visa, StepKind::Signature, StepKind::Seal];

    pub fn code(self) -> &'static str {
        match self {
            StepKind::Visa => "visa",
            StepKind::Signature => "signature",
            StepKind::Seal => "cachet",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            StepKind::Visa => "Visa",
            StepKind::Signature => "Signature",
            StepKind::Seal => "Cachet de la commune",
        }
    }

    /// The noun with its article, for sentences: "un visa", "une signature", …
    pub fn noun_fr(self) -> &'static str {
        match self {
            StepKind::Visa => "un visa",
            StepKind::Signature => "une signature",
            StepKind::Seal => "le cachet de la commune",
        }
    }

    /// Whether a person holds steps of this kind (the seal is applied by the server).
    pub fn needs_user(self) -> bool {
        !matches!(self, StepKind::Seal)
    }
}

impl FromStr for StepKind {
    type Err = CircuitError;

    /// Accepts the codes ("visa", "signature", "cachet") and the serde name "seal".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_lowercase();
        if t == "seal" {
            return Ok(StepKind::Seal);
        }
        StepKind::ALL
            .into_iter()
            .find(|k| k.code() == t)
            .ok_or_else(|| CircuitError::UnknownStepKind(s.to_owned()))
    }
}

/// One step of a circuit's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDef {
    pub kind: StepKind,
    /// Who holds the step; None only for the seal.
    pub user_id: Option<Uuid>,
}

/// A circuit as drawn by its author: stages in order, each with its parallel steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitDef {
    pub stages: Vec<Vec<StepDef>>,
}

impl CircuitDef {
    /// 1 to 10 stages of 1 to 5 steps; a person on every visa and signature step and none on
    /// the seal; the seal alone in its stage; nobody twice in one stage; at least one
    /// signature or seal (a circuit of visas only signs nothing).
    pub fn validate(&self) -> Result<(), CircuitError> {
        if self.stages.is_empty() {
            return Err(CircuitError::NoStages);
        }
        if self.stages.len() > MAX_STAGES {
            return Err(CircuitError::TooManyStages);
        }
        for (i, stage) in self.stages.iter().enumerate() {
            // Messages count stages from 1, as people do.
            let n = i + 1;
            if stage.is_empty() {
                return Err(CircuitError::EmptyStage { stage: n });
            }
            if stage.len() > MAX_STEPS_PER_STAGE {
                return Err(CircuitError::TooManySteps { stage: n });
            }
            let mut seen: Vec<Uuid> = Vec::new();
            for step in stage {
                match (step.kind.needs_user(), step.user_id) {
                    (true, None) => {
                        return Err(CircuitError::MissingUser {
                            stage: n,
                            kind: step.kind,
                        });
                    }
                    (false, Some(_)) => return Err(CircuitError::UserOnSeal { stage: n }),
                    (_, Some(user)) => {
                        if seen.contains(&user) {
                            return Err(CircuitError::UserTwiceInStage { stage: n, user });
                        }
                        seen.push(user);
                    }
                    (false, None) => {}
                }
                if step.kind == StepKind::Seal && stage.len() > 1 {
                    return Err(CircuitError::SealNotAlone { stage: n });
                }
            }
        }
        let signs = self
            .stages
            .iter()
            .flatten()
            .any(|s| matches!(s.kind, StepKind::Signature | StepKind::Seal));
        if !signs {
            return Err(CircuitError::NoSignature);
        }
        Ok(())
    }

    /// Everyone who holds a step, once each, in the order of the circuit.
    pub fn users(&self) -> Vec<Uuid> {
        let mut out = Vec::new();
        for user in self.stages.iter().flatten().filter_map(|s| s.user_id) {
            if !out.contains(&user) {
                out.push(user);
            }
        }
        out
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Its stage has not come yet.
    Waiting,
    /// Its stage is the current one and the step is not done.
    Current,
    Approved,
    Signed,
    Sealed,
    /// An administrator went past it.
    Bypassed,
}

impl StepState {
    pub fn is_done(self) -> bool {
        matches!(
            self,
            StepState::Approved | StepState::Signed | StepState::Sealed | StepState::Bypassed
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Current => "current",
            StepState::Approved => "approved",
            StepState::Signed => "signed",
            StepState::Sealed => "sealed",
            StepState::Bypassed => "bypassed",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            StepState::Waiting => "À venir",
            StepState::Current => "En attente",
            StepState::Approved => "Visé",
            StepState::Signed => "Signé",
            StepState::Sealed => "Cacheté",
            StepState::Bypassed => "Contourné",
        }
    }
}

/// An opinion asked by the holder of a step; it never blocks the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    pub asked_of: Uuid,
    pub asked_by: Uuid,
    pub asked_at: DateTime<Utc>,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// One step of a running circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    /// Who holds the step now (after any transfer); None for the seal.
    pub user_id: Option<Uuid>,
    pub state: StepState,
    /// Who did it: the holder, their delegate, an administrator (bypass), or whoever
    /// triggered the server's seal.
    pub done_by: Option<Uuid>,
    /// The holder, when `done_by` acted by delegation.
    pub on_behalf_of: Option<Uuid>,
    pub done_at: Option<DateTime<Utc>>,
    /// The bypass comment.
    pub comment: Option<String>,
    /// Earlier holders, oldest first.
    #[serde(default)]
    pub transferred_from: Vec<Uuid>,
    #[serde(default)]
    pub opinions: Vec<Opinion>,
}

impl Step {
    fn new(def: &StepDef, state: StepState) -> Step {
        Step {
            kind: def.kind,
            user_id: def.user_id,
            state,
            done_by: None,
            on_behalf_of: None,
            done_at: None,
            comment: None,
            transferred_from: Vec::new(),
            opinions: Vec::new(),
        }
    }

    fn is_current(&self) -> bool {
        self.state == StepState::Current
    }

    fn unanswered_opinion_of(&self, user: Uuid) -> Option<usize> {
        self.opinions
            .iter()
            .position(|o| o.asked_of == user && o.answer.is_none())
    }
}

/// Why and by whom the circuit stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub by: Uuid,
    /// The holder of the step, when `by` acted by delegation.
    pub on_behalf_of: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub comment: String,
}

/// Where the whole circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitStatus {
    InProgress,
    Rejected,
    Complete,
}

impl CircuitStatus {
    pub fn code(self) -> &'static str {
        match self {
            CircuitStatus::InProgress => "en_cours",
            CircuitStatus::Rejected => "refuse",
            CircuitStatus::Complete => "termine",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            CircuitStatus::InProgress => "En cours",
            CircuitStatus::Rejected => "Refusé",
            CircuitStatus::Complete => "Terminé",
        }
    }
}

/// A step's place in a circuit, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepRef {
    pub stage: usize,
    pub step: usize,
}

/// What someone does on a circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Approve,
    Sign,
    Seal,
    Reject { comment: String },
    Transfer { to: Uuid },
    AskOpinion { of: Uuid },
    AnswerOpinion { text: String },
    Bypass { comment: String },
}

impl Action {
    pub fn code(&self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Sign => "sign",
            Action::Seal => "seal",
            Action::Reject { .. } => "reject",
            Action::Transfer { .. } => "transfer",
            Action::AskOpinion { .. } => "ask_opinion",
            Action::AnswerOpinion { .. } => "answer_opinion",
            Action::Bypass { .. } => "bypass",
        }
    }

    pub fn label_fr(&self) -> &'static str {
        match self {
            Action::Approve => "Viser",
            Action::Sign => "Signer",
            Action::Seal => "Apposer le cachet de la commune",
            Action::Reject { .. } => "Refuser",
            Action::Transfer { .. } => "Transmettre",
            Action::AskOpinion { .. } => "Demander un avis",
            Action::AnswerOpinion { .. } => "Donner son avis",
            Action::Bypass { .. } => "Contourner l'étape",
        }
    }

    /// The step kind the action completes, for approve, sign and seal.
    fn completes(&self) -> Option<StepKind> {
        match self {
            Action::Approve => Some(StepKind::Visa),
            Action::Sign => Some(StepKind::Signature),
            Action::Seal => Some(StepKind::Seal),
            _ => None,
        }
    }
}

/// Someone absent lets someone else act on their steps for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    pub from_user: Uuid,
    pub to_user: Uuid,
    /// First day, included.
    pub starts_on: NaiveDate,
    /// Last day, included.
    pub ends_on: NaiveDate,
    /// Document type codes; empty means every type.
    #[serde(default)]
    pub doctypes: Vec<String>,
}

impl Delegation {
    /// To someone else; ends on or after its start, lasts at most 366 days (both ends
    /// included), is not over by `today`, and names valid document type codes.
    pub fn validate(&self, today: NaiveDate) -> Result<(), CircuitError> {
        if self.from_user == self.to_user {
            return Err(CircuitError::DelegationToSelf);
        }
        if self.ends_on < self.starts_on {
            return Err(CircuitError::DelegationEndsBeforeStart);
        }
        if (self.ends_on - self.starts_on).num_days() + 1 > MAX_DELEGATION_DAYS {
            return Err(CircuitError::DelegationTooLong);
        }
        if self.ends_on < today {
            return Err(CircuitError::DelegationInPast);
        }
        if let Some(bad) = self.doctypes.iter().find(|c| !doctype::is_valid_code(c)) {
            return Err(CircuitError::DelegationDoctype(bad.clone()));
        }
        Ok(())
    }

    /// Whether the delegation runs `on` that day for a document of type `doctype`. A
    /// delegation limited to some types does not cover a document without a type.
    pub fn covers(&self, on: NaiveDate, doctype: Option<&str>) -> bool {
        if on < self.starts_on || on > self.ends_on {
            return false;
        }
        self.doctypes.is_empty() || doctype.is_some_and(|d| self.doctypes.iter().any(|c| c == d))
    }
}

/// Leave to act on one step, given by [`Circuit::permit`] and used by [`Circuit::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    pub step: StepRef,
    pub kind: StepKind,
    /// The holder of the step, when the actor acts by delegation.
    pub on_behalf_of: Option<Uuid>,
}

/// What an action changed, for the page and the notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: CircuitStatus,
    /// The action finished its stage.
    pub stage_completed: bool,
    /// People who now have something to do: the holders of the newly current steps, the new
    /// holder of a transferred step, the person whose opinion was asked.
    pub now_waiting_on: Vec<Uuid>,
    /// A seal step that has just become current: the server must apply it.
    pub seal_due: Option<StepRef>,
}

/// A circuit on its way, stored as JSON with its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Circuit {
    pub stages: Vec<Vec<Step>>,
    pub rejection: Option<Rejection>,
}

impl Circuit {
    /// Starts a circuit: the definition must be valid; its first stage is current. When the
    /// first stage is the seal, [`Circuit::seal_due`] says so at once.
    pub fn start(def: &CircuitDef) -> Result<Circuit, CircuitError> {
        def.validate()?;
        let stages = def
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                let state = if i == 0 {
                    StepState::Current
                } else {
                    StepState::Waiting
                };
                stage.iter().map(|d| Step::new(d, state)).collect()
            })
            .collect();
        Ok(Circuit {
            stages,
            rejection: None,
        })
    }

    pub fn status(&self) -> CircuitStatus {
        if self.rejection.is_some() {
            CircuitStatus::Rejected
        } else if self.first_unfinished_stage().is_none() {
            CircuitStatus::Complete
        } else {
            CircuitStatus::InProgress
        }
    }

    /// The stage being worked on; None once the circuit is rejected or complete.
    pub fn current_stage(&self) -> Option<usize> {
        if self.rejection.is_some() {
            return None;
        }
        self.first_unfinished_stage()
    }

    fn first_unfinished_stage(&self) -> Option<usize> {
        self.stages
            .iter()
            .position(|stage| stage.iter().any(|s| !s.state.is_done()))
    }

    /// The holders of the current steps not yet done.
    pub fn waiting_on(&self) -> Vec<Uuid> {
        self.current_steps()
            .filter_map(|(_, s)| s.user_id)
            .collect()
    }

    /// The seal step, when it is current: the server must apply it.
    pub fn seal_due(&self) -> Option<StepRef> {
        self.current_steps()
            .find(|(_, s)| s.kind == StepKind::Seal)
            .map(|(r, _)| r)
    }

    /// Signature and seal steps done.
    pub fn signatures_done(&self) -> usize {
        self.stages
            .iter()
            .flatten()
            .filter(|s| matches!(s.state, StepState::Signed | StepState::Sealed))
            .count()
    }

    /// The current, not done steps with their places.
    fn current_steps(&self) -> impl Iterator<Item = (StepRef, &Step)> {
        let stage = self.current_stage();
        stage
            .and_then(|i| self.stages.get(i).map(|steps| (i, steps)))
            .into_iter()
            .flat_map(|(i, steps)| {
                steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_current())
                    .map(move |(j, s)| (StepRef { stage: i, step: j }, s))
            })
    }

    fn step(&self, r: StepRef) -> Result<&Step, CircuitError> {
        self.stages
            .get(r.stage)
            .and_then(|s| s.get(r.step))
            .ok_or(CircuitError::NoSuchStep)
    }

    fn step_mut(&mut self, r: StepRef) -> Result<&mut Step, CircuitError> {
        self.stages
            .get_mut(r.stage)
            .and_then(|s| s.get_mut(r.step))
            .ok_or(CircuitError::NoSuchStep)
    }

    fn ensure_in_progress(&self) -> Result<(), CircuitError> {
        match self.status() {
            CircuitStatus::InProgress => Ok(()),
            CircuitStatus::Rejected => Err(CircuitError::Rejected),
            CircuitStatus::Complete => Err(CircuitError::AlreadyComplete),
        }
    }

    /// Who may do `action` now, and on which step.
    ///
    /// - Approve, sign, reject, transfer, ask an opinion: a current, not done step the actor
    ///   holds, else one held by someone whose delegation to the actor covers `today` and
    ///   `doctype` (then `on_behalf_of` names that person). For approve and sign, the first
    ///   such step of the right kind; if there is none, an error saying what the step
    ///   expects.
    /// - Answer an opinion: a current step on which the actor's opinion was asked and not
    ///   yet given.
    /// - Seal: the seal step when it is current, whoever asks (the server applies it).
    /// - Bypass: administrators only, in their own name (never by delegation), on `step` or
    ///   else the first current step not done.
    ///
    /// `step`, when given, limits the search to that step.
    #[allow(clippy::too_many_arguments)]
    pub fn permit(
        &self,
        actor: Uuid,
        is_admin: bool,
        action: &Action,
        step: Option<StepRef>,
        delegations: &[Delegation],
        doctype: Option<&str>,
        today: NaiveDate,
    ) -> Result<Permit, CircuitError> {
        self.ensure_in_progress()?;
        if let Some(r) = step {
            self.step(r)?;
        }
        let wanted = |r: StepRef| step.is_none_or(|w| w == r);
        match action {
            Action::Bypass { .. } => {
                if !is_admin {
                    return Err(CircuitError::AdminOnly);
                }
                let (r, s) = match step {
                    Some(r) => self
                        .current_steps()
                        .find(|(c, _)| *c == r)
                        .ok_or(CircuitError::StaleStep)?,
                    None => self
                        .current_steps()
                        .next()
                        .ok_or(CircuitError::NothingToDo)?,
                };
                Ok(Permit {
                    step: r,
                    kind: s.kind,
                    on_behalf_of: None,
                })
            }
            Action::Seal => {
                let r = self
                    .seal_due()
                    .filter(|r| wanted(*r))
                    .ok_or(CircuitError::NoSealDue)?;
                Ok(Permit {
                    step: r,
                    kind: StepKind::Seal,
                    on_behalf_of: None,
                })
            }
            Action::AnswerOpinion { .. } => self
                .current_steps()
                .find(|(r, s)| wanted(*r) && s.unanswered_opinion_of(actor).is_some())
                .map(|(r, s)| Permit {
                    step: r,
                    kind: s.kind,
                    on_behalf_of: None,
                })
                .ok_or(CircuitError::NothingToDo),
            _ => {
                let mut held: Vec<Permit> = self
                    .current_steps()
                    .filter(|(r, s)| wanted(*r) && s.user_id == Some(actor))
                    .map(|(r, s)| Permit {
                        step: r,
                        kind: s.kind,
                        on_behalf_of: None,
                    })
                    .collect();
                held.extend(self.current_steps().filter(|(r, _)| wanted(*r)).filter_map(
                    |(r, s)| {
                        let holder = s.user_id.filter(|h| *h != actor)?;
                        delegations
                            .iter()
                            .any(|d| {
                                d.from_user == holder
                                    && d.to_user == actor
                                    && d.covers(today, doctype)
                            })
                            .then_some(Permit {
                                step: r,
                                kind: s.kind,
                                on_behalf_of: Some(holder),
                            })
                    },
                ));
                let first = *held.first().ok_or(CircuitError::NothingToDo)?;
                match action.completes() {
                    None => Ok(first),
                    Some(kind) => held.iter().find(|p| p.kind == kind).copied().ok_or(
                        CircuitError::WrongKind {
                            expected: first.kind,
                            got: kind,
                        },
                    ),
                }
            }
        }
    }

    /// Records `action` by `actor` under a permit got from [`Circuit::permit`].
    ///
    /// The permit stands for the checks made with outside facts (the administrator role,
    /// the delegations); the state is checked again here: the step must still be current,
    /// not done, of the permit's kind and held by the same person, so that of two people
    /// who got a permit for the same step only the first one lands.
    pub fn apply(
        &mut self,
        permit: &Permit,
        actor: Uuid,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<Outcome, CircuitError> {
        self.ensure_in_progress()?;
        let r = permit.step;
        let step = self.step(r)?;
        if self.current_stage() != Some(r.stage) || !step.is_current() || step.kind != permit.kind {
            return Err(CircuitError::StaleStep);
        }
        if let Some(kind) = action.completes()
            && kind != step.kind
        {
            return Err(CircuitError::WrongKind {
                expected: step.kind,
                got: kind,
            });
        }
        // The step is still held by the person the permit was given for.
        let held = step.user_id == Some(permit.on_behalf_of.unwrap_or(actor));
        let holder_action = matches!(
            action,
            Action::Approve
                | Action::Sign
                | Action::Reject { .. }
                | Action::Transfer { .. }
                | Action::AskOpinion { .. }
        );
        if holder_action && !held {
            return Err(CircuitError::StaleStep);
        }
        let nothing = Outcome {
            status: CircuitStatus::InProgress,
            stage_completed: false,
            now_waiting_on: Vec::new(),
            seal_due: None,
        };
        match action {
            Action::Approve => self.complete(r, StepState::Approved, actor, permit, now, None),
            Action::Sign => self.complete(r, StepState::Signed, actor, permit, now, None),
            Action::Seal => {
                if permit.on_behalf_of.is_some() {
                    return Err(CircuitError::StaleStep);
                }
                self.complete(r, StepState::Sealed, actor, permit, now, None)
            }
            Action::Bypass { comment } => {
                if permit.on_behalf_of.is_some() {
                    return Err(CircuitError::AdminOnly);
                }
                let comment = required_text(&comment, CircuitError::BypassCommentRequired)?;
                self.complete(r, StepState::Bypassed, actor, permit, now, Some(comment))
            }
            Action::Reject { comment } => {
                let comment = required_text(&comment, CircuitError::RejectCommentRequired)?;
                self.rejection = Some(Rejection {
                    by: actor,
                    on_behalf_of: permit.on_behalf_of,
                    at: now,
                    comment,
                });
                Ok(Outcome {
                    status: CircuitStatus::Rejected,
                    ..nothing
                })
            }
            Action::Transfer { to } => {
                if step.user_id == Some(to) {
                    return Err(CircuitError::TransferToHolder);
                }
                let in_stage = self
                    .stages
                    .get(r.stage)
                    .is_some_and(|s| s.iter().any(|st| st.user_id == Some(to)));
                if in_stage {
                    return Err(CircuitError::TransferToStageMember);
                }
                let step = self.step_mut(r)?;
                if let Some(old) = step.user_id.replace(to) {
                    step.transferred_from.push(old);
                }
                Ok(Outcome {
                    now_waiting_on: vec![to],
                    ..nothing
                })
            }
            Action::AskOpinion { of } => {
                if of == actor {
                    return Err(CircuitError::OpinionOfSelf);
                }
                if step.unanswered_opinion_of(of).is_some() {
                    return Err(CircuitError::OpinionAlreadyAsked);
                }
                self.step_mut(r)?.opinions.push(Opinion {
                    asked_of: of,
                    asked_by: actor,
                    asked_at: now,
                    answer: None,
                    answered_at: None,
                });
                Ok(Outcome {
                    now_waiting_on: vec![of],
                    ..nothing
                })
            }
            Action::AnswerOpinion { text } => {
                let i = step
                    .unanswered_opinion_of(actor)
                    .ok_or(CircuitError::NothingToDo)?;
                let text = required_text(&text, CircuitError::OpinionRequired)?;
                let step = self.step_mut(r)?;
                if let Some(o) = step.opinions.get_mut(i) {
                    o.answer = Some(text);
                    o.answered_at = Some(now);
                }
                Ok(nothing)
            }
        }
    }

    /// Marks a step done and, when its stage is finished, makes the next one current.
    fn complete(
        &mut self,
        r: StepRef,
        state: StepState,
        actor: Uuid,
        permit: &Permit,
        now: DateTime<Utc>,
        comment: Option<String>,
    ) -> Result<Outcome, CircuitError> {
        let step = self.step_mut(r)?;
        step.state = state;
        step.done_by = Some(actor);
        step.on_behalf_of = permit.on_behalf_of;
        step.done_at = Some(now);
        step.comment = comment;
        let stage_completed = self
            .stages
            .get(r.stage)
            .is_some_and(|s| s.iter().all(|st| st.state.is_done()));
        let mut now_waiting_on = Vec::new();
        let mut seal_due = None;
        if stage_completed && let Some(next) = self.current_stage() {
            if let Some(steps) = self.stages.get_mut(next) {
                for s in steps.iter_mut().filter(|s| s.state == StepState::Waiting) {
                    s.state = StepState::Current;
                }
            }
            now_waiting_on = self.waiting_on();
            seal_due = self.seal_due();
        }
        Ok(Outcome {
            status: self.status(),
            stage_completed,
            now_waiting_on,
            seal_due,
        })
    }
}

/// A trimmed, non-empty text of at most 2000 characters.
fn required_text(text: &str, missing: CircuitError) -> Result<String, CircuitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(missing);
    }
    if t.chars().count() > MAX_COMMENT_CHARS {
        return Err(CircuitError::CommentTooLong);
    }
    Ok(t.to_owned())
}

/// The stamp line of a signature by delegation, naming the absent holder.
///
/// "Pour le maire absent, par délégation" when the absent person is the maire, else
/// "En l'absence de Jeanne Martin (Première adjointe), par délégation".
pub fn delegation_mention(absent_name: &str, absent_title: &str) -> String {
    let name = absent_name.trim();
    let title = absent_title.trim();
    if title.to_lowercase() == "maire" {
        return "Pour le maire absent, par délégation".to_owned();
    }
    match (name.is_empty(), title.is_empty()) {
        (false, false) => format!("En l'absence de {name} ({title}), par délégation"),
        (false, true) => format!("En l'absence de {name}, par délégation"),
        (true, false) => format!("En l'absence du titulaire ({title}), par délégation"),
        (true, true) => "Par délégation".to_owned(),
    }
}

/// Why a circuit cannot be drawn or an action cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CircuitError {
    #[error("le circuit doit comporter au moins une étape")]
    NoStages,
    #[error("un circuit comporte au plus 10 niveaux")]
    TooManyStages,
    #[error("le niveau {stage} du circuit est vide")]
    EmptyStage { stage: usize },
    #[error("le niveau {stage} comporte plus de 5 étapes en parallèle")]
    TooManySteps { stage: usize },
    #[error("niveau {stage} : {} doit être confié à une personne", .kind.noun_fr())]
    MissingUser { stage: usize, kind: StepKind },
    #[error(
        "niveau {stage} : le cachet de la commune est apposé par le serveur, pas par une personne"
    )]
    UserOnSeal { stage: usize },
    #[error("niveau {stage} : le cachet de la commune doit être seul à son niveau")]
    SealNotAlone { stage: usize },
    #[error("niveau {stage} : une même personne ne peut pas tenir deux étapes du même niveau")]
    UserTwiceInStage { stage: usize, user: Uuid },
    #[error("le circuit doit comporter au moins une signature ou le cachet de la commune")]
    NoSignature,
    #[error("type d'étape inconnu « {0} » : visa, signature ou cachet")]
    UnknownStepKind(String),
    #[error("ce circuit est déjà terminé")]
    AlreadyComplete,
    #[error("ce document a été refusé : il est revenu à son rédacteur")]
    Rejected,
    #[error("cette étape n'existe pas dans le circuit")]
    NoSuchStep,
    #[error("cette étape attend {}, pas {}", .expected.noun_fr(), .got.noun_fr())]
    WrongKind { expected: StepKind, got: StepKind },
    #[error("aucune étape n'attend votre action sur ce document")]
    NothingToDo,
    #[error("aucun cachet de la commune n'est attendu sur ce document pour l'instant")]
    NoSealDue,
    #[error(
        "cette étape n'attend plus cette action : le document a changé entre-temps, rechargez-le"
    )]
    StaleStep,
    #[error("seul un administrateur peut contourner une étape")]
    AdminOnly,
    #[error("le commentaire est obligatoire pour refuser")]
    RejectCommentRequired,
    #[error("le commentaire est obligatoire pour contourner une étape")]
    BypassCommentRequired,
    #[error("l'avis ne peut pas être vide")]
    OpinionRequired,
    #[error("le texte dépasse 2000 caractères")]
    CommentTooLong,
    #[error("cette personne tient déjà cette étape")]
    TransferToHolder,
    #[error("cette personne tient déjà une étape de ce niveau du circuit")]
    TransferToStageMember,
    #[error("on ne peut pas se demander son propre avis")]
    OpinionOfSelf,
    #[error("un avis a déjà été demandé à cette personne et attend sa réponse")]
    OpinionAlreadyAsked,
    #[error("on ne peut pas se déléguer à soi-même")]
    DelegationToSelf,
    #[error("la délégation doit finir après son début")]
    DelegationEndsBeforeStart,
    #[error("une délégation dure au plus un an")]
    DelegationTooLong,
    #[error("la délégation est déjà finie")]
    DelegationInPast,
    #[error("type de document inconnu dans la délégation : « {0} »")]
    DelegationDoctype(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ALICE: Uuid = Uuid::from_u128(1); // secretary: visa
    const BOB: Uuid = Uuid::from_u128(2); // maire: signature
    const CLAIRE: Uuid = Uuid::from_u128(3); // adjointe
    const DAVID: Uuid = Uuid::from_u128(4);
    const ADMIN: Uuid = Uuid::from_u128(9);

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, 0, 0).unwrap()
    }

    const TODAY: fn() -> NaiveDate = || d(2026, 3, 10);

    fn visa(u: Uuid) -> StepDef {
        StepDef {
            kind: StepKind::Visa,
            user_id: Some(u),
        }
    }

    fn sig(u: Uuid) -> StepDef {
        StepDef {
            kind: StepKind::Signature,
            user_id: Some(u),
        }
    }

    fn seal() -> StepDef {
        StepDef {
            kind: StepKind::Seal,
            user_id: None,
        }
    }

    fn start(stages: Vec<Vec<StepDef>>) -> Circuit {
        Circuit::start(&CircuitDef { stages }).unwrap()
    }

    fn deleg(from: Uuid, to: Uuid, doctypes: &[&str]) -> Delegation {
        Delegation {
            from_user: from,
            to_user: to,
            starts_on: d(2026, 3, 1),
            ends_on: d(2026, 3, 15),
            doctypes: doctypes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Asks for a permit with no delegation, not as admin, today, and applies it.
    fn act(c: &mut Circuit, actor: Uuid, action: Action) -> Result<Outcome, CircuitError> {
        act_with(c, actor, action, &[], None)
    }

    fn act_with(
        c: &mut Circuit,
        actor: Uuid,
        action: Action,
        delegations: &[Delegation],
        doctype: Option<&str>,
    ) -> Result<Outcome, CircuitError> {
        let p = c.permit(actor, false, &action, None, delegations, doctype, TODAY())?;
        c.apply(&p, actor, action, at(10))
    }

    fn r(stage: usize, step: usize) -> StepRef {
        StepRef { stage, step }
    }

    #[test]
    fn visa_then_signature() {
        let mut c = start(vec![vec![visa(ALICE)], vec![sig(BOB)]]);
        assert_eq!(c.status(), CircuitStatus::InProgress);
        assert_eq!(c.current_stage(), Some(0));
        assert_eq!(c.waiting_on(), vec![ALICE]);
        assert_eq!(c.stages[1][0].state, StepState::Waiting);
        // Bob's stage has not come yet.
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::NothingToDo)
        );

        let out = act(&mut c, ALICE, Action::Approve).unwrap();
        assert_eq!(
            out,
            Outcome {
                status: CircuitStatus::InProgress,
                stage_completed: true,
                now_waiting_on: vec![BOB],
                seal_due: None,
            }
        );
        let done = &c.stages[0][0];
        assert_eq!(done.state, StepState::Approved);
        assert_eq!(done.done_by, Some(ALICE));
        assert_eq!(done.on_behalf_of, None);
        assert_eq!(done.done_at, Some(at(10)));
        assert_eq!(c.current_stage(), Some(1));
        assert_eq!(c.signatures_done(), 0);

        let out = act(&mut c, BOB, Action::Sign).unwrap();
        assert_eq!(
            out,
            Outcome {
                status: CircuitStatus::Complete,
                stage_completed: true,
                now_waiting_on: vec![],
                seal_due: None,
            }
        );
        assert_eq!(c.status(), CircuitStatus::Complete);
        assert_eq!(c.current_stage(), None);
        assert_eq!(c.waiting_on(), Vec::<Uuid>::new());
        assert_eq!(c.signatures_done(), 1);
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::AlreadyComplete)
        );
        assert_eq!(
            CircuitError::AlreadyComplete.to_string(),
            "ce circuit est déjà terminé"
        );
    }

    #[test]
    fn a_parallel_stage_needs_all_its_steps() {
        let mut c = start(vec![vec![visa(ALICE), visa(CLAIRE)], vec![sig(BOB)]]);
        assert_eq!(c.waiting_on(), vec![ALICE, CLAIRE]);
        let out = act(&mut c, CLAIRE, Action::Approve).unwrap();
        assert!(!out.stage_completed);
        assert_eq!(out.now_waiting_on, Vec::<Uuid>::new());
        assert_eq!(c.waiting_on(), vec![ALICE]);
        assert_eq!(c.current_stage(), Some(0));
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::NothingToDo)
        );
        let out = act(&mut c, ALICE, Action::Approve).unwrap();
        assert!(out.stage_completed);
        assert_eq!(out.now_waiting_on, vec![BOB]);
    }

    #[test]
    fn the_action_must_match_the_step() {
        let mut c = start(vec![vec![visa(ALICE)], vec![sig(BOB)]]);
        let e = act(&mut c, ALICE, Action::Sign).unwrap_err();
        assert_eq!(
            e,
            CircuitError::WrongKind {
                expected: StepKind::Visa,
                got: StepKind::Signature
            }
        );
        assert_eq!(
            e.to_string(),
            "cette étape attend un visa, pas une signature"
        );
        act(&mut c, ALICE, Action::Approve).unwrap();
        assert_eq!(
            act(&mut c, BOB, Action::Approve).unwrap_err().to_string(),
            "cette étape attend une signature, pas un visa"
        );
        // apply re-checks the kind too, whatever permit it is handed.
        let p = c
            .permit(BOB, false, &Action::Sign, None, &[], None, TODAY())
            .unwrap();
        assert!(matches!(
            c.apply(&p, BOB, Action::Approve, at(11)),
            Err(CircuitError::WrongKind { .. })
        ));
        assert_eq!(c.stages[1][0].state, StepState::Current);
    }

    #[test]
    fn signing_twice_is_refused() {
        let mut c = start(vec![vec![sig(BOB), sig(CLAIRE)]]);
        act(&mut c, BOB, Action::Sign).unwrap();
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::NothingToDo)
        );
        assert_eq!(
            CircuitError::NothingToDo.to_string(),
            "aucune étape n'attend votre action sur ce document"
        );
        assert_eq!(c.signatures_done(), 1);
        assert_eq!(c.stages[0][0].done_at, Some(at(10)));
    }

    #[test]
    fn delegation_runs_within_its_dates_and_types() {
        let c = start(vec![vec![sig(BOB)]]);
        let all = deleg(BOB, CLAIRE, &[]);
        let arretes = deleg(BOB, CLAIRE, &["arrete"]);
        let elsewhere = deleg(BOB, DAVID, &[]);
        let permit = |ds: &[Delegation], doctype, today| {
            c.permit(CLAIRE, false, &Action::Sign, None, ds, doctype, today)
        };
        let expected = Ok(Permit {
            step: r(0, 0),
            kind: StepKind::Signature,
            on_behalf_of: Some(BOB),
        });
        // (delegations, doctype, today, may sign)
        let cases: Vec<(Vec<Delegation>, Option<&str>, NaiveDate, bool)> = vec![
            (vec![all.clone()], None, d(2026, 3, 10), true),
            (vec![all.clone()], Some("courrier"), d(2026, 3, 1), true), // first day
            (vec![all.clone()], None, d(2026, 3, 15), true),            // last day
            (vec![all.clone()], None, d(2026, 2, 28), false),           // before
            (vec![all.clone()], None, d(2026, 3, 16), false),           // after
            (vec![arretes.clone()], Some("arrete"), d(2026, 3, 10), true),
            (
                vec![arretes.clone()],
                Some("courrier"),
                d(2026, 3, 10),
                false,
            ),
            (vec![arretes.clone()], None, d(2026, 3, 10), false),
            (vec![elsewhere.clone()], None, d(2026, 3, 10), false), // to someone else
            (vec![deleg(ALICE, CLAIRE, &[])], None, d(2026, 3, 10), false), // from someone else
            (vec![], None, d(2026, 3, 10), false),
            (
                vec![elsewhere, arretes],
                Some("arrete"),
                d(2026, 3, 10),
                true,
            ),
        ];
        for (i, (ds, doctype, today, ok)) in cases.into_iter().enumerate() {
            let got = permit(&ds, doctype, today);
            if ok {
                assert_eq!(got, expected, "case {i}");
            } else {
                assert_eq!(got, Err(CircuitError::NothingToDo), "case {i}");
            }
        }
        // The delegation runs one way only, and is not a chain.
        let back = c.permit(
            DAVID,
            false,
            &Action::Sign,
            None,
            &[deleg(BOB, CLAIRE, &[]), deleg(CLAIRE, DAVID, &[])],
            None,
            TODAY(),
        );
        assert_eq!(back, Err(CircuitError::NothingToDo));
    }

    #[test]
    fn own_step_first_and_on_behalf_of_recorded() {
        // Claire holds her own signature and, by delegation, Bob's one, in the same stage.
        let mut c = start(vec![vec![sig(BOB), sig(CLAIRE)], vec![visa(ALICE)]]);
        let ds = [deleg(BOB, CLAIRE, &[])];
        let p = c
            .permit(CLAIRE, false, &Action::Sign, None, &ds, None, TODAY())
            .unwrap();
        assert_eq!(p.step, r(0, 1));
        assert_eq!(p.on_behalf_of, None);
        c.apply(&p, CLAIRE, Action::Sign, at(9)).unwrap();
        // Then Bob's one, by delegation.
        let p = c
            .permit(CLAIRE, false, &Action::Sign, None, &ds, None, TODAY())
            .unwrap();
        assert_eq!(p.step, r(0, 0));
        assert_eq!(p.on_behalf_of, Some(BOB));
        let out = c.apply(&p, CLAIRE, Action::Sign, at(10)).unwrap();
        assert!(out.stage_completed);
        assert_eq!(out.now_waiting_on, vec![ALICE]);
        let bobs = &c.stages[0][0];
        assert_eq!(bobs.user_id, Some(BOB));
        assert_eq!(bobs.done_by, Some(CLAIRE));
        assert_eq!(bobs.on_behalf_of, Some(BOB));
        assert_eq!(bobs.state, StepState::Signed);
        // A given step limits the search.
        let mut c = start(vec![vec![sig(BOB), sig(CLAIRE)]]);
        let p = c
            .permit(
                CLAIRE,
                false,
                &Action::Sign,
                Some(r(0, 0)),
                &ds,
                None,
                TODAY(),
            )
            .unwrap();
        assert_eq!(p.on_behalf_of, Some(BOB));
        assert_eq!(
            c.permit(
                CLAIRE,
                false,
                &Action::Sign,
                Some(r(0, 0)),
                &[],
                None,
                TODAY()
            ),
            Err(CircuitError::NothingToDo)
        );
        assert_eq!(
            c.permit(
                CLAIRE,
                false,
                &Action::Sign,
                Some(r(3, 0)),
                &ds,
                None,
                TODAY()
            ),
            Err(CircuitError::NoSuchStep)
        );
        c.apply(&p, CLAIRE, Action::Sign, at(10)).unwrap();
        assert_eq!(c.stages[0][1].state, StepState::Current);
    }

    #[test]
    fn the_kind_picks_among_the_held_steps() {
        // Claire's own step is a visa; Bob's, delegated to her, is a signature.
        let c = start(vec![vec![sig(BOB), visa(CLAIRE)]]);
        let ds = [deleg(BOB, CLAIRE, &[])];
        let p = c
            .permit(CLAIRE, false, &Action::Sign, None, &ds, None, TODAY())
            .unwrap();
        assert_eq!((p.step, p.on_behalf_of), (r(0, 0), Some(BOB)));
        let p = c
            .permit(CLAIRE, false, &Action::Approve, None, &ds, None, TODAY())
            .unwrap();
        assert_eq!((p.step, p.on_behalf_of), (r(0, 1), None));
    }

    #[test]
    fn rejection_stops_everything() {
        let mut c = start(vec![vec![visa(ALICE), visa(CLAIRE)], vec![sig(BOB)]]);
        for blank in ["", "   "] {
            assert_eq!(
                act(
                    &mut c,
                    ALICE,
                    Action::Reject {
                        comment: blank.into()
                    }
                ),
                Err(CircuitError::RejectCommentRequired)
            );
        }
        assert_eq!(
            CircuitError::RejectCommentRequired.to_string(),
            "le commentaire est obligatoire pour refuser"
        );
        assert_eq!(
            act(
                &mut c,
                ALICE,
                Action::Reject {
                    comment: "é".repeat(2001)
                }
            ),
            Err(CircuitError::CommentTooLong)
        );
        assert_eq!(c.rejection, None);
        let out = act(
            &mut c,
            ALICE,
            Action::Reject {
                comment: " Montant erroné. ".into(),
            },
        )
        .unwrap();
        assert_eq!(out.status, CircuitStatus::Rejected);
        assert!(!out.stage_completed);
        assert_eq!(out.now_waiting_on, Vec::<Uuid>::new());
        assert_eq!(
            c.rejection,
            Some(Rejection {
                by: ALICE,
                on_behalf_of: None,
                at: at(10),
                comment: "Montant erroné.".into(),
            })
        );
        assert_eq!(c.status(), CircuitStatus::Rejected);
        assert_eq!(c.current_stage(), None);
        assert_eq!(c.waiting_on(), Vec::<Uuid>::new());
        let e = act(&mut c, CLAIRE, Action::Approve).unwrap_err();
        assert_eq!(e, CircuitError::Rejected);
        assert_eq!(
            e.to_string(),
            "ce document a été refusé : il est revenu à son rédacteur"
        );
        let bypass = Action::Bypass {
            comment: "urgent".into(),
        };
        assert_eq!(
            c.permit(ADMIN, true, &bypass, None, &[], None, TODAY()),
            Err(CircuitError::Rejected)
        );
    }

    #[test]
    fn transfer_moves_the_step() {
        let mut c = start(vec![vec![sig(BOB), visa(ALICE)]]);
        assert_eq!(
            act(&mut c, BOB, Action::Transfer { to: BOB }),
            Err(CircuitError::TransferToHolder)
        );
        assert_eq!(
            act(&mut c, BOB, Action::Transfer { to: ALICE }),
            Err(CircuitError::TransferToStageMember)
        );
        let out = act(&mut c, BOB, Action::Transfer { to: CLAIRE }).unwrap();
        assert_eq!(out.now_waiting_on, vec![CLAIRE]);
        assert!(!out.stage_completed);
        let step = &c.stages[0][0];
        assert_eq!(step.user_id, Some(CLAIRE));
        assert_eq!(step.transferred_from, vec![BOB]);
        assert_eq!(step.state, StepState::Current);
        assert_eq!(c.waiting_on(), vec![CLAIRE, ALICE]);
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::NothingToDo)
        );
        act(&mut c, CLAIRE, Action::Sign).unwrap();
        assert_eq!(c.stages[0][0].done_by, Some(CLAIRE));
        // A delegate may transfer too; the holder is the one pushed aside.
        let mut c = start(vec![vec![sig(BOB)]]);
        let ds = [deleg(BOB, CLAIRE, &[])];
        act_with(&mut c, CLAIRE, Action::Transfer { to: DAVID }, &ds, None).unwrap();
        assert_eq!(c.stages[0][0].user_id, Some(DAVID));
        assert_eq!(c.stages[0][0].transferred_from, vec![BOB]);
    }

    #[test]
    fn opinions_do_not_block() {
        let mut c = start(vec![vec![sig(BOB)], vec![visa(ALICE)]]);
        assert_eq!(
            act(&mut c, BOB, Action::AskOpinion { of: BOB }),
            Err(CircuitError::OpinionOfSelf)
        );
        // Claire has nothing to answer yet.
        let answer = || Action::AnswerOpinion {
            text: "Conforme au budget.".into(),
        };
        assert_eq!(
            act(&mut c, CLAIRE, answer()),
            Err(CircuitError::NothingToDo)
        );
        let out = act(&mut c, BOB, Action::AskOpinion { of: CLAIRE }).unwrap();
        assert_eq!(out.now_waiting_on, vec![CLAIRE]);
        assert_eq!(out.status, CircuitStatus::InProgress);
        assert_eq!(
            act(&mut c, BOB, Action::AskOpinion { of: CLAIRE }),
            Err(CircuitError::OpinionAlreadyAsked)
        );
        // Asking does not hand over the step: Claire may not sign it.
        assert_eq!(
            act(&mut c, CLAIRE, Action::Sign),
            Err(CircuitError::NothingToDo)
        );
        assert_eq!(c.waiting_on(), vec![BOB]);
        assert_eq!(
            act(&mut c, CLAIRE, Action::AnswerOpinion { text: " ".into() }),
            Err(CircuitError::OpinionRequired)
        );
        let out = act(&mut c, CLAIRE, answer()).unwrap();
        assert_eq!(out.now_waiting_on, Vec::<Uuid>::new());
        assert!(!out.stage_completed);
        let o = &c.stages[0][0].opinions[0];
        assert_eq!(
            (o.asked_of, o.asked_by, o.answer.as_deref(), o.answered_at),
            (CLAIRE, BOB, Some("Conforme au budget."), Some(at(10)))
        );
        assert_eq!(
            act(&mut c, CLAIRE, answer()),
            Err(CircuitError::NothingToDo)
        );
        // Answered, she may be asked again.
        act(&mut c, BOB, Action::AskOpinion { of: CLAIRE }).unwrap();
        // Bob signs without waiting for the second answer; it can no longer be given.
        let out = act(&mut c, BOB, Action::Sign).unwrap();
        assert!(out.stage_completed);
        assert_eq!(
            act(&mut c, CLAIRE, answer()),
            Err(CircuitError::NothingToDo)
        );
        assert_eq!(c.stages[0][0].opinions.len(), 2);
    }

    #[test]
    fn bypass_is_for_administrators_in_their_own_name() {
        let mut c = start(vec![vec![visa(ALICE), visa(CLAIRE)], vec![sig(BOB)]]);
        let bypass = |comment: &str| Action::Bypass {
            comment: comment.into(),
        };
        let e = c
            .permit(ALICE, false, &bypass("absente"), None, &[], None, TODAY())
            .unwrap_err();
        assert_eq!(e, CircuitError::AdminOnly);
        assert_eq!(
            e.to_string(),
            "seul un administrateur peut contourner une étape"
        );
        // A delegation from an administrator gives no bypass.
        let ds = [deleg(ADMIN, DAVID, &[])];
        assert_eq!(
            c.permit(DAVID, false, &bypass("x"), None, &ds, None, TODAY()),
            Err(CircuitError::AdminOnly)
        );
        // Without a step: the first current one.
        let p = c
            .permit(ADMIN, true, &bypass("x"), None, &[], None, TODAY())
            .unwrap();
        assert_eq!((p.step, p.on_behalf_of), (r(0, 0), None));
        // A given step, which must be current.
        assert_eq!(
            c.permit(ADMIN, true, &bypass("x"), Some(r(1, 0)), &[], None, TODAY()),
            Err(CircuitError::StaleStep)
        );
        let p = c
            .permit(ADMIN, true, &bypass("x"), Some(r(0, 1)), &[], None, TODAY())
            .unwrap();
        assert_eq!(p.step, r(0, 1));
        assert_eq!(
            c.apply(&p, ADMIN, bypass(" "), at(10)),
            Err(CircuitError::BypassCommentRequired)
        );
        // A forged permit by delegation is refused by apply.
        let forged = Permit {
            on_behalf_of: Some(CLAIRE),
            ..p
        };
        assert_eq!(
            c.apply(&forged, ADMIN, bypass("x"), at(10)),
            Err(CircuitError::AdminOnly)
        );
        let out = c
            .apply(&p, ADMIN, bypass("Claire en congé maladie"), at(10))
            .unwrap();
        assert!(!out.stage_completed);
        let step = &c.stages[0][1];
        assert_eq!(step.state, StepState::Bypassed);
        assert_eq!(step.done_by, Some(ADMIN));
        assert_eq!(step.on_behalf_of, None);
        assert_eq!(step.comment.as_deref(), Some("Claire en congé maladie"));
        assert_eq!(step.user_id, Some(CLAIRE)); // the holder stays on record
        let out = act(&mut c, ALICE, Action::Approve).unwrap();
        assert_eq!(out.now_waiting_on, vec![BOB]);
        assert_eq!(c.signatures_done(), 0);
    }

    #[test]
    fn the_seal_is_due_after_the_signatures() {
        let mut c = start(vec![vec![sig(BOB)], vec![seal()]]);
        assert_eq!(c.seal_due(), None);
        assert_eq!(
            c.permit(ADMIN, false, &Action::Seal, None, &[], None, TODAY()),
            Err(CircuitError::NoSealDue)
        );
        let out = act(&mut c, BOB, Action::Sign).unwrap();
        assert_eq!(
            out,
            Outcome {
                status: CircuitStatus::InProgress,
                stage_completed: true,
                now_waiting_on: vec![],
                seal_due: Some(r(1, 0)),
            }
        );
        assert_eq!(c.seal_due(), Some(r(1, 0)));
        assert_eq!(c.waiting_on(), Vec::<Uuid>::new());
        // Nobody may approve or sign it.
        assert_eq!(
            act(&mut c, BOB, Action::Sign),
            Err(CircuitError::NothingToDo)
        );
        // Whoever triggers it, the server applies it.
        let p = c
            .permit(ALICE, false, &Action::Seal, None, &[], None, TODAY())
            .unwrap();
        assert_eq!(
            p,
            Permit {
                step: r(1, 0),
                kind: StepKind::Seal,
                on_behalf_of: None
            }
        );
        let out = c.apply(&p, ALICE, Action::Seal, at(10)).unwrap();
        assert_eq!(out.status, CircuitStatus::Complete);
        assert_eq!(c.stages[1][0].state, StepState::Sealed);
        assert_eq!(c.signatures_done(), 2);
        // A circuit that starts with the seal has it due at once.
        let c = start(vec![vec![seal()]]);
        assert_eq!(c.seal_due(), Some(r(0, 0)));
    }

    #[test]
    fn a_stale_permit_is_refused() {
        // Bob and his delegate Claire both open the document and both sign.
        let mut c = start(vec![vec![sig(BOB)], vec![visa(ALICE)]]);
        let ds = [deleg(BOB, CLAIRE, &[])];
        let bobs = c
            .permit(BOB, false, &Action::Sign, None, &ds, None, TODAY())
            .unwrap();
        let claires = c
            .permit(CLAIRE, false, &Action::Sign, None, &ds, None, TODAY())
            .unwrap();
        c.apply(&bobs, BOB, Action::Sign, at(10)).unwrap();
        let e = c.apply(&claires, CLAIRE, Action::Sign, at(10)).unwrap_err();
        assert_eq!(e, CircuitError::StaleStep);
        assert_eq!(c.stages[0][0].done_by, Some(BOB));
        assert_eq!(c.signatures_done(), 1);

        // A transfer in between: the old permit no longer holds.
        let mut c = start(vec![vec![sig(BOB)]]);
        let bobs = c
            .permit(BOB, false, &Action::Sign, None, &[], None, TODAY())
            .unwrap();
        act(&mut c, BOB, Action::Transfer { to: CLAIRE }).unwrap();
        assert_eq!(
            c.apply(&bobs, BOB, Action::Sign, at(11)),
            Err(CircuitError::StaleStep)
        );
        // Someone else using another person's permit.
        let claires = c
            .permit(CLAIRE, false, &Action::Sign, None, &[], None, TODAY())
            .unwrap();
        assert_eq!(
            c.apply(&claires, DAVID, Action::Sign, at(11)),
            Err(CircuitError::StaleStep)
        );
        // A permit for a step that does not exist.
        let nowhere = Permit {
            step: r(5, 0),
            ..claires
        };
        assert_eq!(
            c.apply(&nowhere, CLAIRE, Action::Sign, at(11)),
            Err(CircuitError::NoSuchStep)
        );
        c.apply(&claires, CLAIRE, Action::Sign, at(11)).unwrap();
    }

    #[test]
    fn circuit_definitions() {
        let u = |n: u128| Uuid::from_u128(100 + n);
        let ok = |stages: Vec<Vec<StepDef>>| CircuitDef { stages }.validate();
        let five: Vec<StepDef> = (0..5).map(|n| sig(u(n))).collect();
        let six: Vec<StepDef> = (0..6).map(|n| sig(u(n))).collect();
        type Case = (Vec<Vec<StepDef>>, Result<(), CircuitError>);
        let cases: Vec<Case> = vec![
            (vec![vec![sig(BOB)]], Ok(())),
            (vec![vec![seal()]], Ok(())),
            (
                vec![vec![visa(ALICE)], vec![sig(BOB)], vec![seal()]],
                Ok(()),
            ),
            (vec![five], Ok(())),
            (vec![vec![sig(BOB)]; 10], Ok(())),
            (vec![], Err(CircuitError::NoStages)),
            (vec![vec![sig(BOB)]; 11], Err(CircuitError::TooManyStages)),
            (
                vec![vec![sig(BOB)], vec![]],
                Err(CircuitError::EmptyStage { stage: 2 }),
            ),
            (vec![six], Err(CircuitError::TooManySteps { stage: 1 })),
            (
                vec![vec![StepDef {
                    kind: StepKind::Signature,
                    user_id: None,
                }]],
                Err(CircuitError::MissingUser {
                    stage: 1,
                    kind: StepKind::Signature,
                }),
            ),
            (
                vec![vec![StepDef {
                    kind: StepKind::Seal,
                    user_id: Some(BOB),
                }]],
                Err(CircuitError::UserOnSeal { stage: 1 }),
            ),
            (
                vec![vec![sig(BOB)], vec![seal(), visa(ALICE)]],
                Err(CircuitError::SealNotAlone { stage: 2 }),
            ),
            (
                vec![vec![visa(ALICE), sig(ALICE)]],
                Err(CircuitError::UserTwiceInStage {
                    stage: 1,
                    user: ALICE,
                }),
            ),
            // The same person at two stages is fine.
            (vec![vec![visa(ALICE)], vec![sig(ALICE)]], Ok(())),
            (
                vec![vec![visa(ALICE)], vec![visa(BOB)]],
                Err(CircuitError::NoSignature),
            ),
        ];
        for (i, (stages, expected)) in cases.into_iter().enumerate() {
            assert_eq!(ok(stages), expected, "case {i}");
        }
        assert_eq!(
            CircuitError::MissingUser {
                stage: 2,
                kind: StepKind::Visa
            }
            .to_string(),
            "niveau 2 : un visa doit être confié à une personne"
        );
        assert!(Circuit::start(&CircuitDef { stages: vec![] }).is_err());
        let def = CircuitDef {
            stages: vec![
                vec![visa(ALICE), visa(CLAIRE)],
                vec![sig(BOB)],
                vec![sig(ALICE)],
            ],
        };
        assert_eq!(def.users(), vec![ALICE, CLAIRE, BOB]);
    }

    #[test]
    fn delegation_rules() {
        let today = d(2026, 3, 10);
        let base = deleg(BOB, CLAIRE, &["arrete", "deliberation"]);
        let with = |f: &dyn Fn(&mut Delegation)| {
            let mut x = base.clone();
            f(&mut x);
            x.validate(today)
        };
        assert_eq!(base.validate(today), Ok(()));
        let cases: Vec<(Result<(), CircuitError>, Result<(), CircuitError>)> = vec![
            (
                with(&|x| x.to_user = BOB),
                Err(CircuitError::DelegationToSelf),
            ),
            (
                with(&|x| x.ends_on = d(2026, 2, 28)),
                Err(CircuitError::DelegationEndsBeforeStart),
            ),
            // One day.
            (
                with(&|x| {
                    x.starts_on = today;
                    x.ends_on = today
                }),
                Ok(()),
            ),
            // 366 days, both ends included.
            (with(&|x| x.ends_on = d(2027, 3, 1)), Ok(())),
            (
                with(&|x| x.ends_on = d(2027, 3, 2)),
                Err(CircuitError::DelegationTooLong),
            ),
            // Over yesterday.
            (
                with(&|x| x.ends_on = d(2026, 3, 9)),
                Err(CircuitError::DelegationInPast),
            ),
            // May start in the past if it still runs; may start in the future.
            (
                with(&|x| {
                    x.starts_on = d(2026, 6, 1);
                    x.ends_on = d(2026, 6, 30)
                }),
                Ok(()),
            ),
            (
                with(&|x| x.doctypes = vec![String::new()]),
                Err(CircuitError::DelegationDoctype(String::new())),
            ),
            (with(&|x| x.doctypes = vec![]), Ok(())),
        ];
        for (i, (got, expected)) in cases.into_iter().enumerate() {
            assert_eq!(got, expected, "case {i}");
        }
        assert_eq!(
            CircuitError::DelegationEndsBeforeStart.to_string(),
            "la délégation doit finir après son début"
        );
        assert_eq!(
            CircuitError::DelegationTooLong.to_string(),
            "une délégation dure au plus un an"
        );
        assert!(base.covers(today, Some("deliberation")));
        assert!(!base.covers(today, Some("courrier")));
        assert!(!base.covers(today, None));
        assert!(deleg(BOB, CLAIRE, &[]).covers(today, None));
    }

    #[test]
    fn delegation_mentions() {
        let cases = [
            (
                "Jean Dupont",
                "Maire",
                "Pour le maire absent, par délégation",
            ),
            (
                "Jean Dupont",
                " MAIRE ",
                "Pour le maire absent, par délégation",
            ),
            (
                "Jeanne Martin",
                "Première adjointe",
                "En l'absence de Jeanne Martin (Première adjointe), par délégation",
            ),
            (
                "Jeanne Martin",
                "",
                "En l'absence de Jeanne Martin, par délégation",
            ),
            (
                "",
                "Secrétaire de mairie",
                "En l'absence du titulaire (Secrétaire de mairie), par délégation",
            ),
            ("", "", "Par délégation"),
        ];
        for (name, title, expected) in cases {
            assert_eq!(delegation_mention(name, title), expected);
        }
    }

    #[test]
    fn codes_and_labels() {
        for k in StepKind::ALL {
            assert_eq!(k.code().parse::<StepKind>(), Ok(k));
        }
        assert_eq!(" Seal ".parse::<StepKind>(), Ok(StepKind::Seal));
        assert_eq!(StepKind::Seal.label_fr(), "Cachet de la commune");
        assert_eq!(
            "paraphe".parse::<StepKind>().unwrap_err().to_string(),
            "type d'étape inconnu « paraphe » : visa, signature ou cachet"
        );
        assert_eq!(
            [
                CircuitStatus::InProgress,
                CircuitStatus::Rejected,
                CircuitStatus::Complete
            ]
            .map(|s| (s.code(), s.label_fr())),
            [
                ("en_cours", "En cours"),
                ("refuse", "Refusé"),
                ("termine", "Terminé")
            ]
        );
        let actions = [
            Action::Approve,
            Action::Sign,
            Action::Seal,
            Action::Reject {
                comment: "x".into(),
            },
            Action::Transfer { to: BOB },
            Action::AskOpinion { of: BOB },
            Action::AnswerOpinion { text: "x".into() },
            Action::Bypass {
                comment: "x".into(),
            },
        ];
        assert_eq!(
            actions.iter().map(Action::code).collect::<Vec<_>>(),
            [
                "approve",
                "sign",
                "seal",
                "reject",
                "transfer",
                "ask_opinion",
                "answer_opinion",
                "bypass"
            ]
        );
        for a in &actions {
            assert!(!a.label_fr().is_empty());
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(&serde_json::from_str::<Action>(&json).unwrap(), a);
        }
        assert!(StepState::Bypassed.is_done());
        assert!(!StepState::Current.is_done());
        assert!(!StepState::Waiting.is_done());
    }

    #[test]
    fn a_circuit_round_trips_through_json() {
        let mut c = start(vec![
            vec![visa(ALICE), visa(CLAIRE)],
            vec![sig(BOB)],
            vec![seal()],
        ]);
        act(&mut c, ALICE, Action::AskOpinion { of: DAVID }).unwrap();
        act(&mut c, ALICE, Action::Approve).unwrap();
        act(&mut c, CLAIRE, Action::Transfer { to: DAVID }).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"state\":\"approved\""), "{json}");
        assert!(json.contains("\"kind\":\"seal\""), "{json}");
        let back: Circuit = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let mut c = back;
        act(
            &mut c,
            DAVID,
            Action::Reject {
                comment: "Pièce manquante".into(),
            },
        )
        .unwrap();
        let back: Circuit = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.status(), CircuitStatus::Rejected);
    }
}
