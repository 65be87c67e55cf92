//! Times the register at 1,000 and 5,000 rows:
//! `cargo run -p parapheur-render --release --example register_bench`.
//! Pass a directory as the first argument to keep the PDFs there.

use std::time::Instant;

use chrono::DateTime;
use parapheur_render::{RegisterDocument, RegisterRow, register_pdf};

fn row(n: usize) -> RegisterRow {
    let directions = ["Arrivée", "Départ", "Interne"];
    RegisterRow {
        number: format!("2026-A-{n:06}"),
        received_on: format!("{:02}/{:02}/2026", n % 28 + 1, n % 12 + 1),
        direction: directions[n % 3].into(),
        channel: "Courrier postal".into(),
        correspondent: format!("Association sportive du canton n° {n}"),
        subject: format!(
            "Demande de subvention de fonctionnement pour l'année 2026 (dossier {n}), avec pièces jointes"
        ),
        service: "Vie associative".into(),
        status: "En cours".into(),
        due_on: if n.is_multiple_of(4) {
            String::new()
        } else {
            "17/03/2026".into()
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args().nth(1);
    let generated_at = DateTime::parse_from_rfc3339("2026-11-28T20:45:00+01:00")?;
    // The first render also loads the fonts: time it apart.
    for rows in [0, 1, 1_000, 5_000] {
        let doc = RegisterDocument {
            commune_name: "Saint-Martin-de-Ré".into(),
            insee: "17369".into(),
            period: "du 1er janvier 2026 au 31 décembre 2026".into(),
            generated_at,
            filters: vec![],
            rows: (1..=rows).map(row).collect(),
        };
        let start = Instant::now();
        let pdf = register_pdf(&doc)?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let pages = lopdf::Document::load_mem(&pdf)?.get_pages().len();
        println!(
            "{rows:>5} rows: {ms:>8.1} ms, {:>9} bytes, {pages} pages",
            pdf.len()
        );
        if let Some(dir) = &keep {
            std::fs::write(format!("{dir}/registre-{rows}.pdf"), &pdf)?;
        }
    }
    Ok(())
}
