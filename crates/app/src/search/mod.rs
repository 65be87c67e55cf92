//! Keeping the search index in step with the register, and searching it.
//!
//! The index is a cache derived from the database: each commune's index remembers the
//! journal position it reflects, and catching up means reading the journal from there and
//! re-indexing the items its entries touch. Every change goes through the journal (the one
//! write path), so nothing escapes the index, and each web node can keep its own index by
//! following the same journal. A search first catches up, so a person finds what they have
//! just written.

use crate::boxed_future;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use parapheur_domain::Status;
use parapheur_domain::item::{Confidentiality, Item};
use parapheur_search::{SearchDoc, SearchIndex, SearchOrder, SearchQuery};
use parapheur_store::capture::SearchSource;
use uuid::Uuid;

use crate::{App, AppError};

/// Journal entries read per round of catching up.
const JOURNAL_PAGE: i64 = 2_000;
/// Items read per page of a full re-index.
const REINDEX_PAGE: i64 = 500;

fn search_error(e: parapheur_search::SearchError) -> AppError {
    AppError::internal(format!("recherche : {e}"))
}

/// `source` as the index holds it; its files' texts already opened and joined.
fn doc_of(source: SearchSource, extracted_text: String) -> SearchDoc {
    let item = source.item;
    SearchDoc {
        item_id: item.id,
        chrono: item.chrono.clone(),
        subject: item.subject.clone(),
        body: item.body.clone().unwrap_or_default(),
        extracted_text,
        notes: source.notes,
        contacts: source.contacts,
        status: item.status.code().to_owned(),
        channel: item.channel.code().to_owned(),
        direction: item.direction.code().to_owned(),
        doctype: item.doctype_code.clone(),
        service_id: item.service_id,
        arrival_date: item.arrival_date,
        registered_at: item.registered_at,
        due_date: item.due_date,
        open: item.status.is_open(),
        confidential: item.confidentiality == Confidentiality::Confidential,
        allowed: source.allowed,
    }
}

/// A found item and the passage that matched.
#[derive(Debug, Clone)]
pub struct Found {
    pub item: Item,
    pub snippet_html: String,
}

#[derive(Debug, Clone)]
pub struct FoundPage {
    pub total: usize,
    pub hits: Vec<Found>,
}

impl App {
    pub fn search_index(&self) -> &Arc<SearchIndex> {
        &self.search
    }

    /// Brings a commune's index up to its journal. Returns the number of items re-indexed.
    #[boxed_future]
    pub async fn index_catch_up(&self, commune_id: Uuid) -> Result<u64, AppError> {
        let _one_at_a_time = self.index_lock.lock().await;
        let head = match self.store().journal_head(commune_id).await? {
            Some(h) => h.seq,
            None => return Ok(0),
        };
        let index = self.search.clone();
        let indexed = tokio::task::spawn_blocking(move || index.indexed_seq(commune_id))
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .map_err(search_error)?;
        let Some(mut seq) = indexed else {
            // No index yet (new installation, index removed): build it whole.
            drop(_one_at_a_time);
            return self.reindex(commune_id, |_| {}).await;
        };
        let mut count = 0;
        while seq < head {
            let refs = self
                .store()
                .journal_refs_since(commune_id, seq, JOURNAL_PAGE)
                .await?;
            let Some(last) = refs.last().map(|r| r.seq) else {
                break;
            };
            let mut touched: BTreeSet<Uuid> = BTreeSet::new();
            for r in &refs {
                match r.entity.as_str() {
                    "item" => touched.extend(Uuid::parse_str(&r.entity_id).ok()),
                    "contact" => {
                        if let Ok(contact) = Uuid::parse_str(&r.entity_id) {
                            touched
                                .extend(self.store().contact_item_ids(commune_id, contact).await?);
                        }
                    }
                    "file" => touched.extend(
                        self.store()
                            .items_with_blob(commune_id, &r.entity_id)
                            .await?,
                    ),
                    _ => {}
                }
            }
            count += self.index_items(commune_id, &touched, last).await?;
            seq = last;
        }
        Ok(count)
    }

    /// The texts of a source's files, opened and joined.
    async fn opened_texts(
        &self,
        commune_id: Uuid,
        source: &SearchSource,
    ) -> Result<String, AppError> {
        let mut text = String::new();
        for stored in &source.extracted_texts {
            text.push_str(&self.open_text(commune_id, stored).await?);
            text.push('\n');
        }
        Ok(text)
    }

