//! What the front ends read of the register: items, their files, notes, copies, links and
//! history, the correspondents, the counts of the inbox and the dashboard. Every read names
//! the commune; an item is read through [`App::readable_item`], the one confidentiality rule.

use crate::boxed_future;
use chrono::NaiveDate;
use parapheur_domain::Direction;
use parapheur_domain::contact::{Contact, NewContact};
use parapheur_domain::item::{CopyPurpose, Item, LinkKind};
use parapheur_domain::journal::JournalEntry;
use parapheur_store::StoreError;
use uuid::Uuid;

pub use parapheur_store::contacts::PersonalDataView;
pub use parapheur_store::items::{Activity, Attachment, InboxCounts, ItemFilter, ItemOrder, Note};

use crate::administration::auth::Authenticated;
use crate::{App, AppError};

/// What became of a file's text, as the item's page tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextStatus {
    /// Extracted: `ocr_pages` is the number of pages read by OCR, `None` when the text came
    /// from the file itself (its text layer, or plain text).
    Extracted { ocr_pages: Option<i64> },
    /// Extraction failed or was refused, for the reason given.
    NotExtracted { reason: Option<String> },
    /// Waiting for the extraction worker.
    Pending,
    /// A kind of file no text is extracted from.
    NotExtractable,
}

/// A file of an item, with what became of its text.
#[derive(Debug, Clone)]
pub struct ItemFile {
    pub attachment: Attachment,
    pub text: TextStatus,
    /// A searchable PDF was made from it by OCR.
    pub searchable: bool,
    /// Its signatures, as verified on arrival (a signed PDF only).
    pub signatures: Option<super::signatures::SignatureCheck>,
}

impl App {
    /// An item of the person's commune that they may read; a confidential item they may
    /// not read is "not found", as if it did not exist.
    #[boxed_future]
    pub async fn readable_item(&self, who: &Authenticated, id: Uuid) -> Result<Item, AppError> {
        let item = self.store.item(who.commune.id, id).await?;
        if !self
            .is_readable_by(&item, who.confidential_reader())
            .await?
        {
            return Err(StoreError::not_found("élément").into());
        }
        Ok(item)
    }

    /// The files of an item, each with what became of its text.
    #[boxed_future]
    pub async fn item_files(
        &self,
        commune: &parapheur_domain::Commune,
        item_id: Uuid,
    ) -> Result<Vec<ItemFile>, AppError> {
        let texts = self.file_texts_of_item(commune, item_id).await?;
        let signatures = self.item_signatures(commune.id, item_id).await?;
        Ok(self
            .store
            .attachments(commune.id, item_id)
            .await?
            .into_iter()
            .map(|attachment| {
                let text = texts.iter().find(|t| t.sha256 == attachment.sha256);
                let status = match text {
                    Some(t) if t.state == "done" => TextStatus::Extracted {
                        ocr_pages: (t.method.as_deref() == Some("ocr"))
                            .then_some(t.pages.unwrap_or(0)),
                    },
                    Some(t) => TextStatus::NotExtracted {
                        reason: t.reason.clone(),
                    },
                    None if parapheur_domain::upload::is_extractable(&attachment.media_type) => {
                        TextStatus::Pending
                    }
                    None => TextStatus::NotExtractable,
                };
                ItemFile {
                    searchable: text.is_some_and(|t| t.searchable_sha256.is_some()),
                    text: status,
                    signatures: signatures
                        .iter()
                        .find(|(sha, _)| *sha == attachment.sha256)
                        .map(|(_, check)| check.clone()),
                    attachment,
                }
            })
            .collect())
    }

