//! The phone system's call events (issue 18, point 3) through the real router, on SQLite
//! and PostgreSQL: `POST /api/v1/cti/{token}` with call sequences as Zammad's bridges post
//! them (the Asterisk AMI bridge's form bodies with `user[]`, the JSON of Zammad's own
//! examples): an answered call, a missed call leaving its callback item, replays answered
//! the same and changing nothing, out-of-order and unknown-call events refused with their
//! codes and nothing written, wrong and revoked tokens, and another commune's token never
//! touching this commune's calls.

use axum::http::{StatusCode, header};
use chrono::Utc;
use parapheur_app::Actor;
use parapheur_app::api::Scope;
use parapheur_app::domain::Channel;
use parapheur_app::domain::contact::NewContact;
use parapheur_app::domain::cti::CallState;
use parapheur_testkit::both;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::*;

/// Posts one event: (status, JSON body).
async fn post_event(
    site: &Site,
    token: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let path = format!("/cti/{token}");
    let body = Some((content_type, body.as_bytes().to_vec()));
    let (status, _, bytes) = api_call(site, "POST", &path, None, body, &[]).await;
    (status, parsed(&bytes))
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn cti_token(
    site: &Site,
    commune: &parapheur_app::domain::Commune,
    owner: &str,
    scopes: &[Scope],
) -> (uuid::Uuid, String) {
    let label = "Standard téléphonique".to_owned();
    api_token(site, commune, owner, label, scopes).await
}

/// The call `call_ref` of `commune`, which must exist.
async fn the_call(
    site: &Site,
    commune: &parapheur_app::domain::Commune,
    call_ref: &str,
) -> parapheur_store::calls::Call {
    site.app
        .call_by_ref(commune, call_ref)
        .await
        .unwrap()
        .unwrap()
}

/// Commune A with its standard's token, the agent on extension 100 and the secretary on
/// 101, and a contact Jeanne Martin whose card has 06.12.34.56.78.
async fn ready(site: &Site) -> String {
    let a = &site.a;
    let test = Actor::System("test");
    for (email, extension) in [("agent@a.test", "100"), ("admin@a.test", "101")] {
        let user = user_in(site, a.id, email).await;
        site.app
            .set_phone_extension(a, &test, user.id, extension, Utc::now())
            .await
            .unwrap();
    }
    site.app
        .create_contact(
            a,
            &test,
            NewContact {
                name: "Martin".into(),
                first_name: Some("Jeanne".into()),
                phone: Some("06.12.34.56.78".into()),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    cti_token(site, a, "admin@a.test", &[Scope::CtiEvents])
        .await
        .1
}

async fn an_answered_call_is_followed_to_its_end(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let token = ready(&site).await;
    let a = site.a.clone();
    let journal = site.app.store().journal_len(a.id).await.unwrap();
    // The Asterisk AMI bridge's form bodies, `user[]` repeated, E.164 without its `+`.
    for body in [
        "event=newCall&from=33612345678&to=100&direction=in&callId=1733560000.101&user%5B%5D=Agent+A&queue=accueil",
        "event=answer&from=33612345678&to=100&direction=in&callId=1733560000.101&answeringNumber=101&user%5B%5D=Agent+A",
        "event=hangup&from=33612345678&to=100&direction=in&callId=1733560000.101&cause=normalClearing&answeringNumber=101",
    ] {
        let (status, answer) = post_event(&site, &token, FORM, body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        assert_eq!(answer, serde_json::json!({}), "Zammad's answer: no action");
    }
    let call = the_call(&site, &a, "1733560000.101").await;
    assert_eq!(call.state, CallState::Ended);
    assert!(!call.missed);
    assert_eq!(call.caller_number.as_deref(), Some("0612345678"));
    let jeanne = site
        .app
        .store()
        .contacts_by_phone(a.id, "0612345678")
        .await
        .unwrap();
    assert_eq!(
        call.contact_id,
        Some(jeanne[0].id),
        "the caller is Jeanne Martin"
    );
    let admin = user_in(&site, a.id, "admin@a.test").await;
    assert_eq!(call.agent_id, Some(admin.id), "extension 101 picked up");
    assert!(call.item_id.is_none(), "an answered call leaves no task");
    assert!(call.answered_at.is_some() && call.ended_at.is_some());
    // A bridge retrying the hang-up: the same answer, nothing changed.
    let (status, _) = post_event(
        &site,
        &token,
        FORM,
        "event=hangup&from=33612345678&to=100&direction=in&callId=1733560000.101&cause=normalClearing",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(the_call(&site, &a, "1733560000.101").await, call);
    assert_eq!(
        site.app.store().journal_len(a.id).await.unwrap(),
        journal,
        "calls answered are not the register's"
    );
}

async fn a_missed_call_leaves_a_callback_item(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let token = ready(&site).await;
    let a = site.a.clone();
    let agent = user_in(&site, a.id, "agent@a.test").await;
    // Zammad's JSON form, the caller in international notation.
    let newcall = r#"{"event":"newCall","from":"+33 6 12 34 56 78","to":"100","direction":"in","callId":"f4ebd2be-7b9a","user":["Agent A"]}"#;
    let (status, answer) = post_event(&site, &token, JSON, newcall).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ringing = the_call(&site, &a, "f4ebd2be-7b9a").await;
    assert_eq!(ringing.state, CallState::Ringing);
    assert_eq!(ringing.agent_id, Some(agent.id), "extension 100 rings");
    // The same newCall again: nothing new.
    let (status, _) = post_event(&site, &token, JSON, newcall).await;
    assert_eq!(status, StatusCode::OK);
    let before = site.app.store().journal_len(a.id).await.unwrap();
    let hangup = r#"{"event":"hangup","from":"+33 6 12 34 56 78","to":"100","direction":"in","callId":"f4ebd2be-7b9a","cause":"noAnswer"}"#;
    let (status, answer) = post_event(&site, &token, JSON, hangup).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let call = the_call(&site, &a, "f4ebd2be-7b9a").await;
    assert!(call.missed);
    assert_eq!(call.state, CallState::Ended);
    let item = site
        .app
        .store()
        .item(a.id, call.item_id.expect("a callback item"))
        .await
        .unwrap();
    assert_eq!(item.channel, Channel::Phone);
    assert_eq!(item.subject, "Appel manqué de Jeanne Martin — à rappeler");
    assert_eq!(
        item.assignee_id,
        Some(agent.id),
        "for the agent whose phone rang"
    );
    let body = item.body.clone().unwrap_or_default();
    assert!(
        body.contains("Numéro à rappeler : 06 12 34 56 78"),
        "{body}"
    );
    assert!(body.contains("pas de réponse"), "{body}");
    let entries = site.app.store().journal_entries(a.id).await.unwrap();
    let actions: Vec<&str> = entries[usize::try_from(before).unwrap()..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert!(actions.contains(&"call.missed"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a.starts_with("item.")),
        "{actions:?}"
    );
    // The hang-up replayed: no second task.
    let after = site.app.store().journal_len(a.id).await.unwrap();
    let (status, _) = post_event(&site, &token, JSON, hangup).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(site.app.store().journal_len(a.id).await.unwrap(), after);
    // The item's page offers to call back in one click, the contact named.
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, _, page) =
        send(&site, get(&format!("/courrier/{}", item.id), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("href=\"tel:0612345678\""), "{page}");
}

async fn events_out_of_order_or_for_an_unknown_call_are_refused(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let token = ready(&site).await;
    let a = site.a.clone();
    let journal = site.app.store().journal_len(a.id).await.unwrap();
    // An answer, a hang-up of a call never heard ringing.
    for body in [
        "event=answer&from=0612345678&to=100&direction=in&callId=inconnu-1&answeringNumber=100",
        "event=hangup&from=0612345678&to=100&direction=in&callId=inconnu-1&cause=noAnswer",
    ] {
        let (status, answer) = post_event(&site, &token, FORM, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(code(&answer), "call_unknown", "{answer}");
    }
    assert!(
        site.app
            .call_by_ref(&a, "inconnu-1")
            .await
            .unwrap()
            .is_none()
    );
    // A call answered, hung up, then an answer and a newCall arriving late.
    for body in [
        "event=newCall&from=0612345678&to=100&direction=in&callId=tard-1",
        "event=answer&from=0612345678&to=100&direction=in&callId=tard-1&answeringNumber=100",
        "event=hangup&from=0612345678&to=100&direction=in&callId=tard-1&cause=normalClearing",
    ] {
        assert_eq!(
            post_event(&site, &token, FORM, body).await.0,
            StatusCode::OK,
            "{body}"
        );
    }
    let ended = the_call(&site, &a, "tard-1").await;
    for body in [
        "event=answer&from=0612345678&to=100&direction=in&callId=tard-1&answeringNumber=101",
        "event=newCall&from=0612345678&to=100&direction=in&callId=tard-1",
    ] {
        let (status, answer) = post_event(&site, &token, FORM, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(code(&answer), "call_out_of_order", "{answer}");
    }
    assert_eq!(the_call(&site, &a, "tard-1").await, ended);
    // Malformed events.
    for (content_type, body) in [
        (FORM, "from=0612345678&direction=in&callId=x"),
        (FORM, "event=ring&direction=in&callId=x"),
        (FORM, "event=newCall&direction=in"),
        (FORM, "event=newCall&direction=sideways&callId=x"),
        (JSON, r#"{"event":"newCall","callId":"x"}"#),
    ] {
        let (status, answer) = post_event(&site, &token, content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&answer), "invalid_call_event", "{answer}");
    }
    let (status, answer) = post_event(&site, &token, JSON, "[1,2]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = post_event(&site, &token, "text/plain", "event=newCall").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    assert_eq!(
        site.app.store().journal_len(a.id).await.unwrap(),
        journal,
        "nothing written"
    );
}

async fn only_a_live_token_of_the_commune_with_the_scope_posts(db: Db) {
    let Some(site) = site_on(db).await else {
        return;
    };
    let token = ready(&site).await;
    let (a, b) = (site.a.clone(), site.b.clone());
    let body = "event=newCall&from=0612345678&to=100&direction=in&callId=jeton-1";
    for (secret, status, want) in [
        ("prph_inconnu", StatusCode::UNAUTHORIZED, "token_invalid"),
        ("nimporte", StatusCode::UNAUTHORIZED, "token_invalid"),
    ] {
        let (got, answer) = post_event(&site, secret, FORM, body).await;
        assert_eq!((got, code(&answer)), (status, want), "{secret}");
    }
    // A token without the scope (an API token of the commune): refused.
    let (_, reader) = cti_token(&site, &a, "admin@a.test", &[Scope::ItemsRead]).await;
    let (got, answer) = post_event(&site, &reader, FORM, body).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::FORBIDDEN, "scope_missing")
    );
    // The standard's token in the header rather than the address: not found there.
    let (got, _) = post_event(&site, "", FORM, body).await;
    assert_ne!(got, StatusCode::OK);
    // Revoked.
    let (id, revoked) = cti_token(&site, &a, "admin@a.test", &[Scope::CtiEvents]).await;
    site.app
        .revoke_api_token(&a, &Actor::System("test"), id, Utc::now())
        .await
        .unwrap();
    let (got, answer) = post_event(&site, &revoked, FORM, body).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    assert!(site.app.call_by_ref(&a, "jeton-1").await.unwrap().is_none());
    // Commune B's token: B's call, never A's, even with A's callId.
    assert_eq!(
        post_event(&site, &token, FORM, body).await.0,
        StatusCode::OK
    );
    let a_call = the_call(&site, &a, "jeton-1").await;
    let (_, of_b) = cti_token(&site, &b, "admin@b.test", &[Scope::CtiEvents]).await;
    let a_journal = site.app.store().journal_len(a.id).await.unwrap();
    for body in [
        "event=answer&from=0612345678&to=100&direction=in&callId=jeton-1",
        "event=newCall&from=0612345678&to=100&direction=in&callId=jeton-1",
        "event=hangup&from=0612345678&to=100&direction=in&callId=jeton-1&cause=noAnswer",
    ] {
        let (status, answer) = post_event(&site, &of_b, FORM, body).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "{body}: {answer}"
        );
    }
    assert_eq!(
        the_call(&site, &a, "jeton-1").await,
        a_call,
        "A's call untouched"
    );
    assert_eq!(site.app.store().journal_len(a.id).await.unwrap(), a_journal);
    let b_call = the_call(&site, &b, "jeton-1").await;
    assert!(b_call.missed);
    assert_eq!(b_call.contact_id, None, "A's contacts are not B's");
}

both!(
    an_answered_call_is_followed_to_its_end,
    a_missed_call_leaves_a_callback_item,
    events_out_of_order_or_for_an_unknown_call_are_refused,
    only_a_live_token_of_the_commune_with_the_scope_posts,
);

/// The extension is set where users are edited, shown back, and refused when another
/// person has it.
#[tokio::test]
async fn administrators_set_a_users_extension() {
    let site = site().await;
    let a = site.a.clone();
    let agent = user_in(&site, a.id, "agent@a.test").await;
    let admin = user_in(&site, a.id, "admin@a.test").await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let path = format!("/administration/utilisateurs/{}", agent.id);
    let (status, _, page) = send(&site, get(&path, Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<label for=\"phone_extension\">Poste téléphonique</label>"),
        "{page}"
    );
    let form = |extension: &str| {
        format!(
            "csrf={csrf}&name={}&role={}&active=1&phone_extension={extension}",
            agent.display_name.replace(' ', "+"),
            agent.role.code()
        )
    };
    let (status, _, _) = send(&site, post(&path, Some(&cookie), &form("102"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let extensions = site.app.phone_extensions(&a).await.unwrap();
    assert!(
        extensions.contains(&(agent.id, "102".to_owned())),
        "{extensions:?}"
    );
    let (_, _, page) = send(&site, get(&path, Some(&cookie))).await;
    assert!(page.contains("value=\"102\""), "{page}");
    // The administrator's own line cannot be the agent's too.
    site.app
        .set_phone_extension(&a, &Actor::System("test"), admin.id, "103", Utc::now())
        .await
        .unwrap();
    let (status, _, page) = send(&site, post(&path, Some(&cookie), &form("103"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("pas le poste téléphonique"), "{page}");
    assert!(
        site.app
            .phone_extensions(&a)
            .await
            .unwrap()
            .contains(&(agent.id, "102".to_owned()))
    );
}

/// A voicemail emailed by Asterisk (default template), taken by the mailbox capture path,
/// is a phone item whose recording plays in the item's page: `<audio controls>` on the
/// file's route, served as `audio/wav`, which the page's policy lets play (`media-src`).
#[tokio::test]
async fn an_emailed_voicemail_plays_in_the_item_page() {
    use base64::Engine;
    let site = site().await;
    let a = site.a.clone();
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00".to_vec();
    wav.extend_from_slice(&[0u8; 64]);
    let audio = base64::engine::general_purpose::STANDARD.encode(&wav);
    let email = format!(
        "From: \"Asterisk PBX\" <asterisk@pbx.mairie.test>\r\n\
         Subject: [PBX]: New message 1 in mailbox 100\r\n\
         Message-ID: <Asterisk-web-1@pbx.mairie.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\r\n\
         Dear Agent A:\r\n\r\n\tjust wanted to let you know you were just left a 0:03 long message (number 1)\r\n\
         in mailbox 100 from \"Jeanne Martin\" <0612345678>, on Monday, March 02, 2026 at 09:12:03 AM\r\n\
         --b\r\nContent-Type: audio/x-wav; name=\"msg0000.wav\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"msg0000.wav\"\r\n\r\n{audio}\r\n--b--\r\n"
    );
    let outcome = site
        .app
        .capture_message(
            &a,
            parapheur_app::capture::MessageSource::import("messagerie"),
            Ok(email.into_bytes()),
            Utc::now(),
        )
        .await
        .unwrap();
    let parapheur_app::capture::CaptureOutcome::Registered { item_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let (cookie, _) = login(&site, "agent@a.test").await;
    let (status, headers, page) =
        send(&site, get(&format!("/courrier/{item_id}"), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Message vocal de Jeanne Martin"), "{page}");
    assert!(page.contains("téléphone"), "the channel shown");
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("media-src 'self'"), "{csp}");
    let attachments = site.app.store().attachments(a.id, item_id).await.unwrap();
    let url = format!("/courrier/{item_id}/fichier/{}", attachments[0].id);
    // The page escapes `/` in attributes, as everywhere (the browser reads it back).
    let escaped = url.replace('/', "&#x2f;");
    assert!(
        page.contains(&format!(
            "<audio controls preload=\"none\" src=\"{escaped}\">"
        )),
        "{page}"
    );
    assert!(page.contains("href=\"tel:0612345678\""), "{page}");
    let response = site
        .router
        .clone()
        .oneshot(get(&url, Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.to_vec(), wav);
}

/// The next event of a server-sent stream, or `None` after `wait`.
async fn next_event(
    body: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    wait: std::time::Duration,
) -> Option<String> {
    use futures::StreamExt;
    let mut text = String::new();
    loop {
        match tokio::time::timeout(wait, body.next()).await {
            Ok(Some(Ok(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                // Keep-alive comments are not events.
                if text.contains("event:") && text.contains("\n\n") {
                    return Some(text);
                }
            }
            _ => return None,
        }
    }
}

/// A recorded Asterisk sequence (the AMI bridge's form bodies) rings extension 100: the
/// agent's open page gets the call sheet pushed (server-sent events), another agent's page
/// nothing; without a script, "À traiter" lists the call ringing; the sheet is the call
/// form filled with the caller and contact; the answer takes the banner away. Another
/// commune cannot open the sheet.
#[tokio::test]
async fn the_call_sheet_is_pushed_to_the_agents_page() {
    let site = site().await;
    let token = ready(&site).await;
    let (status, _, _) = send(&site, get("/appels/flux", None)).await;
    assert_ne!(status, StatusCode::OK, "anonymous: no stream");
    let (agent_cookie, _) = login(&site, "agent@a.test").await;
    let (admin_cookie, _) = login(&site, "admin@a.test").await;
    let open = |cookie: String| {
        let router = site.router.clone();
        async move {
            let response = router
                .oneshot(get("/appels/flux", Some(&cookie)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/event-stream"
            );
            response.into_body().into_data_stream()
        }
    };
    let mut agent_page = open(agent_cookie.clone()).await;
    let mut admin_page = open(admin_cookie).await;
    let (status, _) = post_event(
        &site,
        &token,
        FORM,
        "event=newCall&from=0612345678&to=100&direction=in&callId=1733560000.7&user%5B%5D=Agent+A",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let wait = std::time::Duration::from_secs(5);
    let event = next_event(&mut agent_page, wait)
        .await
        .expect("the sheet pushed");
    assert!(event.contains("event: appel\n"), "{event}");
    assert!(
        event.contains("Appel de Jeanne Martin (06 12 34 56 78)"),
        "{event}"
    );
    let call = the_call(&site, &site.a, "1733560000.7").await;
    let sheet = format!("/appel/nouveau?appel={}", call.id);
    assert!(event.contains(&sheet), "{event}");
    assert_eq!(
        next_event(&mut admin_page, std::time::Duration::from_millis(300)).await,
        None,
        "not the admin's phone"
    );
    // A page opened while the phone rings hears of the call at once.
    let mut late_page = open(agent_cookie.clone()).await;
    let event = next_event(&mut late_page, wait)
        .await
        .expect("the call ringing already");
    assert!(event.contains(&sheet), "{event}");
    // Without a script: the list on "À traiter", and the sheet itself.
    let (_, _, page) = send(&site, get("/a-traiter", Some(&agent_cookie))).await;
    assert!(page.contains("1 appel sonne sur votre poste"), "{page}");
    assert!(page.contains("Appel de Jeanne Martin"), "{page}");
    let (status, _, page) = send(&site, get(&sheet, Some(&agent_cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"Jeanne Martin\""), "{page}");
    assert!(page.contains("value=\"06 12 34 56 78\""), "{page}");
    let (b_cookie, _) = login(&site, "admin@b.test").await;
    let (status, _, _) = send(&site, get(&sheet, Some(&b_cookie))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another commune's call");
    // Picked up: the banner goes, and the list is empty.
    post_event(
        &site,
        &token,
        FORM,
        "event=answer&from=0612345678&to=100&direction=in&callId=1733560000.7&answeringNumber=100",
    )
    .await;
    let event = next_event(&mut agent_page, wait)
        .await
        .expect("the end pushed");
    assert!(event.contains("event: appel-fini"), "{event}");
    let (_, _, page) = send(&site, get("/a-traiter", Some(&agent_cookie))).await;
    assert!(!page.contains("sur votre poste"), "{page}");
}

/// A token for the phone system made on the tokens page: its address, the token in it,
/// shown once.
#[tokio::test]
async fn the_tokens_page_gives_the_phone_systems_address() {
    let site = site().await;
    let admin = user_in(&site, site.a.id, "admin@a.test").await;
    let (cookie, csrf) = login(&site, "admin@a.test").await;
    let (status, _, page) = send(
        &site,
        post(
            "/administration/jetons",
            Some(&cookie),
            &format!("csrf={csrf}&label=Standard&owner={}&cti_events=1", admin.id),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("cti:events"), "{page}");
    let start = page
        .find("&#x2f;api&#x2f;v1&#x2f;cti&#x2f;prph_")
        .expect("the address");
    let token: String = page[start + "&#x2f;api&#x2f;v1&#x2f;cti&#x2f;".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let (status, answer) = post_event(
        &site,
        &token,
        FORM,
        "event=newCall&from=0612345678&to=100&direction=in&callId=page-1",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
