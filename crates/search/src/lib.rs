//! Full-text search over a commune's register.
//!
//! One tantivy index per commune under `ROOT/<commune uuid>/`. The index is a derived
//! cache of the database: it can be rebuilt at any time ([`SearchIndex::rebuild`]) and is
//! kept current from the journal ([`SearchIndex::apply`]); each commit carries the journal
//! sequence number it covers ([`SearchIndex::indexed_seq`]).
//!
//! Layout of a commune's directory:
//! - `CURRENT`: the name of the live generation (replaced atomically by rename);
//! - `g-<uuid>/`: a generation, i.e. a complete tantivy index;
//! - `tmp-<uuid>/`: a rebuild in progress (left over only after a crash; removed later).
//!
//! Memory: no `IndexWriter` outlives a call (heap [`WRITER_HEAP_BYTES`], one thread), and
//! at most [`READER_CACHE_SIZE`] communes keep an open reader.

mod query;
mod schema;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};
use uuid::Uuid;

use crate::query::QueryBuilder;
use crate::schema::{Fields, SCHEMA_VERSION, day_number, register_tokenizers};

pub use crate::query::{MAX_QUERY_CHARS, MAX_QUERY_ITEMS};

/// Indexing heap of the (short-lived) writer.
pub const WRITER_HEAP_BYTES: usize = 20_000_000;
/// Number of communes whose reader stays open.
pub const READER_CACHE_SIZE: usize = 16;
/// Maximum `offset + limit` of a search (deep pages cost memory).
pub const MAX_WINDOW: usize = 10_000;
/// Snippet length, in characters.
pub const SNIPPET_CHARS: usize = 200;
/// `rebuild` reports progress every this many documents.
const PROGRESS_EVERY: u64 = 1_000;
const CURRENT_FILE: &str = "CURRENT";

