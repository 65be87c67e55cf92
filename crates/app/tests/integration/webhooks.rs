//! Webhooks (issue 18, point 2), on SQLite and PostgreSQL, against a real HTTP receiver on
//! loopback (axum): each event arrives once, signed; a failure is retried with backoff and
//! ends delivered once; a paused subscription and another commune's subscription get
//! nothing; internal addresses are refused unless the operator allows them, when
//! subscribing and when delivering.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::harness::{Db, Harness, SYSTEM, at, both};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use parapheur_app::domain::item::NewItem;
use parapheur_app::domain::webhook::{self, EventType, SignatureRefusal};
use parapheur_app::domain::{Channel, Commune};
use parapheur_app::webhooks::{DeliveryState, NewWebhook};
use parapheur_app::{AppError, Change};

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    answered: u16,
}

impl Received {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A receiver on 127.0.0.1: it answers the statuses it was given, in order, then 200.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub(crate) async fn start(answers: &[u16]) -> (String, Receiver) {
        let receiver = Receiver::default();
        receiver.answers.lock().unwrap().extend(answers);
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{address}"), receiver)
    }

    pub(crate) fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let answered = receiver.answers.lock().unwrap().pop_front().unwrap_or(200);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    receiver.got.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
        answered,
    });
    let text = if answered < 300 {
        "reçu"
    } else {
        "Erreur interne\r\ndu receveur"
    };
    (StatusCode::from_u16(answered).unwrap(), text)
}

fn letter(subject: &str) -> NewItem {
    NewItem::incoming(
        Channel::Paper,
        subject,
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
    )
}

fn hook(url: String, events: &[EventType]) -> NewWebhook {
    NewWebhook {
        label: "Portail citoyen".into(),
        url,
        events: events.to_vec(),
        active: true,
    }
}

/// Checks a request as a receiver would, at the instant it was sent.
pub(crate) fn verified(secret: &str, got: &Received) -> Result<(), SignatureRefusal> {
    let sent_at: i64 = got.timestamp.parse().unwrap();
    webhook::verify(
        secret,
        &got.id,
        &got.timestamp,
        &got.signature,
        got.body.as_bytes(),
        sent_at,
    )
}

async fn register(h: &Harness, commune: &Commune, subject: &str, now: DateTime<Utc>) -> String {
    h.app
        .register(commune, &SYSTEM, letter(subject), vec![], now)
        .await
        .unwrap()
        .item
        .chrono
}

both!(
    a_receiver_gets_each_event_once_signed_and_the_retries_after_a_failure,
    paused_subscriptions_and_other_communes_get_nothing,
    internal_addresses_are_refused_unless_allowed,
    assignments_and_due_dates_are_told_once,
    bad_subscriptions_are_refused_and_write_nothing,
    the_deadline_watch_tells_due_dates_and_implicit_decisions,
    the_server_delivers_as_soon_as_an_item_is_registered,
    a_slow_receiver_delays_no_other,
);

