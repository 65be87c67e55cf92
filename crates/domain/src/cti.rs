//! The phone system's call events (issue 18, point 3), in Zammad's generic CTI format so that
//! the bridges written for it (Asterisk AMI bridges, 3CX's CRM template, Sipgate, Placetel)
//! post to parapheur unchanged: `event` (newCall, answer, hangup), `callId`, `from`, `to`,
//! `direction` (in, out), `user[]` (repeated), `answeringNumber`, `cause`.
//!
//! What is pure here: reading an event from its fields, a call's state machine (newCall,
//! then answer, then hangup; a replay changes nothing; anything else is refused with a
//! stable code), the numbers a PBX sends normalised to the contacts' national form, and
//! whether a hang-up is a missed call.

use crate::contact::normalize_phone;

/// What happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEventKind {
    NewCall,
    Answer,
    Hangup,
}

impl CallEventKind {
    pub fn parse(code: &str) -> Option<CallEventKind> {
        match code.trim() {
            "newCall" => Some(CallEventKind::NewCall),
            "answer" => Some(CallEventKind::Answer),
            "hangup" => Some(CallEventKind::Hangup),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            CallEventKind::NewCall => "newCall",
            CallEventKind::Answer => "answer",
            CallEventKind::Hangup => "hangup",
        }
    }
}

/// Who called whom: `in` a caller rings the mairie, `out` an agent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    In,
    Out,
}

impl CallDirection {
    pub fn parse(code: &str) -> Option<CallDirection> {
        match code.trim() {
            "in" => Some(CallDirection::In),
            "out" => Some(CallDirection::Out),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            CallDirection::In => "in",
            CallDirection::Out => "out",
        }
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Ringing,
    Answered,
    Ended,
}

impl CallState {
    pub fn code(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Ended => "ended",
        }
    }

    pub fn parse(code: &str) -> Option<CallState> {
        match code {
            "ringing" => Some(CallState::Ringing),
            "answered" => Some(CallState::Answered),
            "ended" => Some(CallState::Ended),
            _ => None,
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            CallState::Ringing => "sonne",
            CallState::Answered => "décroché",
            CallState::Ended => "terminé",
        }
    }
}

/// One event as the bridge posted it, its fields checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub kind: CallEventKind,
    /// The PBX's id of the call (`callId`), unique per call.
    pub call_ref: String,
    pub from: String,
    pub to: String,
    pub direction: CallDirection,
    /// `user[]`: the names of the people the call rings (in) or who call (out).
    pub users: Vec<String>,
    /// `answeringNumber`: who picked up (an extension, a login, an email).
    pub answering_number: Option<String>,
    /// `cause` of a hang-up: normalClearing, busy, cancel, noAnswer, congestion, notFound,
    /// forwarded…
    pub cause: Option<String>,
}

/// Why an event is refused: each has its stable code, and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallRefusal {
    /// A field is missing or malformed (the message says which).
    Invalid(String),
    /// An answer or hang-up for a call this commune never heard ring.
    Unknown,
    /// An event that cannot follow where the call stands (an answer after the hang-up…).
    OutOfOrder {
        state: CallState,
        event: CallEventKind,
    },
}

impl CallRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            CallRefusal::Invalid(_) => "invalid_call_event",
            CallRefusal::Unknown => "call_unknown",
            CallRefusal::OutOfOrder { .. } => "call_out_of_order",
        }
    }

    pub fn message_fr(&self) -> String {
        match self {
            CallRefusal::Invalid(m) => format!("événement d'appel refusé : {m}"),
            CallRefusal::Unknown => {
                "appel inconnu : aucun « newCall » reçu pour ce callId".to_owned()
            }
            CallRefusal::OutOfOrder { state, event } => format!(
                "« {} » ne peut pas suivre : l'appel est {}",
                event.code(),
                match state {
                    CallState::Ringing => "encore en train de sonner",
                    CallState::Answered => "déjà décroché",
                    CallState::Ended => "déjà terminé",
                }
            ),
        }
    }
}

/// The longest `callId` kept (Zammad's own limit).
pub const MAX_CALL_REF: usize = 250;

/// How long the call log keeps a call (its numbers and times): a year, enough to answer
/// "who called about this" and to see a pattern, then erased by the daily watch. A missed
/// call's callback item stays as long as the register keeps it.
pub const CALL_LOG_DAYS: i64 = 366;
/// The longest other field kept.
const MAX_FIELD: usize = 200;

