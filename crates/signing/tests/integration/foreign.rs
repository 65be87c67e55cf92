//! Documents signed by another stack (pyHanko, with its own throwaway PKI and TSA), each
//! also with a forbidden change appended: our verdict and pyHanko's agree per signature.
//!
//! All the cases are made, and judged by pyHanko, in one run of
//! `tests/pyhanko/make_cases.py` with the venv that `verify-pades` installs.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;
use parapheur_signing::{SignatureReport, TrustAnchors, VerifyReport, verify_pdf};

/// One signature as pyHanko judged it.
struct Judged {
    case: String,
    field: String,
    verdict: String,
    detail: String,
}

struct Foreign {
    dir: tempfile::TempDir,
    judged: Vec<Judged>,
    root: Vec<u8>,
}

fn venv_python() -> PathBuf {
    let cache = std::env::var("VERIFY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/verify-pades")
        });
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "\n\n!!! pyHanko is missing: {} does not exist.\n!!! It is installed by the acceptance verifier on first use: run\n!!!   {VERIFIER} SOME_SIGNED.pdf SOME_CA.pem\n!!! once (it makes the venv with pyhanko 0.38 and pyhanko-cli 0.6), or by hand:\n!!!   python3 -m venv {cache}/venv && {cache}/venv/bin/pip install 'pyhanko==0.38.*' 'pyhanko-cli==0.6.*'\n",
        python.display(),
        cache = cache.display(),
    );
    python
}

/// Every case, made and judged once per test run.
fn foreign() -> &'static Foreign {
    static F: OnceLock<Foreign> = OnceLock::new();
    F.get_or_init(|| {
        let python = venv_python();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.pdf"), make_pdf(1)).unwrap();
        std::fs::write(dir.path().join("form.pdf"), make_form_pdf()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyhanko/make_cases.py");
        let out = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed:\n{}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tsv = std::fs::read_to_string(dir.path().join("cases.tsv")).unwrap();
        let judged = tsv
            .lines()
            .map(|l| {
                let mut f = l.splitn(4, '\t').map(str::to_owned);
                Judged {
                    case: f.next().unwrap(),
                    field: f.next().unwrap(),
                    verdict: f.next().unwrap(),
                    detail: f.next().unwrap_or_default(),
                }
            })
            .collect();
        let pem = std::fs::read_to_string(dir.path().join("root.pem")).unwrap();
        let root = parapheur_signing::pki::certificates_from_pem(&pem)
            .unwrap()
            .remove(0);
        Foreign { dir, judged, root }
    })
}

/// Our verdict, in pyHanko's words.
fn ours(s: &SignatureReport) -> &'static str {
    if !s.intact || !s.covers_revision || !s.problems.is_empty() {
        "invalid"
    } else if !s.changes_after.is_empty() {
        "modified"
    } else if !s.trusted || !s.trust_problems.is_empty() {
        "untrusted"
    } else {
        "valid"
    }
}

fn verify_case(case: &str) -> (Vec<u8>, VerifyReport) {
    verify_case_at(case, now())
}

fn verify_case_at(case: &str, at: chrono::DateTime<chrono::Utc>) -> (Vec<u8>, VerifyReport) {
    let f = foreign();
    let pdf = std::fs::read(f.dir.path().join(format!("{case}.pdf"))).unwrap();
    let anchors = TrustAnchors {
        signers: vec![f.root.clone()],
        time_stamping: vec![f.root.clone()],
    };
    let r = verify_pdf(&pdf, &anchors, at).unwrap();
    (pdf, r)
}

/// Checks `case`: our verdict per signature is `expected` (in signing order), and pyHanko
/// says the same for each field. Returns our report.
fn check(case: &str, expected: &[&str]) -> VerifyReport {
    check_against(case, expected, expected)
}

/// Like [`check`], where pyHanko is known to judge differently (`pyhanko`, per signature).
fn check_against(case: &str, expected: &[&str], pyhanko: &[&str]) -> VerifyReport {
    let f = foreign();
    let (pdf, r) = verify_case(case);
    let keep = || {
        let p = out_dir().join(format!("foreign-{case}.pdf"));
        std::fs::write(&p, &pdf).unwrap();
        p.display().to_string()
    };
    let got: Vec<&str> = r.signatures.iter().map(ours).collect();
    assert_eq!(
        got,
        expected,
        "{case}: our verdicts (file kept at {}):\n{r:#?}",
        keep()
    );
    let theirs: Vec<&Judged> = f.judged.iter().filter(|j| j.case == case).collect();
    assert_eq!(theirs.len(), r.signatures.len(), "{case}: signature count");
    for (i, s) in r.signatures.iter().enumerate() {
        let j = theirs
            .iter()
            .find(|j| j.field == s.field_name)
            .unwrap_or_else(|| panic!("{case}: pyHanko has no field {}", s.field_name));
        assert_eq!(
            pyhanko[i],
            j.verdict,
            "{case}, {}: we say {}, pyHanko says {} ({}); file kept at {}\n{s:#?}",
            s.field_name,
            ours(s),
            j.verdict,
            j.detail,
            keep()
        );
    }
    r
}

