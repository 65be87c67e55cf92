//! The life cycle of an item: one explicit state machine.
//!
//! Maarch's 42 statuses boil down to these (DOMAIN: typical life of an incoming item). Every
//! allowed move is listed in [`Status::allowed_next`]; anything else is refused with a reason.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Captured automatically (mailbox, scanner): fields to check before registering.
    ToQualify,
    /// Registered, nobody in charge yet.
    Registered,
    /// Given to a service or a person.
    Assigned,
    /// Being processed.
    InProgress,
    /// Incomplete request: documents asked from the sender (L114-5).
    AwaitingDocuments,
    /// A reply is in a visa or signature circuit.
    InCircuit,
    /// The reply has left the mairie.
    ReplySent,
    /// Closed, with a reason.
    Closed,
    /// Transferred to the archives (final).
    Archived,
    /// Destroyed after its retention period with the archives' visa (final).
    Destroyed,
}

/// Why an item was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Answered,
    NoFollowUp,
    /// Sent to the competent authority (L114-2).
    Forwarded,
    Duplicate,
    /// The delay ran out and silence became a decision (L231-1, L231-4).
    ImplicitDecision,
}

impl CloseReason {
    pub const ALL: [CloseReason; 5] = [
        CloseReason::Answered,
        CloseReason::NoFollowUp,
        CloseReason::Forwarded,
        CloseReason::Duplicate,
        CloseReason::ImplicitDecision,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CloseReason::Answered => "answered",
            CloseReason::NoFollowUp => "no_follow_up",
            CloseReason::Forwarded => "forwarded",
            CloseReason::Duplicate => "duplicate",
            CloseReason::ImplicitDecision => "implicit_decision",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            CloseReason::Answered => "répondu",
            CloseReason::NoFollowUp => "sans suite",
            CloseReason::Forwarded => "transmis à l'autorité compétente",
            CloseReason::Duplicate => "doublon",
            CloseReason::ImplicitDecision => "décision implicite",
        }
    }
}

