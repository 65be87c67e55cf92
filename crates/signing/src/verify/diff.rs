//! What changed between a signed revision and the final document, and whether the
//! signature's permissions (ISO 32000-2 12.8.2.2 DocMDP, PAdES) allow it.
//!
//! The two documents are walked side by side from their trailers: the catalog, the page
//! tree page by page (so a new catalog or a new page tree under new object numbers is
//! compared by content, not by object number), each page's annotations, the form fields
//! by name, the AcroForm, the DSS. Every difference found is a [`Change`] with the least
//! permission that allows it. Then every object of the signed revision that was redefined
//! later and not examined by that walk is a forbidden change too (as pyHanko does: a
//! replaced object must be explained).
use std::collections::{BTreeMap, HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::pdf::{all_fields, decode_text, is_sig_field};

/// The least permission a change needs, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Signature maintenance: DSS, document time-stamp, invisible signature field,
    /// document information and metadata. Allowed even by DocMDP P=1.
    Lta,
    /// Form filling and signing (DocMDP P=2, and what an approval signature allows).
    FormFill,
    /// Annotations (DocMDP P=3 only).
    Annotation,
    /// Never allowed.
    Forbidden,
}

/// One difference, described in French.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub level: Level,
    pub text: String,
    /// A new visible signature field: allowed after an approval signature, not after a
    /// certification (pyHanko's default, stricter than Acrobat: it is not form filling).
    pub new_visible_signature_field: bool,
    /// The form field this change fills or signs, for field locks (FieldMDP).
    pub field: Option<String>,
    /// Allowed even when that field is locked (an invisible signature or time-stamp).
    pub valid_when_locked: bool,
}

/// What a signature allows after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permission {
    /// DocMDP P: 1 no change, 2 form filling and signing, 3 also annotations.
    pub level: u8,
    /// A certification signature (DocMDP) precedes or is this signature.
    pub certified: bool,
}

impl Permission {
    pub fn allows(&self, c: &Change) -> bool {
        match c.level {
            Level::Lta => true,
            Level::FormFill => {
                self.level >= 2 && !(self.certified && c.new_visible_signature_field)
            }
            // ISO 32000-2 lets a P=3 certification allow annotations; pyHanko, the reference
            // validator here, does not, and a verifier must never call valid what the
            // reference calls modified: an added annotation is a change after the signature.
            Level::Annotation => false,
            Level::Forbidden => false,
        }
    }
}

/// Keys of a field (or widget) that filling it in may change (pyHanko's list).
const VALUE_KEYS: [&[u8]; 8] = [b"AP", b"AS", b"V", b"F", b"DA", b"Q", b"Ff", b"Type"];
/// Keys of the catalog compared elsewhere or allowed to change.
const CATALOG_EXEMPT: [&[u8]; 7] = [
    b"Pages",
    b"AcroForm",
    b"DSS",
    b"Metadata",
    b"Extensions",
    b"MarkInfo",
    b"Version",
];
/// Keys of the AcroForm that adding a signature or filling the form may change.
const FORM_EXEMPT: [&[u8]; 6] = [
    b"Fields",
    b"DR",
    b"DA",
    b"Q",
    b"NeedAppearances",
    b"SigFlags",
];
const INHERITABLE: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

static NULL: Object = Object::Null;

fn resolve<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    let mut cur = o;
    for _ in 0..16 {
        match cur {
            Object::Reference(id) => match doc.objects.get(id) {
                Some(x) => cur = x,
                None => return &NULL,
            },
            other => return other,
        }
    }
    &NULL
}

fn get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    d.get(key).ok().map(|o| resolve(doc, o))
}

fn ref_id(o: Option<&Object>) -> Option<ObjectId> {
    match o {
        Some(Object::Reference(id)) => Some(*id),
        _ => None,
    }
}

fn name_of(d: &Dictionary, key: &[u8]) -> Option<String> {
    match d.get(key) {
        Ok(Object::Name(n)) => Some(String::from_utf8_lossy(n).into_owned()),
        _ => None,
    }
}

/// The two documents compared, and where each page sits in each page tree.
pub(crate) struct Docs<'a> {
    pub old: &'a Document,
    pub new: &'a Document,
    old_pages: HashMap<ObjectId, usize>,
    new_pages: HashMap<ObjectId, usize>,
    old_root: Option<ObjectId>,
    new_root: Option<ObjectId>,
}

