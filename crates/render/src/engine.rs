//! The typst engine shared by every document: a `World` over the embedded fonts, one
//! embedded template as the main source, the data as JSON bytes in `sys.inputs.data`,
//! and a few virtual files (a logo) the template may read.
//!
//! The fonts are loaded once per process ([`FONTS`]); a render builds a small
//! [`DocWorld`] on the stack, so renders on several threads share nothing mutable.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Dict, Duration, Label, Value};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::{LazyHash, PicoStr};
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use crate::RenderError;

/// The embedded fonts (Libertinus Serif, New Computer Modern, DejaVu Sans Mono), indexed
/// once; each face is parsed on first use and then kept.
static FONTS: LazyLock<FontStore> = LazyLock::new(|| {
    let mut store = FontStore::new();
    store.extend(typst_kit::fonts::embedded());
    store
});

/// A file the template can read by path, e.g. `image("/logo.png")`.
///
/// Typst interns every distinct path for the life of the process (at most 65,535), so
/// use a few fixed names (`/logo.png`, `/logo.svg`), not names derived from user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asset {
    /// Absolute path inside the document's virtual root, e.g. `/logo.png`.
    pub(crate) path: String,
    /// The file's bytes (PNG, JPEG, GIF, WebP, SVG, ...).
    pub(crate) bytes: Vec<u8>,
}

/// An embedded `.typ` template, parsed once.
pub(crate) struct Template {
    source: LazyLock<Result<Source, String>>,
}

impl Template {
    /// `init` builds the source, usually with [`template_source`].
    pub(crate) const fn new(init: fn() -> Result<Source, String>) -> Self {
        Self {
            source: LazyLock::new(init),
        }
    }
}

/// The source of an embedded template named `path` (e.g. `/registre.typ`).
pub(crate) fn template_source(path: &str, text: &str) -> Result<Source, String> {
    let vpath = VirtualPath::new(path).map_err(|err| format!("{path} : {err}"))?;
    Ok(Source::new(file_id(vpath), text.to_owned()))
}

fn file_id(vpath: VirtualPath) -> FileId {
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

/// One render's world: borrowed template and assets, its own library (the inputs differ
/// per render), the shared fonts.
struct DocWorld<'a> {
    library: LazyHash<Library>,
    main: &'a Source,
    assets: Vec<(FileId, Bytes)>,
}

impl World for DocWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        FONTS.book()
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(not_found(id))
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main.id() {
            return Ok(Bytes::from_string(self.main.text().to_owned()));
        }
        self.assets
            .iter()
            .find(|(asset, _)| *asset == id)
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| not_found(id))
    }
    fn font(&self, index: usize) -> Option<Font> {
        FONTS.font(index)
    }
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Documents carry their dates in their data; `datetime.today()` is an error.
        None
    }
}

/// Renders in progress. typst memoizes layout in a process-wide cache (comemo) that
/// is only freed by an explicit eviction; a 5,000-row register fills it with several
/// hundred megabytes. The last render to finish empties it, so an idle server holds nothing.
/// (A render starting at that moment only loses its first cache entries: slower,
/// never wrong.)
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if IN_FLIGHT.fetch_sub(1, Ordering::SeqCst) == 1 {
            typst::comemo::evict(0);
        }
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}

/// Where a labelled element was placed: its page (from 1) and its top-left corner in
/// points from the top left of the page, with the page's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placed {
    pub page: usize,
    pub x: f64,
    pub y: f64,
    pub page_width: f64,
    pub page_height: f64,
}

/// [`render_pdf`], also telling where the element labelled `label` landed (if it is in
/// the document exactly once).
pub(crate) fn render_pdf_locating(
    template: &Template,
    data: Vec<u8>,
    assets: Vec<Asset>,
    created: DateTime<FixedOffset>,
    tagged: bool,
    label: &str,
) -> Result<(Vec<u8>, Option<Placed>), RenderError> {
    let _in_flight = InFlight::enter();
    let (document, _warnings) = layout_uncached(template, data, assets)?;
    let placed = locate(&document, label);
    Ok((pdf(&document, created, tagged)?, placed))
}

fn locate(document: &PagedDocument, label: &str) -> Option<Placed> {
    let label = Label::new(PicoStr::intern(label))?;
    let introspector = document.introspector();
    let element = introspector.elements().query_label(label).ok()?;
    let position = introspector.position(element.location()?)?;
    let page = document.pages().get(position.page.get() - 1)?;
    let size = page.frame.size();
    Some(Placed {
        page: position.page.get(),
        x: position.point.x.to_pt(),
        y: position.point.y.to_pt(),
        page_width: size.x.to_pt(),
        page_height: size.y.to_pt(),
    })
}