async fn a_receiver_gets_each_event_once_signed_and_the_retries_after_a_failure(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let (base, receiver) = Receiver::start(&[500]).await;
    let t0 = at(2026, 3, 2);
    let created = h
        .app
        .create_webhook(
            &commune,
            &SYSTEM,
            hook(format!("{base}/a"), &[EventType::ItemRegistered]),
            t0,
        )
        .await
        .unwrap();
    assert!(created.secret.starts_with("whsec_"));
    let chrono = register(&h, &commune, "Demande de salle", t0).await;

    // First attempt: the receiver answers 500; retried in 30 s.
    let report = h.app.deliver_webhooks(t0).await.unwrap();
    assert_eq!((report.delivered, report.retried, report.failed), (0, 1, 0));
    let deliveries = h
        .app
        .webhook_deliveries(&commune, &SYSTEM, None)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Pending);
    assert_eq!(deliveries[0].last_status, Some(500));
    assert_eq!(
        deliveries[0].last_answer.as_deref(),
        Some("Erreur interne du receveur")
    );
    // Not before its time.
    let report = h
        .app
        .deliver_webhooks(t0 + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(report, Default::default());
    assert_eq!(receiver.got().len(), 1);
    // The retry is answered 200: delivered, and never sent again.
    let retry_at = t0 + Duration::seconds(31);
    let report = h.app.deliver_webhooks(retry_at).await.unwrap();
    assert_eq!((report.delivered, report.retried, report.failed), (1, 0, 0));
    for later in [1, 24, 48] {
        let report = h
            .app
            .deliver_webhooks(t0 + Duration::hours(later))
            .await
            .unwrap();
        assert_eq!(report, Default::default());
    }
    let got = receiver.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|g| g.answered == 200).count(), 1);
    // The same delivery both times (one id), each signed for its own timestamp.
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[0].id, deliveries[0].id.to_string());
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].timestamp, t0.timestamp().to_string());
    assert_eq!(got[1].timestamp, retry_at.timestamp().to_string());
    for g in &got {
        assert_eq!(g.path, "/a");
        assert_eq!(verified(&created.secret, g), Ok(()));
    }
    let body = got[1].json();
    assert_eq!(body["type"], "item.registered");
    assert_eq!(body["data"]["commune"], "37154");
    assert_eq!(body["data"]["item"]["chrono"], chrono.as_str());
    assert_eq!(body["data"]["item"]["subject"], "Demande de salle");
    // Verified with another secret, or replayed ten minutes later: refused, with its code.
    let other = webhook::secret_text(&[9; 32]);
    assert_eq!(verified(&other, &got[1]), Err(SignatureRefusal::Mismatch));
    let replayed = webhook::verify(
        &created.secret,
        &got[1].id,
        &got[1].timestamp,
        &got[1].signature,
        got[1].body.as_bytes(),
        (retry_at + Duration::minutes(10)).timestamp(),
    );
    assert_eq!(replayed, Err(SignatureRefusal::Replayed));
    assert_eq!(SignatureRefusal::Replayed.code(), "webhook_replayed");

    let delivered = &h
        .app
        .webhook_deliveries(&commune, &SYSTEM, Some(created.subscription.id))
        .await
        .unwrap()[0];
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.last_status, Some(200));
    assert_eq!(delivered.last_answer.as_deref(), Some("reçu"));

    // "Renvoyer": the same delivery once more, same id.
    h.app
        .redeliver_webhook(
            &commune,
            &SYSTEM,
            delivered.id,
            retry_at + Duration::hours(1),
        )
        .await
        .unwrap();
    let report = h
        .app
        .deliver_webhooks(retry_at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].id, delivered.id.to_string());
    assert_eq!(verified(&created.secret, &got[2]), Ok(()));
}

async fn paused_subscriptions_and_other_communes_get_nothing(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let a = h.commune("37154").await;
    let b = h.commune("01004").await;
    let (base, receiver) = Receiver::start(&[]).await;
    let t0 = at(2026, 3, 2);
    let mut paused = hook(format!("{base}/a"), &[EventType::ItemRegistered]);
    paused.active = false;
    let of_a = h.app.create_webhook(&a, &SYSTEM, paused, t0).await.unwrap();
    let of_b = h
        .app
        .create_webhook(
            &b,
            &SYSTEM,
            hook(format!("{base}/b"), &[EventType::ItemRegistered]),
            t0,
        )
        .await
        .unwrap();
    register(&h, &a, "Courrier de A", t0).await;
    let chrono_b = register(&h, &b, "Courrier de B", t0).await;
    let report = h.app.deliver_webhooks(t0).await.unwrap();
    assert_eq!(report.delivered, 1);
    let got = receiver.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path, "/b");
    assert_eq!(got[0].json()["data"]["commune"], "01004");
    assert_eq!(got[0].json()["data"]["item"]["chrono"], chrono_b.as_str());
    assert_eq!(verified(&of_b.secret, &got[0]), Ok(()));
    assert!(
        h.app
            .webhook_deliveries(&a, &SYSTEM, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Each commune sees and manages only its own subscriptions.
    let listed = h.app.webhooks(&b, &SYSTEM).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, of_b.subscription.id);
    let err = h
        .app
        .delete_webhook(&b, &SYSTEM, of_a.subscription.id, t0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("introuvable"), "{err}");

    // Resumed, A's subscription gets A's next item, and only that.
    h.app
        .set_webhook_active(&a, &SYSTEM, of_a.subscription.id, true, t0)
        .await
        .unwrap();
    let chrono_a = register(&h, &a, "Courrier suivant de A", t0).await;
    h.app.deliver_webhooks(t0).await.unwrap();
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].path, "/a");
    assert_eq!(got[1].json()["data"]["item"]["chrono"], chrono_a.as_str());
    assert_eq!(verified(&of_a.secret, &got[1]), Ok(()));
    // Removed, nothing more is queued for it.
    h.app
        .delete_webhook(&a, &SYSTEM, of_a.subscription.id, t0)
        .await
        .unwrap();
    register(&h, &a, "Après la suppression", t0).await;
    assert_eq!(
        h.app.deliver_webhooks(t0).await.unwrap(),
        Default::default()
    );
    assert_eq!(receiver.got().len(), 2);
}

