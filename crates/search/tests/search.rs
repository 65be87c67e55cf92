//! Real tantivy indexes in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use parapheur_search::{SearchDoc, SearchError, SearchIndex, SearchOrder, SearchQuery};
use uuid::Uuid;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::minutes(n)
}

fn doc(n: u32, subject: &str, body: &str) -> SearchDoc {
    SearchDoc {
        item_id: Uuid::from_u128(u128::from(n)),
        chrono: format!("2026-A-{n:06}"),
        subject: subject.to_owned(),
        body: body.to_owned(),
        extracted_text: String::new(),
        notes: String::new(),
        contacts: String::new(),
        status: "registered".to_owned(),
        channel: "paper".to_owned(),
        direction: "incoming".to_owned(),
        doctype: None,
        service_id: None,
        arrival_date: day(2026, 1, 5),
        registered_at: at(i64::from(n)),
        due_date: None,
        open: true,
        confidential: false,
        allowed: Vec::new(),
    }
}

fn id(n: u32) -> Uuid {
    Uuid::from_u128(u128::from(n))
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        ..SearchQuery::default()
    }
}

fn ids(index: &SearchIndex, commune: Uuid, query: &SearchQuery) -> Vec<Uuid> {
    index
        .search(commune, query)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.item_id)
        .collect()
}

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

fn setup(docs: &[SearchDoc]) -> (tempfile::TempDir, SearchIndex, Uuid) {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let commune = Uuid::from_u128(0xC0);
    index.apply(commune, docs, &[], 1).unwrap();
    (dir, index, commune)
}

#[test]
fn accents_are_folded_both_ways() {
    let (_d, index, c) = setup(&[
        doc(1, "Panne d'éclairage public rue des Lilas", ""),
        doc(2, "Eclairage du stade", ""),
        doc(3, "Cantine scolaire", ""),
    ]);
    assert_eq!(sorted(ids(&index, c, &q("eclairage"))), vec![id(1), id(2)]);
    assert_eq!(sorted(ids(&index, c, &q("éclairage"))), vec![id(1), id(2)]);
    assert_eq!(sorted(ids(&index, c, &q("ÉCLAIRAGE"))), vec![id(1), id(2)]);
}

#[test]
fn french_stemming_both_ways() {
    let (_d, index, c) = setup(&[
        doc(1, "Demandes de subvention des associations", ""),
        doc(2, "Une demande de subvention", ""),
        doc(3, "Lettre adressée au maire", ""),
        doc(4, "Changement d'adresse", ""),
    ]);
    assert_eq!(sorted(ids(&index, c, &q("demande"))), vec![id(1), id(2)]);
    assert_eq!(sorted(ids(&index, c, &q("demandes"))), vec![id(1), id(2)]);
    assert_eq!(
        sorted(ids(&index, c, &q("subventions"))),
        vec![id(1), id(2)]
    );
    assert_eq!(sorted(ids(&index, c, &q("association"))), vec![id(1)]);
    assert_eq!(sorted(ids(&index, c, &q("adresse"))), vec![id(3), id(4)]);
    assert_eq!(sorted(ids(&index, c, &q("adressée"))), vec![id(3), id(4)]);
}

#[test]
fn all_words_must_match_across_fields() {
    let mut with_contact = doc(3, "Réclamation", "Le bruit de la salle des fêtes.");
    with_contact.contacts =
        "Jeanne Dupont, Comité des fêtes, jeanne.dupont@example.fr, Lyon".into();
    let mut with_notes = doc(4, "Courrier", "");
    with_notes.notes = "Rappeler le demandeur au sujet du cimetière".into();
    with_notes.extracted_text = "Concession trentenaire".into();
    let (_d, index, c) = setup(&[
        doc(1, "Éclairage public", "Demande pour la cantine scolaire"),
        doc(2, "Éclairage public", "Demande de travaux de voirie"),
        with_contact,
        with_notes,
    ]);
    assert_eq!(ids(&index, c, &q("éclairage cantine")), vec![id(1)]);
    assert_eq!(ids(&index, c, &q("dupont réclamation")), vec![id(3)]);
    assert_eq!(ids(&index, c, &q("jeanne.dupont@example.fr")), vec![id(3)]);
    assert_eq!(ids(&index, c, &q("cimetière concession")), vec![id(4)]);
    assert!(ids(&index, c, &q("éclairage absentissime")).is_empty());
}