fn changes(r: &VerifyReport, i: usize) -> String {
    r.signatures[i].changes_after.join(" | ")
}

#[test]
fn two_approval_signatures() {
    let r = check("a_two_approvals", &["valid", "valid"]);
    assert!(
        r.signatures[0]
            .allowed_changes
            .iter()
            .any(|c| c == "signature « Signature2 » ajoutée"),
        "{r:#?}"
    );
    assert_eq!(r.signatures[0].signer, "Alice Lefèvre");
}

#[test]
fn two_approvals_then_page_content() {
    let r = check("a_two_approvals+page_content", &["modified", "modified"]);
    assert!(
        changes(&r, 0).contains("contenu de la page 1 modifié"),
        "{r:#?}"
    );
}

#[test]
fn two_approvals_then_new_catalog() {
    let r = check("a_two_approvals+new_catalog", &["modified", "modified"]);
    assert!(changes(&r, 1).contains("page 1"), "{r:#?}");
}

/// Finding 3: a new catalog and page tree, then a second signature over it: the first
/// signature is modified, the second (which signed the replaced document) is valid.
#[test]
fn replaced_catalog_then_signed_again() {
    let r = check("a_first+new_catalog+second", &["modified", "valid"]);
    assert!(
        changes(&r, 0).contains("contenu de la page 1 modifié après la signature"),
        "{r:#?}"
    );
}

#[test]
fn hide_and_replace_content_in_place() {
    check(
        "a_two_approvals+content_in_place",
        &["modified", "modified"],
    );
}

#[test]
fn overlay_annotation_after_approval() {
    let r = check(
        "a_two_approvals+freetext_overlay",
        &["modified", "modified"],
    );
    assert!(changes(&r, 1).contains("FreeText"), "{r:#?}");
}

#[test]
fn form_filled_after_approval() {
    let r = check("a_approval+form_filled", &["valid"]);
    assert!(
        r.signatures[0]
            .allowed_changes
            .iter()
            .any(|c| c.contains("champ « objet » rempli")),
        "{r:#?}"
    );
}

/// Issue 22: certification P=2, then a second person signs an existing empty field.
#[test]
fn certified_p2_then_existing_field_signed() {
    let r = check("b_certified_p2+existing_field", &["valid", "valid"]);
    assert_eq!(
        r.signatures[0].kind,
        parapheur_signing::SignatureKind::Certification { permission: 2 }
    );
}

#[test]
fn certified_p2_then_new_catalog() {
    check(
        "b_certified_p2+existing_field+new_catalog",
        &["modified", "modified"],
    );
}

#[test]
fn certified_p2_then_new_visible_field() {
    let r = check("b_certified_p2+new_visible_field", &["modified", "valid"]);
    assert!(changes(&r, 0).contains("Signature3"), "{r:#?}");
}

#[test]
fn certified_p2_then_form_filled() {
    check("c_certified_p2+form_filled", &["valid"]);
}

#[test]
fn certified_p1_then_form_filled() {
    let r = check("c_certified_p1+form_filled", &["modified"]);
    assert!(changes(&r, 0).contains("champ « objet » rempli"), "{r:#?}");
}

#[test]
fn certified_p2_form_filled_then_page_content() {
    check("c_certified_p2+form_filled+page_content", &["modified"]);
}

#[test]
fn certified_p2_then_annotation() {
    check("d_certified_p2+annotation", &["modified"]);
}

#[test]
fn b_lt_dss_after_signature() {
    let r = check("e_b_lt", &["valid"]);
    let s = &r.signatures[0];
    assert!(s.date_proven(), "{s:#?}");
    assert!(
        s.allowed_changes
            .iter()
            .any(|c| c.contains("informations de validation (DSS)")),
        "{s:#?}"
    );
}

#[test]
fn b_lt_then_page_content() {
    check("e_b_lt+page_content", &["modified"]);
}

#[test]
fn dss_after_certification_p1() {
    check("e_certified_p1+dss", &["valid"]);
}

#[test]
fn b_lta_document_timestamp() {
    let r = check("f_b_lta", &["valid", "valid"]);
    assert_eq!(
        r.signatures[1].kind,
        parapheur_signing::SignatureKind::DocumentTimeStamp
    );
    assert!(r.signatures[1].date_proven());
}

#[test]
fn b_lta_then_annotation() {
    check("f_b_lta+annotation", &["modified", "modified"]);
}

#[test]
fn shadow_hide_object_added_before_signing() {
    let r = check("shadow_hide", &["modified"]);
    assert!(changes(&r, 0).contains("contenu de la page 1"), "{r:#?}");
}

