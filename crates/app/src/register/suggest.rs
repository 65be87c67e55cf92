//! Suggestions for an item not yet typed or routed: the document type and service, first
//! from how this correspondent's earlier mail was routed (learning from past routing), then
//! from the words of the item (its subject, body and extracted text) matched against the
//! commune's document types. A person accepts a suggestion with one key; nothing is applied
//! by itself.

use crate::boxed_future;
use std::collections::BTreeSet;

use parapheur_domain::contact::fold;
use parapheur_domain::item::Item;
use serde::Serialize;
use uuid::Uuid;

use crate::{App, AppError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub doctype: Option<(String, String)>,
    pub service: Option<(Uuid, String)>,
    /// Why, in French, for the person deciding.
    pub reasons: Vec<String>,
}

/// Words of a type's label that say something ("permis", "construire"; not "de", "la").
fn keywords(label: &str) -> BTreeSet<String> {
    const STOP: [&str; 12] = [
        "demande", "dossier", "courrier", "autre", "autres", "pour", "avec", "dans", "sans",
        "relative", "relatif", "divers",
    ];
    fold(label)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && !STOP.contains(w))
        .map(str::to_owned)
        .collect()
}

/// The words of a text, folded, for matching.
fn words_of(text: &str) -> BTreeSet<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(|w| w.trim_end_matches('s').to_owned())
        .collect()
}

impl App {
    /// A suggestion for an item without type or service; `None` when there is nothing
    /// useful to suggest.
    #[boxed_future]
    pub async fn suggest(&self, item: &Item) -> Result<Option<Suggestion>, AppError> {
        if item.doctype_code.is_some() && item.service_id.is_some() {
            return Ok(None);
        }
        let commune = item.commune_id;
        let doctypes = self.store().doctypes(commune).await?;
        let services: Vec<_> = self
            .store()
            .services(commune)
            .await?
            .into_iter()
            .filter(|s| s.active)
            .collect();
        let mut reasons = Vec::new();
        let mut doctype: Option<String> = None;
        let mut service: Option<Uuid> = None;

        // 1. How this correspondent's earlier mail was routed.
        let contacts: Vec<Uuid> = self
            .store()
            .item_contacts(item.id)
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let history = self
            .store()
            .routing_of_contacts(commune, &contacts, item.id)
            .await?;
        if let Some((d, s, n)) = history.first() {
            doctype = d
                .clone()
                .filter(|code| doctypes.iter().any(|t| &t.code == code));
            service = s.filter(|id| services.iter().any(|x| x.id == *id));
            if doctype.is_some() || service.is_some() {
                reasons.push(if *n >= 2 {
                    format!("{n} courriers précédents de ce correspondant ont été traités ainsi")
                } else {
                    format!("{n} courrier précédent de ce correspondant a été traité ainsi")
                });
            }
        }

        // 2. The words of the item against the document types' labels.
        if doctype.is_none() {
            let mut text = format!("{} {}", item.subject, item.body.as_deref().unwrap_or(""));
            let extracted = self.item_text(commune, item.id).await?;
            text.push_str(&extracted.chars().take(20_000).collect::<String>());
            let words = words_of(&text);
            let best = doctypes
                .iter()
                .filter_map(|t| {
                    let keys = keywords(&t.label);
                    let hits: Vec<String> = keys
                        .iter()
                        .filter(|k| words.contains(k.trim_end_matches('s')))
                        .cloned()
                        .collect();
                    // Most of the label's meaningful words must appear.
                    (!keys.is_empty() && hits.len() * 2 >= keys.len()).then_some((t, hits))
                })
                .max_by_key(|(_, hits)| hits.len());
            if let Some((t, hits)) = best {
                doctype = Some(t.code.clone());
                reasons.push(format!("le texte contient « {} »", hits.join(" », « ")));
            }
        }

        // 3. The service items of that type usually go to.
        if service.is_none()
            && let Some(code) = &doctype
            && let Some((_, Some(s), n)) = self
                .store()
                .routing_of_doctype(commune, code)
                .await?
                .first()
            && services.iter().any(|x| x.id == *s)
        {
            service = Some(*s);
            reasons.push(if *n >= 2 {
                format!("{n} éléments de ce type sont allés à ce service")
            } else {
                format!("{n} élément de ce type est allé à ce service")
            });
        }

        // Never suggest what the item already has.
        if item.doctype_code.is_some() {
            doctype = None;
        }
        if item.service_id.is_some() {
            service = None;
        }
        if doctype.is_none() && service.is_none() {
            return Ok(None);
        }
        Ok(Some(Suggestion {
            doctype: doctype.and_then(|code| {
                doctypes
                    .iter()
                    .find(|t| t.code == code)
                    .map(|t| (t.code.clone(), t.label.clone()))
            }),
            service: service.and_then(|id| {
                services
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| (s.id, s.name.clone()))
            }),
            reasons,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keywords_skip_small_and_generic_words() {
        let k = keywords("Demande de permis de construire");
        assert_eq!(
            k.into_iter().collect::<Vec<_>>(),
            vec!["construire".to_owned(), "permis".to_owned()]
        );
        assert!(words_of("Les PERMIS de Construire, éclairage").contains("eclairage"));
    }
}
