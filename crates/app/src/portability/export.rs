//! Writing a commune's archive (`parapheur export`): see the module above for its layout.

use super::*;

impl App {
    /// Writes the commune's archive to `to` (refused if it exists). The file appears whole
    /// or not at all: it is written beside, then renamed.
    #[boxed_future]
    pub async fn export_commune(
        &self,
        insee: &str,
        to: &Path,
        passphrase: &str,
        now: DateTime<Utc>,
    ) -> Result<Moved, AppError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(refused(format!(
                "phrase de passe trop courte : {MIN_PASSPHRASE_CHARS} caractères au moins"
            )));
        }
        if to.exists() {
            return Err(refused(format!(
                "{} existe déjà : choisissez un autre fichier",
                to.display()
            )));
        }
        let commune = self.commune(insee).await?;
        let commune_key = self.data_key(commune.id).await?;
        let tables = self.store().commune_rows(commune.id).await?;
        let rows_of = |name: &str| {
            tables
                .iter()
                .find(|(t, _)| *t == name)
                .map(|(_, r)| r.as_slice())
                .unwrap_or_default()
        };
        let journal = journal_summary(commune.id, rows_of("journal"), rows_of("journal_heads"))?;

        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AppError::internal(format!("générateur aléatoire : {e}")))?;
        let kdf = KeyDerivation {
            algorithm: "argon2id".into(),
            salt: BASE64.encode(salt),
            memory_kib: KDF_MEMORY_KIB,
            iterations: KDF_ITERATIONS,
            parallelism: 1,
        };
        let wrapping = key_derivation(passphrase, &kdf)?;
        let archive_key = DataKey::generate()?;

        let partial = partial_path(to);
        let result = self
            .write_archive(
                &partial,
                &commune,
                &tables,
                &commune_key,
                &archive_key,
                |rows, files, anchors, members| {
                    Ok(Manifest {
                        format: FORMAT.into(),
                        version: FORMAT_VERSION,
                        made_at: now,
                        software: env!("CARGO_PKG_VERSION").into(),
                        schema: parapheur_store::SCHEMA_VERSION,
                        commune: ArchivedCommune {
                            id: commune.id,
                            insee: commune.insee.clone(),
                            name: commune.name.clone(),
                        },
                        archive_key: wrapping
                            .wrap(&archive_key, &archive_key_context(commune.id))?,
                        commune_key: wrapping.wrap(&commune_key, &commune.id.to_string())?,
                        key_derivation: kdf.clone(),
                        journal: journal.clone(),
                        rows,
                        files,
                        anchors,
                        members,
                    })
                },
            )
            .await;
        let manifest = match result {
            Ok(manifest) => manifest,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, to).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            AppError::internal(format!("impossible d'écrire {} : {e}", to.display()))
        })?;
        let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
        Ok(Moved {
            commune: manifest.commune,
            rows: manifest.rows.values().sum(),
            files: manifest.files,
            anchors: manifest.anchors,
            journal,
            bytes,
        })
    }

    async fn write_archive(
        &self,
        path: &Path,
        commune: &parapheur_domain::Commune,
        tables: &[(&'static str, Vec<Row>)],
        commune_key: &DataKey,
        archive_key: &DataKey,
        manifest: impl FnOnce(
            BTreeMap<String, u64>,
            u64,
            u64,
            Vec<Member>,
        ) -> Result<Manifest, AppError>,
    ) -> Result<Manifest, AppError> {
        let file = File::create(path).map_err(|e| {
            AppError::internal(format!("impossible de créer {} : {e}", path.display()))
        })?;
        let write_failed =
            |e: &dyn std::fmt::Display| AppError::internal(format!("écriture de l'archive : {e}"));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        let mut zip = zip::ZipWriter::new(file);
        let mut members = Vec::new();
        let mut add =
            |zip: &mut zip::ZipWriter<File>, name: String, plain: &[u8]| -> Result<(), AppError> {
                let sealed = archive_key.seal_bytes(plain, &name)?;
                zip.start_file(name.as_str(), options)
                    .map_err(|e| write_failed(&e))?;
                zip.write_all(&sealed).map_err(|e| write_failed(&e))?;
                members.push(Member {
                    sha256: sha256_hex(&sealed),
                    size: sealed.len() as u64,
                    name,
                });
                Ok(())
            };

        let mut rows = BTreeMap::new();
        for (table, table_rows) in tables {
            let mut lines = Vec::new();
            for row in table_rows {
                serde_json::to_writer(&mut lines, row).map_err(|e| write_failed(&e))?;
                lines.push(b'\n');
            }
            add(&mut zip, format!("{TABLES}{table}.jsonl"), &lines)?;
            rows.insert((*table).to_owned(), table_rows.len() as u64);
        }

        let commune_dir = commune.id.to_string();
        let blobs = self.files().list(&commune_dir).await?;
        for blob in &blobs {
            let plain = self
                .files()
                .get(&commune_dir, commune_key, &blob.sha256)
                .await?;
            add(&mut zip, format!("{FILES}{}", blob.sha256), &plain)?;
        }

        let mut anchors = 0;
        let anchors_dir = self.anchors_dir().join(&commune_dir);
        if let Ok(entries) = std::fs::read_dir(&anchors_dir) {
            let mut names: Vec<_> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect();
            names.sort();
            for name in names {
                let bytes = std::fs::read(anchors_dir.join(&name))
                    .map_err(|e| AppError::internal(format!("ancre {name} illisible : {e}")))?;
                add(&mut zip, format!("{ANCHORS}{name}"), &bytes)?;
                anchors += 1;
            }
        }

        let manifest = manifest(rows, blobs.len() as u64, anchors, members)?;
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| write_failed(&e))?;
        let seal = archive_key.seal_bytes(sha256_hex(&manifest_bytes).as_bytes(), SEAL)?;
        for (name, bytes) in [(MANIFEST, &manifest_bytes), (SEAL, &seal)] {
            zip.start_file(name, options)
                .map_err(|e| write_failed(&e))?;
            zip.write_all(bytes).map_err(|e| write_failed(&e))?;
        }
        let file = zip.finish().map_err(|e| write_failed(&e))?;
        file.sync_all().map_err(|e| write_failed(&e))?;
        Ok(manifest)
    }
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partiel");
    to.with_file_name(name)
}