/// Lays out `template` with `data` and exports it: see [`layout`] and [`pdf`].
pub(crate) fn render_pdf(
    template: &Template,
    data: Vec<u8>,
    assets: Vec<Asset>,
    created: DateTime<FixedOffset>,
    tagged: bool,
) -> Result<Vec<u8>, RenderError> {
    let _in_flight = InFlight::enter();
    let (document, _warnings) = layout_uncached(template, data, assets)?;
    pdf(&document, created, tagged)
}

/// Lays out `template` with `data` (JSON bytes, read in typst as
/// `json(sys.inputs.data)`). Returns the pages and the warnings as text.
#[cfg(test)]
pub(crate) fn layout(
    template: &Template,
    data: Vec<u8>,
    assets: Vec<Asset>,
) -> Result<(PagedDocument, Vec<String>), RenderError> {
    let _in_flight = InFlight::enter();
    layout_uncached(template, data, assets)
}

/// [`layout`] without the cache eviction at the end.
fn layout_uncached(
    template: &Template,
    data: Vec<u8>,
    assets: Vec<Asset>,
) -> Result<(PagedDocument, Vec<String>), RenderError> {
    let main = template
        .source
        .as_ref()
        .map_err(|err| RenderError::Layout(err.clone()))?;
    let mut inputs = Dict::new();
    inputs.insert("data".into(), Value::Bytes(Bytes::new(data)));
    let mut files = Vec::with_capacity(assets.len());
    for asset in assets {
        let vpath = VirtualPath::new(&asset.path).map_err(|err| RenderError::Asset {
            path: asset.path.clone(),
            reason: err.to_string(),
        })?;
        files.push((file_id(vpath), Bytes::new(asset.bytes)));
    }
    let world = DocWorld {
        library: LazyHash::new(Library::builder().with_inputs(inputs).build()),
        main,
        assets: files,
    };
    let warned = typst::compile::<PagedDocument>(&world);
    let warnings = warned
        .warnings
        .iter()
        .map(|diag| describe(&world, diag))
        .collect();
    match warned.output {
        Ok(document) => Ok((document, warnings)),
        Err(errors) => Err(RenderError::Layout(describe_all(&world, &errors))),
    }
}

/// Exports laid-out pages as PDF/A-2b, dated `created` (the XMP and Info dates).
///
/// `tagged` adds the structure tree screen readers use. It is worth it for a letter; on
/// a long table it makes the file about 19 times larger and the export 2.5 times slower
/// (one structure element per cell), and PDF/A-2b does not require it.
pub(crate) fn pdf(
    document: &PagedDocument,
    created: DateTime<FixedOffset>,
    tagged: bool,
) -> Result<Vec<u8>, RenderError> {
    let standards = PdfStandards::new(&[PdfStandard::A_2b])
        .map_err(|err| RenderError::Pdf(err.message().to_string()))?;
    let options = PdfOptions {
        timestamp: Some(timestamp(created)?),
        standards,
        tagged,
        ..PdfOptions::default()
    };
    typst_pdf::pdf(document, &options).map_err(|errors| {
        RenderError::Pdf(
            errors
                .iter()
                .map(|diag| diag_text(diag, None))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

fn timestamp(at: DateTime<FixedOffset>) -> Result<Timestamp, RenderError> {
    let datetime = u8::try_from(at.month())
        .ok()
        .zip(u8::try_from(at.day()).ok())
        .and_then(|(month, day)| {
            Datetime::from_ymd_hms(
                at.year(),
                month,
                day,
                u8::try_from(at.hour()).ok()?,
                u8::try_from(at.minute()).ok()?,
                u8::try_from(at.second()).ok()?,
            )
        })
        .ok_or(RenderError::Date)?;
    Timestamp::new_local(datetime, at.offset().local_minus_utc() / 60).ok_or(RenderError::Date)
}

fn describe_all(world: &dyn World, diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .map(|diag| describe(world, diag))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `file:line:col: message (hint: ...)`, for logs and for the developer of a template.
fn describe(world: &dyn World, diag: &SourceDiagnostic) -> String {
    let place = diag.span.id().and_then(|id| {
        let source = world.source(id).ok()?;
        let range = world.range(diag.span)?;
        let (line, col) = source.lines().byte_to_line_column(range.start)?;
        Some(format!(
            "{}:{}:{}",
            id.vpath().get_with_slash(),
            line + 1,
            col + 1
        ))
    });
    diag_text(diag, place)
}

fn diag_text(diag: &SourceDiagnostic, place: Option<String>) -> String {
    let mut text = String::new();
    if let Some(place) = place {
        let _ = write!(text, "{place}: ");
    }
    if diag.severity == Severity::Warning {
        text.push_str("avertissement : ");
    }
    text.push_str(&diag.message);
    for hint in &diag.hints {
        let _ = write!(text, " (indice : {})", hint.v);
    }
    text
}