impl<'a> Docs<'a> {
    pub fn new(old: &'a Document, new: &'a Document) -> Self {
        let index = |doc: &Document| -> HashMap<ObjectId, usize> {
            pages(doc, &mut HashSet::new())
                .into_iter()
                .enumerate()
                .filter_map(|(i, (id, _))| id.map(|id| (id, i)))
                .collect()
        };
        Docs {
            old,
            new,
            old_pages: index(old),
            new_pages: index(new),
            old_root: ref_id(old.trailer.get(b"Root").ok()),
            new_root: ref_id(new.trailer.get(b"Root").ok()),
        }
    }
}

/// Deep equality of `a` in the old document and `b` in the new one, following references
/// on both sides (object numbers do not matter, content does). A reference to a page
/// (a destination, an annotation's /P) equals one to the page at the same position, and
/// one to the catalog (a signature reference's /Data) one to the catalog: the pages and
/// the catalog are compared on their own.
pub(crate) fn same(docs: &Docs, a: &Object, b: &Object) -> bool {
    eq(docs, a, b, &mut HashSet::new(), 0)
}

fn eq(
    docs: &Docs,
    a: &Object,
    b: &Object,
    memo: &mut HashSet<(ObjectId, ObjectId)>,
    depth: usize,
) -> bool {
    if depth > 200 {
        return false;
    }
    if let (Object::Reference(ia), Object::Reference(ib)) = (a, b) {
        if let (Some(x), Some(y)) = (docs.old_pages.get(ia), docs.new_pages.get(ib)) {
            return x == y;
        }
        let (ra, rb) = (Some(*ia) == docs.old_root, Some(*ib) == docs.new_root);
        if ra || rb {
            return ra && rb;
        }
        if !memo.insert((*ia, *ib)) {
            return true; // already being compared higher up (a cycle): assume equal
        }
    }
    let (a, b) = (resolve(docs.old, a), resolve(docs.new, b));
    match (a, b) {
        (Object::Null, Object::Null) => true,
        (Object::Boolean(x), Object::Boolean(y)) => x == y,
        (Object::Integer(x), Object::Integer(y)) => x == y,
        (Object::Real(x), Object::Real(y)) => x == y,
        (Object::Name(x), Object::Name(y)) => x == y,
        (Object::String(x, _), Object::String(y, _)) => x == y,
        (Object::Array(x), Object::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| eq(docs, p, q, memo, depth + 1))
        }
        (Object::Dictionary(x), Object::Dictionary(y)) => dict_eq(docs, x, y, memo, depth),
        (Object::Stream(x), Object::Stream(y)) => {
            x.content == y.content && dict_eq(docs, &x.dict, &y.dict, memo, depth)
        }
        _ => false,
    }
}

fn dict_eq(
    docs: &Docs,
    x: &Dictionary,
    y: &Dictionary,
    memo: &mut HashSet<(ObjectId, ObjectId)>,
    depth: usize,
) -> bool {
    x.len() == y.len()
        && x.iter().all(|(k, v)| match y.get(k) {
            Ok(w) => eq(docs, v, w, memo, depth + 1),
            Err(_) => false,
        })
}

/// Keys whose values differ between two dictionaries (added and removed keys included).
fn diff_keys(docs: &Docs, x: &Dictionary, y: &Dictionary) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = x.iter().map(|(k, _)| k.clone()).collect();
    for (k, _) in y.iter() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.into_iter()
        .filter(|k| match (x.get(k), y.get(k)) {
            (Ok(a), Ok(b)) => !same(docs, a, b),
            _ => true,
        })
        .collect()
}