impl CallEvent {
    /// Reads an event from its fields (form pairs, or a JSON object's turned into pairs):
    /// `user` and `user[]` may repeat; fields a bridge adds (`queue`…) are ignored, as
    /// Zammad does.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CallEvent, CallRefusal> {
        let mut event = None;
        let mut call_ref = None;
        let mut from = None;
        let mut to = None;
        let mut direction = None;
        let mut users = Vec::new();
        let mut answering = None;
        let mut cause = None;
        let invalid = |m: &str| CallRefusal::Invalid(m.to_owned());
        for (key, value) in pairs {
            let value = value.trim();
            if value.chars().count() > MAX_CALL_REF.max(MAX_FIELD) || value.contains('\0') {
                return Err(invalid(&format!("{key} : valeur trop longue")));
            }
            let value = value.to_owned();
            match key {
                "event" => event = Some(value),
                "callId" => call_ref = Some(value),
                "from" => from = Some(value),
                "to" => to = Some(value),
                "direction" => direction = Some(value),
                "user" | "user[]" if !value.is_empty() && users.len() < 20 => {
                    users.push(value);
                }
                "answeringNumber" => answering = Some(value).filter(|v| !v.is_empty()),
                "cause" => cause = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        let event = event.ok_or_else(|| invalid("champ « event » manquant"))?;
        let kind = CallEventKind::parse(&event).ok_or_else(|| {
            invalid(&format!(
                "« event » inconnu « {event} » : newCall, answer ou hangup"
            ))
        })?;
        let call_ref = call_ref
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid("champ « callId » manquant"))?;
        if call_ref.chars().count() > MAX_CALL_REF {
            return Err(invalid("« callId » : 250 caractères au plus"));
        }
        let direction = match direction.as_deref() {
            None | Some("") => return Err(invalid("champ « direction » manquant (in ou out)")),
            Some(d) => CallDirection::parse(d)
                .ok_or_else(|| invalid(&format!("« direction » inconnue « {d} » : in ou out")))?,
        };
        Ok(CallEvent {
            kind,
            call_ref,
            from: from.unwrap_or_default(),
            to: to.unwrap_or_default(),
            direction,
            users,
            answering_number: answering,
            cause,
        })
    }

    /// The number of the person outside the mairie: the caller of an incoming call, the
    /// person called by an outgoing one.
    pub fn outside_number(&self) -> &str {
        match self.direction {
            CallDirection::In => &self.from,
            CallDirection::Out => &self.to,
        }
    }

    /// The number inside the mairie: the extension rung, or the agent's who calls.
    pub fn inside_number(&self) -> &str {
        match self.direction {
            CallDirection::In => &self.to,
            CallDirection::Out => &self.from,
        }
    }
}

/// What an event does to a call where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A new call: to create.
    Create,
    /// Picked up.
    Answer,
    /// Hung up; `missed` when an incoming call ends never answered.
    Hangup { missed: bool },
    /// The same event again (a bridge retrying): nothing changes, the answer is the same.
    Replay,
}

/// The state machine of a call: `None` when the commune never heard it ring.
pub fn transition(
    state: Option<CallState>,
    direction: CallDirection,
    event: &CallEvent,
) -> Result<Transition, CallRefusal> {
    use CallEventKind as E;
    use CallState as S;
    match (state, event.kind) {
        (None, E::NewCall) => Ok(Transition::Create),
        (None, _) => Err(CallRefusal::Unknown),
        (Some(S::Ringing), E::NewCall)
        | (Some(S::Answered), E::Answer)
        | (Some(S::Ended), E::Hangup) => Ok(Transition::Replay),
        (Some(S::Ringing), E::Answer) => Ok(Transition::Answer),
        (Some(S::Ringing), E::Hangup) => Ok(Transition::Hangup {
            missed: direction == CallDirection::In && is_missed_cause(event.cause.as_deref()),
        }),
        (Some(S::Answered), E::Hangup) => Ok(Transition::Hangup { missed: false }),
        (Some(state), event) => Err(CallRefusal::OutOfOrder { state, event }),
    }
}

/// Whether an incoming call hung up while ringing, with this cause, was missed: every cause
/// but a transfer (`forwarded`: someone else takes it) or a pick-up elsewhere.
fn is_missed_cause(cause: Option<&str>) -> bool {
    !matches!(cause, Some("forwarded" | "answeredElsewhere"))
}