#[test]
fn subject_is_boosted_and_ties_go_newest_first() {
    let (_d, index, c) = setup(&[
        doc(
            1,
            "Courrier divers",
            "Il est question du cimetière communal dans ce texte.",
        ),
        doc(
            2,
            "Cimetière communal",
            "Courrier divers sur un autre sujet que voici.",
        ),
    ]);
    assert_eq!(ids(&index, c, &q("cimetière")), vec![id(2), id(1)]);

    let (_d, index, c) = setup(&[
        doc(5, "Permis de construire", ""),
        doc(7, "Permis de construire", ""),
        doc(6, "Permis de construire", ""),
    ]);
    let res = index.search(c, &q("permis")).unwrap();
    assert_eq!(res.hits[0].score, res.hits[2].score);
    let got: Vec<Uuid> = res.hits.iter().map(|h| h.item_id).collect();
    assert_eq!(got, vec![id(7), id(6), id(5)]);
}

#[test]
fn quoted_phrase_matches_as_phrase() {
    let (_d, index, c) = setup(&[
        doc(1, "Dépôt d'un permis de construire", ""),
        doc(2, "Construire un abri : permis refusé", ""),
    ]);
    assert_eq!(ids(&index, c, &q("\"permis de construire\"")), vec![id(1)]);
    assert_eq!(
        sorted(ids(&index, c, &q("permis construire"))),
        vec![id(1), id(2)]
    );
    // An unclosed quote is read as plain words.
    assert_eq!(
        sorted(ids(&index, c, &q("\"permis construire"))),
        vec![id(1), id(2)]
    );
}

#[test]
fn a_phrase_never_spans_two_fields() {
    // The subject ends with "Saint" and the body starts with "Étienne": written one after
    // the other into the field that plain words are matched on, yet not a phrase.
    let (_d, index, c) = setup(&[
        doc(1, "Fête de la Saint", "Étienne viendra à la fête"),
        doc(2, "Rue de Saint-Étienne", "Travaux de voirie"),
        doc(3, "Saint-Étienne", "Saint-Étienne"),
    ]);
    for text in ["Saint-Étienne", "\"saint etienne\"", "Saint-Étienne voirie"] {
        let expected = if text.ends_with("voirie") {
            vec![id(2)]
        } else {
            vec![id(2), id(3)]
        };
        assert_eq!(sorted(ids(&index, c, &q(text))), expected, "{text}");
    }
    assert_eq!(index.search(c, &q("Saint-Étienne")).unwrap().total, 2);
    // Both words, not as a phrase: the three.
    assert_eq!(
        sorted(ids(&index, c, &q("saint etienne"))),
        vec![id(1), id(2), id(3)]
    );
}

#[test]
fn chrono_number_typed_as_is_finds_the_item() {
    let docs: Vec<SearchDoc> = (120..130).map(|n| doc(n, "Courrier", "")).collect();
    let (_d, index, c) = setup(&docs);
    assert_eq!(ids(&index, c, &q("2026-A-000123")), vec![id(123)]);
    assert_eq!(ids(&index, c, &q("2026-a-000123")), vec![id(123)]);
    assert_eq!(ids(&index, c, &q(" 2026-A-000124, ")), vec![id(124)]);
    assert_eq!(ids(&index, c, &q("2026-A-000123 courrier")), vec![id(123)]);
    assert!(ids(&index, c, &q("2026-A-000999")).is_empty());
}

#[test]
fn or_and_not() {
    let (_d, index, c) = setup(&[
        doc(1, "Cantine scolaire", ""),
        doc(2, "Voirie communale", ""),
        doc(3, "Cantine et voirie", ""),
    ]);
    assert_eq!(
        sorted(ids(&index, c, &q("cantine OR voirie"))),
        vec![id(1), id(2), id(3)]
    );
    assert_eq!(ids(&index, c, &q("cantine -voirie")), vec![id(1)]);
    assert_eq!(ids(&index, c, &q("cantine NOT voirie")), vec![id(1)]);
    assert_eq!(sorted(ids(&index, c, &q("-cantine"))), vec![id(2)]);
}