async fn internal_addresses_are_refused_unless_allowed(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let mut strict_config = h.config.clone();
    strict_config.outbound_internal_addresses = false;
    strict_config.outbound_plain_text = false;
    let strict = parapheur_app::App::open(&strict_config).await.unwrap();
    let t0 = at(2026, 3, 2);
    for (url, why) in [
        ("http://hooks.exemple.fr/x", "https"),
        ("https://127.0.0.1/x", "interne"),
        ("https://10.0.0.5/x", "interne"),
        ("https://169.254.169.254/latest", "interne"),
        ("https://[::1]:8443/x", "interne"),
        ("https://localhost/x", "interne"),
        ("https://app.localhost/x", "interne"),
        ("https://moi:secret@hooks.exemple.fr/x", "identifiants"),
        ("ftp://hooks.exemple.fr/x", "https"),
    ] {
        let err = strict
            .create_webhook(
                &commune,
                &SYSTEM,
                hook(url.into(), &[EventType::ItemRegistered]),
                t0,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{url}: {err}");
    }
    assert!(strict.webhooks(&commune, &SYSTEM).await.unwrap().is_empty());

    // Allowed on the permissive node (the operator's setting), a loopback subscription is
    // still refused when a strict node delivers: the address is checked at each delivery.
    let (base, receiver) = Receiver::start(&[]).await;
    h.app
        .create_webhook(
            &commune,
            &SYSTEM,
            hook(format!("{base}/a"), &[EventType::ItemRegistered]),
            t0,
        )
        .await
        .unwrap();
    register(&h, &commune, "Vers une adresse interne", t0).await;
    let report = strict.deliver_webhooks(t0).await.unwrap();
    assert_eq!(report.retried, 1);
    assert!(receiver.got().is_empty());
    let delivery = &h
        .app
        .webhook_deliveries(&commune, &SYSTEM, None)
        .await
        .unwrap()[0];
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.last_status, None);
    let answer = delivery.last_answer.clone().unwrap_or_default();
    assert!(
        answer.contains("https") || answer.contains("interne"),
        "{answer}"
    );
    // The permissive node delivers it at its retry.
    let report = h
        .app
        .deliver_webhooks(t0 + Duration::seconds(31))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(receiver.got().len(), 1);
}

async fn assignments_and_due_dates_are_told_once(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let (base, receiver) = Receiver::start(&[]).await;
    let t0 = at(2026, 3, 2);
    let created = h
        .app
        .create_webhook(
            &commune,
            &SYSTEM,
            hook(
                format!("{base}/a"),
                &[EventType::ItemAssigned, EventType::ItemDueSoon],
            ),
            t0,
        )
        .await
        .unwrap();
    let service = h
        .app
        .add_service(&commune, "urbanisme", "Urbanisme", &SYSTEM, t0)
        .await
        .unwrap();
    let mut new = letter("Permis de construire");
    new.requested_due = Some(NaiveDate::from_ymd_opt(2026, 3, 6).unwrap());
    let item = h
        .app
        .register(&commune, &SYSTEM, new, vec![], t0)
        .await
        .unwrap()
        .item;
    // Not subscribed to item.registered: nothing queued by the registration.
    assert!(
        h.app
            .webhook_deliveries(&commune, &SYSTEM, None)
            .await
            .unwrap()
            .is_empty()
    );
    h.app
        .change_item(
            &commune,
            &SYSTEM,
            item.id,
            Change::Assign {
                service_id: Some(service.id),
                assignee_id: None,
            },
            t0,
        )
        .await
        .unwrap();
    // A refused change queues nothing: the same transaction.
    h.app
        .change_item(
            &commune,
            &SYSTEM,
            item.id,
            Change::Assign {
                service_id: None,
                assignee_id: None,
            },
            t0,
        )
        .await
        .unwrap_err();
    // Due within seven days: told once, however often the watch looks.
    assert_eq!(h.app.queue_due_soon_events(&commune, t0).await.unwrap(), 1);
    assert_eq!(
        h.app
            .queue_due_soon_events(&commune, t0 + Duration::days(1))
            .await
            .unwrap(),
        0
    );
    let report = h
        .app
        .deliver_webhooks(t0 + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
    let got = receiver.got();
    let types: Vec<_> = got
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["item.assigned", "item.due_soon"]);
    let assigned = got[0].json();
    assert_eq!(assigned["data"]["item"]["id"], item.id.to_string());
    assert_eq!(
        assigned["data"]["item"]["service_id"],
        service.id.to_string()
    );
    assert_eq!(got[1].json()["data"]["item"]["due_date"], "2026-03-06");
    for g in &got {
        assert_eq!(verified(&created.secret, g), Ok(()));
    }
}