/// A hang-up's cause in French, for the callback task.
pub fn cause_fr(cause: Option<&str>) -> &'static str {
    match cause {
        Some("busy") => "occupé",
        Some("cancel") => "l'appelant a raccroché avant la réponse",
        Some("noAnswer") => "pas de réponse",
        Some("congestion") => "réseau saturé",
        Some("notFound") => "numéro introuvable",
        Some("forwarded") => "transféré",
        Some("normalClearing") => "fin normale",
        _ => "non précisé",
    }
}

/// A number as the PBX sent it, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerNumber {
    /// Hidden by the caller (`anonymous`, empty…).
    Hidden,
    /// A short internal number (an extension of the mairie's PBX).
    Extension(String),
    /// A phone number in the contacts' form: national (`0612345678`), or `+` and digits.
    Phone(String),
    /// Something else, kept as sent.
    Other(String),
}

/// The longest number taken as an extension of the PBX.
const MAX_EXTENSION_DIGITS: usize = 6;

/// Reads a number a PBX sends: `+33 6 12 34 56 78`, `0612345678`, `06.12.34.56.78`,
/// `0033612345678`, E.164 without its `+` (`33612345678`, as Zammad's bridges send),
/// `sip:0612345678@pbx`, an extension (`100`), or a hidden number.
pub fn caller_number(raw: &str) -> CallerNumber {
    let mut text = raw.trim();
    if let Some(rest) = text
        .strip_prefix("sip:")
        .or_else(|| text.strip_prefix("tel:"))
    {
        text = rest.split(['@', ';']).next().unwrap_or(rest);
    }
    let lower = text.to_lowercase();
    if text.is_empty()
        || matches!(
            lower.as_str(),
            "anonymous" | "anonyme" | "unknown" | "restricted" | "private" | "unavailable"
        )
    {
        return CallerNumber::Hidden;
    }
    if let Some(phone) = normalize_phone(text) {
        return CallerNumber::Phone(phone);
    }
    let separators_only = text
        .chars()
        .all(|c| c.is_ascii_digit() || " .-()/".contains(c));
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if separators_only && !digits.is_empty() {
        if digits.len() <= MAX_EXTENSION_DIGITS {
            return CallerNumber::Extension(digits);
        }
        // E.164 without its `+`: France's national form, others kept international.
        if let Some(rest) = digits.strip_prefix("33")
            && rest.len() == 9
        {
            return CallerNumber::Phone(format!("0{rest}"));
        }
        if !digits.starts_with('0') && (11..=15).contains(&digits.len()) {
            return CallerNumber::Phone(format!("+{digits}"));
        }
    }
    CallerNumber::Other(text.to_owned())
}

impl CallerNumber {
    /// The form to look a contact up by (`phone_key`), if a phone number.
    pub fn phone_key(&self) -> Option<&str> {
        match self {
            CallerNumber::Phone(p) => Some(p),
            _ => None,
        }
    }

    /// The number to dial back, if one can be.
    pub fn dialable(&self) -> Option<&str> {
        match self {
            CallerNumber::Phone(p) | CallerNumber::Extension(p) => Some(p),
            CallerNumber::Other(p) => Some(p),
            CallerNumber::Hidden => None,
        }
    }

    /// How a person reads it: `06 12 34 56 78`, a hidden number in words.
    pub fn display(&self) -> String {
        match self {
            CallerNumber::Hidden => "numéro masqué".to_owned(),
            CallerNumber::Phone(p) => display_phone(p),
            CallerNumber::Extension(p) => format!("poste {p}"),
            CallerNumber::Other(p) => p.clone(),
        }
    }
}

/// A national number in pairs (`06 12 34 56 78`); any other as it is.
pub fn display_phone(phone: &str) -> String {
    if phone.len() == 10 && phone.starts_with('0') && phone.chars().all(|c| c.is_ascii_digit()) {
        phone
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        phone.to_owned()
    }
}

