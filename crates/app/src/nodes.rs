//! This process among the nodes sharing one database: its identity, its heartbeat row, and
//! the leases on work only one node may do at a time (a mailbox, a drop folder, the deadline
//! watch's round) or once per commune and day (implicit decisions, digests).
//!
//! A lease is held by the process (a new id at each start), for a bounded time: a node that
//! dies, even by SIGKILL, leaves its leases to expire, and another node takes the work over.
//! A node that stops cleanly gives them back at once ([`App::release_leases`]).

use crate::boxed_future;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use parapheur_store::nodes::NodeRow;
use uuid::Uuid;

use crate::{App, AppError};

/// Who this process is among the nodes sharing the database.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// A new id at each start: leases are held by the process, not the machine.
    pub id: Uuid,
    pub name: String,
    pub started_at: DateTime<Utc>,
    /// Whether this node runs the background loops.
    pub background: bool,
}

impl NodeIdentity {
    pub fn new(name: String, background: bool) -> NodeIdentity {
        NodeIdentity {
            id: Uuid::now_v7(),
            name,
            started_at: Utc::now(),
            background,
        }
    }
}

/// A node unseen for this long is no longer listed as running.
pub const NODE_GONE_AFTER: Duration = Duration::minutes(2);

/// One node, as the host administrator's page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeView {
    pub name: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub background: bool,
    /// Stopped cleanly, or not seen for [`NODE_GONE_AFTER`].
    pub running: bool,
    pub this_node: bool,
    pub loops: Vec<crate::background::LoopHealth>,
}

impl App {
    /// Who this node is.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// Takes (or renews) the lease `name` for `length`: true when this node holds it.
    #[boxed_future]
    pub async fn take_lease(&self, name: &str, length: Duration) -> Result<bool, AppError> {
        let now = Utc::now();
        Ok(self
            .store()
            .take_lease(name, self.node.id, &self.node.name, now, now + length)
            .await?)
    }

    /// Gives the lease `name` back.
    #[boxed_future]
    pub async fn release_lease(&self, name: &str) -> Result<(), AppError> {
        Ok(self.store().release_lease(name, self.node.id).await?)
    }

    /// Gives back every lease of this node (it is stopping).
    #[boxed_future]
    pub async fn release_leases(&self) -> Result<(), AppError> {
        Ok(self.store().release_all_leases(self.node.id).await?)
    }

    /// Claims `task` of a commune for `day` (for `length` at most): true when this node is
    /// to do it now; [`App::finish_daily`] then marks it done or gives it back.
    pub(crate) async fn claim_daily(
        &self,
        task: &str,
        commune_id: Uuid,
        day: NaiveDate,
        now: DateTime<Utc>,
        length: Duration,
    ) -> Result<bool, AppError> {
        Ok(self
            .store()
            .claim_daily(task, commune_id, day, self.node.id, now, now + length)
            .await?)
    }

    pub(crate) async fn finish_daily(
        &self,
        task: &str,
        commune_id: Uuid,
        day: NaiveDate,
        ok: bool,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        Ok(self
            .store()
            .finish_daily(task, commune_id, day, self.node.id, ok, now)
            .await?)
    }

    /// Writes this node's heartbeat, with its loops' health; `stopped` when it stops.
    #[boxed_future]
    pub async fn heartbeat(&self, stopped: bool) -> Result<(), AppError> {
        let now = Utc::now();
        let loops = serde_json::to_string(&self.loop_health()).unwrap_or_else(|_| "[]".into());
        self.store()
            .node_heartbeat(&NodeRow {
                id: self.node.id,
                name: self.node.name.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started_at: self.node.started_at,
                last_seen: now,
                background: self.node.background,
                stopped_at: stopped.then_some(now),
                loops_json: loops,
            })
            .await?;
        Ok(())
    }