async fn bad_subscriptions_are_refused_and_write_nothing(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let t0 = at(2026, 3, 2);
    let agent = h
        .user(
            &commune,
            "agent@mairie.test",
            parapheur_app::domain::Role::Agent,
        )
        .await;
    let seq = |h: Option<parapheur_store::JournalHead>| h.map(|h| h.seq);
    let head = seq(h.app.store().journal_head(commune.id).await.unwrap());
    let url = "https://hooks.exemple.fr/parapheur".to_owned();
    let refused = [
        (
            SYSTEM,
            NewWebhook {
                label: " ".into(),
                ..hook(url.clone(), &[EventType::ItemRegistered])
            },
            "nom",
        ),
        (SYSTEM, hook(url.clone(), &[]), "événement"),
        (
            SYSTEM,
            hook("pas une adresse".into(), &[EventType::LetterSent]),
            "adresse",
        ),
    ];
    for (actor, new, why) in refused {
        let err = h
            .app
            .create_webhook(&commune, &actor, new, t0)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    // An agent is not an administrator.
    let err = h
        .app
        .create_webhook(&commune, &agent, hook(url, &[EventType::LetterSent]), t0)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");
    assert_eq!(
        seq(h.app.store().journal_head(commune.id).await.unwrap()),
        head
    );
    assert!(h.app.webhooks(&commune, &SYSTEM).await.unwrap().is_empty());
}

/// Through the deadline watch itself: an item due within seven days is told once (the watch
/// runs several times a day), and the implicit decision born of silence is told the day
/// it is recorded.
async fn the_deadline_watch_tells_due_dates_and_implicit_decisions(db: Db) {
    use parapheur_app::domain::{Delay, DocumentType, SilenceRule};
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let mut doctype: DocumentType = parapheur_app::domain::doctype::default_set()
        .into_iter()
        .next()
        .unwrap();
    doctype.code = "sva".into();
    doctype.label = "Demande sva".into();
    doctype.delay = Delay::Months(2);
    doctype.silence = SilenceRule::Acceptance;
    h.app
        .add_doctype(&commune, &doctype, &SYSTEM, at(2026, 1, 2))
        .await
        .unwrap();
    let (base, receiver) = Receiver::start(&[]).await;
    let created = h
        .app
        .create_webhook(
            &commune,
            &SYSTEM,
            hook(
                format!("{base}/a"),
                &[EventType::ItemDueSoon, EventType::ImplicitDecision],
            ),
            at(2026, 1, 2),
        )
        .await
        .unwrap();
    let mut new = NewItem::incoming(
        Channel::Paper,
        "Terrasse",
        NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
    );
    new.doctype_code = Some("sva".into());
    let item = h
        .app
        .register(&commune, &SYSTEM, new, vec![], at(2026, 2, 1))
        .await
        .unwrap()
        .item;
    assert_eq!(item.due_date, NaiveDate::from_ymd_opt(2026, 4, 1));
    // 20 March: due in twelve days, nothing yet. 27 March: within seven, told once.
    h.app.run_deadline_watch(at(2026, 3, 20)).await.unwrap();
    assert!(
        h.app
            .webhook_deliveries(&commune, &SYSTEM, None)
            .await
            .unwrap()
            .is_empty()
    );
    for day in [27, 28, 30] {
        h.app.run_deadline_watch(at(2026, 3, day)).await.unwrap();
    }
    // 2 April: the acceptance born at the end of 1 April.
    h.app.run_deadline_watch(at(2026, 4, 2)).await.unwrap();
    let report = h.app.deliver_webhooks(at(2026, 4, 2)).await.unwrap();
    assert_eq!(report.delivered, 2);
    let got = receiver.got();
    let types: Vec<_> = got
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["item.due_soon", "item.implicit_decision"]);
    assert_eq!(got[0].json()["data"]["days_left"], 5);
    let decision = got[1].json();
    assert_eq!(decision["data"]["decision"], "accepted");
    assert_eq!(decision["data"]["born_on"], "2026-04-01");
    assert_eq!(decision["data"]["item"]["chrono"], item.chrono.as_str());
    for g in &got {
        assert_eq!(verified(&created.secret, g), Ok(()));
    }
}