impl FromStr for CloseReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CloseReason::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| format!("motif de clôture inconnu « {s} »"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("passage interdit de « {} » à « {} »", from.label_fr(), to.label_fr())]
    Forbidden { from: Status, to: Status },
    #[error("une clôture demande un motif")]
    MissingCloseReason,
    #[error("un motif de clôture n'a de sens que pour clore")]
    UnexpectedCloseReason,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::ToQualify,
        Status::Registered,
        Status::Assigned,
        Status::InProgress,
        Status::AwaitingDocuments,
        Status::InCircuit,
        Status::ReplySent,
        Status::Closed,
        Status::Archived,
        Status::Destroyed,
    ];

    /// The statuses reachable in one step. This table is the whole state machine.
    pub fn allowed_next(self) -> &'static [Status] {
        use Status::*;
        match self {
            ToQualify => &[Registered, Closed],
            Registered => &[Assigned, InProgress, AwaitingDocuments, Closed],
            Assigned => &[Assigned, InProgress, AwaitingDocuments, Closed],
            InProgress => &[Assigned, AwaitingDocuments, InCircuit, ReplySent, Closed],
            AwaitingDocuments => &[InProgress, Closed],
            InCircuit => &[InProgress, ReplySent],
            ReplySent => &[InProgress, Closed],
            Closed => &[InProgress, Archived, Destroyed],
            Archived | Destroyed => &[],
        }
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self.allowed_next().contains(&to)
    }

    /// Checks a move; a close must carry its reason and only a close may.
    pub fn check_transition(
        self,
        to: Status,
        reason: Option<CloseReason>,
    ) -> Result<(), TransitionError> {
        if !self.can_move_to(to) {
            return Err(TransitionError::Forbidden { from: self, to });
        }
        match (to, reason) {
            (Status::Closed, None) => Err(TransitionError::MissingCloseReason),
            (Status::Closed, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => Err(TransitionError::UnexpectedCloseReason),
        }
    }

    /// Still awaiting an answer from the commune (deadlines matter).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::ReplySent | Status::Closed | Status::Archived | Status::Destroyed
        )
    }

    pub fn is_final(self) -> bool {
        self.allowed_next().is_empty()
    }

    pub fn code(self) -> &'static str {
        match self {
            Status::ToQualify => "to_qualify",
            Status::Registered => "registered",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::AwaitingDocuments => "awaiting_documents",
            Status::InCircuit => "in_circuit",
            Status::ReplySent => "reply_sent",
            Status::Closed => "closed",
            Status::Archived => "archived",
            Status::Destroyed => "destroyed",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Status::ToQualify => "à qualifier",
            Status::Registered => "enregistré",
            Status::Assigned => "affecté",
            Status::InProgress => "en cours",
            Status::AwaitingDocuments => "en attente de pièces",
            Status::InCircuit => "en visa ou signature",
            Status::ReplySent => "réponse envoyée",
            Status::Closed => "clos",
            Status::Archived => "archivé",
            Status::Destroyed => "détruit",
        }
    }

    /// What the citizen who made a request reads of its state (the tracking page): the
    /// office's steps (qualified, assigned, in a circuit of signatures) mean nothing to
    /// them, and the words agree with "demande", which is feminine.
    pub fn citizen_label_fr(self) -> &'static str {
        match self {
            Status::ToQualify | Status::Registered => "reçue, en attente de traitement",
            Status::Assigned | Status::InProgress | Status::InCircuit => "en cours de traitement",
            Status::AwaitingDocuments => "en attente de pièces de votre part",
            Status::ReplySent => "réponse envoyée",
            Status::Closed | Status::Archived | Status::Destroyed => "traitée",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_fr())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.code() == s)
            .ok_or_else(|| format!("statut inconnu « {s} »"))
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn citizens_read_no_internal_step() {
        assert_eq!(Assigned.citizen_label_fr(), "en cours de traitement");
        for s in Status::ALL {
            let read = s.citizen_label_fr();
            for internal in ["affecté", "qualifier", "visa", "détruit", "archivé"] {
                assert!(!read.contains(internal), "{s:?}: {read}");
            }
        }
    }

    /// The whole machine written out as a matrix, row = from, column = to, in `Status::ALL`
    /// order. Every one of the 100 pairs is checked against it.
    #[rustfmt::skip]
    const EXPECTED: [[u8; 10]; 10] = [
        //  TQ Reg Ass InP Awa Cir Rep Clo Arc Des
        [   0,  1,  0,  0,  0,  0,  0,  1,  0,  0], // ToQualify
        [   0,  0,  1,  1,  1,  0,  0,  1,  0,  0], // Registered
        [   0,  0,  1,  1,  1,  0,  0,  1,  0,  0], // Assigned (re-assign allowed)
        [   0,  0,  1,  0,  1,  1,  1,  1,  0,  0], // InProgress
        [   0,  0,  0,  1,  0,  0,  0,  1,  0,  0], // AwaitingDocuments
        [   0,  0,  0,  1,  0,  0,  1,  0,  0,  0], // InCircuit
        [   0,  0,  0,  1,  0,  0,  0,  1,  0,  0], // ReplySent
        [   0,  0,  0,  1,  0,  0,  0,  0,  1,  1], // Closed
        [   0,  0,  0,  0,  0,  0,  0,  0,  0,  0], // Archived
        [   0,  0,  0,  0,  0,  0,  0,  0,  0,  0], // Destroyed
    ];

    #[test]
    fn every_pair_of_statuses_matches_the_matrix() {
        for (i, from) in Status::ALL.into_iter().enumerate() {
            for (j, to) in Status::ALL.into_iter().enumerate() {
                let allowed = EXPECTED[i][j] == 1;
                assert_eq!(from.can_move_to(to), allowed, "{from:?} -> {to:?}");
                let reason = (to == Closed).then_some(CloseReason::Answered);
                assert_eq!(
                    from.check_transition(to, reason).is_ok(),
                    allowed,
                    "{from:?} -> {to:?}"
                );
                if !allowed {
                    assert_eq!(
                        from.check_transition(to, reason),
                        Err(TransitionError::Forbidden { from, to })
                    );
                }
            }
        }
    }

    #[test]
    fn close_needs_a_reason_and_only_close_takes_one() {
        assert_eq!(
            InProgress.check_transition(Closed, None),
            Err(TransitionError::MissingCloseReason)
        );
        assert_eq!(
            Registered.check_transition(Assigned, Some(CloseReason::Answered)),
            Err(TransitionError::UnexpectedCloseReason)
        );
    }

    #[test]
    fn every_status_is_reachable_from_to_qualify_and_finals_are_final() {
        let mut seen = vec![ToQualify];
        let mut frontier = vec![ToQualify];
        while let Some(s) = frontier.pop() {
            for &n in s.allowed_next() {
                if !seen.contains(&n) {
                    seen.push(n);
                    frontier.push(n);
                }
            }
        }
        for s in Status::ALL {
            assert!(seen.contains(&s), "{s:?} unreachable");
        }
        assert!(Archived.is_final() && Destroyed.is_final());
        // Only a closed item goes to the archives or is destroyed.
        for s in Status::ALL {
            assert_eq!(s.can_move_to(Archived), s == Closed);
            assert_eq!(s.can_move_to(Destroyed), s == Closed);
        }
    }

    #[test]
    fn codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.code().parse::<Status>(), Ok(s));
        }
        for r in CloseReason::ALL {
            assert_eq!(r.code().parse::<CloseReason>(), Ok(r));
        }
    }
}
