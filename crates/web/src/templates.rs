//! Page templates (minijinja), embedded in the binary. HTML-escaping is on for every value.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("help.html", include_str!("../templates/help.html")),
    ("archives.html", include_str!("../templates/archives.html")),
    // Writing to senders, and the administration of citizens' pages.
    ("reply.html", include_str!("../templates/reply.html")),
    (
        "acknowledgements.html",
        include_str!("../templates/acknowledgements.html"),
    ),
    (
        "admin_forms.html",
        include_str!("../templates/admin_forms.html"),
    ),
    (
        "admin_form.html",
        include_str!("../templates/admin_form.html"),
    ),
    (
        "admin_templates.html",
        include_str!("../templates/admin_templates.html"),
    ),
    (
        "admin_template.html",
        include_str!("../templates/admin_template.html"),
    ),
    (
        "admin_outbox.html",
        include_str!("../templates/admin_outbox.html"),
    ),
    ("login.html", include_str!("../templates/login.html")),
    (
        "proconnect.html",
        include_str!("../templates/proconnect.html"),
    ),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("password.html", include_str!("../templates/password.html")),
    (
        "second_factor.html",
        include_str!("../templates/second_factor.html"),
    ),
    ("inbox.html", include_str!("../templates/inbox.html")),
    ("item.html", include_str!("../templates/item.html")),
    ("letter.html", include_str!("../templates/letter.html")),
    ("call.html", include_str!("../templates/call.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("register.html", include_str!("../templates/register.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("elu.html", include_str!("../templates/elu.html")),
    (
        "parapheur.html",
        include_str!("../templates/parapheur.html"),
    ),
    ("folder.html", include_str!("../templates/folder.html")),
    (
        "sign_confirm.html",
        include_str!("../templates/sign_confirm.html"),
    ),
    (
        "circuit_steps.html",
        include_str!("../templates/circuit_steps.html"),
    ),
    ("verify.html", include_str!("../templates/verify.html")),
    (
        "admin_parapheur.html",
        include_str!("../templates/admin_parapheur.html"),
    ),
    ("contacts.html", include_str!("../templates/contacts.html")),
    ("contact.html", include_str!("../templates/contact.html")),
    (
        "admin_nav.html",
        include_str!("../templates/admin_nav.html"),
    ),
    (
        "admin_commune.html",
        include_str!("../templates/admin_commune.html"),
    ),
    (
        "admin_services.html",
        include_str!("../templates/admin_services.html"),
    ),
    (
        "admin_tokens.html",
        include_str!("../templates/admin_tokens.html"),
    ),
    (
        "admin_webhooks.html",
        include_str!("../templates/admin_webhooks.html"),
    ),
    (
        "admin_service.html",
        include_str!("../templates/admin_service.html"),
    ),
    (
        "admin_users.html",
        include_str!("../templates/admin_users.html"),
    ),
    (
        "admin_user.html",
        include_str!("../templates/admin_user.html"),
    ),
    (
        "admin_doctypes.html",
        include_str!("../templates/admin_doctypes.html"),
    ),
    (
        "admin_doctype.html",
        include_str!("../templates/admin_doctype.html"),
    ),
    (
        "admin_doctype_fields.html",
        include_str!("../templates/admin_doctype_fields.html"),
    ),
    ("host.html", include_str!("../templates/host.html")),
    (
        "host_nodes.html",
        include_str!("../templates/host_nodes.html"),
    ),
    ("search.html", include_str!("../templates/search.html")),
    ("inbound.html", include_str!("../templates/inbound.html")),
    (
        "inbound_preview.html",
        include_str!("../templates/inbound_preview.html"),
    ),
    (
        "admin_mailboxes.html",
        include_str!("../templates/admin_mailboxes.html"),
    ),
    // Citizens: public pages, no login.
    (
        "public_base.html",
        include_str!("../templates/public_base.html"),
    ),
    (
        "public_forms.html",
        include_str!("../templates/public_forms.html"),
    ),
    (
        "admin_record.html",
        include_str!("../templates/admin_record.html"),
    ),
    (
        "public_accessibility.html",
        include_str!("../templates/public_accessibility.html"),
    ),
    (
        "public_form.html",
        include_str!("../templates/public_form.html"),
    ),
    (
        "public_done.html",
        include_str!("../templates/public_done.html"),
    ),
    (
        "public_tracking.html",
        include_str!("../templates/public_tracking.html"),
    ),
    (
        "public_message.html",
        include_str!("../templates/public_message.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A misspelt variable is an error, never an empty string on the page (`if` tests
        // of a variable that may be absent stay allowed).
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        // An absent value (an unknown email, a phone not given) prints as nothing, never
        // as "None" in a table cell.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_global("script_url", crate::assets::script_url());
        env.add_global("icon_url", crate::assets::icon_url());
        // The page of the main navigation a template is on, when it is one of them.
        env.add_global("nav", "");
        // "1 demande", "3 demandes": real plurals, never "demande(s)".
        env.add_filter("count", |n: usize, singular: String, plural: String| {
            parapheur_app::domain::french::count(n, &singular, &plural)
        });
        // A message shown on a page is a sentence, even when it comes from a use case's
        // error worded to follow a colon elsewhere ("aucun élément…" → "Aucun élément…").
        env.add_filter("sentence", |text: String| {
            parapheur_app::domain::french::sentence(&text)
        });
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// Renders a template with its context.
pub fn render(name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
    environment()
        .get_template(name)?
        .render(minijinja::Value::from(minijinja::value::Serde(&context)))
}

/// Builds a template context from `name => value` pairs (or a bare `name`), serialising each
/// value with serde.
macro_rules! ctx {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {{
        // Straight to template values: each value is serialised once, with no intermediate
        // JSON tree (a profile of the register page showed that second pass).
        let mut map = std::collections::BTreeMap::<&'static str, minijinja::Value>::new();
        $(
            map.insert(
                stringify!($key),
                minijinja::Value::from(minijinja::value::Serde(ctx!(@value $key $(, $value)?))),
            );
        )*
        minijinja::Value::from(map)
    }};
    (@value $key:ident) => { &$key };
    (@value $key:ident, $value:expr) => { &$value };
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let mut env = minijinja::Environment::new();
        for (name, source) in super::TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
