//! Integration tests of the PDF layouts (letters, printed register): one test binary for the crate (one link of the whole stack instead of one per
//! topic), with a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod image_pdf;
mod letter_pdf;
mod register_pdf;

/// The pages of a PDF and the MediaBox of its only page (`[x1, y1, x2, y2]` in points).
fn single_page_media_box(pdf: &[u8]) -> Vec<f32> {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    let pages = document.get_pages();
    assert_eq!(pages.len(), 1, "one page");
    let page = document.get_dictionary(pages[&1]).unwrap();
    page.get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_float().unwrap())
        .collect()
}