/// What the index knows of a register item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchDoc {
    pub item_id: Uuid,
    pub chrono: String,
    pub subject: String,
    pub body: String,
    pub extracted_text: String,
    pub notes: String,
    /// Names, organisations, emails and cities of its correspondents.
    pub contacts: String,
    pub status: String,
    pub channel: String,
    pub direction: String,
    pub doctype: Option<String>,
    pub service_id: Option<Uuid>,
    pub arrival_date: NaiveDate,
    pub registered_at: DateTime<Utc>,
    pub due_date: Option<NaiveDate>,
    pub open: bool,
    pub confidential: bool,
    /// Who may see it when confidential: assignee, author, copies.
    pub allowed: Vec<Uuid>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchOrder {
    #[default]
    Relevance,
    Newest,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchQuery {
    /// What the user typed; empty lists by filters, newest first.
    pub text: String,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub doctype: Option<String>,
    pub service_id: Option<Uuid>,
    /// Arrived on or after this day.
    pub arrived_from: Option<NaiveDate>,
    /// Arrived strictly before this day.
    pub arrived_before: Option<NaiveDate>,
    /// Late on that day: open and `due_date` < that day.
    pub late_on: Option<NaiveDate>,
    /// `Some`: confidential items only if the viewer is allowed; `None`: no restriction.
    pub viewer: Option<Uuid>,
    pub order: SearchOrder,
    pub offset: usize,
    pub limit: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: String::new(),
            status: None,
            channel: None,
            direction: None,
            doctype: None,
            service_id: None,
            arrived_from: None,
            arrived_before: None,
            late_on: None,
            viewer: None,
            order: SearchOrder::Relevance,
            offset: 0,
            limit: 20,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SearchResults {
    /// Number of matching items (all pages).
    pub total: usize,
    pub hits: Vec<Hit>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hit {
    pub item_id: Uuid,
    /// Relevance (0 when ordered by date).
    pub score: f32,
    /// HTML-escaped text with `<mark>…</mark>` around matched words.
    pub snippet_html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("la recherche n'a pas pu être comprise : {0}")]
    InvalidQuery(String),
    #[error(
        "l'index de recherche est endommagé ; il faut le reconstruire (parapheur reindex) : {0}"
    )]
    Corrupt(String),
    #[error("erreur de l'index de recherche : {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("erreur d'accès aux fichiers de l'index de recherche : {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Serialize, Deserialize)]
struct Payload {
    seq: i64,
    schema: u32,
}

/// An opened generation of a commune's index.
struct Handle {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    generation: String,
    /// Modification time of `meta.json` when the reader was last reloaded: a commit by
    /// another process (or another `SearchIndex`) changes it.
    meta_mtime: Mutex<Option<SystemTime>>,
}

impl Handle {
    /// Reloads the reader if someone else committed since (or always, if `force`).
    fn refresh(&self, dir: &Path, force: bool) -> Result<(), SearchError> {
        let mtime = meta_mtime(dir);
        let mut seen = lock(&self.meta_mtime);
        if force || *seen != mtime {
            self.reader.reload()?;
            *seen = mtime;
        }
        Ok(())
    }
}

fn meta_mtime(generation_dir: &Path) -> Option<SystemTime> {
    fs::metadata(generation_dir.join("meta.json"))
        .and_then(|m| m.modified())
        .ok()
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Uuid, (Arc<Handle>, u64)>,
    tick: u64,
}

/// All communes' indexes under one root directory.
pub struct SearchIndex {
    root: PathBuf,
    cache: Mutex<Cache>,
    write_locks: Mutex<HashMap<Uuid, Arc<Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SearchIndex {
    pub fn open(root: &Path) -> Result<Self, SearchError> {
        fs::create_dir_all(root)?;
        Ok(SearchIndex {
            root: root.to_path_buf(),
            cache: Mutex::new(Cache::default()),
            write_locks: Mutex::new(HashMap::new()),
        })
    }

    /// The journal sequence number covered by the last commit; `None` if the commune has
    /// no index (or one of an older schema: rebuild it).
    pub fn indexed_seq(&self, commune: Uuid) -> Result<Option<i64>, SearchError> {
        let Some(handle) = self.handle(commune)? else {
            return Ok(None);
        };
        let meta = handle.index.load_metas()?;
        Ok(meta
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Payload>(p).ok())
            .filter(|p| p.schema == SCHEMA_VERSION)
            .map(|p| p.seq))
    }

    /// Upserts and deletes items, then commits once with `up_to_seq`. Creates the index if
    /// the commune has none yet.
    pub fn apply(
        &self,
        commune: Uuid,
        upserts: &[SearchDoc],
        deletes: &[Uuid],
        up_to_seq: i64,
    ) -> Result<(), SearchError> {
        let commune_lock = self.write_lock(commune);
        let _guard = lock(&commune_lock);
        let handle = match self.handle(commune)? {
            Some(h) => h,
            None => {
                let dir = self.commune_dir(commune);
                fs::create_dir_all(&dir)?;
                let generation = format!("g-{}", Uuid::now_v7().simple());
                let index = create_index(&dir.join(&generation))?;
                commit_empty(&index)?;
                drop(index);
                write_current(&dir, &generation)?;
                self.handle(commune)?
                    .ok_or_else(|| SearchError::Corrupt("index créé mais introuvable".to_owned()))?
            }
        };
        let f = &handle.fields;
        let mut writer = handle
            .index
            .writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP_BYTES)?;
        for id in deletes {
            writer.delete_term(Term::from_field_text(f.item_id, &id.to_string()));
        }
        for doc in upserts {
            writer.delete_term(Term::from_field_text(f.item_id, &doc.item_id.to_string()));
            writer.add_document(f.document(doc))?;
        }
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload(up_to_seq));
        prepared.commit()?;
        writer.wait_merging_threads()?;
        handle.refresh(&self.commune_dir(commune).join(&handle.generation), true)?;
        tracing::debug!(%commune, upserts = upserts.len(), deletes = deletes.len(), up_to_seq, "search index updated");
        Ok(())
    }

    /// Builds a complete index from `docs` in a new directory, then switches to it
    /// atomically. Searches keep using the previous index meanwhile; a crash leaves the
    /// previous index in place. Returns the number of documents indexed.
    pub fn rebuild(
        &self,
        commune: Uuid,
        docs: impl Iterator<Item = SearchDoc>,
        up_to_seq: i64,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, SearchError> {
        let commune_lock = self.write_lock(commune);
        let _guard = lock(&commune_lock);
        let dir = self.commune_dir(commune);
        fs::create_dir_all(&dir)?;
        remove_stale_dirs(&dir, read_current(&dir)?.as_deref());
        let id = Uuid::now_v7().simple().to_string();
        let tmp = dir.join(format!("tmp-{id}"));
        let generation = format!("g-{id}");
        let built = build_into(&tmp, docs, up_to_seq, &mut progress);
        let count = match built {
            Ok(n) => n,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        fs::rename(&tmp, dir.join(&generation))?;
        let previous = read_current(&dir)?;
        write_current(&dir, &generation)?;
        lock(&self.cache).entries.remove(&commune);
        if let Some(previous) = previous {
            // Readers still open on it keep their mapped files.
            if let Err(e) = fs::remove_dir_all(dir.join(&previous)) {
                tracing::warn!(%commune, error = %e, "could not remove the previous search index");
            }
        }
        progress(count);
        tracing::info!(%commune, count, up_to_seq, "search index rebuilt");
        Ok(count)
    }

    pub fn search(&self, commune: Uuid, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        if q.offset.saturating_add(q.limit) > MAX_WINDOW {
            return Err(SearchError::InvalidQuery(format!(
                "impossible d'afficher au-delà des {MAX_WINDOW} premiers résultats ; affinez la recherche"
            )));
        }
        let Some(handle) = self.handle(commune)? else {
            return Ok(SearchResults::default());
        };
        let f = &handle.fields;
        let searcher = handle.reader.searcher();
        let mut builder = QueryBuilder {
            fields: f,
            analyzer: handle.index.tokenizer_for_field(f.subject)?,
        };
        let built = builder.build(&q.text);
        let (text_query, ranking) = match built {
            Some(b) => (Some(b.query), b.ranking),
            None => (None, None),
        };

        // What matches and is ranked: the plain words' `all_text` terms where they allow it.
        let matching = ranking.as_ref().map(|r| &r.query).or(text_query.as_ref());
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let has_text = matching.is_some();
        if let Some(tq) = matching {
            clauses.push((Occur::Must, tq.box_clone()));
        }
        for filter in filters(f, q) {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        let unfiltered = clauses.len() == 1;
        let query: Box<dyn Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };

        if q.limit == 0 {
            let total = searcher.search(&*query, &Count)?;
            return Ok(SearchResults {
                total,
                hits: Vec::new(),
            });
        }
        let top = TopDocs::with_limit(q.limit).and_offset(q.offset);
        let (total, ranked): (usize, Vec<(f32, DocAddress)>) =
            if has_text && q.order == SearchOrder::Relevance {
                // Relevance, then newest first on ties.
                match ranking.filter(|r| unfiltered && r.words_only) {
                    // Words and no filter: ranked by a pass that skips what cannot enter the
                    // page (block-max WAND), the total counted apart without scoring (from the
                    // posting list alone for one word).
                    Some(ranking) => {
                        let total = searcher.search(&*ranking.query, &Count)?;
                        let k = q.offset + q.limit;
                        let ranked = best_by_score_then_date(&searcher, &*ranking.query, k)?;
                        (total, ranked.into_iter().skip(q.offset).collect())
                    }
                    // Otherwise every match is scored anyway: counted in the same pass.
                    None => {
                        let collector = top.order_by((
                            (SortBySimilarityScore, Order::Desc),
                            (
                                SortByStaticFastValue::<i64>::for_field("registered_at"),
                                Order::Desc,
                            ),
                        ));
                        let (total, top) = searcher.search(&*query, &(Count, collector))?;
                        let ranked = top
                            .into_iter()
                            .map(|((score, _), addr)| (score, addr))
                            .collect();
                        (total, ranked)
                    }
                }
            } else {
                let collector = top.order_by_fast_field::<i64>("registered_at", Order::Desc);
                let (total, top) = searcher.search(&*query, &(Count, collector))?;
                (
                    total,
                    top.into_iter().map(|(_, addr)| (0.0, addr)).collect(),
                )
            };

        let mut generators = Vec::new();
        if let Some(tq) = &text_query {
            for (field, _) in f.text_fields() {
                let mut g = SnippetGenerator::create(&searcher, &**tq, field)?;
                g.set_max_num_chars(SNIPPET_CHARS);
                // The query's distinct words in this field: a snippet highlighting as many
                // is complete.
                let mut words = BTreeSet::new();
                tq.query_terms(&mut |term, _| {
                    if term.field() == field {
                        words.insert(term.serialized_value_bytes().to_vec());
                    }
                });
                generators.push((field, g, words.len()));
            }
        }
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, addr) in ranked {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let item_id = doc
                .get_first(f.item_id)
                .and_then(|v| v.as_str())
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| SearchError::Corrupt("document sans identifiant".to_owned()))?;
            hits.push(Hit {
                item_id,
                score,
                snippet_html: snippet(&doc, f, &generators),
            });
        }
        Ok(SearchResults { total, hits })
    }

    /// Deletes a commune's index entirely.
    pub fn remove_commune(&self, commune: Uuid) -> Result<(), SearchError> {
        let commune_lock = self.write_lock(commune);
        let _guard = lock(&commune_lock);
        lock(&self.cache).entries.remove(&commune);
        let dir = self.commune_dir(commune);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn commune_dir(&self, commune: Uuid) -> PathBuf {
        self.root.join(commune.to_string())
    }

    fn write_lock(&self, commune: Uuid) -> Arc<Mutex<()>> {
        lock(&self.write_locks).entry(commune).or_default().clone()
    }

    /// The live generation of a commune's index, from the cache or opened now.
    fn handle(&self, commune: Uuid) -> Result<Option<Arc<Handle>>, SearchError> {
        let dir = self.commune_dir(commune);
        let Some(generation) = read_current(&dir)? else {
            lock(&self.cache).entries.remove(&commune);
            return Ok(None);
        };
        let generation_dir = dir.join(&generation);
        let cached = {
            let mut cache = lock(&self.cache);
            cache.tick += 1;
            let tick = cache.tick;
            match cache.entries.get_mut(&commune) {
                Some((h, used)) if h.generation == generation => {
                    *used = tick;
                    Some(h.clone())
                }
                _ => None,
            }
        };
        if let Some(h) = cached {
            h.refresh(&generation_dir, false)?;
            return Ok(Some(h));
        }
        let mtime = meta_mtime(&generation_dir);
        let index = Index::open_in_dir(&generation_dir)?;
        register_tokenizers(&index);
        let fields = Fields::resolve(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(8)
            .try_into()?;
        let handle = Arc::new(Handle {
            index,
            reader,
            fields,
            generation,
            meta_mtime: Mutex::new(mtime),
        });
        let mut cache = lock(&self.cache);
        cache.tick += 1;
        let tick = cache.tick;
        if cache.entries.len() >= READER_CACHE_SIZE && !cache.entries.contains_key(&commune) {
            let oldest = cache
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                cache.entries.remove(&oldest);
            }
        }
        cache.entries.insert(commune, (handle.clone(), tick));
        Ok(Some(handle))
    }
}

