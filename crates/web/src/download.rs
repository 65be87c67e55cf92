//! Headers of the files the server hands out: their name in `Content-Disposition` (RFC 6266)
//! and the percent-encoding of values put in URLs, one way each.

use axum::http::HeaderValue;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What RFC 5987 lets through unencoded in `filename*` (its `attr-char`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// What a value in a query string keeps unencoded (paths keep their slashes).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `inline` or `attachment`, with the file's real name in `filename*` (UTF-8: "Déclaration
/// de travaux.pdf" stays so in the browser) and an ASCII fallback in `filename` for the
/// few clients without RFC 6266.
pub fn content_disposition(inline: bool, filename: &str) -> HeaderValue {
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'É' | 'È' | 'Ê' => 'E',
            'À' | 'Â' => 'A',
            'Ç' => 'C',
            c if c.is_ascii_alphanumeric() || ".-_ ".contains(c) => c,
            _ => '_',
        })
        .collect();
    let value = format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        utf8_percent_encode(filename, ATTR_CHAR)
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// Percent-encodes a value for a query string.
pub fn urlencode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_french_name_survives_and_nothing_breaks_the_header() {
        let v = content_disposition(false, "Déclaration de travaux.pdf");
        assert_eq!(
            v,
            "attachment; filename=\"Declaration de travaux.pdf\"; \
             filename*=UTF-8''D%C3%A9claration%20de%20travaux.pdf"
        );
        // Quotes, semicolons, line breaks and slashes cannot escape the value.
        let v = content_disposition(true, "a\";\r\nb/../c.pdf");
        let text = v.to_str().unwrap();
        assert!(
            text.starts_with(
                "inline; filename=\"a____b_.._c.pdf\"; filename*=UTF-8''a%22%3B%0D%0Ab%2F..%2Fc.pdf"
            ),
            "{text}"
        );
        assert_eq!(urlencode("/courrier/1?x=é"), "/courrier/1%3Fx%3D%C3%A9");
    }
}
