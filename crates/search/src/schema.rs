//! Index schema and French analysis.

use tantivy::TantivyDocument;
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, StopWordFilter, TextAnalyzer,
};

use crate::{SearchDoc, SearchError};

/// Bumped whenever the schema or the analysis changes: an index written with another
/// version reports `indexed_seq() == None`, so the application rebuilds it.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// Tokenizer of the full-text fields: French stop words, stemming, then accent folding.
pub(crate) const FRENCH: &str = "fr_stem_folded";
/// Tokenizer of the chrono field: the whole value, lowercased.
pub(crate) const CHRONO: &str = "chrono_exact";

/// The French analyzer. Order matters (measured, see STACK.md): folding before stemming
/// made "adresse" miss "adressée".
pub(crate) fn french_analyzer() -> TextAnalyzer {
    let stop_words = StopWordFilter::new(Language::French)
        .unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new()));
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(stop_words)
        .filter(Stemmer::new(Language::French))
        .filter(AsciiFoldingFilter)
        .build()
}

fn chrono_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .build()
}

/// Registers our tokenizers on an index (they are not persisted with it).
pub(crate) fn register_tokenizers(index: &tantivy::Index) {
    index.tokenizers().register(FRENCH, french_analyzer());
    index.tokenizers().register(CHRONO, chrono_analyzer());
}

pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    let french = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(FRENCH)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let chrono = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(CHRONO)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_stored();
    // Every full-text field in one, each as many times as its boost: what plain words are
    // counted and ranked on (BM25F), see `Fields::text_fields`. tantivy leaves a gap
    // between a field's values, so a phrase never spans two of them.
    let all_text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(FRENCH)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let day = NumericOptions::default().set_indexed().set_fast();

    b.add_text_field("item_id", STRING | STORED);
    b.add_text_field("chrono", chrono);
    b.add_text_field("subject", french.clone());
    b.add_text_field("body", french.clone());
    b.add_text_field("extracted_text", french.clone());
    b.add_text_field("notes", french.clone());
    b.add_text_field("contacts", french);
    b.add_text_field("all_text", all_text);
    b.add_text_field("status", STRING);
    b.add_text_field("channel", STRING);
    b.add_text_field("direction", STRING);
    b.add_text_field("doctype", STRING);
    b.add_text_field("service_id", STRING);
    b.add_i64_field("arrival_day", day.clone());
    b.add_i64_field("due_day", day);
    b.add_i64_field(
        "registered_at",
        NumericOptions::default().set_fast().set_stored(),
    );
    b.add_bool_field("open", INDEXED);
    b.add_bool_field("confidential", INDEXED);
    b.add_text_field("allowed", STRING);
    b.build()
}

/// Field handles, resolved once per opened index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub item_id: Field,
    pub chrono: Field,
    pub subject: Field,
    pub body: Field,
    pub extracted_text: Field,
    pub notes: Field,
    pub contacts: Field,
    pub all_text: Field,
    pub status: Field,
    pub channel: Field,
    pub direction: Field,
    pub doctype: Field,
    pub service_id: Field,
    pub arrival_day: Field,
    pub due_day: Field,
    pub registered_at: Field,
    pub open: Field,
    pub confidential: Field,
    pub allowed: Field,
}

impl Fields {
    pub(crate) fn resolve(schema: &Schema) -> Result<Self, SearchError> {
        let f = |name: &str| schema.get_field(name).map_err(SearchError::from);
        Ok(Fields {
            item_id: f("item_id")?,
            chrono: f("chrono")?,
            subject: f("subject")?,
            body: f("body")?,
            extracted_text: f("extracted_text")?,
            notes: f("notes")?,
            contacts: f("contacts")?,
            all_text: f("all_text")?,
            status: f("status")?,
            channel: f("channel")?,
            direction: f("direction")?,
            doctype: f("doctype")?,
            service_id: f("service_id")?,
            arrival_day: f("arrival_day")?,
            due_day: f("due_day")?,
            registered_at: f("registered_at")?,
            open: f("open")?,
            confidential: f("confidential")?,
            allowed: f("allowed")?,
        })
    }

    /// Full-text fields with their boost, in snippet preference order.
    pub(crate) fn text_fields(&self) -> [(Field, f32); 5] {
        [
            (self.subject, 3.0),
            (self.body, 1.0),
            (self.extracted_text, 1.0),
            (self.notes, 1.0),
            (self.contacts, 2.0),
        ]
    }

    /// How many times each full-text field is written into `all_text`: its boost.
    fn all_text_repeats(&self, field: Field) -> usize {
        self.text_fields()
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(1, |(_, boost)| boost.round() as usize)
    }

    pub(crate) fn document(self, d: &SearchDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.item_id, d.item_id.to_string());
        doc.add_text(self.chrono, &d.chrono);
        for (field, value) in [
            (self.subject, &d.subject),
            (self.body, &d.body),
            (self.extracted_text, &d.extracted_text),
            (self.notes, &d.notes),
            (self.contacts, &d.contacts),
        ] {
            if !value.is_empty() {
                doc.add_text(field, value);
                for _ in 0..self.all_text_repeats(field) {
                    doc.add_text(self.all_text, value);
                }
            }
        }
        doc.add_text(self.status, &d.status);
        doc.add_text(self.channel, &d.channel);
        doc.add_text(self.direction, &d.direction);
        if let Some(doctype) = &d.doctype {
            doc.add_text(self.doctype, doctype);
        }
        if let Some(service) = d.service_id {
            doc.add_text(self.service_id, service.to_string());
        }
        doc.add_i64(self.arrival_day, day_number(d.arrival_date));
        if let Some(due) = d.due_date {
            doc.add_i64(self.due_day, day_number(due));
        }
        doc.add_i64(self.registered_at, d.registered_at.timestamp_micros());
        doc.add_bool(self.open, d.open);
        doc.add_bool(self.confidential, d.confidential);
        for who in &d.allowed {
            doc.add_text(self.allowed, who.to_string());
        }
        doc
    }
}

/// A date as a day number, for exact day filters.
pub(crate) fn day_number(date: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(date.num_days_from_ce())
}