fn payload(seq: i64) -> String {
    serde_json::to_string(&Payload {
        seq,
        schema: SCHEMA_VERSION,
    })
    .unwrap_or_default()
}

fn create_index(dir: &Path) -> Result<Index, SearchError> {
    fs::create_dir_all(dir)?;
    let index = Index::create_in_dir(dir, schema::build_schema())?;
    register_tokenizers(&index);
    Ok(index)
}

/// A first commit so the index opens; no payload: nothing is indexed yet.
fn commit_empty(index: &Index) -> Result<(), SearchError> {
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP_BYTES)?;
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

fn build_into(
    dir: &Path,
    docs: impl Iterator<Item = SearchDoc>,
    up_to_seq: i64,
    progress: &mut impl FnMut(u64),
) -> Result<u64, SearchError> {
    let index = create_index(dir)?;
    let fields = Fields::resolve(&index.schema())?;
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP_BYTES)?;
    let mut count = 0u64;
    for doc in docs {
        writer.add_document(fields.document(&doc))?;
        count += 1;
        if count.is_multiple_of(PROGRESS_EVERY) {
            progress(count);
        }
    }
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&payload(up_to_seq));
    prepared.commit()?;
    writer.wait_merging_threads()?;
    sync_dir(dir)?;
    Ok(count)
}

