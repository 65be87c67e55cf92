//! Reading a commune's archive and bringing it in (`parapheur import`): every check before
//! any write.

use super::*;

impl App {
    /// Brings an archive's commune into this register. Nothing is written unless all of it
    /// is: a commune already here, or any check of the archive failing, leaves the register
    /// and its files as they were.
    #[boxed_future]
    pub async fn import_commune(&self, archive: OpenedArchive) -> Result<Moved, AppError> {
        let OpenedArchive {
            path,
            manifest,
            mut zip,
            archive_key,
            commune_key,
        } = archive;
        let commune = manifest.commune.clone();
        if let Some(existing) = self
            .store()
            .communes()
            .await?
            .into_iter()
            .find(|c| c.id == commune.id || c.insee == commune.insee)
        {
            return Err(already_here(&existing.name, &existing.insee));
        }

        let mut tables = Vec::new();
        for (table, count) in &manifest.rows {
            let name = format!("{TABLES}{table}.jsonl");
            let plain = open_member(&mut zip, &path, &archive_key, &name)?;
            let mut rows = Vec::new();
            for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let row: Row = serde_json::from_slice(line)
                    .map_err(|e| refused(format!("{name} illisible : {e}")))?;
                rows.push(row);
            }
            if rows.len() as u64 != *count {
                return Err(refused(format!(
                    "{name} : {} ligne(s) au lieu des {count} annoncée(s) : archive altérée",
                    rows.len()
                )));
            }
            tables.push((table.clone(), rows));
        }
        let rows_of = |name: &str| {
            tables
                .iter()
                .find(|(t, _)| t == name)
                .map(|(_, r)| r.as_slice())
                .unwrap_or_default()
        };
        let journal = journal_summary(commune.id, rows_of("journal"), rows_of("journal_heads"))?;
        if journal != manifest.journal {
            return Err(refused(
                "le journal de l'archive ne correspond pas à son manifeste : archive altérée",
            ));
        }
        for (table, rows) in &mut tables {
            for row in rows.iter_mut() {
                match table.as_str() {
                    "communes" => {
                        let wrapped = self.master.wrap(&commune_key, &commune.id.to_string())?;
                        row.insert("wrapped_key".into(), Value::String(wrapped));
                    }
                    // Host rights are given by name on each platform, never carried in.
                    "users" => {
                        row.insert("host_admin".into(), Value::from(0));
                    }
                    _ => {}
                }
            }
        }

        // Files first (the rows name them), removed again if the rows cannot be written.
        let commune_dir = commune.id.to_string();
        let mut stored: Vec<String> = Vec::new();
        let mut anchors_written: Vec<PathBuf> = Vec::new();
        let written = self
            .store_archived_files(
                &mut zip,
                &path,
                &manifest,
                &archive_key,
                &commune_key,
                &mut stored,
                &mut anchors_written,
            )
            .await;
        let inserted = match written {
            Ok(()) => self
                .store()
                .insert_commune_rows(commune.id, &commune.insee, &tables)
                .await
                .map_err(|e| match e {
                    parapheur_store::StoreError::AlreadyExists(_) => {
                        already_here(&commune.name, &commune.insee)
                    }
                    other => other.into(),
                }),
            Err(e) => Err(e),
        };
        if let Err(e) = inserted {
            for sha256 in &stored {
                let _ = self.files().delete(&commune_dir, sha256).await;
            }
            for anchor in &anchors_written {
                let _ = std::fs::remove_file(anchor);
            }
            return Err(e);
        }
        Ok(Moved {
            rows: manifest.rows.values().sum(),
            files: manifest.files,
            anchors: manifest.anchors,
            journal,
            bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            commune,
        })
    }

    /// Whether the commune's journal here ends on the head an archive carried.
    #[boxed_future]
    pub async fn has_journal_head(
        &self,
        commune_id: Uuid,
        journal: &JournalSummary,
    ) -> Result<bool, AppError> {
        Ok(self
            .store()
            .journal_head(commune_id)
            .await?
            .is_some_and(|h| h.seq == journal.head_seq && h.hash == journal.head_hash))
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_archived_files(
        &self,
        zip: &mut zip::ZipArchive<File>,
        path: &Path,
        manifest: &Manifest,
        archive_key: &DataKey,
        commune_key: &DataKey,
        stored: &mut Vec<String>,
        anchors_written: &mut Vec<PathBuf>,
    ) -> Result<(), AppError> {
        let commune_dir = manifest.commune.id.to_string();
        for member in &manifest.members {
            if let Some(sha256) = member.name.strip_prefix(FILES) {
                let plain = open_member(zip, path, archive_key, &member.name)?;
                if sha256_hex(&plain) != sha256 {
                    return Err(refused(format!(
                        "le fichier {sha256} de l'archive ne correspond pas à son empreinte : \
                         archive altérée"
                    )));
                }
                let existed = self.files().exists(&commune_dir, sha256).await?;
                self.files().put(&commune_dir, commune_key, &plain).await?;
                if !existed {
                    stored.push(sha256.to_owned());
                }
            } else if let Some(name) = member.name.strip_prefix(ANCHORS) {
                if name.contains('/') || name.contains("..") || !name.ends_with(".json") {
                    return Err(refused(format!("nom d'ancre refusé « {name} »")));
                }
                let plain = open_member(zip, path, archive_key, &member.name)?;
                let dir = self.anchors_dir().join(&commune_dir);
                let target = dir.join(name);
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&target, plain.as_slice()))
                    .map_err(|e| {
                        AppError::internal(format!(
                            "impossible d'écrire {} : {e}",
                            target.display()
                        ))
                    })?;
                anchors_written.push(target);
            }
        }
        Ok(())
    }
}