    /// Re-indexes these items (removing those gone or destroyed) and records `up_to_seq`.
    async fn index_items(
        &self,
        commune_id: Uuid,
        ids: &BTreeSet<Uuid>,
        up_to_seq: i64,
    ) -> Result<u64, AppError> {
        let ids: Vec<Uuid> = ids.iter().copied().collect();
        let sources = self.store().search_sources(commune_id, &ids).await?;
        let mut docs = Vec::with_capacity(sources.len());
        let mut deletes: Vec<Uuid> = ids.clone();
        for source in sources {
            if source.item.status != Status::Destroyed {
                deletes.retain(|id| *id != source.item.id);
                let text = self.opened_texts(commune_id, &source).await?;
                docs.push(doc_of(source, text));
            }
        }
        let count = docs.len() as u64;
        let index = self.search.clone();
        tokio::task::spawn_blocking(move || index.apply(commune_id, &docs, &deletes, up_to_seq))
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .map_err(search_error)?;
        Ok(count)
    }

    /// Rebuilds a commune's index from the database; searches keep working meanwhile.
    /// `progress` gets the number of items indexed so far.
    pub async fn reindex(
        &self,
        commune_id: Uuid,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<u64, AppError> {
        self.reindex_dyn(commune_id, &mut progress).await
    }

    /// `reindex` with its callback as a trait object, so that its body is compiled once, here.
    #[boxed_future]
    async fn reindex_dyn(
        &self,
        commune_id: Uuid,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, AppError> {
        let _one_at_a_time = self.index_lock.lock().await;
        let seq = self
            .store()
            .journal_head(commune_id)
            .await?
            .map(|h| h.seq)
            .unwrap_or(0);
        // Read from the database page by page, and feed the index builder through a
        // bounded channel, so memory stays flat whatever the register's size.
        let (sender, receiver) =
            std::sync::mpsc::sync_channel::<SearchDoc>(2 * REINDEX_PAGE as usize);
        let index = self.search.clone();
        let (count_tx, mut count_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let builder = tokio::task::spawn_blocking(move || {
            index.rebuild(commune_id, receiver.into_iter(), seq, |n| {
                let _ = count_tx.send(n);
            })
        });
        let mut after = None;
        loop {
            let ids = self
                .store()
                .item_ids_page(commune_id, after, REINDEX_PAGE)
                .await?;
            let Some(last) = ids.last().copied() else {
                break;
            };
            after = Some(last);
            let mut docs: Vec<SearchDoc> = Vec::with_capacity(ids.len());
            for source in self.store().search_sources(commune_id, &ids).await? {
                if source.item.status != Status::Destroyed {
                    let text = self.opened_texts(commune_id, &source).await?;
                    docs.push(doc_of(source, text));
                }
            }
            // The channel is bounded: hand the page over in a blocking section, so a slow
            // builder holds back this reader without stalling the runtime.
            let sender = sender.clone();
            let sent = tokio::task::spawn_blocking(move || {
                docs.into_iter().all(|doc| sender.send(doc).is_ok())
            })
            .await
            .unwrap_or(false);
            if !sent {
                break;
            }
            while let Ok(n) = count_rx.try_recv() {
                progress(n);
            }
        }
        drop(sender);
        let total = builder
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .map_err(search_error)?;
        while let Ok(n) = count_rx.try_recv() {
            progress(n);
        }
        progress(total);
        Ok(total)
    }

    /// Searches a commune's register, caught up first. `viewer`: the person, whose view of
    /// confidential items is restricted (`None` for élus and administrators).
    #[boxed_future]
    pub async fn search_items(
        &self,
        commune_id: Uuid,
        query: SearchQuery,
    ) -> Result<FoundPage, AppError> {
        // Another process (a CLI import while the server runs) may hold the index's writer
        // lock: then search what the index has; the follower catches up soon after.
        if let Err(e) = self.index_catch_up(commune_id).await {
            tracing::warn!(error = %e, "search index not caught up");
        }
        let index = self.search.clone();
        let results = tokio::task::spawn_blocking(move || index.search(commune_id, &query))
            .await
            .map_err(|e| AppError::internal(e.to_string()))?
            .map_err(search_error)?;
        let ids: Vec<Uuid> = results.hits.iter().map(|h| h.item_id).collect();
        let mut items = self.store().search_sources(commune_id, &ids).await?;
        let mut hits = Vec::with_capacity(results.hits.len());
        for hit in results.hits {
            // The database has the last word: an item of another commune never comes back.
            if let Some(pos) = items.iter().position(|s| s.item.id == hit.item_id) {
                hits.push(Found {
                    item: items.swap_remove(pos).item,
                    snippet_html: hit.snippet_html,
                });
            }
        }
        Ok(FoundPage {
            total: results.total,
            hits,
        })
    }
}

/// A query of plain words, newest first or by relevance, for the CLI.
pub fn simple_query(text: &str, limit: usize, by_date: bool) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        order: if by_date {
            SearchOrder::Newest
        } else {
            SearchOrder::Relevance
        },
        limit,
        ..SearchQuery::default()
    }
}

/// Helper for filters given as text dates.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}