fn read_current(dir: &Path) -> Result<Option<String>, SearchError> {
    match fs::read_to_string(dir.join(CURRENT_FILE)) {
        Ok(s) => {
            let name = s.trim();
            if name.starts_with("g-") && !name.contains(['/', '\\']) {
                Ok(Some(name.to_owned()))
            } else {
                Err(SearchError::Corrupt(format!(
                    "fichier {CURRENT_FILE} invalide"
                )))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Points `CURRENT` at `generation`: write a temp file, fsync, rename over (atomic).
fn write_current(dir: &Path, generation: &str) -> Result<(), SearchError> {
    let tmp = dir.join(format!("{CURRENT_FILE}.tmp"));
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(generation.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(CURRENT_FILE))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), SearchError> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes generations and unfinished rebuilds other than `current` (crash leftovers).
fn remove_stale_dirs(dir: &Path, current: Option<&str>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale =
            (name.starts_with("tmp-") || name.starts_with("g-")) && Some(name.as_str()) != current;
        if stale
            && entry.path().is_dir()
            && let Err(e) = fs::remove_dir_all(entry.path())
        {
            tracing::warn!(path = %entry.path().display(), error = %e, "could not remove a stale search index");
        }
    }
}

fn exact(field: tantivy::schema::Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// A match competing for a page: better is greater (higher score, then newer, then the
/// lower address, as tantivy breaks ties).
#[derive(Clone, Copy)]
struct Ranked {
    score: f32,
    registered_at: i64,
    address: DocAddress,
}

impl Ranked {
    fn key(&self) -> (f32, i64, std::cmp::Reverse<DocAddress>) {
        (
            self.score,
            self.registered_at,
            std::cmp::Reverse(self.address),
        )
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    }
}

/// The `k` best matches of `query` by score, then newest first, best first.
///
/// tantivy may skip whatever cannot enter the `k` best (block-max WAND, for a term query
/// or a flat union of them): the threshold handed back is just under the `k`-th score, so a match
/// scoring as much as the `k`-th is still seen and its date decides. Matches are not all
/// seen, so they are not counted here.
fn best_by_score_then_date(
    searcher: &tantivy::Searcher,
    query: &dyn Query,
    k: usize,
) -> Result<Vec<(f32, DocAddress)>, SearchError> {
    let weight = query.weight(tantivy::query::EnableScoring::enabled_from_searcher(
        searcher,
    ))?;
    let mut best = Best::new(k);
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let segment = u32::try_from(ord).unwrap_or(u32::MAX);
        let dates = reader.fast_fields().i64("registered_at")?;
        let alive = reader.alive_bitset();
        weight.for_each_pruning(best.threshold(), reader, &mut |doc, score| {
            if !alive.is_some_and(|a| a.is_deleted(doc)) && best.admits(score) {
                best.offer(Ranked {
                    score,
                    registered_at: dates.first(doc).unwrap_or(i64::MIN),
                    address: DocAddress::new(segment, doc),
                });
            }
            best.threshold()
        })?;
    }
    let mut ranked: Vec<Ranked> = best.heap.into_iter().map(|r| r.0).collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ranked.into_iter().map(|r| (r.score, r.address)).collect())
}

/// The `k` best matches met so far, the worst on top.
struct Best {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Ranked>>,
    k: usize,
}

impl Best {
    fn new(k: usize) -> Self {
        Best {
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
            k,
        }
    }

    /// Whether a match of this score may enter (depending on its date when it equals the
    /// `k`-th).
    fn admits(&self, score: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|worst| score >= worst.0.score)
    }

    fn offer(&mut self, ranked: Ranked) {
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(ranked));
        } else if self.heap.peek().is_some_and(|worst| ranked > worst.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(ranked));
        }
    }

    /// Scores at or under this cannot enter: just under the `k`-th score once there are
    /// `k`, so that an equal score still competes on its date.
    fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.0.score.next_down(),
            _ => f32::MIN,
        }
    }
}