/// The subject of a missed call's callback task: "Appel manqué de Jeanne Martin — à
/// rappeler", or of the number when the caller is not a known contact.
pub fn missed_call_subject(contact_name: Option<&str>, number: &CallerNumber) -> String {
    let who = match contact_name {
        Some(name) => name.trim().to_owned(),
        None => number.display(),
    };
    format!("Appel manqué de {who} — à rappeler")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pairs: &[(&str, &str)]) -> Result<CallEvent, CallRefusal> {
        CallEvent::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn numbers_of_every_french_form_read_the_same() {
        for raw in [
            "+33 6 12 34 56 78",
            "0612345678",
            "06.12.34.56.78",
            "06 12 34 56 78",
            "0033612345678",
            "33612345678",
            "+33612345678",
            "sip:0612345678@pbx.mairie.test",
            "tel:+33612345678",
        ] {
            assert_eq!(
                caller_number(raw),
                CallerNumber::Phone("0612345678".into()),
                "{raw}"
            );
        }
        assert_eq!(
            caller_number("493055571600"),
            CallerNumber::Phone("+493055571600".into())
        );
        assert_eq!(caller_number("100"), CallerNumber::Extension("100".into()));
        for hidden in ["", "anonymous", "Anonymous", " unknown "] {
            assert_eq!(caller_number(hidden), CallerNumber::Hidden, "{hidden}");
        }
        assert_eq!(
            caller_number("Accueil"),
            CallerNumber::Other("Accueil".into())
        );
        assert_eq!(caller_number("06 12 34 56 78").display(), "06 12 34 56 78");
        assert_eq!(caller_number("anonymous").display(), "numéro masqué");
    }

    #[test]
    fn an_event_reads_from_zammads_fields() {
        let e = event(&[
            ("event", "newCall"),
            ("from", "33612345678"),
            ("to", "100"),
            ("direction", "in"),
            ("callId", "1700000000.42"),
            ("user[]", "Marie Agent"),
            ("user[]", "Paul Accueil"),
            ("queue", "accueil"),
        ])
        .unwrap();
        assert_eq!(e.kind, CallEventKind::NewCall);
        assert_eq!(e.users, ["Marie Agent", "Paul Accueil"]);
        assert_eq!(e.outside_number(), "33612345678");
        assert_eq!(e.inside_number(), "100");
        for (pairs, code) in [
            (
                vec![("callId", "1"), ("direction", "in")],
                "invalid_call_event",
            ),
            (
                vec![("event", "ring"), ("callId", "1"), ("direction", "in")],
                "invalid_call_event",
            ),
            (
                vec![("event", "answer"), ("direction", "in")],
                "invalid_call_event",
            ),
            (
                vec![
                    ("event", "answer"),
                    ("callId", "1"),
                    ("direction", "sideways"),
                ],
                "invalid_call_event",
            ),
        ] {
            assert_eq!(event(&pairs).unwrap_err().code(), code, "{pairs:?}");
        }
    }

    #[test]
    fn the_state_machine_refuses_what_cannot_follow_and_replays_what_repeats() {
        let of = |kind: &str, cause: Option<&str>| {
            let mut pairs = vec![("event", kind), ("callId", "c"), ("direction", "in")];
            if let Some(c) = cause {
                pairs.push(("cause", c));
            }
            event(&pairs).unwrap()
        };
        let inc = CallDirection::In;
        use CallState as S;
        assert_eq!(
            transition(None, inc, &of("newCall", None)),
            Ok(Transition::Create)
        );
        assert_eq!(
            transition(None, inc, &of("answer", None)),
            Err(CallRefusal::Unknown)
        );
        assert_eq!(
            transition(None, inc, &of("hangup", None))
                .unwrap_err()
                .code(),
            "call_unknown"
        );
        assert_eq!(
            transition(Some(S::Ringing), inc, &of("newCall", None)),
            Ok(Transition::Replay)
        );
        assert_eq!(
            transition(Some(S::Ringing), inc, &of("answer", None)),
            Ok(Transition::Answer)
        );
        assert_eq!(
            transition(Some(S::Ringing), inc, &of("hangup", Some("noAnswer"))),
            Ok(Transition::Hangup { missed: true })
        );
        assert_eq!(
            transition(Some(S::Ringing), inc, &of("hangup", Some("forwarded"))),
            Ok(Transition::Hangup { missed: false })
        );
        assert_eq!(
            transition(
                Some(S::Ringing),
                CallDirection::Out,
                &of("hangup", Some("busy"))
            ),
            Ok(Transition::Hangup { missed: false })
        );
        assert_eq!(
            transition(
                Some(S::Answered),
                inc,
                &of("hangup", Some("normalClearing"))
            ),
            Ok(Transition::Hangup { missed: false })
        );
        assert_eq!(
            transition(Some(S::Answered), inc, &of("answer", None)),
            Ok(Transition::Replay)
        );
        assert_eq!(
            transition(Some(S::Ended), inc, &of("hangup", None)),
            Ok(Transition::Replay)
        );
        for (state, kind) in [
            (S::Answered, "newCall"),
            (S::Ended, "newCall"),
            (S::Ended, "answer"),
        ] {
            assert_eq!(
                transition(Some(state), inc, &of(kind, None))
                    .unwrap_err()
                    .code(),
                "call_out_of_order",
                "{state:?} {kind}"
            );
        }
    }

    #[test]
    fn a_missed_call_names_the_contact_or_the_number() {
        let n = caller_number("0612345678");
        assert_eq!(
            missed_call_subject(Some("Jeanne Martin"), &n),
            "Appel manqué de Jeanne Martin — à rappeler"
        );
        assert_eq!(
            missed_call_subject(None, &n),
            "Appel manqué de 06 12 34 56 78 — à rappeler"
        );
    }
}

