//! Connection, TLS, login, timeouts and error mapping.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::nesting::NestingLimit;
use crate::{COMMAND_TIMEOUT, CONNECT_TIMEOUT, MailboxConfig, MailboxError, Security};

/// The transport under the IMAP client: plain TCP or TLS over TCP, what it reads checked by
/// a [`NestingLimit`] before the parser sees it.
#[derive(Debug)]
pub(crate) struct Stream {
    transport: Transport,
    nesting: NestingLimit,
}

#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn plain(tcp: TcpStream) -> Stream {
        Stream {
            transport: Transport::Plain(tcp),
            nesting: NestingLimit::default(),
        }
    }

    fn tls(tls: TlsStream<TcpStream>) -> Stream {
        Stream {
            transport: Transport::Tls(Box::new(tls)),
            nesting: NestingLimit::default(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = match &mut this.transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = result {
            this.nesting.check(&buf.filled()[before..])?;
        }
        result
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub(crate) type ImapSession = Session<Stream>;

/// Opens a logged-in session (nothing selected yet).
pub(crate) async fn connect(config: &MailboxConfig) -> Result<ImapSession, MailboxError> {
    if config.security == Security::Plain && !config.network.allow_plain_text {
        return Err(MailboxError::Connect(format!(
            "connexion non chiffrée refusée vers {} : choisir TLS ou STARTTLS",
            config.host
        )));
    }
    let addrs = resolve(config).await?;
    // The addresses checked are the ones connected to (no second lookup to rebind).
    if !config.network.allow_internal && !addrs.iter().all(|a| crate::is_public_address(a.ip())) {
        return Err(MailboxError::Connect(format!(
            "« {} » désigne une adresse interne (cette machine ou un réseau privé) : refusée \
             sauf si l'installation l'autorise",
            config.host
        )));
    }
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addrs[..])).await {
        Err(_) => return Err(MailboxError::Timeout),
        Ok(Err(e)) => {
            return Err(MailboxError::Connect(format!(
                "{}:{} : {e}",
                config.host, config.port
            )));
        }
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);

    let client = match config.security {
        Security::Plain => {
            let mut client = Client::new(Stream::plain(tcp));
            greeting(&mut client).await?;
            client
        }
        Security::Tls => {
            let tls = tls_handshake(tcp, &config.host).await?;
            let mut client = Client::new(Stream::tls(tls));
            greeting(&mut client).await?;
            client
        }
        Security::StartTls => {
            let mut client = Client::new(Stream::plain(tcp));
            greeting(&mut client).await?;
            match tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            {
                Err(_) => return Err(MailboxError::Timeout),
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "STARTTLS");
                    return Err(MailboxError::Tls("le serveur refuse STARTTLS".into()));
                }
                Ok(Ok(())) => {}
            }
            let Transport::Plain(tcp) = client.into_inner().transport else {
                return Err(MailboxError::Tls("état de connexion inattendu".into()));
            };
            // No greeting after STARTTLS.
            let tls = tls_handshake(tcp, &config.host).await?;
            Client::new(Stream::tls(tls))
        }
    };

    match tokio::time::timeout(
        COMMAND_TIMEOUT,
        client.login(&config.username, &config.password),
    )
    .await
    {
        Err(_) => Err(MailboxError::Timeout),
        Ok(Ok(session)) => Ok(session),
        Ok(Err((async_imap::error::Error::No(text), _))) => {
            if text.contains("PRIVACYREQUIRED") {
                Err(MailboxError::Protocol(
                    "le serveur refuse l'authentification sans chiffrement".into(),
                ))
            } else {
                Err(MailboxError::Login)
            }
        }
        Ok(Err((async_imap::error::Error::Validate(_), _))) => Err(MailboxError::Login),
        Ok(Err((e, _))) => Err(imap_error(e)),
    }
}