fn show_keys(keys: &[Vec<u8>]) -> String {
    keys.iter()
        .map(|k| format!("/{}", String::from_utf8_lossy(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is wrong with a DSS's structure (pyHanko's checks): only /Type, /VRI, /Certs,
/// /CRLs, /OCSPs; arrays of streams; VRI keys of 40 hexadecimal digits, each a dictionary
/// of /Type, /TU, /TS, /Cert, /CRL, /OCSP.
fn dss_problem(doc: &Document, dss: &Dictionary) -> Option<String> {
    let streams = |o: &Object| match resolve(doc, o) {
        Object::Array(a) => a.iter().all(|x| {
            matches!(x, Object::Reference(_)) && matches!(resolve(doc, x), Object::Stream(_))
        }),
        _ => false,
    };
    for (k, v) in dss.iter() {
        match k.as_slice() {
            b"Type" => {}
            b"Certs" | b"CRLs" | b"OCSPs" if streams(v) => {}
            b"VRI" => {
                let Object::Dictionary(vri) = resolve(doc, v) else {
                    return Some("/VRI n'est pas un dictionnaire".into());
                };
                for (hash, entry) in vri.iter() {
                    if hash.len() != 40
                        || !hash
                            .iter()
                            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                    {
                        return Some("clé /VRI mal formée".into());
                    }
                    let Object::Dictionary(e) = resolve(doc, entry) else {
                        return Some("entrée /VRI qui n'est pas un dictionnaire".into());
                    };
                    for (ek, ev) in e.iter() {
                        match ek.as_slice() {
                            b"Type" | b"TU" | b"TS" => {}
                            b"Cert" | b"CRL" | b"OCSP" if streams(ev) => {}
                            _ => {
                                return Some(format!(
                                    "entrée /VRI inattendue (/{})",
                                    String::from_utf8_lossy(ek)
                                ));
                            }
                        }
                    }
                }
            }
            _ => {
                return Some(format!(
                    "entrée inattendue (/{})",
                    String::from_utf8_lossy(k)
                ));
            }
        }
    }
    None
}

/// A field or widget without its links in the form tree (compared on their own).
fn strip(d: &Dictionary) -> Dictionary {
    let mut d = d.clone();
    d.remove(b"Kids");
    d.remove(b"Parent");
    d
}

/// Shallow equality: references compared by number (not followed), strings by bytes
/// (literal or hexadecimal alike), streams by dictionary and bytes.
fn shallow_eq(a: &Object, b: &Object) -> bool {
    match (a, b) {
        (Object::String(x, _), Object::String(y, _)) => x == y,
        (Object::Array(x), Object::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| shallow_eq(p, q))
        }
        (Object::Dictionary(x), Object::Dictionary(y)) => shallow_dict_eq(x, y),
        (Object::Stream(x), Object::Stream(y)) => {
            x.content == y.content && shallow_dict_eq(&x.dict, &y.dict)
        }
        _ => a == b,
    }
}

fn shallow_dict_eq(x: &Dictionary, y: &Dictionary) -> bool {
    x.len() == y.len()
        && x.iter()
            .all(|(k, v)| y.get(k).is_ok_and(|w| shallow_eq(v, w)))
}

/// The leaves of the page tree, in order: (object number, the page dictionary with its
/// inherited attributes filled in and /Parent removed).
fn pages(doc: &Document, explained: &mut HashSet<ObjectId>) -> Vec<(Option<ObjectId>, Dictionary)> {
    let mut out = Vec::new();
    let Ok(catalog) = doc.catalog() else {
        return out;
    };
    let Ok(root) = catalog.get(b"Pages") else {
        return out;
    };
    let mut stack: Vec<(Object, Dictionary, usize)> = vec![(root.clone(), Dictionary::new(), 0)];
    let mut seen = HashSet::new();
    while let Some((node, inherited, depth)) = stack.pop() {
        if depth > 64 || out.len() > 100_000 {
            break;
        }
        let id = ref_id(Some(&node));
        if let Some(id) = id {
            if !seen.insert(id) {
                continue;
            }
            explained.insert(id);
        }
        let Object::Dictionary(d) = resolve(doc, &node) else {
            continue;
        };
        let is_node = matches!(d.get(b"Type"), Ok(Object::Name(n)) if n == b"Pages")
            || (d.has(b"Kids") && !matches!(d.get(b"Type"), Ok(Object::Name(n)) if n == b"Page"));
        if is_node {
            let mut inh = inherited.clone();
            for k in INHERITABLE {
                if let Ok(v) = d.get(k) {
                    inh.set(k.to_vec(), v.clone());
                }
            }
            if let Object::Array(kids) = resolve(doc, d.get(b"Kids").unwrap_or(&NULL)) {
                for k in kids.iter().rev() {
                    stack.push((k.clone(), inh.clone(), depth + 1));
                }
            }
        } else {
            let mut page = d.clone();
            page.remove(b"Parent");
            for (k, v) in inherited.iter() {
                if !page.has(k) {
                    page.set(k.clone(), v.clone());
                }
            }
            out.push((id, page));
        }
    }
    out
}

/// The form field a widget annotation belongs to: (full name, signature field, signed).
struct FieldOf {
    name: String,
    sig: bool,
    signed: bool,
    /// Its value is a document time-stamp.
    doc_timestamp: bool,
}

fn field_of(doc: &Document, widget: &Dictionary) -> Option<FieldOf> {
    // The widget is the field itself when it has a name, else its /Parent is.
    let mut cur: Dictionary = if widget.has(b"T") || widget.has(b"FT") {
        widget.clone()
    } else {
        match get(doc, widget, b"Parent") {
            Some(Object::Dictionary(p)) => p.clone(),
            _ => return None,
        }
    };
    let mut parts = Vec::new();
    let mut ft = None;
    let mut signed = false;
    let doc_timestamp = is_doc_timestamp(doc, &cur);
    for _ in 0..32 {
        if let Ok(Object::String(s, _)) = cur.get(b"T") {
            parts.push(decode_text(s));
        }
        if ft.is_none() {
            ft = name_of(&cur, b"FT");
        }
        if !signed && cur.has(b"V") {
            signed = !matches!(get(doc, &cur, b"V"), Some(Object::Null) | None);
        }
        match get(doc, &cur, b"Parent") {
            Some(Object::Dictionary(p)) => cur = p.clone(),
            _ => break,
        }
    }
    parts.reverse();
    Some(FieldOf {
        name: parts.join("."),
        sig: ft.as_deref() == Some("Sig"),
        signed,
        doc_timestamp,
    })
}

fn rect_visible(doc: &Document, d: &Dictionary) -> bool {
    let Some(Object::Array(r)) = get(doc, d, b"Rect") else {
        return false;
    };
    let n: Vec<f32> = r
        .iter()
        .filter_map(|o| match resolve(doc, o) {
            Object::Integer(i) => Some(*i as f32),
            Object::Real(f) => Some(*f),
            _ => None,
        })
        .collect();
    n.len() == 4 && (n[0] - n[2]).abs() * (n[1] - n[3]).abs() > 0.0
}

/// A field or any of its widget kids has a non-empty rectangle.
fn field_visible(doc: &Document, d: &Dictionary) -> bool {
    rect_visible(doc, d)
        || matches!(get(doc, d, b"Kids"), Some(Object::Array(kids)) if kids.iter().any(|k| matches!(resolve(doc, k), Object::Dictionary(kd) if rect_visible(doc, kd))))
}

/// Looks like an XMP packet (as pyHanko checks: XML with an x:xmpmeta root, no entities).
fn is_xmp(o: &Object) -> bool {
    let Object::Stream(s) = o else {
        return false;
    };
    let data = s
        .decompressed_content()
        .unwrap_or_else(|_| s.content.clone());
    let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    has(b"adobe:ns:meta/") && !has(b"<!ENTITY")
}

fn is_doc_timestamp(doc: &Document, field: &Dictionary) -> bool {
    matches!(get(doc, field, b"V"), Some(Object::Dictionary(v)) if name_of(v, b"Type").as_deref() == Some("DocTimeStamp"))
}

struct Walk<'a> {
    docs: &'a Docs<'a>,
    old: &'a Document,
    new: &'a Document,
    explained: HashSet<ObjectId>,
    changes: Vec<Change>,
    old_fields: BTreeMap<String, (Option<ObjectId>, Dictionary)>,
}

impl Walk<'_> {
    fn push(&mut self, level: Level, text: String) {
        self.push_change(Change {
            level,
            text,
            new_visible_signature_field: false,
            field: None,
            valid_when_locked: true,
        });
    }

    /// A change to the field `name`; `visible_new`: a new visible signature field.
    fn push_field(&mut self, level: Level, text: String, name: &str, visible_new: bool) {
        self.push_change(Change {
            level,
            text,
            new_visible_signature_field: visible_new,
            field: Some(name.to_owned()),
            valid_when_locked: level == Level::Lta,
        });
    }

    fn push_change(&mut self, new: Change) {
        if let Some(c) = self.changes.iter_mut().find(|c| c.text == new.text) {
            c.level = c.level.max(new.level);
            c.new_visible_signature_field |= new.new_visible_signature_field;
            c.valid_when_locked &= new.valid_when_locked;
            if c.field.is_none() {
                c.field = new.field;
            }
        } else {
            self.changes.push(new);
        }
    }

    fn explain(&mut self, o: Option<&Object>) {
        if let Some(id) = ref_id(o) {
            self.explained.insert(id);
        }
    }

    /// Explains every object reachable from `o` in the old document (for the DSS, whose
    /// content is not displayed and whose structure is checked separately).
    fn explain_tree(&mut self, o: &Object, depth: usize) {
        if depth > 8 {
            return;
        }
        if let Object::Reference(id) = o
            && !self.explained.insert(*id)
        {
            return;
        }
        match resolve(self.old, o) {
            Object::Array(a) => {
                for x in a.clone() {
                    self.explain_tree(&x, depth + 1);
                }
            }
            Object::Dictionary(d) => {
                for (_, x) in d.clone().iter() {
                    self.explain_tree(x, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn trailer_and_catalog(&mut self) {
        let (old, new) = (self.old, self.new);
        let old_info = old.trailer.get(b"Info").ok();
        let new_info = new.trailer.get(b"Info").ok();
        let info_same = match (old_info, new_info) {
            (Some(a), Some(b)) => same(self.docs, a, b),
            (None, None) => true,
            _ => false,
        };
        self.explain(old_info);
        if !info_same {
            self.push(
                Level::Lta,
                "informations du document (/Info) mises à jour".into(),
            );
        }
        self.explain(old.trailer.get(b"Root").ok());
        let (Ok(oc), Ok(nc)) = (old.catalog(), new.catalog()) else {
            self.push(Level::Forbidden, "catalogue du document illisible".into());
            return;
        };
        let keys: Vec<Vec<u8>> = diff_keys(self.docs, oc, nc)
            .into_iter()
            .filter(|k| !CATALOG_EXEMPT.contains(&k.as_slice()))
            .collect();
        for k in keys {
            let what = match k.as_slice() {
                b"OpenAction" | b"AA" => "actions automatiques",
                b"Names" => "noms (pièces jointes, scripts, destinations)",
                b"Perms" => "permissions de la certification",
                b"Outlines" => "signets",
                b"Lang" => "langue",
                b"PageLabels" => "numérotation des pages",
                b"OCProperties" => "calques (contenu optionnel)",
                b"StructTreeRoot" => "structure logique",
                _ => "autre entrée",
            };
            self.push(
                Level::Forbidden,
                format!(
                    "catalogue du document modifié : {what} (/{})",
                    String::from_utf8_lossy(&k)
                ),
            );
        }
        for k in [&b"Extensions"[..], b"MarkInfo", b"Version"] {
            self.explain(oc.get(k).ok());
        }
        // XMP metadata: allowed (as by pyHanko) when it stays a stream.
        let om = oc.get(b"Metadata").ok();
        let nm = nc.get(b"Metadata").ok();
        self.explain(om);
        let meta_same = match (om, nm) {
            (Some(a), Some(b)) => same(self.docs, a, b),
            (None, None) => true,
            _ => false,
        };
        if !meta_same {
            if nm.is_none_or(|m| is_xmp(resolve(new, m))) {
                self.push(Level::Lta, "métadonnées XMP mises à jour".into());
            } else {
                self.push(Level::Forbidden, "métadonnées XMP invalides".into());
            }
        }
        self.dss(oc, nc);
    }

    fn dss(&mut self, oc: &Dictionary, nc: &Dictionary) {
        let new = self.new;
        if let Ok(o) = oc.get(b"DSS") {
            self.explain_tree(&o.clone(), 0);
        }
        let (od, nd) = (oc.get(b"DSS").ok(), nc.get(b"DSS").ok());
        let unchanged = match (od, nd) {
            (Some(a), Some(b)) => same(self.docs, a, b),
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            return;
        }
        match nd.map(|d| resolve(new, d)) {
            Some(Object::Dictionary(d)) => match dss_problem(new, d) {
                None => self.push(
                    Level::Lta,
                    "informations de validation (DSS) ajoutées".into(),
                ),
                Some(p) => self.push(Level::Forbidden, format!("DSS invalide : {p}")),
            },
            None => self.push(
                Level::Forbidden,
                "informations de validation (DSS) supprimées".into(),
            ),
            _ => self.push(Level::Forbidden, "DSS invalide".into()),
        }
    }

    fn page_tree(&mut self) {
        let (old, new) = (self.old, self.new);
        let mut explained = std::mem::take(&mut self.explained);
        let old_pages = pages(old, &mut explained);
        let new_pages = pages(new, &mut HashSet::new());
        self.explained = explained;
        if old_pages.len() != new_pages.len() {
            self.push(
                Level::Forbidden,
                format!(
                    "nombre de pages modifié ({} → {})",
                    old_pages.len(),
                    new_pages.len()
                ),
            );
        }
        for (i, ((_, op), (_, np))) in old_pages.iter().zip(&new_pages).enumerate() {
            let n = i + 1;
            let keys: Vec<Vec<u8>> = diff_keys(self.docs, op, np)
                .into_iter()
                .filter(|k| k != b"Annots")
                .collect();
            if keys.iter().any(|k| k == b"Contents") {
                self.push(Level::Forbidden, format!("contenu de la page {n} modifié"));
            } else if !keys.is_empty() {
                self.push(
                    Level::Forbidden,
                    format!("page {n} modifiée ({})", show_keys(&keys)),
                );
            }
            self.annotations(n, op, np);
        }
    }

    fn annotations(&mut self, n: usize, op: &Dictionary, np: &Dictionary) {
        let (old, new) = (self.old, self.new);
        self.explain(op.get(b"Annots").ok());
        let list = |doc: &Document, d: &Dictionary| -> Vec<Object> {
            match get(doc, d, b"Annots") {
                Some(Object::Array(a)) => a.clone(),
                _ => Vec::new(),
            }
        };
        let (before, after) = (list(old, op), list(new, np));
        let mut matched = vec![false; before.len()];
        for a in &after {
            let hit = before.iter().enumerate().position(|(i, b)| {
                !matched[i]
                    && match (a, b) {
                        (Object::Reference(x), Object::Reference(y)) => x == y,
                        (Object::Reference(_), _) | (_, Object::Reference(_)) => false,
                        _ => same(self.docs, b, a),
                    }
            });
            let Object::Dictionary(ad) = resolve(new, a) else {
                if hit.is_none() {
                    self.push(
                        Level::Forbidden,
                        format!("annotation invalide ajoutée sur la page {n}"),
                    );
                }
                continue;
            };
            match hit {
                Some(i) => {
                    matched[i] = true;
                    self.explain(Some(&before[i]));
                    if !same(self.docs, &before[i], a) {
                        let bd = match resolve(old, &before[i]) {
                            Object::Dictionary(d) => d.clone(),
                            _ => Dictionary::new(),
                        };
                        self.annotation_changed(n, &bd, ad);
                    }
                }
                None => self.annotation_added(n, ad),
            }
        }
        for (i, b) in before.iter().enumerate() {
            if matched[i] {
                continue;
            }
            let text = match resolve(old, b) {
                Object::Dictionary(d) if name_of(d, b"Subtype").as_deref() == Some("Widget") => {
                    let name = field_of(old, d).map(|f| f.name).unwrap_or_default();
                    self.push(
                        Level::Forbidden,
                        format!("champ « {name} » retiré de la page {n}"),
                    );
                    continue;
                }
                Object::Dictionary(d) => format!(
                    "annotation « {} » supprimée de la page {n}",
                    name_of(d, b"Subtype").unwrap_or_default()
                ),
                _ => format!("annotation supprimée de la page {n}"),
            };
            self.push(Level::Annotation, text);
        }
    }

    fn annotation_added(&mut self, n: usize, ad: &Dictionary) {
        let subtype = name_of(ad, b"Subtype").unwrap_or_default();
        if subtype != "Widget" {
            self.push(
                Level::Annotation,
                format!("annotation « {subtype} » ajoutée sur la page {n}"),
            );
            return;
        }
        let Some(f) = field_of(self.new, ad) else {
            self.push(
                Level::Forbidden,
                format!("élément de formulaire sans champ ajouté sur la page {n}"),
            );
            return;
        };
        let old = self.old_fields.get(&f.name).map(|(_, d)| d.clone());
        match (f.sig, old) {
            (true, None) if f.doc_timestamp && !rect_visible(self.new, ad) => {
                self.push_field(
                    Level::Lta,
                    "horodatage du document ajouté".into(),
                    &f.name,
                    false,
                );
            }
            (true, None) => {
                let visible = rect_visible(self.new, ad);
                self.push_field(
                    if visible { Level::FormFill } else { Level::Lta },
                    format!("signature « {} » ajoutée", f.name),
                    &f.name,
                    visible,
                );
            }
            (true, Some(od)) if !od.has(b"V") => self.push_field(
                Level::FormFill,
                format!("signature « {} » apposée dans un champ existant", f.name),
                &f.name,
                false,
            ),
            (true, Some(_)) => self.push(
                Level::Forbidden,
                format!("signature « {} » modifiée après avoir été apposée", f.name),
            ),
            (false, _) => self.push(
                Level::Forbidden,
                format!("champ « {} » ajouté sur la page {n}", f.name),
            ),
        }
    }

    fn annotation_changed(&mut self, n: usize, bd: &Dictionary, ad: &Dictionary) {
        let subtype = name_of(ad, b"Subtype").unwrap_or_default();
        if subtype != "Widget" {
            self.push(
                Level::Annotation,
                format!("annotation « {subtype} » modifiée sur la page {n}"),
            );
            return;
        }
        let keys = diff_keys(self.docs, &strip(bd), &strip(ad));
        let f = field_of(self.new, ad);
        let name = f.as_ref().map(|f| f.name.clone()).unwrap_or_default();
        let was_signed = field_of(self.old, bd).is_some_and(|f| f.sig && f.signed);
        if was_signed {
            self.push(
                Level::Forbidden,
                format!("signature « {name} » modifiée après avoir été apposée"),
            );
        } else if keys.iter().all(|k| VALUE_KEYS.contains(&k.as_slice())) {
            let text = if f.as_ref().is_some_and(|f| f.sig && f.signed) {
                format!("signature « {name} » apposée dans un champ existant")
            } else {
                format!("apparence du champ « {name} » modifiée")
            };
            self.push_field(Level::FormFill, text, &name, false);
        } else {
            self.push(
                Level::Forbidden,
                format!(
                    "champ « {name} » modifié sur la page {n} ({})",
                    show_keys(&keys)
                ),
            );
        }
    }

    fn fields(&mut self) {
        let new = self.new;
        let new_fields: BTreeMap<String, (Option<ObjectId>, Dictionary)> = all_fields(new)
            .into_iter()
            .map(|(n, id, d)| (n, (id, d)))
            .collect();
        for (name, (id, od)) in self.old_fields.clone() {
            if let Some(id) = id {
                self.explained.insert(id);
            }
            let Some((_, nd)) = new_fields.get(&name) else {
                self.push(Level::Forbidden, format!("champ « {name} » supprimé"));
                continue;
            };
            let (od, nd) = (strip(&od), strip(nd));
            let keys = diff_keys(self.docs, &od, &nd);
            if keys.is_empty() {
                continue;
            }
            let value_only = keys.iter().all(|k| VALUE_KEYS.contains(&k.as_slice()));
            if is_sig_field(&od) {
                if od.has(b"V") || !value_only {
                    self.push(
                        Level::Forbidden,
                        format!("signature « {name} » modifiée ({})", show_keys(&keys)),
                    );
                } else if nd.has(b"V") {
                    self.signature_value(&name, &nd, false);
                } else {
                    self.push_field(
                        Level::FormFill,
                        format!("champ de signature « {name} » modifié"),
                        &name,
                        false,
                    );
                }
            } else if value_only {
                let value = match get(new, &nd, b"V") {
                    Some(Object::String(s, _)) => format!(" : « {} »", decode_text(s)),
                    Some(Object::Name(s)) => format!(" : « {} »", String::from_utf8_lossy(s)),
                    _ => String::new(),
                };
                self.push_field(
                    Level::FormFill,
                    format!("champ « {name} » rempli{value}"),
                    &name,
                    false,
                );
            } else {
                self.push(
                    Level::Forbidden,
                    format!("champ « {name} » modifié ({})", show_keys(&keys)),
                );
            }
        }
        for (name, (_, nd)) in &new_fields {
            if self.old_fields.contains_key(name) {
                continue;
            }
            if is_sig_field(nd) {
                self.signature_value(name, nd, true);
            } else {
                self.push(Level::Forbidden, format!("champ « {name} » ajouté"));
            }
        }
    }

    /// A signature field that received a value (`created`: the field is new too).
    fn signature_value(&mut self, name: &str, nd: &Dictionary, created: bool) {
        let visible = field_visible(self.new, nd);
        if let Some(Object::Reference(v)) = nd.get(b"V").ok()
            && self.old.objects.contains_key(v)
        {
            self.push(
                Level::Forbidden,
                format!("la signature « {name} » réutilise un objet de la version signée"),
            );
            return;
        }
        if !nd.has(b"V") {
            // A new empty signature field.
            self.push_field(
                if visible { Level::FormFill } else { Level::Lta },
                format!("champ de signature « {name} » ajouté"),
                name,
                created && visible,
            );
            return;
        }
        if is_doc_timestamp(self.new, nd) && !visible {
            self.push_field(
                Level::Lta,
                "horodatage du document ajouté".into(),
                name,
                false,
            );
        } else if created {
            self.push_field(
                if visible { Level::FormFill } else { Level::Lta },
                format!("signature « {name} » ajoutée"),
                name,
                visible,
            );
        } else {
            self.push_field(
                Level::FormFill,
                format!("signature « {name} » apposée dans un champ existant"),
                name,
                false,
            );
        }
    }

    fn acroform(&mut self) {
        let (old, new) = (self.old, self.new);
        let (Ok(oc), Ok(nc)) = (old.catalog(), new.catalog()) else {
            return;
        };
        self.explain(oc.get(b"AcroForm").ok());
        let of = get(old, oc, b"AcroForm");
        let nf = get(new, nc, b"AcroForm");
        match (of, nf) {
            (Some(Object::Dictionary(a)), Some(Object::Dictionary(b))) => {
                for k in [&b"Fields"[..], b"DR"] {
                    self.explain(a.get(k).ok());
                }
                let keys = diff_keys(self.docs, a, b);
                let strict: Vec<Vec<u8>> = keys
                    .iter()
                    .filter(|k| !FORM_EXEMPT.contains(&k.as_slice()))
                    .cloned()
                    .collect();
                if !strict.is_empty() {
                    self.push(
                        Level::Forbidden,
                        format!("formulaire modifié ({})", show_keys(&strict)),
                    );
                }
                if keys
                    .iter()
                    .any(|k| [&b"DR"[..], b"DA", b"Q", b"NeedAppearances"].contains(&k.as_slice()))
                {
                    self.push(
                        Level::FormFill,
                        "ressources d'affichage du formulaire mises à jour".into(),
                    );
                }
            }
            (Some(Object::Dictionary(_)), _) => {
                self.push(Level::Forbidden, "formulaire supprimé".into());
            }
            (_, Some(Object::Dictionary(b))) => {
                let strict: Vec<Vec<u8>> = b
                    .iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| !FORM_EXEMPT.contains(&k.as_slice()))
                    .collect();
                if !strict.is_empty() {
                    self.push(
                        Level::Forbidden,
                        format!("formulaire ajouté avec {}", show_keys(&strict)),
                    );
                }
            }
            _ => {}
        }
    }

    /// Objects of the signed revision redefined or freed later without being examined.
    fn replaced_objects(&mut self) {
        for (id, o) in &self.old.objects {
            if let Object::Stream(s) = o
                && matches!(s.dict.get(b"Type"), Ok(Object::Name(n)) if n == b"XRef" || n == b"ObjStm")
            {
                continue;
            }
            match self.new.objects.get(id) {
                None => self.push(
                    Level::Forbidden,
                    format!("objet n° {} de la version signée supprimé", id.0),
                ),
                Some(n) if !self.explained.contains(id) && !shallow_eq(o, n) => self.push(
                    Level::Forbidden,
                    format!("objet n° {} de la version signée remplacé", id.0),
                ),
                _ => {}
            }
        }
    }
}

/// Every difference between the signed revision `old` and the final document `new`.
pub(crate) fn changes(old: &Document, new: &Document) -> Vec<Change> {
    let docs = Docs::new(old, new);
    let old_fields = all_fields(old)
        .into_iter()
        .map(|(n, id, d)| (n, (id, d)))
        .collect();
    let mut w = Walk {
        docs: &docs,
        old,
        new,
        explained: HashSet::new(),
        changes: Vec::new(),
        old_fields,
    };
    w.trailer_and_catalog();
    w.page_tree();
    w.fields();
    w.acroform();
    w.replaced_objects();
    w.changes
}