/// Whether an email's attachment is a voice recording a PBX sends (WAV or MP3).
pub fn is_voicemail_audio(media_type: &str, filename: &str) -> bool {
    let name = filename.to_ascii_lowercase();
    matches!(
        media_type.to_ascii_lowercase().as_str(),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" | "audio/mpeg" | "audio/mp3"
    ) || name.ends_with(".wav")
        || name.ends_with(".mp3")
}

/// The media type a voice recording is served with (the browser's `<audio>` plays these).
pub fn voicemail_media_type(media_type: &str, filename: &str) -> &'static str {
    let name = filename.to_ascii_lowercase();
    if media_type.eq_ignore_ascii_case("audio/mpeg")
        || media_type.eq_ignore_ascii_case("audio/mp3")
        || name.ends_with(".mp3")
    {
        "audio/mpeg"
    } else {
        "audio/wav"
    }
}

/// Who left a voice message, as the PBX's email says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailCaller {
    /// The caller's name when the PBX knew it (`"Jeanne Martin" <0612345678>`).
    pub name: Option<String>,
    pub number: CallerNumber,
    /// The mailbox the message was left in (usually the extension rung).
    pub mailbox: Option<String>,
}

/// The caller of a voicemail email, from its subject or body. Reads the templates PBXs send
/// by default: Asterisk's voicemail.conf (subject "[PBX]: New message 1 in mailbox 100",
/// body "…in mailbox 100 from "Jeanne Martin" <0612345678>, on …"), FreePBX's (Asterisk's,
/// with `${VM_CALLERID}`), and the "New voicemail from Jeanne Martin (0612345678)" or
/// "Caller ID: 0612345678" forms of 3CX and others; French wording as well ("de", "appelant",
/// "boîte vocale"). `None` when no number of a caller is found.
pub fn voicemail_caller(subject: &str, body: &str) -> Option<VoicemailCaller> {
    let mailbox = [subject, body].iter().find_map(|t| mailbox_of(t));
    [subject, body]
        .iter()
        .find_map(|text| caller_in(text))
        .map(|(name, number)| VoicemailCaller {
            name,
            number,
            mailbox,
        })
}

/// "mailbox 100", "boîte vocale 100", "extension 100", "poste 100".
fn mailbox_of(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    for key in [
        "mailbox",
        "boîte vocale",
        "boite vocale",
        "extension",
        "poste",
    ] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(key) {
            let after = &lower[from + at + key.len()..];
            let after = after.trim_start_matches([' ', ':', '#', 'n', '°', 'º']);
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && digits.len() <= MAX_EXTENSION_DIGITS {
                return Some(digits);
            }
            from += at + key.len();
        }
    }
    None
}

/// A phone number (not an extension) in `raw`.
fn phone_in(raw: &str) -> Option<CallerNumber> {
    match caller_number(raw.trim()) {
        n @ CallerNumber::Phone(_) => Some(n),
        _ => None,
    }
}

/// A name before a number: `"Jeanne Martin"`, or the words after "from"/"de"/":".
fn name_before(prefix: &str) -> Option<String> {
    let prefix = prefix.trim_end();
    // The line, a space after it so that a prefix ending in "from" leaves no name.
    let line = format!("{} ", prefix.rsplit('\n').next().unwrap_or(prefix));
    let name = if let Some(quoted) = prefix.strip_suffix('"') {
        quoted.rsplit_once('"').map(|(_, n)| n).unwrap_or(quoted)
    } else {
        let lower = line.to_lowercase();
        let cut = [" from ", "from ", " de ", ": ", ":"]
            .iter()
            .filter_map(|k| lower.rfind(k).map(|at| at + k.len()))
            .max()
            .unwrap_or(0);
        line.get(cut..).unwrap_or("")
    };
    let name = name.trim().trim_matches(['"', '\'', ',']).trim();
    (!name.is_empty()
        && name.chars().count() <= 100
        && name.chars().any(char::is_alphabetic)
        && phone_in(name).is_none()
        && !name.to_lowercase().contains("unknown"))
    .then(|| name.to_owned())
}

