//! The journal anchored outside the database. The hash chain catches an entry edited,
//! inserted or deleted, but not a rewrite of the whole chain by someone who can write to
//! the database. So, once a day when it moved, each commune's journal head (sequence number
//! and hash) is sent out of reach: time-stamped by the commune's time-stamping authority
//! (RFC 3161: the token proves that this head existed at that time, and nobody but the
//! authority can make one), or, without one, emailed to the commune's administrators. Each
//! anchor is also kept as a file in `anchors_dir`, apart from the database; `journal
//! verify` then checks that the chain still holds every anchored head.

use crate::boxed_future;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use parapheur_domain::{Commune, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{App, AppError};

/// How often a commune's head is anchored (when it moved).
pub const ANCHOR_EVERY: Duration = Duration::days(1);

/// One anchored head, as kept in `anchors_dir/<commune id>/<seq>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub version: u32,
    pub commune_id: uuid::Uuid,
    pub insee: String,
    pub seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    /// `tsa` (a time-stamp token) or `email` (sent to the administrators).
    pub kind: String,
    #[serde(default)]
    pub tsa_url: Option<String>,
    /// The RFC 3161 token (DER, base64) over [`anchor_digest`].
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// What is time-stamped for a head (its SHA-256): the format, the commune and the head.
pub fn anchor_message(commune_id: uuid::Uuid, seq: i64, hash: &str) -> String {
    format!("parapheur-journal-anchor-v1\n{commune_id}\n{seq}\n{hash}")
}

/// Which protection a commune's journal has beyond its own chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Heads time-stamped by a time-stamping authority.
    TimeStamped,
    /// Heads emailed to the administrators (no authority configured).
    Emailed,
    /// No anchor yet: a rewrite of the whole chain would not be seen.
    None,
}

impl Protection {
    pub fn describe_fr(self) -> &'static str {
        match self {
            Protection::TimeStamped => "ancré chaque jour par une autorité d'horodatage",
            Protection::Emailed => {
                "ancré chaque jour par courriel aux administrateurs (pas d'autorité d'horodatage)"
            }
            Protection::None => {
                "aucune ancre encore : une réécriture complète du journal ne se verrait pas"
            }
        }
    }
}

/// The anchors of one commune checked against its chain.
#[derive(Debug, Clone, Serialize)]
pub struct AnchorCheck {
    pub protection: Protection,
    pub anchors: usize,
    pub last: Option<DateTime<Utc>>,
    /// What does not hold, in French: an anchored head the chain no longer has, a token
    /// that does not verify.
    pub problems: Vec<String>,
    /// What holds but proves less than it could (a token whose authority is not among the
    /// configured anchors).
    pub warnings: Vec<String>,
}

impl AnchorCheck {
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a round of anchoring did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnchorReport {
    pub time_stamped: usize,
    pub emailed: usize,
}

fn commune_dir(root: &Path, commune_id: uuid::Uuid) -> PathBuf {
    root.join(commune_id.to_string())
}

/// The anchors kept for a commune, oldest first; unreadable files are reported.
fn read_anchors(root: &Path, commune_id: uuid::Uuid) -> (Vec<Anchor>, Vec<String>) {
    let mut anchors = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(commune_dir(root, commune_id)) else {
        return (anchors, problems);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Anchor>(&b).map_err(|e| e.to_string()))
        {
            Ok(a) if a.commune_id == commune_id => anchors.push(a),
            Ok(_) => problems.push(format!("ancre {} : d'une autre commune", path.display())),
            Err(e) => problems.push(format!("ancre {} illisible : {e}", path.display())),
        }
    }
    anchors.sort_by_key(|a| a.seq);
    (anchors, problems)
}

