//! [`send`] and [`check`]: lettre's SMTP client, one connection per call.

use std::error::Error as _;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::message::{is_addr_spec, is_domain};
use crate::{Envelope, Security, SendError, SmtpConfig};

/// The slowest upload a transaction is given time for, in bytes per second.
const MIN_THROUGHPUT: u64 = 32 * 1024;

/// Sends `raw` (the bytes of [`crate::build`]) to `envelope.to` through the server of
/// `config`: connect, TLS as configured, EHLO, AUTH if a username is set, MAIL FROM,
/// RCPT TO, DATA, then the connection is closed.
///
/// `config.timeout` bounds the TCP connection, and the whole transaction is bounded
/// by twice the timeout plus one second per 32 KiB of message: a server that stops
/// answering (even in the middle of DATA) gives [`SendError::Temporary`] in bounded
/// time.
///
/// A password is never sent without TLS except to a loopback address.
pub async fn send(config: &SmtpConfig, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
    let envelope = lettre_envelope(envelope)?;
    let transport = transport(config)?;
    let limit = deadline(config.timeout, raw.len());
    match tokio::time::timeout(limit, transport.send_raw(&envelope, raw)).await {
        Err(_) => Err(timed_out(config)),
        Ok(Err(e)) => Err(classify(&e, config)),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Tests the settings as [`send`] would use them: connect, TLS, EHLO, AUTH if a
/// username is set, NOOP, QUIT. Nothing is sent.
pub async fn check(config: &SmtpConfig) -> Result<(), SendError> {
    let transport = transport(config)?;
    match tokio::time::timeout(deadline(config.timeout, 0), transport.test_connection()).await {
        Err(_) => Err(timed_out(config)),
        Ok(Err(e)) => Err(classify(&e, config)),
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(SendError::Temporary(format!(
            "le serveur SMTP {} ne répond pas correctement (commande NOOP)",
            server(config)
        ))),
    }
}

fn deadline(timeout: Duration, size: usize) -> Duration {
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(size / MIN_THROUGHPUT))
}

fn server(config: &SmtpConfig) -> String {
    format!("{}:{}", config.host, config.port)
}

fn timed_out(config: &SmtpConfig) -> SendError {
    SendError::Temporary(format!(
        "le serveur SMTP {} ne répond pas (délai dépassé)",
        server(config)
    ))
}

fn transport(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let host = config.host.trim();
    if !is_domain(host) && host.parse::<IpAddr>().is_err() {
        return Err(SendError::Permanent(format!(
            "nom de serveur SMTP invalide : « {} »",
            config.host
        )));
    }
    let credentials = credentials(config)?;
    if credentials.is_some() && config.security == Security::None && !is_loopback(host) {
        return Err(SendError::Permanent(format!(
            "envoi du mot de passe en clair refusé vers {host} : choisir TLS ou STARTTLS"
        )));
    }
    let tls = match config.security {
        Security::None => Tls::None,
        Security::StartTls => Tls::Required(tls_parameters(host, config)?),
        Security::Tls => Tls::Wrapper(tls_parameters(host, config)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(config.port)
        .tls(tls)
        .timeout(Some(config.timeout));
    if let Some(name) = config.hello_name.as_deref().map(str::trim) {
        if !is_domain(name) {
            return Err(SendError::Permanent(format!(
                "nom de machine invalide pour EHLO : « {name} »"
            )));
        }
        builder = builder.hello_name(ClientId::Domain(name.to_owned()));
    }
    if let Some(credentials) = credentials {
        builder = builder.credentials(credentials);
    }
    Ok(builder.build())
}

fn credentials(config: &SmtpConfig) -> Result<Option<Credentials>, SendError> {
    let username = config.username.as_deref().filter(|u| !u.is_empty());
    let password = config.password.as_deref().filter(|p| !p.is_empty());
    match (username, password) {
        (Some(u), Some(p)) => Ok(Some(Credentials::new(u.to_owned(), p.to_owned()))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(SendError::Permanent(
            "identifiant SMTP renseigné sans mot de passe".into(),
        )),
        (None, Some(_)) => Err(SendError::Permanent(
            "mot de passe SMTP renseigné sans identifiant".into(),
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn tls_parameters(host: &str, config: &SmtpConfig) -> Result<TlsParameters, SendError> {
    TlsParameters::builder(host.to_owned())
        .dangerous_accept_invalid_certs(config.accept_invalid_certs)
        .build_rustls()
        .map_err(|e| {
            SendError::Permanent(format!(
                "paramètres TLS invalides pour {host} : {}",
                detail(&e)
            ))
        })
}

fn lettre_envelope(envelope: &Envelope) -> Result<lettre::address::Envelope, SendError> {
    let from = if envelope.from.is_empty() {
        None
    } else {
        Some(lettre_address(&envelope.from)?)
    };
    if envelope.to.is_empty() {
        return Err(SendError::Permanent(
            "le message n'a aucun destinataire".into(),
        ));
    }
    let to = envelope
        .to
        .iter()
        .map(|a| lettre_address(a))
        .collect::<Result<Vec<_>, _>>()?;
    lettre::address::Envelope::new(from, to)
        .map_err(|e| SendError::Permanent(format!("enveloppe SMTP invalide : {e}")))
}

fn lettre_address(address: &str) -> Result<lettre::Address, SendError> {
    let invalid = || SendError::Permanent(format!("adresse d'envoi invalide : « {address} »"));
    if !is_addr_spec(address) {
        return Err(invalid());
    }
    address.parse().map_err(|_| invalid())
}

/// The text of the error's cause (the server's answer for a 4xx or 5xx).
fn detail(e: &SmtpError) -> String {
    e.source().map(|s| s.to_string()).unwrap_or_default()
}

/// The first I/O error in the chain of causes, if any.
fn io_error(e: &SmtpError) -> Option<&io::Error> {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = err.source();
    }
    None
}

fn classify(e: &SmtpError, config: &SmtpConfig) -> SendError {
    let server = server(config);
    let text = detail(e);
    if let Some(code) = e.status() {
        let code = code.to_string();
        return if e.is_permanent() {
            match code.as_str() {
                "535" | "534" => SendError::Permanent(format!(
                    "identifiant ou mot de passe refusé par le serveur SMTP {server} ({code} {text})"
                )),
                _ => SendError::Permanent(format!(
                    "le serveur SMTP {server} a refusé l'envoi ({code} {text})"
                )),
            }
        } else {
            SendError::Temporary(format!(
                "le serveur SMTP {server} refuse l'envoi pour le moment ({code} {text}) : \
                 nouvel essai plus tard"
            ))
        };
    }
    if e.is_timeout() {
        return timed_out(config);
    }
    if e.is_tls() {
        return SendError::Temporary(format!(
            "échec de la connexion sécurisée (TLS) au serveur SMTP {server} : {text}"
        ));
    }
    if e.is_client() {
        return SendError::Permanent(client_message(&text, &server));
    }
    if e.is_response() {
        return SendError::Temporary(format!(
            "réponse inattendue du serveur SMTP {server} : {text}"
        ));
    }
    // Connection, network, shutdown.
    let why = match io_error(e) {
        Some(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => "connexion refusée".to_owned(),
            io::ErrorKind::TimedOut => "délai dépassé".to_owned(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                "connexion coupée par le serveur".to_owned()
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => {
                "connexion fermée par le serveur".to_owned()
            }
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                "hôte injoignable".to_owned()
            }
            // What rustls reports (through tokio-rustls) for a failed handshake: an
            // unknown certificate, a server that does not speak TLS...
            io::ErrorKind::InvalidData if config.security != Security::None => {
                return SendError::Temporary(format!(
                    "échec de la connexion sécurisée (TLS) au serveur SMTP {server} : {io}"
                ));
            }
            _ if io.to_string().contains("lookup address") => {
                "nom de serveur introuvable (DNS)".to_owned()
            }
            _ => io.to_string(),
        },
        None if text.contains("resolve") => "nom de serveur introuvable (DNS)".to_owned(),
        None => text,
    };
    SendError::Temporary(format!(
        "impossible de joindre le serveur SMTP {server} : {why}"
    ))
}

/// lettre's client-side refusals, which come from the server's abilities.
fn client_message(text: &str, server: &str) -> String {
    if text.contains("STARTTLS") {
        format!(
            "le serveur SMTP {server} ne propose pas STARTTLS : choisir une autre sécurité \
             (TLS, souvent sur le port 465) ou un autre port"
        )
    } else if text.contains("authentication mechanism") {
        format!(
            "le serveur SMTP {server} ne propose aucune méthode d'authentification utilisable \
             (PLAIN ou LOGIN) : vérifier la sécurité choisie (TLS ou STARTTLS)"
        )
    } else if text.contains("SMTPUTF8") {
        format!("le serveur SMTP {server} n'accepte pas les adresses accentuées")
    } else if text.contains("8BITMIME") {
        format!("le serveur SMTP {server} n'accepte pas les messages non ASCII")
    } else {
        format!("erreur du client SMTP avec le serveur {server} : {text}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn config(host: &str, security: Security) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port: 25,
            security,
            username: Some("mairie".into()),
            password: Some("secret".into()),
            timeout: Duration::from_secs(5),
            hello_name: None,
            accept_invalid_certs: false,
        }
    }

    #[test]
    fn no_password_in_clear_except_to_loopback() {
        let err = transport(&config("smtp.example.fr", Security::None)).unwrap_err();
        assert!(!err.is_temporary());
        assert!(err.to_string().contains("en clair"), "{err}");
        assert!(!err.to_string().contains("secret"));
        for host in ["localhost", "127.0.0.1", "::1"] {
            transport(&config(host, Security::None)).unwrap();
        }
        transport(&config("smtp.example.fr", Security::StartTls)).unwrap();
        transport(&config("smtp.example.fr", Security::Tls)).unwrap();
        let mut anonymous = config("smtp.example.fr", Security::None);
        anonymous.username = None;
        anonymous.password = None;
        transport(&anonymous).unwrap();
    }

    #[test]
    fn bad_settings_are_permanent() {
        let mut half = config("localhost", Security::None);
        half.password = None;
        assert!(!transport(&half).unwrap_err().is_temporary());
        let mut bad_hello = config("localhost", Security::None);
        bad_hello.hello_name = Some("mairie\r\nRSET".into());
        assert!(!transport(&bad_hello).unwrap_err().is_temporary());
        assert!(
            !transport(&config("smtp example", Security::Tls))
                .unwrap_err()
                .is_temporary()
        );
    }

    #[test]
    fn envelope_checks() {
        let ok = Envelope {
            from: "mairie@example.fr".into(),
            to: vec!["a@example.fr".into()],
        };
        lettre_envelope(&ok).unwrap();
        let null_sender = Envelope {
            from: String::new(),
            ..ok.clone()
        };
        assert!(lettre_envelope(&null_sender).unwrap().from().is_none());
        for bad in [
            Envelope {
                to: vec![],
                ..ok.clone()
            },
            Envelope {
                to: vec!["a@example.fr\r\nRCPT TO:<x@y.fr>".into()],
                ..ok.clone()
            },
            Envelope {
                from: "nobody".into(),
                ..ok.clone()
            },
        ] {
            assert!(
                !lettre_envelope(&bad).unwrap_err().is_temporary(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deadline_grows_with_size() {
        let t = Duration::from_secs(2);
        assert_eq!(deadline(t, 0), Duration::from_secs(4));
        assert_eq!(deadline(t, 10 * 1024 * 1024), Duration::from_secs(4 + 320));
    }
}
