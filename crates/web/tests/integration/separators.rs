//! Issue 17: separator sheets printed from the letter form split one scan of a whole pile
//! into one letter each, registered one after the other.

use std::path::Path;
use std::process::Command;

use axum::http::{StatusCode, header};
use chrono::Utc;
use tower::ServiceExt as _;

use crate::common::*;

/// Runs a tool of the machine in `dir`, or panics with its stderr.
fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pages_of(pdf: &[u8]) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.pdf"), pdf).unwrap();
    let out = Command::new("pdfinfo")
        .arg("x.pdf")
        .current_dir(dir.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `pages` (file names in `dir`, with page numbers) joined, then "scanned": rendered to
/// grey JPEG images at 150 dpi and laid out again as an image-only PDF, so the QR codes
/// are read from pixels.
fn scanned(dir: &Path, pages: &[&str]) -> Vec<u8> {
    let mut args = vec!["--empty", "--pages"];
    args.extend_from_slice(pages);
    args.extend_from_slice(&["--", "joined.pdf"]);
    run(dir, "qpdf", &args);
    run(
        dir,
        "pdftoppm",
        &["-r", "150", "-gray", "-jpeg", "joined.pdf", "scan"],
    );
    let mut images: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("scan-") && n.ends_with(".jpg"))
        .collect();
    images.sort();
    let mut parts = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let pdf = parapheur_render::image_pdf(&parapheur_render::ImageDocument {
            title: "Numérisation".into(),
            bytes: std::fs::read(dir.join(image)).unwrap(),
            format: parapheur_render::ImageFormat::Jpeg,
            generated_at: Utc::now(),
        })
        .unwrap();
        let name = format!("page-{i:03}.pdf");
        std::fs::write(dir.join(&name), pdf).unwrap();
        std::fs::remove_file(dir.join(image)).unwrap();
        parts.push(name);
    }
    let mut args = vec!["--empty", "--pages"];
    args.extend(parts.iter().map(String::as_str));
    args.extend_from_slice(&["--", "scanned.pdf"]);
    run(dir, "qpdf", &args);
    std::fs::read(dir.join("scanned.pdf")).unwrap()
}