#[test]
fn any_input_is_accepted() {
    let (_d, index, c) = setup(&[doc(1, "Éclairage public", "Demande")]);
    let long_words = "éclairage ".repeat(1000);
    let long_junk: String = (0..10_000)
        .map(|i| ["a", ":", "*", "\"", "(", "é", " "][i % 7])
        .collect();
    let inputs = [
        "\"",
        "\"\"",
        "\"éclairage",
        "éclairage\"",
        ":",
        "*",
        "éclair*",
        "AND OR NOT",
        "AND",
        "OR éclairage",
        "NOT",
        "-",
        "--",
        "+",
        "subject:éclairage",
        "body:\"x",
        "(éclairage",
        "éclairage)",
        "[1 TO 5]",
        "{",
        "\\",
        "^2",
        "~",
        "éclairage~2",
        "\u{0}",
        "🙂",
        "l'",
        "le la les de",
        long_words.as_str(),
        long_junk.as_str(),
        "",
        "   ",
        "2026-",
        "-2026-A-000001",
        "'; DROP TABLE items; --",
    ];
    for input in inputs {
        let res = index.search(c, &q(input));
        assert!(res.is_ok(), "input {input:?} failed: {res:?}");
    }
    assert_eq!(ids(&index, c, &q("\"éclairage")), vec![id(1)]);
    assert_eq!(ids(&index, c, &q("éclairage)")), vec![id(1)]);
    assert_eq!(ids(&index, c, &q("subject:éclairage")), Vec::<Uuid>::new());
    assert_eq!(ids(&index, c, &q(&long_words)), vec![id(1)]);
}

#[test]
fn field_names_typed_by_users_do_not_reach_other_fields() {
    let alice = Uuid::from_u128(0xA11CE);
    let bob = Uuid::from_u128(0xB0B);
    let mut secret = doc(1, "Dossier disciplinaire", "");
    secret.confidential = true;
    secret.allowed = vec![alice];
    let (_d, index, c) = setup(&[secret, doc(2, "Courrier public", "")]);
    let as_bob = |text: &str| SearchQuery {
        viewer: Some(bob),
        ..q(text)
    };
    for text in [
        format!("allowed:{alice}"),
        format!("allowed:\"{alice}\""),
        alice.to_string(),
        "confidential:false".to_owned(),
        "confidential:true".to_owned(),
        "item_id:*".to_owned(),
        "disciplinaire".to_owned(),
        "* OR disciplinaire".to_owned(),
        format!("disciplinaire OR allowed:{alice}"),
    ] {
        assert!(
            !ids(&index, c, &as_bob(&text)).contains(&id(1)),
            "{text:?} revealed a confidential item"
        );
    }
    // Field syntax is plain text: it does not address the field, even without a viewer.
    assert!(ids(&index, c, &q(&format!("allowed:{alice}"))).is_empty());
    assert!(ids(&index, c, &q("confidential:true")).is_empty());
    assert!(ids(&index, c, &q("status:registered")).is_empty());
    assert!(ids(&index, c, &q("item_id:*")).is_empty());
}

#[test]
fn confidentiality() {
    let alice = Uuid::from_u128(0xA11CE);
    let bob = Uuid::from_u128(0xB0B);
    let mut secret = doc(1, "Dossier médical confidentiel", "");
    secret.confidential = true;
    secret.allowed = vec![alice, Uuid::from_u128(0xCAFE)];
    let (_d, index, c) = setup(&[secret, doc(2, "Dossier public", "")]);
    let viewer = |v| SearchQuery {
        viewer: v,
        ..q("dossier")
    };
    assert_eq!(ids(&index, c, &viewer(Some(bob))), vec![id(2)]);
    assert_eq!(
        sorted(ids(&index, c, &viewer(Some(alice)))),
        vec![id(1), id(2)]
    );
    assert_eq!(sorted(ids(&index, c, &viewer(None))), vec![id(1), id(2)]);
    // Also when listing by filters only.
    let list = SearchQuery {
        viewer: Some(bob),
        ..q("")
    };
    assert_eq!(ids(&index, c, &list), vec![id(2)]);
}

