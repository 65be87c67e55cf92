//! Letters: the commune's letterhead, addresses, and the layout of one letter or a batch
//! (typst), shared by the acknowledgements and the parapheur; and the layout of the
//! printed register. On a server every layout runs in a child process (`render::child`).

use parapheur_domain::Commune;
use parapheur_domain::contact::Contact;
use parapheur_render::{Job, Laid, Logo, LogoFormat};
use parapheur_smtp::Address;

use crate::{App, AppError};

/// Where an email to a contact goes, if the contact has an address.
pub(crate) fn contact_address(contact: &Contact) -> Option<Address> {
    let email = contact.email.as_deref()?.trim();
    if email.is_empty() {
        return None;
    }
    Some(Address {
        name: Some(contact.display_name()),
        email: email.to_owned(),
    })
}

/// The lines of a contact's postal address block.
pub(crate) fn address_block(c: &Contact) -> Vec<String> {
    let mut lines = vec![c.display_name()];
    if let Some(org) = c.organisation.as_ref().filter(|o| !o.is_empty()) {
        lines.push(org.clone());
    }
    if let Some(address) = &c.address {
        lines.extend(address.lines().map(str::to_owned));
    }
    let city = [c.postal_code.clone(), c.city.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !city.trim().is_empty() {
        lines.push(city);
    }
    lines
}

impl App {
    /// Lays a printed register out (in a child process on a server).
    pub(crate) async fn register_pdf(
        &self,
        document: parapheur_render::RegisterDocument,
    ) -> Result<Vec<u8>, AppError> {
        Ok(self.lay_out(Job::Register(document)).await?.pdf)
    }

    /// Lays a letter (or a batch) out, in a child process on a server (`App::set_layout`).
    /// A logo typst cannot decode must not stop the mail: the letter is then laid out
    /// without it (and the administrator finds it in the log).
    pub(crate) async fn lay_out(&self, job: Job) -> Result<Laid, AppError> {
        let layout = self.layout.clone();
        tokio::task::spawn_blocking(move || {
            layout.run(&job).or_else(|e| {
                if !job.has_logo() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "logo illisible : courrier mis en page sans logo");
                layout.run(&job.without_logo())
            })
        })
        .await
        .map_err(|e| AppError::internal(format!("mise en page interrompue : {e}")))?
        .map_err(|e| AppError::internal(e.to_string()))
    }

    /// The commune's letterhead (address, phone, email, free text) and logo.
    pub(crate) async fn letterhead(
        &self,
        commune: &Commune,
    ) -> Result<(Vec<String>, Option<Logo>), AppError> {
        let settings = self.store().commune_settings(commune.id).await?;
        let mut lines: Vec<String> = settings
            .address
            .iter()
            .flat_map(|a| a.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        lines.extend(settings.phone.iter().map(|p| format!("Tél. {p}")));
        lines.extend(settings.email.iter().cloned());
        lines.extend(
            settings
                .letterhead
                .iter()
                .flat_map(|l| l.lines().map(str::to_owned).collect::<Vec<_>>()),
        );
        let logo = match (&settings.logo_sha256, settings.logo_type.as_deref()) {
            (Some(sha), Some(kind)) => {
                let format = match kind {
                    "image/png" => Some(LogoFormat::Png),
                    "image/jpeg" => Some(LogoFormat::Jpeg),
                    _ => None,
                };
                match format {
                    Some(format) => Some(Logo {
                        bytes: self.read_file(commune.id, sha).await?,
                        format,
                    }),
                    None => None,
                }
            }
            _ => None,
        };
        Ok((lines, logo))
    }
}