fn filters(f: &Fields, q: &SearchQuery) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    for (field, value) in [
        (f.status, &q.status),
        (f.channel, &q.channel),
        (f.direction, &q.direction),
        (f.doctype, &q.doctype),
    ] {
        if let Some(v) = value {
            out.push(exact(field, v));
        }
    }
    if let Some(service) = q.service_id {
        out.push(exact(f.service_id, &service.to_string()));
    }
    if q.arrived_from.is_some() || q.arrived_before.is_some() {
        let day = |d: NaiveDate| Term::from_field_i64(f.arrival_day, day_number(d));
        let lower = q
            .arrived_from
            .map_or(Bound::Unbounded, |d| Bound::Included(day(d)));
        let upper = q
            .arrived_before
            .map_or(Bound::Unbounded, |d| Bound::Excluded(day(d)));
        out.push(Box::new(RangeQuery::new(lower, upper)));
    }
    if let Some(day) = q.late_on {
        out.push(Box::new(TermQuery::new(
            Term::from_field_bool(f.open, true),
            IndexRecordOption::Basic,
        )));
        out.push(Box::new(RangeQuery::new(
            Bound::Unbounded,
            Bound::Excluded(Term::from_field_i64(f.due_day, day_number(day))),
        )));
    }
    if let Some(viewer) = q.viewer {
        out.push(Box::new(BooleanQuery::union(vec![
            Box::new(TermQuery::new(
                Term::from_field_bool(f.confidential, false),
                IndexRecordOption::Basic,
            )),
            exact(f.allowed, &viewer.to_string()),
        ])));
    }
    out
}