    /// The items a contact wrote or received, in the register's order, that this person may
    /// read (the one confidentiality rule: their own, assigned or copied confidential items
    /// too).
    #[boxed_future]
    pub async fn contact_items(
        &self,
        who: &Authenticated,
        contact_id: Uuid,
    ) -> Result<Vec<Item>, AppError> {
        let commune_id = who.commune.id;
        let mut items = Vec::new();
        for item_id in self.store.contact_item_ids(commune_id, contact_id).await? {
            let item = self.store.item(commune_id, item_id).await?;
            // The one confidentiality rule, copies included, as on the item's own page.
            if self
                .is_readable_by(&item, who.confidential_reader())
                .await?
            {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// An item of this commune; an item of another commune is "not found", never shown.
    #[boxed_future]
    pub async fn item(&self, commune_id: Uuid, id: Uuid) -> Result<Item, AppError> {
        Ok(self.store.item(commune_id, id).await?)
    }

    #[boxed_future]
    pub async fn item_by_chrono(&self, commune_id: Uuid, chrono: &str) -> Result<Item, AppError> {
        Ok(self.store.item_by_chrono(commune_id, chrono).await?)
    }

    /// Items, newest first. Tags are not loaded here (lists don't show them).
    #[boxed_future]
    pub async fn items(
        &self,
        commune_id: Uuid,
        filter: &ItemFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Item>, AppError> {
        Ok(self.store.items(commune_id, filter, limit, offset).await?)
    }

    /// How many items match a filter.
    #[boxed_future]
    pub async fn count_items(
        &self,
        commune_id: Uuid,
        filter: &ItemFilter,
    ) -> Result<i64, AppError> {
        Ok(self.store.count_items(commune_id, filter).await?)
    }

    #[boxed_future]
    pub async fn item_count(&self, commune_id: Uuid) -> Result<i64, AppError> {
        Ok(self.store.item_count(commune_id).await?)
    }

    /// The few fields the dashboard aggregates, for items registered since `since`.
    #[boxed_future]
    pub async fn activity_since(
        &self,
        commune_id: Uuid,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Activity>, AppError> {
        Ok(self.store.activity_since(commune_id, since).await?)
    }

    /// Items copied to a user (diffusion), newest first, that are still open.
    #[boxed_future]
    pub async fn copied_to(
        &self,
        commune_id: Uuid,
        user_id: Uuid,
        limit: i64,
    ) -> Result<Vec<Item>, AppError> {
        Ok(self.store.copied_to(commune_id, user_id, limit).await?)
    }

    /// The counters' view: (year, direction, last sequence given).
    #[boxed_future]
    pub async fn chrono_counters(
        &self,
        commune_id: Uuid,
    ) -> Result<Vec<(i32, Direction, i64)>, AppError> {
        Ok(self.store.chrono_counters(commune_id).await?)
    }

    /// The senders and recipients of every item of a year, by item, in their order on the
    /// item (for the printed register: one query instead of one per item).
    #[boxed_future]
    pub async fn correspondents_of_year(
        &self,
        commune_id: Uuid,
        year: i32,
    ) -> Result<std::collections::HashMap<Uuid, Vec<String>>, AppError> {
        Ok(self.store.correspondents_of_year(commune_id, year).await?)
    }

    #[boxed_future]
    pub async fn attachments(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<Attachment>, AppError> {
        Ok(self.store.attachments(commune_id, item_id).await?)
    }

    /// The files of an item deleted by an elimination (their rows stay).
    #[boxed_future]
    pub async fn eliminated_attachments(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<Attachment>, AppError> {
        Ok(self
            .store
            .eliminated_attachments(commune_id, item_id)
            .await?)
    }

    /// The name of each item's first sender, for the lists (items without one are absent).
    #[boxed_future]
    pub async fn first_senders(
        &self,
        commune_id: Uuid,
        item_ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, String>, AppError> {
        Ok(self.store.first_senders(commune_id, item_ids).await?)
    }

    /// (role, contact id) pairs of an item, senders first.
    #[boxed_future]
    pub async fn item_contacts(&self, item_id: Uuid) -> Result<Vec<(String, Uuid)>, AppError> {
        Ok(self.store.item_contacts(item_id).await?)
    }

    #[boxed_future]
    pub async fn notes(&self, commune_id: Uuid, item_id: Uuid) -> Result<Vec<Note>, AppError> {
        Ok(self.store.notes(commune_id, item_id).await?)
    }

    /// The journal entries about one entity, oldest first.
    #[boxed_future]
    pub async fn journal_of(
        &self,
        commune_id: Uuid,
        entity: &str,
        entity_id: &str,
    ) -> Result<Vec<JournalEntry>, AppError> {
        Ok(self.store.journal_of(commune_id, entity, entity_id).await?)
    }

    /// The people an item was copied to (diffusion), with the purpose.
    #[boxed_future]
    pub async fn copies(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<(Uuid, CopyPurpose)>, AppError> {
        Ok(self.store.copies(commune_id, item_id).await?)
    }

    /// The links of an item in both directions: (other item's id and number, kind, true when
    /// this item holds the link).
    #[boxed_future]
    pub async fn links_of(
        &self,
        commune_id: Uuid,
        item_id: Uuid,
    ) -> Result<Vec<(Uuid, String, LinkKind, bool)>, AppError> {
        Ok(self.store.links_of(commune_id, item_id).await?)
    }

    /// The inbox's counts in one pass over the commune's open items (instead of one query
    /// per view). `user` and `service` are the person's; `confidential_visible_to` as in
    /// [`ItemFilter`].
    #[boxed_future]
    pub async fn inbox_counts(
        &self,
        commune_id: Uuid,
        user: Uuid,
        service: Option<Uuid>,
        today: NaiveDate,
        week_end: NaiveDate,
        confidential_visible_to: Option<Uuid>,
    ) -> Result<InboxCounts, AppError> {
        Ok(self
            .store
            .inbox_counts(
                commune_id,
                user,
                service,
                today,
                week_end,
                confidential_visible_to,
            )
            .await?)
    }

    #[boxed_future]
    pub async fn contact(&self, commune_id: Uuid, id: Uuid) -> Result<Contact, AppError> {
        Ok(self.store.contact(commune_id, id).await?)
    }

    /// A contact's file opened by `reader`, the opening logged (RGPD accountability,
    /// art. 5(2)): who looked at whose personal data, and when.
    #[boxed_future]
    pub async fn contact_for(
        &self,
        reader: &Authenticated,
        id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Contact, AppError> {
        let contact = self.store.contact(reader.commune.id, id).await?;
        self.store
            .record_personal_data_view(reader.commune.id, id, Some(reader.user.id), now)
            .await?;
        Ok(contact)
    }

    /// The latest openings of a contact's file, for administrators only (the log of who
    /// viewed which personal file).
    #[boxed_future]
    pub async fn contact_views(
        &self,
        reader: &Authenticated,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<PersonalDataView>, AppError> {
        if !reader.user.role.can_administer() {
            return Err(AppError::Forbidden(
                "seuls les administrateurs voient qui a consulté une fiche".into(),
            ));
        }
        Ok(self
            .store
            .personal_data_views(reader.commune.id, id, limit)
            .await?)
    }

    /// Contacts whose name, first name, organisation or email starts with or contains `q`.
    #[boxed_future]
    pub async fn search_contacts(
        &self,
        commune_id: Uuid,
        q: &str,
        limit: i64,
    ) -> Result<Vec<Contact>, AppError> {
        Ok(self.store.search_contacts(commune_id, q, limit).await?)
    }

    /// The contacts a typed name may mean though it names none exactly: the same words in
    /// another order, other accents or case, or one typing slip away (at most `limit`).
    /// The whole directory is read: a commune's is a few thousand contacts at most.
    #[boxed_future]
    pub async fn close_contacts(
        &self,
        commune_id: Uuid,
        text: &str,
        limit: usize,
    ) -> Result<Vec<Contact>, AppError> {
        use parapheur_domain::contact::close_names;
        const PAGE: i64 = 1000;
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .contacts_page(commune_id, "", after, PAGE)
                .await?;
            after = page.last().map(|c| c.id);
            found.extend(
                page.iter()
                    .filter(|c| {
                        close_names(text, &c.display_name())
                            || close_names(text, &c.name)
                            || c.organisation
                                .as_deref()
                                .is_some_and(|o| close_names(text, o))
                    })
                    .cloned(),
            );
            if found.len() >= limit || (page.len() as i64) < PAGE {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Keeps an upload the person will be asked about (a form shown again) in the commune's
    /// encrypted store, so it is not sent twice. Returns its token, `address:proof`, the
    /// proof made with the server's secret and tied to `binding` (the person's session), so
    /// that a form can bring back this upload and no other file of the commune. Never
    /// used, the upload is an orphan the store's check collects after its grace period.
    #[boxed_future]
    pub async fn stage_upload(
        &self,
        commune_id: Uuid,
        binding: &str,
        bytes: &[u8],
    ) -> Result<String, AppError> {
        let key = self.data_key(commune_id).await?;
        let sha = self
            .files()
            .put(&commune_id.to_string(), &key, bytes)
            .await?
            .sha256;
        let proof = self.staging_proof(commune_id, binding, &sha);
        Ok(format!("{sha}:{proof}"))
    }

    /// An upload kept by [`App::stage_upload`], from its token and the same `binding`.
    #[boxed_future]
    pub async fn staged_upload(
        &self,
        commune_id: Uuid,
        binding: &str,
        token: &str,
    ) -> Result<Vec<u8>, AppError> {
        let refused = || {
            AppError::invalid(
                "document gardé illisible ou d'une autre session : joignez-le de nouveau",
            )
        };
        let (sha, proof) = token.split_once(':').ok_or_else(refused)?;
        if proof != self.staging_proof(commune_id, binding, sha) {
            return Err(refused());
        }
        let key = self.data_key(commune_id).await?;
        Ok(self.files().get(&commune_id.to_string(), &key, sha).await?)
    }

    fn staging_proof(&self, commune_id: Uuid, binding: &str, sha256: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.staging_secret());
        for part in [commune_id.to_string().as_str(), binding, sha256] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(&hasher.finalize()[..16])
    }

    /// The items a contact sent or received, newest first.
    #[boxed_future]
    pub async fn contact_item_ids(
        &self,
        commune_id: Uuid,
        contact_id: Uuid,
    ) -> Result<Vec<Uuid>, AppError> {
        Ok(self.store.contact_item_ids(commune_id, contact_id).await?)
    }

    /// The contact this one was merged into, if any.
    #[boxed_future]
    pub async fn contact_merged_into(
        &self,
        commune_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Uuid>, AppError> {
        Ok(self.store.contact_merged_into(commune_id, id).await?)
    }

    /// Existing contacts that are probably the same as `candidate`: same email, same phone,
    /// or same name and address once folded.
    #[boxed_future]
    pub async fn likely_duplicates(
        &self,
        commune_id: Uuid,
        candidate: &NewContact,
    ) -> Result<Vec<Contact>, AppError> {
        Ok(self.store.likely_duplicates(commune_id, candidate).await?)
    }
}