    /// The nodes seen in the last day, this one first, each with its loops.
    #[boxed_future]
    pub async fn nodes(&self) -> Result<Vec<NodeView>, AppError> {
        let now = Utc::now();
        let mut nodes: Vec<NodeView> = self
            .store()
            .nodes(now - Duration::days(1))
            .await?
            .into_iter()
            .map(|row| NodeView {
                running: row.stopped_at.is_none() && now - row.last_seen < NODE_GONE_AFTER,
                this_node: row.id == self.node.id,
                loops: serde_json::from_str(&row.loops_json).unwrap_or_default(),
                name: row.name,
                version: row.version,
                started_at: row.started_at,
                last_seen: row.last_seen,
                background: row.background,
            })
            .collect();
        nodes.sort_by_key(|n| (!n.this_node, !n.running, std::cmp::Reverse(n.last_seen)));
        Ok(nodes)
    }
}

/// One check of the health report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// `ok`, `erreur`, or a state that does not stop the node serving (`dégradé`,
    /// `non configurée`, `désactivé`).
    pub etat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn new(etat: &str, detail: Option<String>) -> Check {
        Check {
            etat: etat.to_owned(),
            detail,
        }
    }

    fn of<E: std::fmt::Display>(outcome: Result<(), E>) -> Check {
        match outcome {
            Ok(()) => Check::new("ok", None),
            Err(e) => Check::new("erreur", Some(e.to_string())),
        }
    }
}

/// What `/sante` reports: the node can serve when `healthy` (database and file storage
/// reachable); the loops, the index and the off-site copy are reported, a load balancer
/// keeps the node while they are degraded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub healthy: bool,
    pub noeud: String,
    pub version: &'static str,
    pub demarre_le: DateTime<Utc>,
    pub taches_de_fond: bool,
    pub base_de_donnees: Check,
    pub stockage: Check,
    pub index: Check,
    pub copie_hors_site: Check,
    pub boucles: Vec<crate::background::LoopHealth>,
}

impl App {
    /// The off-site copy as `/sante` reports it: `dégradé` when the last attempt failed or
    /// the last copy is more than an hour old, with the age of the last one.
    fn copies_check(&self, now: DateTime<Utc>) -> Check {
        use crate::continuity::CopiesOverview;
        match self.copies_overview() {
            CopiesOverview::ByTheHost => Check::new("ok", Some("assurée par l'hébergeur".into())),
            CopiesOverview::NotConfigured => Check::new("non configurée", None),
            CopiesOverview::Configured { state, .. } => {
                let last = state.as_ref().and_then(|s| s.last_success_at);
                let error = state.and_then(|s| s.last_error);
                let age = last.map(|at| (now - at).num_seconds().max(0));
                let detail = match (age, &error) {
                    (Some(seconds), None) => format!("dernière copie il y a {seconds} s"),
                    (Some(seconds), Some(e)) => format!("dernière copie il y a {seconds} s ; {e}"),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "première copie en attente".to_owned(),
                };
                let late = age.is_some_and(|s| s > 3600);
                let state = if error.is_some() || late {
                    "dégradé"
                } else {
                    "ok"
                };
                Check::new(state, Some(detail))
            }
        }
    }

    /// The health report of this node.
    #[boxed_future]
    pub async fn health(&self) -> Health {
        let database = Check::of(self.store().ping().await);
        // A file that cannot exist: a round trip to the storage, whatever it is.
        let storage = Check::of(
            self.files()
                .exists("sante", &"0".repeat(64))
                .await
                .map(|_| ()),
        );
        let loops = self.loop_health();
        let index = if !self.node.background {
            Check::new(
                "ok",
                Some("suivi à chaque recherche (tâches de fond désactivées)".into()),
            )
        } else {
            match loops.iter().find(|l| l.name == "index") {
                Some(l) if l.last_error.is_some() => Check::new("dégradé", l.last_error.clone()),
                Some(l) if l.last_success_at.is_none() => {
                    Check::new("ok", Some("premier passage en cours".into()))
                }
                _ => Check::new("ok", None),
            }
        };
        Health {
            healthy: database.etat == "ok" && storage.etat == "ok",
            noeud: self.node.name.clone(),
            version: env!("CARGO_PKG_VERSION"),
            demarre_le: self.node.started_at,
            taches_de_fond: self.node.background,
            base_de_donnees: database,
            stockage: storage,
            index,
            copie_hors_site: self.copies_check(Utc::now()),
            boucles: loops,
        }
    }
}