/// The best snippet over the text fields: the one highlighting the most distinct words
/// (ties: subject, body, extracted text, notes, contacts); else the start of the subject.
fn snippet(
    doc: &TantivyDocument,
    f: &Fields,
    generators: &[(tantivy::schema::Field, SnippetGenerator, usize)],
) -> String {
    let mut best: Option<(usize, String)> = None;
    for (field, generator, words) in generators {
        let Some(text) = doc.get_first(*field).and_then(|v| v.as_str()) else {
            continue;
        };
        let mut snip = generator.snippet(text);
        let distinct: BTreeSet<String> = snip
            .highlighted()
            .iter()
            .filter_map(|r| snip.fragment().get(r.clone()))
            .map(str::to_lowercase)
            .collect();
        if distinct.is_empty() || best.as_ref().is_some_and(|(n, _)| *n >= distinct.len()) {
            continue;
        }
        snip.set_snippet_prefix_postfix("<mark>", "</mark>");
        let complete = distinct.len() >= *words;
        best = Some((distinct.len(), snip.to_html()));
        // Every word of the query is highlighted: no later field can show more (fields
        // come by weight, the subject first), and each snippet costs a pass over its text.
        if complete {
            break;
        }
    }
    if let Some((_, html)) = best {
        return html;
    }
    let text = [f.subject, f.body, f.extracted_text]
        .into_iter()
        .filter_map(|field| doc.get_first(field).and_then(|v| v.as_str()))
        .find(|s| !s.trim().is_empty())
        .unwrap_or("");
    escape_html(&truncate_chars(text.trim(), SNIPPET_CHARS))
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let head = &text[..cut];
            let head = head.rfind(char::is_whitespace).map_or(head, |i| &head[..i]);
            format!("{}…", head.trim_end())
        }
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