/// The server's background sender, woken by the registration's commit: the receiver gets
/// the event within seconds, once, without anyone calling the sender.
async fn the_server_delivers_as_soon_as_an_item_is_registered(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let (base, receiver) = Receiver::start(&[]).await;
    let created = h
        .app
        .create_webhook(
            &commune,
            &SYSTEM,
            hook(format!("{base}/a"), &[EventType::ItemRegistered]),
            Utc::now(),
        )
        .await
        .unwrap();
    parapheur_app::background::spawn(&h.app, &h.config);
    let chrono = register(&h, &commune, "Demande urgente", Utc::now()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while receiver.got().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Time for a second copy to arrive, if one were sent.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    parapheur_app::background::stop(&h.app, std::time::Duration::from_secs(60)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].json()["data"]["item"]["chrono"], chrono.as_str());
    assert_eq!(verified(&created.secret, &got[0]), Ok(()));
}

/// Two receivers that each answer only once the other has been called: delivered one after
/// the other, the first would wait in vain (and answer 503); served together, both answer 200
/// in the same round. Each receiver still gets its own deliveries in order.
/// Each request's path and body, as the meeting receivers got them.
type Bodies = Arc<Mutex<Vec<(String, String)>>>;

async fn a_slow_receiver_delays_no_other(db: Db) {
    let Some(h) = Harness::new(db).await else {
        return;
    };
    let commune = h.commune("37154").await;
    let meeting = Arc::new(tokio::sync::Barrier::new(2));
    let bodies: Bodies = Arc::default();
    let router = axum::Router::new()
        .fallback(
            |State((meeting, bodies)): State<(Arc<tokio::sync::Barrier>, Bodies)>,
             uri: Uri,
             body: String| async move {
                bodies.lock().unwrap().push((uri.path().to_owned(), body));
                // The first delivery of each receiver waits for the other receiver's first.
                let first = bodies
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(p, _)| p == uri.path())
                    .count()
                    == 1;
                if first
                    && tokio::time::timeout(std::time::Duration::from_secs(5), meeting.wait())
                        .await
                        .is_err()
                {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                StatusCode::OK
            },
        )
        .with_state((meeting, bodies.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let t0 = at(2026, 3, 2);
    for path in ["/lent", "/rapide"] {
        h.app
            .create_webhook(
                &commune,
                &SYSTEM,
                hook(format!("{base}{path}"), &[EventType::ItemRegistered]),
                t0,
            )
            .await
            .unwrap();
    }
    let first = register(&h, &commune, "Premier", t0).await;
    let second = register(&h, &commune, "Second", t0).await;
    let report = h.app.deliver_webhooks(t0).await.unwrap();
    assert_eq!(
        (report.delivered, report.retried, report.failed),
        (4, 0, 0),
        "{:?}",
        bodies.lock().unwrap()
    );
    let got = bodies.lock().unwrap().clone();
    for path in ["/lent", "/rapide"] {
        let chronos: Vec<String> = got
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| {
                serde_json::from_str::<serde_json::Value>(b).unwrap()["data"]["item"]["chrono"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            chronos,
            [first.clone(), second.clone()],
            "{path} got its events out of order"
        );
    }
}