/// ISO 32000-2 (12.8.2.2.2) lets a DocMDP P=3 certification allow annotations; pyHanko
/// 0.38's default policy has no rule for them and calls the certification modified. We
/// follow pyHanko: a verifier never says valid where the reference says modified.
#[test]
fn certified_p3_then_annotation() {
    let r = check("d_certified_p3+annotation", &["modified"]);
    assert!(
        r.signatures[0]
            .changes_after
            .iter()
            .any(|c| c.contains("annotation")),
        "{r:#?}"
    );
}

/// Finding 1: a token from a TSA nobody trusts, dated 30 days back: the date is not
/// proven, the certificate is judged now, and the report says so.
#[test]
fn forged_time_stamp_is_not_trusted() {
    let r = check("ts_forged_tsa", &["valid"]);
    let s = &r.signatures[0];
    let back = s.timestamp.expect("the token is read");
    assert!((now() - back).num_days() >= 29, "{s:#?}");
    assert!(!s.timestamp_trusted && !s.date_proven(), "{s:#?}");
    assert_eq!(s.judged_at, r.now);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("horodatage non reconnu")),
        "{s:#?}"
    );
    // Two years later the signer's certificate has expired: the forged date cannot save it.
    let (_, later) = verify_case_at("ts_forged_tsa", now() + chrono::Duration::days(730));
    let s = &later.signatures[0];
    assert!(!s.trusted, "{s:#?}");
    assert!(
        s.trust_problems
            .iter()
            .any(|p| p.contains("n'était pas valide")),
        "{s:#?}"
    );
}

/// A trusted time-stamp does prove the date: two years later, the signature is still
/// judged at the time-stamp's date. Without one, /M proves nothing.
#[test]
fn trusted_time_stamp_dates_the_signature() {
    let later = now() + chrono::Duration::days(730);
    let (_, r) = verify_case_at("e_b_lt", later);
    let s = &r.signatures[0];
    assert!(s.valid() && s.date_proven(), "{s:#?}");
    assert_eq!(Some(s.judged_at), s.timestamp);
    let (_, r) = verify_case_at("a_approval+form_filled", later);
    let s = &r.signatures[0];
    assert!(s.time.is_some() && !s.trusted, "{s:#?}");
    assert_eq!(s.judged_at, later);
}

#[test]
fn tsa_without_time_stamping_eku_is_not_trusted() {
    let r = check("ts_tsa_without_eku", &["valid"]);
    let s = &r.signatures[0];
    assert!(!s.timestamp_trusted, "{s:#?}");
    assert!(
        s.warnings.iter().any(|w| w.contains("timeStamping")),
        "{s:#?}"
    );
}

/// Finding 2: an end-entity certificate (CA:FALSE) issued "Sylvie Moreau".
#[test]
fn ca_false_issuer_is_not_trusted() {
    let r = check("chain_ca_false", &["untrusted"]);
    let s = &r.signatures[0];
    assert_eq!(s.signer, "Sylvie Moreau");
    assert!(
        s.trust_problems.iter().any(|p| p.contains("CA:FALSE")),
        "{s:#?}"
    );
}

#[test]
fn path_length_constraint_is_honoured() {
    let r = check("chain_path_length", &["untrusted"]);
    assert!(
        r.signatures[0]
            .trust_problems
            .iter()
            .any(|p| p.contains("longueur de chaîne")),
        "{r:#?}"
    );
}

#[test]
fn signer_without_signing_key_usage_is_not_trusted() {
    let r = check("chain_no_signing_usage", &["untrusted"]);
    assert!(
        r.signatures[0]
            .trust_problems
            .iter()
            .any(|p| p.contains("usage de clé")),
        "{r:#?}"
    );
}

/// A signature that locks the field "objet" (FieldMDP): filling it afterwards is refused;
/// a lock on another field lets it be filled.
#[test]
fn field_locks_are_honoured() {
    let r = check("lock_objet+form_filled", &["modified"]);
    assert!(changes(&r, 0).contains("verrouille"), "{r:#?}");
    check("lock_other+form_filled", &["valid"]);
}

#[test]
fn open_action_after_signing() {
    let r = check("a_two_approvals+open_action", &["modified", "modified"]);
    assert!(changes(&r, 1).contains("actions automatiques"), "{r:#?}");
}

#[test]
fn page_added_after_signing() {
    let r = check("a_two_approvals+new_page", &["modified", "modified"]);
    assert!(changes(&r, 1).contains("nombre de pages modifié"), "{r:#?}");
}

/// An object nothing uses and new document information change nothing that is shown.
#[test]
fn unused_object_and_info_after_signing() {
    check(
        "a_two_approvals+unused_object_and_info",
        &["valid", "valid"],
    );
}

/// Freeing an object of the signed revision (here the page's content) is a change.
#[test]
fn freed_object_after_signing() {
    let r = check("a_two_approvals+freed_content", &["modified", "modified"]);
    assert!(
        changes(&r, 0).contains("de la version signée supprimé"),
        "{r:#?}"
    );
}