async fn resolve(config: &MailboxConfig) -> Result<Vec<SocketAddr>, MailboxError> {
    let lookup = tokio::net::lookup_host((config.host.as_str(), config.port));
    match tokio::time::timeout(CONNECT_TIMEOUT, lookup).await {
        Err(_) => Err(MailboxError::Timeout),
        Ok(Err(e)) => Err(MailboxError::Connect(format!(
            "adresse « {} » introuvable : {e}",
            config.host
        ))),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(MailboxError::Connect(format!(
                    "adresse « {} » introuvable",
                    config.host
                )))
            } else {
                Ok(addrs)
            }
        }
    }
}

fn tls_connector() -> Result<TlsConnector, MailboxError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| MailboxError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn tls_handshake(tcp: TcpStream, host: &str) -> Result<TlsStream<TcpStream>, MailboxError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| MailboxError::Tls(format!("nom de serveur invalide : {host}")))?;
    let connector = tls_connector()?;
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => Err(MailboxError::Timeout),
        Ok(Err(e)) => Err(MailboxError::Tls(e.to_string())),
        Ok(Ok(tls)) => Ok(tls),
    }
}

async fn greeting(client: &mut Client<Stream>) -> Result<(), MailboxError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.read_response()).await {
        Err(_) => Err(MailboxError::Timeout),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "IMAP greeting");
            Err(MailboxError::Connect(
                "le serveur ne parle pas IMAP ou a coupé la connexion".into(),
            ))
        }
        Ok(Ok(None)) => Err(MailboxError::Connect(
            "le serveur a fermé la connexion".into(),
        )),
        Ok(Ok(Some(response))) => match response.parsed() {
            Response::Data {
                status: Status::Ok | Status::PreAuth,
                ..
            } => Ok(()),
            other => {
                // What the remote sent stays in the debug log: the settings page must not
                // become a way to read other services' banners.
                tracing::debug!(greeting = ?other, "unexpected IMAP greeting");
                Err(MailboxError::Connect(
                    "le serveur ne répond pas comme un serveur IMAP".into(),
                ))
            }
        },
    }
}

/// Runs one command with [`COMMAND_TIMEOUT`].
pub(crate) async fn timed<T>(
    command: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, MailboxError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Err(_) => Err(MailboxError::Timeout),
        Ok(result) => result.map_err(imap_error),
    }
}

/// Runs one public call of the crate, a panic while it talks to the server becoming a
/// protocol error. imap-proto 0.17 (under async-imap) panics on some malformed answers:
/// a response code followed by a multi-byte character instead of a space (`* OK [ALERT]é`)
/// makes it slice a `str` inside that character (found by fuzzing, fuzz/crashes/
/// imap_response). A server's answer must never take the poller down with it.
pub(crate) async fn guarded<T>(
    call: impl Future<Output = Result<T, MailboxError>>,
) -> Result<T, MailboxError> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result,
        Err(_) => Err(MailboxError::Protocol(
            "réponse illisible du serveur (mal formée)".into(),
        )),
    }
}

/// Closes the session politely; errors do not matter any more.
pub(crate) async fn logout(mut session: ImapSession) {
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
}

pub(crate) fn imap_error(error: async_imap::error::Error) -> MailboxError {
    use async_imap::error::Error;
    match error {
        Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => MailboxError::Timeout,
        Error::Io(e) => MailboxError::Connect(format!("connexion interrompue : {e}")),
        Error::ConnectionLost => {
            MailboxError::Connect("connexion interrompue par le serveur".into())
        }
        Error::No(text) => {
            tracing::debug!(%text, "IMAP NO");
            MailboxError::Protocol("le serveur refuse la commande".into())
        }
        Error::Bad(text) => {
            tracing::debug!(%text, "IMAP BAD");
            MailboxError::Protocol("le serveur rejette la commande".into())
        }
        Error::Validate(_) => {
            MailboxError::Protocol("nom de dossier invalide (caractère interdit)".into())
        }
        Error::Append => MailboxError::Protocol("le serveur a refusé le message".into()),
        other => {
            tracing::debug!(error = %other, "IMAP");
            MailboxError::Protocol("réponse illisible".into())
        }
    }
}
