//! An image received as is (a scan sent as PNG or JPEG, a photo joined to a request) laid
//! out as a PDF/A-2b document, for the archives: long-term files should be PDF/A, and an
//! image inside a PDF/A keeps its pixels untouched (typst embeds a JPEG as it is, a PNG
//! losslessly).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::RenderError;
use crate::engine::{self, Asset, Template, template_source};

static TEMPLATE: Template =
    Template::new(|| template_source("/image.typ", include_str!("../templates/image.typ")));

/// The raster formats typst decodes. TIFF is not one of them: such scans stay as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    /// The format of a file of this media type, if it can be laid out.
    pub fn from_media_type(media_type: &str) -> Option<ImageFormat> {
        match media_type {
            "image/png" => Some(ImageFormat::Png),
            "image/jpeg" => Some(ImageFormat::Jpeg),
            "image/gif" => Some(ImageFormat::Gif),
            "image/webp" => Some(ImageFormat::Webp),
            _ => None,
        }
    }

    /// The virtual file the template reads: a fixed name per format (see `engine::Asset`).
    fn path(self) -> &'static str {
        match self {
            ImageFormat::Png => "/image.png",
            ImageFormat::Jpeg => "/image.jpg",
            ImageFormat::Gif => "/image.gif",
            ImageFormat::Webp => "/image.webp",
        }
    }
}

/// An image to lay out, with the title its PDF carries (the file's name).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDocument {
    pub title: String,
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    /// The PDF's creation date (PDF/A needs one).
    pub generated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ImageDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageDocument")
            .field("title", &self.title)
            .field("format", &self.format)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

/// The image on a page 210 mm wide and as high as its proportions need, as PDF/A-2b.
/// Bytes that are not an image of `format` fail with [`RenderError::Layout`].
///
/// CPU-bound: from async code, call it inside `tokio::task::spawn_blocking`.
pub fn image_pdf(doc: &ImageDocument) -> Result<Vec<u8>, RenderError> {
    let path = doc.format.path();
    let data = serde_json::to_vec(&serde_json::json!({ "title": doc.title, "path": path }))?;
    let asset = Asset {
        path: path.to_owned(),
        bytes: doc.bytes.clone(),
    };
    // Untagged: the page holds one image, with nothing for a screen reader to structure.
    engine::render_pdf(
        &TEMPLATE,
        data,
        vec![asset],
        doc.generated_at.fixed_offset(),
        false,
    )
}