/// The printed sheets, as the browser gets them.
async fn sheets(site: &Site, cookie: &str, count: u32) -> Vec<u8> {
    let response = site
        .router
        .clone()
        .oneshot(get(
            &format!("/courrier/separateurs.pdf?nombre={count}"),
            Some(cookie),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
    axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap()
        .to_vec()
}

fn values<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    page.split(&format!("name=\"{name}\" value=\""))
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect()
}

fn letter(dir: &Path, name: &str, lines: &[&str]) {
    std::fs::write(dir.join(name), parapheur_testkit::letter_pdf(lines)).unwrap();
}

#[tokio::test]
async fn a_batch_scan_is_split_at_its_separator_sheets() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let (_, _, form) = send(&site, get("/courrier/nouveau", Some(&cookie))).await;
    assert!(
        form.contains(
            "href=\"/courrier/separateurs.pdf?nombre=10\">Imprimer des feuilles de séparation</a>"
        ),
        "{form}"
    );
    let sheet = sheets(&site, &cookie, 2).await;
    assert_eq!(pages_of(&sheet), 2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sep.pdf"), &sheet).unwrap();
    letter(d, "a.pdf", &["Jeanne Martin", "Objet : Salle des fetes"]);
    letter(d, "b.pdf", &["Paul Durand", "Objet : Voirie"]);
    letter(d, "c.pdf", &["Anne Petit", "Objet : Cantine"]);
    // Letters of 2, 3 and 1 pages, a sheet before the second and the third.
    let batch = scanned(
        d,
        &[
            "a.pdf", "1", "a.pdf", "1", "sep.pdf", "1", "b.pdf", "1", "b.pdf", "1", "b.pdf", "1",
            "sep.pdf", "2", "c.pdf", "1",
        ],
    );
    assert_eq!(pages_of(&batch), 8);
    let items_before = site.app.store().item_count(site.a.id).await.unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("channel", "paper"),
        ("arrival", ""),
        ("subject", ""),
    ];
    let (status, _, page) = send(
        &site,
        multipart(&cookie, &fields, Some(("pile.pdf", &batch))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("3 courriers trouvés dans ce scan (pages 1 à 2, pages 4 à 6 et page 8)"),
        "{page}"
    );
    let kept = values(&page, "staged");
    let pending = values(&page, "pending");
    assert_eq!((kept.len(), pending.len()), (1, 2), "{page}");
    let mut pages = Vec::new();
    for token in kept.iter().chain(&pending) {
        let (sha, rest) = token.split_once(':').unwrap();
        let (proof, _name) = rest.split_once(':').unwrap();
        let bytes = site
            .app
            .staged_upload(site.a.id, &csrf, &format!("{sha}:{proof}"))
            .await
            .unwrap();
        pages.push(pages_of(&bytes));
    }
    assert_eq!(pages, vec![2, 3, 1]);
    assert!(kept[0].ends_with(":pile (pages 1 à 2).pdf"), "{kept:?}");
    // Nothing registered yet: the three letters are registered one after the other.
    assert_eq!(
        site.app.store().item_count(site.a.id).await.unwrap(),
        items_before
    );
    let mut page = page;
    for (i, subject) in ["Salle", "Voirie", "Cantine"].iter().enumerate() {
        let arrival = values(&page, "arrival")
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let arrival = if arrival.is_empty() {
            parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone())
                .format("%Y-%m-%d")
                .to_string()
        } else {
            arrival
        };
        let staged: Vec<String> = values(&page, "staged")
            .iter()
            .map(|s| s.replace("&#x27;", "'"))
            .collect();
        let pending: Vec<String> = values(&page, "pending")
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(pending.len(), 2 - i, "{page}");
        let mut fields = vec![
            ("csrf", csrf.clone()),
            ("channel", "paper".to_owned()),
            ("arrival", arrival),
            ("subject", (*subject).to_owned()),
            ("priority", "normal".to_owned()),
            ("then", "next".to_owned()),
        ];
        fields.extend(staged.into_iter().map(|s| ("staged", s)));
        fields.extend(pending.into_iter().map(|s| ("pending", s)));
        let (status, headers, body) =
            send(&site, multipart(&cookie, &as_refs(&fields), None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let location = headers[header::LOCATION].to_str().unwrap().to_owned();
        assert_eq!(location.contains("suite="), i < 2, "{location}");
        let (status, _, next) = send(&site, get(&location, Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK);
        page = next;
    }
    assert_eq!(
        site.app.store().item_count(site.a.id).await.unwrap(),
        items_before + 3
    );
    assert!(page.contains("Saisissez le suivant"), "{page}");
    assert!(values(&page, "staged").is_empty());
}

/// A letter carrying a QR code of its own (a payment slip, a link) is not split, and a
/// damaged PDF is registered whole, as before.
#[tokio::test]
async fn another_qr_code_does_not_split_and_a_damaged_pdf_is_registered_whole() {
    let site = site().await;
    let (cookie, csrf) = login(&site, "agent@a.test").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let other = parapheur_render::separator_sheets_pdf(
        "https://www.service-public.fr/particuliers",
        1,
        Utc::now().fixed_offset(),
    )
    .unwrap();
    std::fs::write(d.join("other.pdf"), other).unwrap();
    letter(d, "a.pdf", &["Jeanne Martin", "Objet : Salle des fetes"]);
    let scan = scanned(d, &["a.pdf", "1", "other.pdf", "1", "a.pdf", "1"]);
    let items_before = site.app.store().item_count(site.a.id).await.unwrap();
    let today = parapheur_app::domain::clock::local_date(Utc::now(), site.a.zone())
        .format("%Y-%m-%d")
        .to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("channel", "paper"),
        ("arrival", today.as_str()),
        ("subject", "Facture"),
        ("priority", "normal"),
        ("then", "next"),
    ];
    let (status, _, body) = send(
        &site,
        multipart(&cookie, &fields, Some(("facture.pdf", &scan))),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(
        site.app.store().item_count(site.a.id).await.unwrap(),
        items_before + 1
    );
    // Damaged: it cannot be searched for separators, so it is registered whole, as
    // before: nothing is lost.
    let damaged = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage".to_vec();
    let (status, _, body) = send(
        &site,
        multipart(&cookie, &fields, Some(("abime.pdf", &damaged))),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(
        site.app.store().item_count(site.a.id).await.unwrap(),
        items_before + 2
    );
}

/// The time to find the separators of a 20-page batch (docs/PERFORMANCE.md, "Separator
/// sheets"): five letters of three pages, a sheet before each.
#[tokio::test]
async fn separators_of_a_20_page_batch_are_found_in_time() {
    let site = site().await;
    let (cookie, _) = login(&site, "agent@a.test").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sep.pdf"), sheets(&site, &cookie, 1).await).unwrap();
    letter(d, "a.pdf", &["Jeanne Martin", "Objet : Salle des fetes"]);
    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.extend_from_slice(&["sep.pdf", "1", "a.pdf", "1", "a.pdf", "1", "a.pdf", "1"]);
    }
    let batch = scanned(d, &pages);
    assert_eq!(pages_of(&batch), 20);
    let started = std::time::Instant::now();
    let split = site
        .app
        .split_batch_scan(&site.a, &parapheur_app::Actor::System("test"), &batch)
        .await
        .unwrap()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "20-page batch: separators found in {:.2} s, split in {seconds:.2} s",
        split.seconds
    );
    let lengths: Vec<u32> = split
        .segments
        .iter()
        .map(|s| s.last - s.first + 1)
        .collect();
    assert_eq!(lengths, vec![3; 5]);
    assert!(seconds < 60.0, "{seconds} s");
}