#[test]
fn each_filter_is_exact() {
    let service = Uuid::from_u128(0x5E);
    let mut docs = Vec::new();
    for n in 1..=6 {
        docs.push(doc(n, "Courrier de la mairie", ""));
    }
    docs[0].status = "closed".into();
    docs[0].open = false;
    docs[1].channel = "email".into();
    docs[2].direction = "outgoing".into();
    docs[3].doctype = Some("facture".into());
    docs[4].service_id = Some(service);
    docs[0].arrival_date = day(2026, 1, 1);
    docs[1].arrival_date = day(2026, 1, 2);
    docs[2].arrival_date = day(2026, 1, 3);
    docs[0].due_date = Some(day(2026, 1, 10));
    docs[1].due_date = Some(day(2026, 1, 10));
    docs[2].due_date = Some(day(2026, 1, 20));
    let (_d, index, c) = setup(&docs);
    let both = |f: &dyn Fn(&mut SearchQuery)| {
        let mut with_text = q("courrier");
        f(&mut with_text);
        let mut without = q("");
        f(&mut without);
        let a = sorted(ids(&index, c, &with_text));
        assert_eq!(a, sorted(ids(&index, c, &without)));
        a
    };
    assert_eq!(both(&|s| s.status = Some("closed".into())), vec![id(1)]);
    assert_eq!(
        both(&|s| s.status = Some("Closed".into())),
        Vec::<Uuid>::new()
    );
    assert_eq!(both(&|s| s.channel = Some("email".into())), vec![id(2)]);
    assert_eq!(
        both(&|s| s.direction = Some("outgoing".into())),
        vec![id(3)]
    );
    assert_eq!(both(&|s| s.doctype = Some("facture".into())), vec![id(4)]);
    assert_eq!(both(&|s| s.service_id = Some(service)), vec![id(5)]);
    assert_eq!(
        both(&|s| s.arrived_from = Some(day(2026, 1, 2))),
        vec![id(2), id(3), id(4), id(5), id(6)]
    );
    assert_eq!(
        both(&|s| s.arrived_before = Some(day(2026, 1, 2))),
        vec![id(1)]
    );
    assert_eq!(
        both(&|s| {
            s.arrived_from = Some(day(2026, 1, 2));
            s.arrived_before = Some(day(2026, 1, 4));
        }),
        vec![id(2), id(3)]
    );
    // Late on the 11th: open and due before the 11th (item 1 is closed).
    assert_eq!(both(&|s| s.late_on = Some(day(2026, 1, 11))), vec![id(2)]);
    assert_eq!(
        both(&|s| s.late_on = Some(day(2026, 1, 10))),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        both(&|s| s.late_on = Some(day(2026, 2, 1))),
        vec![id(2), id(3)]
    );
}

#[test]
fn empty_text_lists_newest_first_with_paging() {
    let docs: Vec<SearchDoc> = [3, 1, 5, 2, 4]
        .iter()
        .map(|&n| doc(n, "Courrier", ""))
        .collect();
    let (_d, index, c) = setup(&docs);
    let mut query = q("");
    query.order = SearchOrder::Relevance;
    assert_eq!(
        ids(&index, c, &query),
        vec![id(5), id(4), id(3), id(2), id(1)]
    );
    query.offset = 1;
    query.limit = 2;
    let res = index.search(c, &query).unwrap();
    assert_eq!(res.total, 5);
    assert_eq!(
        res.hits.iter().map(|h| h.item_id).collect::<Vec<_>>(),
        vec![id(4), id(3)]
    );
    let mut newest = q("courrier");
    newest.order = SearchOrder::Newest;
    assert_eq!(
        ids(&index, c, &newest),
        vec![id(5), id(4), id(3), id(2), id(1)]
    );
    query.offset = 10_000;
    assert!(matches!(
        index.search(c, &query),
        Err(SearchError::InvalidQuery(_))
    ));
    let err = index.search(c, &query).unwrap_err().to_string();
    assert!(err.contains("résultats"), "{err}");
}

#[test]
fn communes_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let (a, b) = (Uuid::from_u128(0xA), Uuid::from_u128(0xB));
    index.apply(a, &[doc(1, "Cimetière", "")], &[], 1).unwrap();
    index.apply(b, &[doc(2, "Cimetière", "")], &[], 7).unwrap();
    assert_eq!(ids(&index, a, &q("cimetière")), vec![id(1)]);
    assert_eq!(ids(&index, b, &q("cimetière")), vec![id(2)]);
    assert_eq!(ids(&index, a, &q("")), vec![id(1)]);
    assert_eq!(index.indexed_seq(a).unwrap(), Some(1));
    assert_eq!(index.indexed_seq(b).unwrap(), Some(7));
    let unknown = Uuid::from_u128(0xD);
    assert!(ids(&index, unknown, &q("cimetière")).is_empty());
    index.remove_commune(a).unwrap();
    assert!(ids(&index, a, &q("cimetière")).is_empty());
    assert_eq!(index.indexed_seq(a).unwrap(), None);
    assert_eq!(ids(&index, b, &q("cimetière")), vec![id(2)]);
    index.remove_commune(a).unwrap();
}

