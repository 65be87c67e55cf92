//! `parapheur webhooks` (issue 18, point 2): a subscription added with its events and
//! secret (shown once), an internal address and an unknown event refused, the deliveries
//! an item's registration queues, a paused subscription getting nothing, and removal;
//! `--json` throughout, on SQLite and PostgreSQL.

use serde_json::Value;

use super::{Backend, INSEE, Register, assert_refused, assert_success, json};

#[test]
fn webhooks_from_the_command_line_sqlite() {
    webhooks_from_the_command_line(Backend::Sqlite);
}

#[test]
fn webhooks_from_the_command_line_postgres() {
    webhooks_from_the_command_line(Backend::Postgres);
}

fn webhooks(reg: &Register, sub: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--json", "--commune", INSEE];
    all.extend_from_slice(args);
    reg.run(&["webhooks", sub], &all)
}

fn deliveries(reg: &Register) -> Vec<Value> {
    let out = webhooks(reg, "deliveries", &[]);
    assert_success(&out, "webhooks deliveries");
    json(&out).as_array().unwrap().clone()
}

fn webhooks_from_the_command_line(backend: Backend) {
    let Some(reg) = Register::new(backend) else {
        return;
    };
    reg.init();
    // The installation allows no internal address by default.
    let out = webhooks(
        &reg,
        "add",
        &[
            "--label",
            "Portail",
            "--url",
            "https://127.0.0.1/parapheur",
            "--event",
            "item.registered",
        ],
    );
    assert_refused(&out, &["interne"]);
    let out = webhooks(
        &reg,
        "add",
        &[
            "--label",
            "Portail",
            "--url",
            "https://93.184.215.14/parapheur",
            "--event",
            "item.deleted",
        ],
    );
    assert_refused(&out, &["événement inconnu « item.deleted »"]);

    let out = webhooks(
        &reg,
        "add",
        &[
            "--label",
            "Portail citoyen",
            "--url",
            "https://93.184.215.14/parapheur",
            "--event",
            "letter.sent,item.registered",
        ],
    );
    assert_success(&out, "webhooks add");
    let created = json(&out);
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{created}"
    );
    assert_eq!(
        created["events"],
        serde_json::json!(["item.registered", "letter.sent"])
    );
    let id = created["id"].as_str().unwrap().to_owned();

    let out = webhooks(&reg, "list", &[]);
    assert_success(&out, "webhooks list");
    let listed = json(&out);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["active"], true);
    assert!(!out.stdout.windows(6).any(|w| w == b"whsec_"), "{listed}");

    // A registration queues one delivery, waiting for the server's sender.
    let number = reg.register("Demande de salle");
    let queued = deliveries(&reg);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["type"], "item.registered");
    assert_eq!(queued[0]["state"], "pending");
    assert_eq!(queued[0]["attempts"], 0);
    assert_eq!(queued[0]["webhook"], id.as_str());
    assert!(!number.is_empty());

    // Paused: nothing more is queued.
    let out = webhooks(&reg, "pause", &[&id]);
    assert_success(&out, "webhooks pause");
    assert_eq!(json(&out)["active"], false);
    reg.register("Pendant la pause");
    assert_eq!(deliveries(&reg).len(), 1);

    let out = webhooks(&reg, "remove", &[&id]);
    assert_success(&out, "webhooks remove");
    let out = webhooks(&reg, "list", &[]);
    assert_success(&out, "webhooks list");
    assert_eq!(json(&out), serde_json::json!([]));
    assert!(deliveries(&reg).is_empty());
    reg.assert_sound();
}