fn already_here(name: &str, insee: &str) -> AppError {
    refused(format!(
        "la commune {name} ({insee}) existe déjà dans cette installation : rien n'a été importé"
    ))
}

/// An archive whose every member was checked against the manifest, and its keys, unlocked
/// with the passphrase. Nothing was written anywhere yet.
pub struct OpenedArchive {
    path: PathBuf,
    pub manifest: Manifest,
    zip: zip::ZipArchive<File>,
    archive_key: DataKey,
    commune_key: DataKey,
}

impl std::fmt::Debug for OpenedArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedArchive")
            .field("path", &self.path)
            .field("commune", &self.manifest.commune)
            .finish_non_exhaustive()
    }
}

impl OpenedArchive {
    /// Reads and checks the archive at `path`: format version, passphrase, the manifest's
    /// seal, and the hash of every member (a truncated or altered archive is refused here).
    pub fn open(path: &Path, passphrase: &str) -> Result<OpenedArchive, AppError> {
        let file = File::open(path)
            .map_err(|e| refused(format!("archive {} illisible : {e}", path.display())))?;
        let mut zip = zip::ZipArchive::new(file).map_err(zip_failed(path))?;
        let manifest_bytes = read_member(&mut zip, path, MANIFEST)?;
        let head: Value = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| refused(format!("{MANIFEST} illisible : {e}")))?;
        if head.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(refused(format!(
                "{} n'est pas une archive de commune de parapheur",
                path.display()
            )));
        }
        let version = head.get("version").and_then(Value::as_u64).unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(refused(format!(
                "archive au format {version}, que cette version de parapheur ne lit pas (elle \
                 lit le format {FORMAT_VERSION}) : importez-la avec la version qui l'a faite \
                 ou une plus récente"
            )));
        }
        let manifest: Manifest = serde_json::from_value(head)
            .map_err(|e| refused(format!("{MANIFEST} illisible : {e}")))?;
        if manifest.schema > parapheur_store::SCHEMA_VERSION {
            return Err(refused(format!(
                "archive faite par parapheur {} (schéma {}), plus récent que ce programme \
                 (schéma {}) : mettez parapheur à jour avant d'importer",
                manifest.software,
                manifest.schema,
                parapheur_store::SCHEMA_VERSION
            )));
        }
        let wrapping = key_derivation(passphrase, &manifest.key_derivation)?;
        let wrong_passphrase = |_| {
            refused(
                "phrase de passe incorrecte pour cette archive (ou archive altérée) : rien n'a \
                 été importé",
            )
        };
        let archive_key = wrapping
            .unwrap(
                &manifest.archive_key,
                &archive_key_context(manifest.commune.id),
            )
            .map_err(wrong_passphrase)?;
        let commune_key = wrapping
            .unwrap(&manifest.commune_key, &manifest.commune.id.to_string())
            .map_err(wrong_passphrase)?;
        let seal = read_member(&mut zip, path, SEAL)?;
        let sealed_hash = archive_key
            .open_bytes(&seal, SEAL)
            .map_err(|_| refused("le sceau du manifeste ne se vérifie pas : archive altérée"))?;
        if sealed_hash.as_slice() != sha256_hex(&manifest_bytes).as_bytes() {
            return Err(refused(
                "le manifeste a été modifié depuis l'export : archive altérée",
            ));
        }

        let mut names: Vec<String> = Vec::with_capacity(zip.len());
        for name in zip.file_names() {
            names.push(name.map_err(zip_failed(path))?.into_owned());
        }
        for name in &names {
            if name != MANIFEST && name != SEAL && !manifest.members.iter().any(|m| &m.name == name)
            {
                return Err(refused(format!(
                    "l'archive contient « {name} », que son manifeste ne nomme pas : archive \
                     altérée"
                )));
            }
        }
        for member in &manifest.members {
            if !names.contains(&member.name) {
                return Err(refused(format!(
                    "« {} » manque dans l'archive : archive tronquée ou altérée",
                    member.name
                )));
            }
            let bytes = read_member(&mut zip, path, &member.name)?;
            if bytes.len() as u64 != member.size || sha256_hex(&bytes) != member.sha256 {
                return Err(refused(format!(
                    "« {} » ne correspond pas à son empreinte SHA-256 : archive altérée ou \
                     tronquée, rien n'a été importé",
                    member.name
                )));
            }
        }
        Ok(OpenedArchive {
            path: path.to_owned(),
            manifest,
            zip,
            archive_key,
            commune_key,
        })
    }
}

fn read_member(
    zip: &mut zip::ZipArchive<File>,
    path: &Path,
    name: &str,
) -> Result<Vec<u8>, AppError> {
    let mut entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => refused(format!(
            "« {name} » manque dans l'archive {} : archive tronquée ou altérée",
            path.display()
        )),
        other => zip_failed(path)(other),
    })?;
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut bytes).map_err(|e| {
        refused(format!(
            "« {name} » illisible dans l'archive {} : {e} (archive tronquée ou altérée)",
            path.display()
        ))
    })?;
    Ok(bytes)
}

fn open_member(
    zip: &mut zip::ZipArchive<File>,
    path: &Path,
    key: &DataKey,
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, AppError> {
    let sealed = read_member(zip, path, name)?;
    key.open_bytes(&sealed, name)
        .map_err(|_| refused(format!("« {name} » ne se déchiffre pas : archive altérée")))
}