fn caller_in(text: &str) -> Option<(Option<String>, CallerNumber)> {
    // `Name <number>` or `Name (number)`.
    for (open, close) in [('<', '>'), ('(', ')')] {
        let mut from = 0;
        while let Some(at) = text[from..].find(open) {
            let start = from + at;
            let Some(len) = text[start + 1..].find(close) else {
                break;
            };
            let inside = &text[start + 1..start + 1 + len];
            if let Some(number) = phone_in(inside) {
                return Some((name_before(&text[..start]), number));
            }
            from = start + 1;
        }
    }
    // A number after a word that announces the caller.
    let lower = text.to_lowercase();
    for key in [
        "caller id:",
        "callerid:",
        "caller:",
        "from:",
        "from",
        "appelant :",
        "appelant:",
        "numéro :",
        "numéro:",
        "de la part de",
        " de ",
    ] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(key) {
            let start = from + at + key.len();
            let run: String = text
                .get(start..)
                .unwrap_or("")
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || " .-+()/".contains(*c))
                .collect();
            if let Some(number) = phone_in(&run) {
                return Some((None, number));
            }
            from = start;
        }
    }
    None
}

#[cfg(test)]
mod voicemail_tests {
    use super::*;

    #[test]
    fn asterisks_default_voicemail_email_is_read() {
        let subject = "[PBX]: New message 1 in mailbox 100";
        let body = "Dear Marie Agent:\n\n\tjust wanted to let you know you were just left a 0:12 long message (number 1)\nin mailbox 100 from \"Jeanne Martin\" <0612345678>, on Monday, December 07, 2026 at 09:12:03 AM so you might\nwant to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n";
        assert_eq!(
            voicemail_caller(subject, body),
            Some(VoicemailCaller {
                name: Some("Jeanne Martin".into()),
                number: CallerNumber::Phone("0612345678".into()),
                mailbox: Some("100".into()),
            })
        );
        // A caller ID without a name, in E.164.
        let body = "in mailbox 101 from <+33612345678>, on Monday";
        let found = voicemail_caller("[PBX]: New message 2 in mailbox 101", body).unwrap();
        assert_eq!(found.name, None);
        assert_eq!(found.number, CallerNumber::Phone("0612345678".into()));
        assert_eq!(found.mailbox.as_deref(), Some("101"));
    }

    #[test]
    fn other_pbx_forms_are_read() {
        for (subject, body, name, number) in [
            (
                "New Voicemail from Jeanne Martin (06 12 34 56 78)",
                "",
                Some("Jeanne Martin"),
                "0612345678",
            ),
            (
                "Voicemail",
                "Caller ID: 0033612345678\nDuration: 12 s",
                None,
                "0612345678",
            ),
            (
                "Nouveau message vocal de 06.12.34.56.78",
                "",
                None,
                "0612345678",
            ),
            (
                "Message vocal",
                "Appelant : +33 6 12 34 56 78",
                None,
                "0612345678",
            ),
        ] {
            let found = voicemail_caller(subject, body).unwrap_or_else(|| panic!("{subject}"));
            assert_eq!(found.name.as_deref(), name, "{subject}");
            assert_eq!(
                found.number,
                CallerNumber::Phone(number.into()),
                "{subject}"
            );
        }
        // No caller's number: not a voicemail we can file.
        assert_eq!(
            voicemail_caller(
                "[PBX]: New message 1 in mailbox 100",
                "from an unknown caller, on"
            ),
            None
        );
        assert_eq!(voicemail_caller("Réunion de 10 h", "Ordre du jour"), None);
    }

    #[test]
    fn audio_attachments_are_recognised() {
        assert!(is_voicemail_audio("audio/x-wav", "msg0000.wav"));
        assert!(is_voicemail_audio(
            "application/octet-stream",
            "msg0000.WAV"
        ));
        assert!(is_voicemail_audio("audio/mpeg", "message"));
        assert!(!is_voicemail_audio("application/pdf", "scan.pdf"));
        assert_eq!(voicemail_media_type("audio/x-wav", "msg.wav"), "audio/wav");
        assert_eq!(
            voicemail_media_type("application/octet-stream", "m.mp3"),
            "audio/mpeg"
        );
    }
}