#[test]
fn more_communes_than_cached_readers() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let communes: Vec<Uuid> = (0..40).map(|n| Uuid::from_u128(0x1000 + n)).collect();
    for (n, c) in communes.iter().enumerate() {
        let n = u32::try_from(n).unwrap();
        index
            .apply(*c, &[doc(n, "Voirie", "")], &[], i64::from(n))
            .unwrap();
    }
    for round in 0..2 {
        for (n, c) in communes.iter().enumerate() {
            let n = u32::try_from(n).unwrap();
            assert_eq!(ids(&index, *c, &q("voirie")), vec![id(n)], "round {round}");
        }
    }
}

#[test]
fn apply_upserts_and_deletes() {
    let (_d, index, c) = setup(&[doc(1, "Voirie", ""), doc(2, "Voirie", "")]);
    index
        .apply(c, &[doc(1, "Voirie refaite", "")], &[], 2)
        .unwrap();
    index
        .apply(c, &[doc(1, "Voirie refaite", "")], &[], 3)
        .unwrap();
    assert_eq!(sorted(ids(&index, c, &q("voirie"))), vec![id(1), id(2)]);
    assert_eq!(index.search(c, &q("voirie")).unwrap().total, 2);
    assert_eq!(ids(&index, c, &q("refaite")), vec![id(1)]);
    // The same id twice in a batch keeps the last version.
    index
        .apply(c, &[doc(2, "Premier", ""), doc(2, "Second", "")], &[], 4)
        .unwrap();
    assert!(ids(&index, c, &q("premier")).is_empty());
    assert_eq!(ids(&index, c, &q("second")), vec![id(2)]);
    index.apply(c, &[], &[id(1)], 5).unwrap();
    assert_eq!(ids(&index, c, &q("")), vec![id(2)]);
    assert!(ids(&index, c, &q("refaite")).is_empty());
    assert_eq!(index.indexed_seq(c).unwrap(), Some(5));
}

#[test]
fn indexed_seq_persists_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let c = Uuid::from_u128(0xC);
    {
        let index = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(index.indexed_seq(c).unwrap(), None);
        index.apply(c, &[doc(1, "Urbanisme", "")], &[], 41).unwrap();
        index.apply(c, &[], &[], 42).unwrap();
        assert_eq!(index.indexed_seq(c).unwrap(), Some(42));
    }
    let index = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(index.indexed_seq(c).unwrap(), Some(42));
    assert_eq!(ids(&index, c, &q("urbanisme")), vec![id(1)]);
}

#[test]
fn rebuild_swaps_while_searches_keep_working() {
    let (dir, index, c) = setup(&[doc(1, "Ancien courrier", "")]);
    let (to_main, from_rebuild) = mpsc::channel();
    let (to_rebuild, from_main) = mpsc::channel::<()>();
    let mut progressed = Vec::new();
    std::thread::scope(|s| {
        let rebuilding = s.spawn(|| {
            let docs = (10..2510).map(move |n| {
                if n == 10 {
                    to_main.send(()).unwrap();
                    from_main.recv().unwrap();
                }
                doc(n, "Nouveau courrier", "")
            });
            index.rebuild(c, docs, 99, |n| progressed.push(n))
        });
        from_rebuild.recv().unwrap();
        // Mid-rebuild: the old index still answers.
        assert_eq!(ids(&index, c, &q("ancien")), vec![id(1)]);
        assert_eq!(index.indexed_seq(c).unwrap(), Some(1));
        to_rebuild.send(()).unwrap();
        assert_eq!(rebuilding.join().unwrap().unwrap(), 2500);
    });
    assert_eq!(progressed, vec![1000, 2000, 2500]);
    assert!(ids(&index, c, &q("ancien")).is_empty());
    assert_eq!(index.search(c, &q("nouveau")).unwrap().total, 2500);
    assert_eq!(index.indexed_seq(c).unwrap(), Some(99));
    // One generation left on disk, no temp dir.
    let names: Vec<String> = std::fs::read_dir(dir.path().join(c.to_string()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("g-")).count(),
        1,
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("tmp-")), "{names:?}");
    // Reopened, and applied to after the rebuild.
    let reopened = SearchIndex::open(dir.path()).unwrap();
    reopened
        .apply(c, &[doc(1, "Ancien courrier", "")], &[], 100)
        .unwrap();
    assert_eq!(reopened.search(c, &q("courrier")).unwrap().total, 2501);
    assert_eq!(index.search(c, &q("courrier")).unwrap().total, 2501);
}

