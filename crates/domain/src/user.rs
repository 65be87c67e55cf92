//! People who work in the register and what each role may do.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Roles of a commune's users (DOMAIN: who uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accueil and agents: register, route and process mail.
    Agent,
    /// Maire and adjoints: read, approve and sign.
    Elu,
    /// Manages the commune's settings, services, users and document types.
    Administrateur,
    /// Manages retention, transfers to the archives and destruction.
    Archiviste,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Agent,
        Role::Elu,
        Role::Administrateur,
        Role::Archiviste,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Elu => "elu",
            Role::Administrateur => "administrateur",
            Role::Archiviste => "archiviste",
        }
    }

    pub fn label_fr(self) -> &'static str {
        match self {
            Role::Agent => "Agent / accueil",
            Role::Elu => "Élu",
            Role::Administrateur => "Administrateur",
            Role::Archiviste => "Archiviste",
        }
    }

    /// May register and process items.
    pub fn can_register(self) -> bool {
        matches!(self, Role::Agent | Role::Administrateur)
    }

    /// May change the commune's settings, document types, services and users.
    pub fn can_administer(self) -> bool {
        matches!(self, Role::Administrateur)
    }

    /// Reads every confidential item of the commune (others read only those they are in
    /// charge of or wrote: see [`crate::item::Item::is_visible_to`]).
    pub fn reads_all_confidential(self) -> bool {
        matches!(self, Role::Elu | Role::Administrateur)
    }

    /// The reader restriction for a person of this role: `None` reads everything, `Some(id)`
    /// reads confidential items only where `id` is in charge or their author. The store
    /// applies the same rule in SQL (`items::confidential_visible`).
    pub fn confidential_reader(self, user: uuid::Uuid) -> Option<uuid::Uuid> {
        (!self.reads_all_confidential()).then_some(user)
    }
}

/// What a use case asks of the person who calls it. Each use case of `app` declares one
/// (and the web's route table the same per route), so no front end can forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Any active person of the commune (read, add a note, act on their own circuit step).
    Member,
    /// Register and process mail: agents and administrators.
    ProcessMail,
    /// The commune's settings, users, services, document types, keys and circuits.
    Administer,
    /// Retention rules, legal holds, eliminations and transfers to the archives: archivists.
    Archive,
}

impl Role {
    pub fn may(self, permission: Permission) -> bool {
        match permission {
            Permission::Member => true,
            Permission::ProcessMail => self.can_register(),
            Permission::Administer => self.can_administer(),
            Permission::Archive => matches!(self, Role::Archiviste),
        }
    }
}

impl Permission {
    /// Why a person is refused, in French.
    pub fn refusal_fr(self) -> &'static str {
        match self {
            Permission::Member => "votre compte ne donne pas accès à cette commune",
            Permission::ProcessMail => {
                "votre rôle ne permet pas d'enregistrer ni de traiter le courrier"
            }
            Permission::Administer => "réservé aux administrateurs de la commune",
            Permission::Archive => "réservé à l'archiviste de la commune",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!("rôle inconnu « {s} » : agent, elu, administrateur ou archiviste")
            })
    }
}
