//! Citizens: public request forms, acknowledgements (accusé d'enregistrement and accusé de
//! réception), the tracking link, missing documents (L114-5) and replies by email.
//!
//! A request from a public form is registered like any other item (same numbering, same
//! journal), with a tracking link written in the same transaction. Acknowledgements and
//! replies are emails queued in the outbox (see `outbox`) in the transaction of the change
//! they report, and shown in the item's public thread (`item_messages`), which is all the
//! citizen sees of the item: internal notes never leave the mairie.

mod acknowledgements;
mod forms;
mod forwarding;
mod limiter;
mod missing_documents;
mod proof_of_work;
mod replies;
mod tracking;
pub mod views;

pub use acknowledgements::{Acknowledgeable, NoAcknowledgement};
pub use forms::refused_files;
pub use forwarding::{CompetentAuthority, forwarding_notice};
pub use limiter::{Bucket, wait_text};
pub use proof_of_work::{POW_MAX_AGE_SECS, PowRefusal};
pub use tracking::token_hash;

use chrono::{DateTime, Duration, Utc};
use parapheur_domain::Commune;
use parapheur_domain::clock::utc_offset_minutes;
use parapheur_domain::item::Item;
use parapheur_domain::request_form::{FieldError, RequestForm};
use parapheur_store::citizens::{ItemMessage, RequestFormRow};
use parapheur_store::items::Attachment;
use uuid::Uuid;

use crate::{Actor, AppError};

/// The actor of what citizens do on the public pages.
pub const CITIZEN: Actor = Actor::System("citoyen");

/// A form as the public pages show it.
#[derive(Debug, Clone)]
pub struct PublicForm {
    pub row: RequestFormRow,
    pub form: RequestForm,
}

/// A file sent with a request or an answer, as received.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field it was sent for ("" for an answer on the tracking page).
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Why a submission was refused: the fields to correct, or another reason.
#[derive(Debug)]
pub enum SubmitError {
    Fields(Vec<FieldError>),
    App(AppError),
}

impl From<AppError> for SubmitError {
    fn from(e: AppError) -> Self {
        SubmitError::App(e)
    }
}

impl From<parapheur_store::StoreError> for SubmitError {
    fn from(e: parapheur_store::StoreError) -> Self {
        SubmitError::App(e.into())
    }
}

/// What [`App::print_acknowledgements`] did: one PDF with every printed letter, the
/// items now recorded as acknowledged by post, and those left out with the reason.
#[derive(Debug)]
pub struct PrintedAcknowledgements {
    pub pdf: Option<Vec<u8>>,
    pub printed: Vec<Item>,
    pub refused: Vec<(Item, String)>,
}

/// A request registered from a public form.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub item: Item,
    /// The citizen's tracking link (the only place the token appears in clear).
    pub tracking_url: String,
}

/// What a citizen sees behind the tracking link.
#[derive(Debug, Clone)]
pub struct TrackingView {
    pub commune: Commune,
    pub item: Item,
    pub messages: Vec<ItemMessage>,
    /// The attachments the thread mentions (never the item's other files).
    pub attachments: Vec<Attachment>,
    pub service_name: Option<String>,
}

/// A new form, or the new version of one (by its code).
#[derive(Debug, Clone)]
pub struct FormInput {
    pub code: String,
    pub title: String,
    pub intro: String,
    pub doctype_code: Option<String>,
    pub service_id: Option<Uuid>,
    pub fields_json: String,
    pub consent: String,
    pub active: bool,
}

/// A new reply template, or the new version of one (by its code).
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub code: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub active: bool,
}

/// Files on public pages: at most this many per request or answer.
pub const MAX_UPLOADS: usize = 10;
/// And at most this big each (R112-9-1 says nothing; 20 MB holds a scanned file).
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// A citizen's message on the tracking page.
const MAX_ANSWER_CHARS: usize = 10_000;

fn not_found(what: &str) -> AppError {
    AppError::Store(parapheur_store::StoreError::not_found(what))
}

fn local_now(now: DateTime<Utc>, commune: &Commune) -> chrono::NaiveDateTime {
    (now + Duration::minutes(utc_offset_minutes(now, commune.zone()))).naive_utc()
}