/// Writes an anchor beside the others, durably (written, synced, then renamed).
fn write_anchor(root: &Path, anchor: &Anchor) -> Result<(), AppError> {
    let dir = commune_dir(root, anchor.commune_id);
    let fail = |e: std::io::Error| {
        AppError::unavailable(
            "le dossier des ancres du journal",
            format!("{} : {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let path = dir.join(format!("{:012}.json", anchor.seq));
    let partial = dir.join(format!("{:012}.json.partial", anchor.seq));
    let bytes = serde_json::to_vec_pretty(anchor)
        .map_err(|e| AppError::internal(format!("ancre : {e}")))?;
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&partial).map_err(fail)?;
        file.write_all(&bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&partial, &path).map_err(fail)?;
    Ok(())
}

impl App {
    /// Anchors each commune's journal head when it moved since its last anchor and that
    /// one is a day old (or there is none). With a time-stamping authority, a token over
    /// the head; without, an email of the head to the commune's administrators.
    #[boxed_future]
    pub async fn anchor_journals(&self, now: DateTime<Utc>) -> Result<AnchorReport, AppError> {
        let mut report = AnchorReport::default();
        for commune in self.store().communes().await? {
            let Some(head) = self.store().journal_head(commune.id).await? else {
                continue;
            };
            let (anchors, _) = read_anchors(self.anchors_dir(), commune.id);
            if let Some(last) = anchors.last()
                && (last.seq == head.seq || now - last.at < ANCHOR_EVERY)
            {
                continue;
            }
            match self.tsa_url() {
                Some(url) => {
                    self.time_stamp_head(&commune, head.seq, &head.hash, url, now)
                        .await?;
                    report.time_stamped += 1;
                }
                None => {
                    self.email_head(&commune, head.seq, &head.hash, now).await?;
                    report.emailed += 1;
                }
            }
        }
        Ok(report)
    }

    async fn time_stamp_head(
        &self,
        commune: &Commune,
        seq: i64,
        hash: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let digest: [u8; 32] = Sha256::digest(anchor_message(commune.id, seq, hash)).into();
        let stamper = parapheur_signing::HttpTimeStamper::new(url);
        let token = tokio::task::spawn_blocking(move || {
            use parapheur_signing::TimeStamper as _;
            stamper.timestamp(&digest)
        })
        .await
        .map_err(|e| AppError::internal(format!("horodatage interrompu : {e}")))?
        .map_err(|e| AppError::unavailable("l'autorité d'horodatage", e))?;
        write_anchor(
            self.anchors_dir(),
            &Anchor {
                version: 1,
                commune_id: commune.id,
                insee: commune.insee.clone(),
                seq,
                hash: hash.to_owned(),
                at: now,
                kind: "tsa".into(),
                tsa_url: Some(url.to_owned()),
                token: Some(base64::engine::general_purpose::STANDARD.encode(token)),
                recipients: Vec::new(),
            },
        )
    }

    async fn email_head(
        &self,
        commune: &Commune,
        seq: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let admins: Vec<_> = self
            .store()
            .users(commune.id)
            .await?
            .into_iter()
            .filter(|u| u.active && u.role == Role::Administrateur)
            .collect();
        let mut tx = self.store().begin(now).await?;
        for admin in &admins {
            let text = format!(
                "Bonjour {},\n\nVoici l'empreinte du journal du registre de la mairie de {} au {} :\n\n  entrée n° {seq}\n  empreinte {hash}\n\nGardez ce message : si un jour le journal est vérifié (« parapheur journal verify »), cette empreinte doit s'y retrouver. Elle ne révèle rien du contenu du registre.\n",
                admin.display_name,
                commune.name,
                now.format("%d/%m/%Y"),
            );
            let message = self.notice_to(
                commune,
                admin,
                format!(
                    "Mairie de {} : empreinte du journal du registre",
                    commune.name
                ),
                text,
            );
            let email = self
                .prepare_email(
                    commune,
                    None,
                    "journal_anchor",
                    &message,
                    Some(format!("journal-anchor:{}:{seq}:{}", admin.id, commune.id)),
                    now,
                )
                .await?;
            self.queue_email(&mut tx, &email).await?;
        }
        tx.commit().await?;
        self.outbox_queued();
        write_anchor(
            self.anchors_dir(),
            &Anchor {
                version: 1,
                commune_id: commune.id,
                insee: commune.insee.clone(),
                seq,
                hash: hash.to_owned(),
                at: now,
                kind: "email".into(),
                tsa_url: None,
                token: None,
                recipients: admins.iter().map(|a| a.email.clone()).collect(),
            },
        )
    }

    /// Checks a commune's anchors against its chain: each anchored head must still be in
    /// it, and each time-stamp token must be over that head and verify.
    #[boxed_future]
    pub async fn check_anchors(&self, commune: &Commune) -> Result<AnchorCheck, AppError> {
        let (anchors, mut problems) = read_anchors(self.anchors_dir(), commune.id);
        let mut warnings = Vec::new();
        let mut time_stamped = false;
        for anchor in &anchors {
            match self.store().journal_hash_at(commune.id, anchor.seq).await? {
                Some(hash) if hash == anchor.hash => {}
                Some(_) => problems.push(format!(
                    "l'entrée n° {} n'est plus celle ancrée le {} : le journal a été réécrit",
                    anchor.seq,
                    anchor.at.format("%d/%m/%Y")
                )),
                None => problems.push(format!(
                    "l'entrée n° {} ancrée le {} a disparu du journal",
                    anchor.seq,
                    anchor.at.format("%d/%m/%Y")
                )),
            }
            if anchor.kind == "tsa" {
                time_stamped = true;
                let message = anchor_message(commune.id, anchor.seq, &anchor.hash);
                let token = anchor
                    .token
                    .as_deref()
                    .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
                match token {
                    None => problems.push(format!(
                        "ancre n° {} : jeton d'horodatage absent ou illisible",
                        anchor.seq
                    )),
                    Some(token) => {
                        match parapheur_signing::verify_time_stamp(
                            &token,
                            message.as_bytes(),
                            self.tsa_anchors(),
                            chrono::Utc::now(),
                        ) {
                            Ok(check) => {
                                if let Some(why) = check.untrusted {
                                    warnings.push(format!(
                                        "ancre n° {} : autorité d'horodatage non reconnue ({why}) ; configurez tsa_ca pour la vérifier",
                                        anchor.seq
                                    ));
                                }
                            }
                            Err(why) => problems.push(format!("ancre n° {} : {why}", anchor.seq)),
                        }
                    }
                }
            }
        }
        let protection = if time_stamped {
            Protection::TimeStamped
        } else if anchors.is_empty() {
            Protection::None
        } else {
            Protection::Emailed
        };
        Ok(AnchorCheck {
            protection,
            anchors: anchors.len(),
            last: anchors.last().map(|a| a.at),
            problems,
            warnings,
        })
    }
}