#[test]
fn failed_rebuild_keeps_the_old_index() {
    let (dir, index, c) = setup(&[doc(1, "Ancien courrier", "")]);
    // A rebuild whose source panics midway (e.g. the database went away).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let docs = (10..20).map(|n| {
            if n == 15 {
                panic!("source failed");
            }
            doc(n, "Nouveau", "")
        });
        index.rebuild(c, docs, 50, |_| {})
    }));
    assert!(result.is_err());
    assert_eq!(ids(&index, c, &q("ancien")), vec![id(1)]);
    assert_eq!(index.indexed_seq(c).unwrap(), Some(1));
    // The next rebuild cleans the leftover.
    index
        .rebuild(c, std::iter::once(doc(2, "Nouveau", "")), 60, |_| {})
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path().join(c.to_string()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}"); // CURRENT + one generation
    assert_eq!(ids(&index, c, &q("nouveau")), vec![id(2)]);
}

#[test]
fn snippets_escape_html_and_mark_matches() {
    let mut d = doc(1, "<script>alert('x')</script> éclairage & voirie", "");
    d.body = "Texte sans rapport.".into();
    let mut long = doc(2, "Courrier", "");
    long.body = format!(
        "{} La commune demande la réfection de l'Éclairage public. {}",
        "Introduction sans intérêt. ".repeat(30),
        "Conclusion. ".repeat(30)
    );
    let (_d, index, c) = setup(&[d, long]);
    let res = index.search(c, &q("éclairage")).unwrap();
    let s1 = &res
        .hits
        .iter()
        .find(|h| h.item_id == id(1))
        .unwrap()
        .snippet_html;
    assert!(s1.contains("&lt;script&gt;"), "{s1}");
    assert!(!s1.contains("<script>"), "{s1}");
    assert!(s1.contains("&amp;"), "{s1}");
    assert!(s1.contains("<mark>éclairage</mark>"), "{s1}");
    // Accented word in the body, found without accent; snippet around it, short.
    let res = index.search(c, &q("eclairage demandes")).unwrap();
    let s2 = &res
        .hits
        .iter()
        .find(|h| h.item_id == id(2))
        .unwrap()
        .snippet_html;
    assert!(s2.contains("<mark>Éclairage</mark>"), "{s2}");
    assert!(s2.contains("<mark>demande</mark>"), "{s2}");
    assert!(s2.chars().count() <= 200 + 4 * 13, "{s2}");
    // Without text: the beginning of the subject, escaped.
    let res = index.search(c, &q("")).unwrap();
    let s = &res
        .hits
        .iter()
        .find(|h| h.item_id == id(1))
        .unwrap()
        .snippet_html;
    assert!(s.starts_with("&lt;script&gt;"), "{s}");
}

/// A one-word query is ranked with block-max WAND: matches scoring as much as the last of a
/// page still compete on their date, the pages follow each other without a gap or a repeat,
/// and the total is exact.
#[test]
fn pages_keep_the_newest_among_equal_scores() {
    // One word, and two (ranked by another pruning pass), alike.
    for text in ["demande", "demande subvention"] {
        pages_of_equal_scores(text);
    }
}

fn pages_of_equal_scores(text: &str) {
    let mut docs = Vec::new();
    // 60 equal scores, registered in a shuffled order, and 5 that score higher (the word
    // in the subject).
    for n in 1..=60u32 {
        docs.push(doc((n * 37) % 61, "Courrier", "demande de subvention"));
    }
    for n in 61..=65u32 {
        docs.push(doc(n, "Demande", "demande de subvention"));
    }
    let (_d, index, c) = setup(&docs);
    let page = |offset: usize, limit: usize| {
        let results = index
            .search(
                c,
                &SearchQuery {
                    offset,
                    limit,
                    ..q(text)
                },
            )
            .unwrap();
        assert_eq!(results.total, 65, "{text}");
        results
            .hits
            .into_iter()
            .map(|h| h.item_id)
            .collect::<Vec<_>>()
    };
    let mut want: Vec<Uuid> = (61..=65).rev().map(id).collect();
    want.extend((1..=60).rev().map(id));
    assert_eq!(page(0, 65), want, "{text}");
    let mut paged = Vec::new();
    for offset in (0..65).step_by(20) {
        paged.extend(page(offset, 20));
    }
    assert_eq!(paged, want, "{text}");
    // Filtered, the same query takes the other path: same order.
    let filtered = index
        .search(
            c,
            &SearchQuery {
                status: Some("registered".into()),
                limit: 65,
                ..q(text)
            },
        )
        .unwrap();
    assert_eq!(
        filtered
            .hits
            .into_iter()
            .map(|h| h.item_id)
            .collect::<Vec<_>>(),
        want,
        "{text}"
    );
}
