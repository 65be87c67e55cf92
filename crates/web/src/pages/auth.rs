//! Login, logout, password change and reset.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::administration::auth::LoginError;
use parapheur_app::administration::proconnect::{
    CallbackParams, ProConnectError, ProConnectOutcome,
};
use serde::Deserialize;

use super::ClientIp;
use crate::error::WebError;
use crate::session::{COOKIE, CsrfOnly, Me, Posted, clear_cookie, cookie, session_cookie};
use crate::{WebState, assets, templates};

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    suite: String,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/a-traiter"
    }
}

/// The page asked for, if it is one of ours; none when the form named none (then the
/// person lands where [`super::landing`] says).
fn asked_next(next: &str) -> Option<&str> {
    (!next.trim().is_empty()).then(|| safe_next(next))
}

fn login_page(
    state: &WebState,
    next: &str,
    email: &str,
    error: Option<String>,
    communes: Vec<(String, String)>,
) -> Result<Html<String>, WebError> {
    let proconnect = state.app.proconnect_enabled();
    let communes: Vec<_> = communes
        .into_iter()
        .map(|(insee, name)| ctx! { insee, name })
        .collect();
    Ok(Html(templates::render(
        "login.html",
        ctx! {
            title => "Connexion", style_url => assets::style_url(),
            next => asked_next(next).unwrap_or_default(), email, error, communes,
            proconnect,
        },
    )?))
}

pub async fn login_form(
    State(state): State<WebState>,
    Query(q): Query<NextQuery>,
) -> Result<Html<String>, WebError> {
    login_page(&state, &q.suite, "", None, Vec::new())
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    commune: String,
    #[serde(default)]
    suite: String,
    /// An administrator's second-factor code.
    #[serde(default)]
    otp: String,
}

pub async fn login(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let commune = Some(form.commune.as_str()).filter(|c| !c.is_empty());
    match state
        .app
        .login(
            &form.email,
            &form.password,
            commune,
            Some(form.otp.as_str()).filter(|c| !c.is_empty()),
            ip,
            Utc::now(),
        )
        .await
    {
        Ok(session) => {
            let target = match asked_next(&form.suite) {
                Some(next) => next,
                None => match state.app.authenticate(&session.token, Utc::now()).await? {
                    Some(who) => super::landing(&state, &who).await,
                    None => "/a-traiter",
                },
            };
            Ok((
                axum::response::AppendHeaders([
                    (
                        header::SET_COOKIE,
                        session_cookie(&session.token, state.secure_cookies),
                    ),
                    (
                        header::SET_COOKIE,
                        header_value(logout_cookie("", state.secure_cookies)),
                    ),
                ]),
                Redirect::to(target),
            )
                .into_response())
        }
        Err(LoginError::ChooseCommune(communes)) => {
            let choices = communes.into_iter().map(|c| (c.insee, c.name)).collect();
            let page = login_page(
                &state,
                &form.suite,
                &form.email,
                Some("Ce compte existe dans plusieurs communes : choisissez-en une.".into()),
                choices,
            )?;
            Ok(page.into_response())
        }
        Err(LoginError::App(e)) => Err(e.into()),
        Err(e) => {
            let page = login_page(
                &state,
                &form.suite,
                &form.email,
                Some(e.to_string()),
                Vec::new(),
            )?;
            Ok((axum::http::StatusCode::UNAUTHORIZED, page).into_response())
        }
    }
}

/// The cookie that keeps a ProConnect login's sealed state while the person is at the
/// provider, and the one that keeps the verified identity until the last step.
const PROCONNECT_FLOW: &str = "parapheur_proconnect";
const PROCONNECT_PENDING: &str = "parapheur_proconnect_suite";

fn proconnect_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    // Lax: the provider's redirect back is a top-level GET from its site.
    format!(
        "{name}={value}; Path=/connexion/proconnect; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    )
}

/// What ends the ProConnect session at logout, sent with the logout form only.
const PROCONNECT_LOGOUT: &str = "parapheur_proconnect_fin";

fn logout_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = if value.is_empty() {
        0
    } else {
        parapheur_app::administration::proconnect::LOGOUT_VALIDITY.num_seconds()
    };
    format!(
        "{PROCONNECT_LOGOUT}={value}; Path=/deconnexion; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    )
}

fn header_value(value: String) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("parapheur_proconnect=; Path=/"))
}

/// A refused ProConnect login: the login page with the French message and its stable code;
/// the log gets the code and the detail.
fn proconnect_refusal(
    state: &WebState,
    error: &ProConnectError,
    next: &str,
) -> Result<Response, WebError> {
    if let ProConnectError::App(e) = error
        && e.kind() == parapheur_app::ErrorKind::Internal
    {
        return Err(WebError::Internal(e.to_string()));
    }
    tracing::warn!(code = error.code(), detail = %error.detail(), "ProConnect login refused");
    let message = format!("{} (code : {})", error, error.code());
    let status = axum::http::StatusCode::from_u16(error.status())
        .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    let page = login_page(state, next, "", Some(message), Vec::new())?;
    Ok((
        status,
        axum::response::AppendHeaders([
            (
                header::SET_COOKIE,
                header_value(proconnect_cookie(
                    PROCONNECT_FLOW,
                    "",
                    0,
                    state.secure_cookies,
                )),
            ),
            (
                header::SET_COOKIE,
                header_value(proconnect_cookie(
                    PROCONNECT_PENDING,
                    "",
                    0,
                    state.secure_cookies,
                )),
            ),
        ]),
        page,
    )
        .into_response())
}

/// "S'identifier avec ProConnect": to the provider, with the state sealed in a cookie.
pub async fn proconnect_start(
    State(state): State<WebState>,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    match state
        .app
        .proconnect_start(asked_next(&q.suite), Utc::now())
        .await
    {
        Ok(start) => Ok((
            [(
                header::SET_COOKIE,
                header_value(proconnect_cookie(
                    PROCONNECT_FLOW,
                    &start.sealed_flow,
                    600,
                    state.secure_cookies,
                )),
            )],
            Redirect::to(&start.authorization_url),
        )
            .into_response()),
        Err(ProConnectError::NotConfigured) => Err(WebError::NotFound),
        Err(e) => proconnect_refusal(&state, &e, &q.suite),
    }
}

/// Where the provider sends the person back (`code` and `state`, or `error`).
pub async fn proconnect_callback(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Result<Response, WebError> {
    let outcome = state
        .app
        .proconnect_finish(cookie(&headers, PROCONNECT_FLOW), &params, ip, Utc::now())
        .await;
    proconnect_outcome(&state, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct ProConnectStepForm {
    #[serde(default)]
    commune: String,
    #[serde(default)]
    otp: String,
}

/// The step after the provider: the commune and/or the second factor's code.
pub async fn proconnect_continue(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    Form(form): Form<ProConnectStepForm>,
) -> Result<Response, WebError> {
    let sealed = cookie(&headers, PROCONNECT_PENDING);
    let outcome = state
        .app
        .proconnect_continue(
            sealed,
            Some(form.commune.as_str()).filter(|c| !c.is_empty()),
            Some(form.otp.as_str()).filter(|c| !c.is_empty()),
            ip,
            Utc::now(),
        )
        .await;
    // A wrong code: the same step again, its state kept.
    if let Err(ProConnectError::Login(LoginError::BadSecondFactor)) = &outcome {
        let page = templates::render(
            "proconnect.html",
            ctx! {
                title => "Connexion avec ProConnect", style_url => assets::style_url(),
                email => "", communes => Vec::<minijinja::Value>::new(), second_factor => true,
                error => format!("{} (code : login_bad_second_factor)", LoginError::BadSecondFactor),
            },
        )?;
        return Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page)).into_response());
    }
    proconnect_outcome(&state, outcome).await
}

async fn proconnect_outcome(
    state: &WebState,
    outcome: Result<ProConnectOutcome, ProConnectError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(ProConnectOutcome::LoggedIn {
            session,
            next,
            sealed_logout,
        }) => {
            let target = match next.as_deref().and_then(asked_next) {
                Some(next) => next.to_owned(),
                None => match state.app.authenticate(&session.token, Utc::now()).await? {
                    Some(who) => super::landing(state, &who).await.to_owned(),
                    None => "/a-traiter".to_owned(),
                },
            };
            let mut response = Redirect::to(&target).into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                session_cookie(&session.token, state.secure_cookies),
            );
            for name in [PROCONNECT_FLOW, PROCONNECT_PENDING] {
                headers.append(
                    header::SET_COOKIE,
                    header_value(proconnect_cookie(name, "", 0, state.secure_cookies)),
                );
            }
            headers.append(
                header::SET_COOKIE,
                header_value(logout_cookie(&sealed_logout, state.secure_cookies)),
            );
            Ok(response)
        }
        Ok(ProConnectOutcome::Continue {
            sealed_pending,
            communes,
            second_factor,
            email,
        }) => {
            let communes: Vec<_> = communes
                .into_iter()
                .map(|c| ctx! { insee => c.insee, name => c.name })
                .collect();
            let page = templates::render(
                "proconnect.html",
                ctx! {
                    title => "Connexion avec ProConnect", style_url => assets::style_url(),
                    email, communes, second_factor,
                },
            )?;
            Ok((
                axum::response::AppendHeaders([
                    (
                        header::SET_COOKIE,
                        header_value(proconnect_cookie(
                            PROCONNECT_PENDING,
                            &sealed_pending,
                            300,
                            state.secure_cookies,
                        )),
                    ),
                    (
                        header::SET_COOKIE,
                        header_value(proconnect_cookie(
                            PROCONNECT_FLOW,
                            "",
                            0,
                            state.secure_cookies,
                        )),
                    ),
                ]),
                Html(page),
            )
                .into_response())
        }
        Err(e) => proconnect_refusal(state, &e, ""),
    }
}

pub async fn logout(
    State(state): State<WebState>,
    headers: axum::http::HeaderMap,
    Posted(_): Posted<CsrfOnly>,
) -> Result<Response, WebError> {
    if let Some(token) = cookie(&headers, COOKIE) {
        state.app.logout(token).await?;
    }
    // Logged in with ProConnect: its session ends too (RP-initiated logout), so that the
    // next person at this computer is not let in by it.
    let mut target = "/connexion".to_owned();
    if let Some(sealed) = cookie(&headers, PROCONNECT_LOGOUT).filter(|v| !v.is_empty())
        && let Some(url) = state.app.proconnect_logout_url(sealed, Utc::now()).await
    {
        target = url;
    }
    Ok((
        axum::response::AppendHeaders([
            (header::SET_COOKIE, clear_cookie()),
            (
                header::SET_COOKIE,
                header_value(logout_cookie("", state.secure_cookies)),
            ),
        ]),
        Redirect::to(&target),
    )
        .into_response())
}

fn password_page(
    me: &Me,
    error: Option<String>,
    notice: Option<&str>,
) -> Result<Html<String>, WebError> {
    Ok(Html(templates::render(
        "password.html",
        ctx! {
            title => "Mot de passe", style_url => assets::style_url(), me => me.view(),
            csrf => me.csrf(), nav => "password", error, notice,
        },
    )?))
}

pub async fn password_form(me: Me) -> Result<Html<String>, WebError> {
    password_page(&me, None, None)
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
}

pub async fn change_password(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<PasswordForm>,
) -> Result<Response, WebError> {
    match state
        .app
        .change_password(&me.0, &form.current, &form.new, Utc::now())
        .await
    {
        // Every session of the user ended: log in again with the new password.
        Ok(()) => Ok((
            [(header::SET_COOKIE, clear_cookie())],
            Redirect::to("/connexion"),
        )
            .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            password_page(&me, Some(e.user_message()), None)?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn forgot_form() -> Result<Html<String>, WebError> {
    Ok(Html(templates::render(
        "forgot.html",
        ctx! { title => "Mot de passe oublié", style_url => assets::style_url() },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<WebState>,
    Form(form): Form<ForgotForm>,
) -> Result<Html<String>, WebError> {
    // Emailed through the outbox; the page says the same whether the account exists or not.
    state
        .app
        .request_password_reset(&form.email, Utc::now())
        .await?;
    Ok(Html(templates::render(
        "message.html",
        ctx! {
            title => "Lien envoyé", style_url => assets::style_url(),
            message => "Si cette adresse correspond à un compte, un lien de réinitialisation valable une heure lui a été envoyé.",
            back_url => "/connexion", back_label => "Retour à la connexion",
        },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    #[serde(default)]
    jeton: String,
}

pub async fn reset_form(Query(q): Query<ResetQuery>) -> Result<Html<String>, WebError> {
    Ok(Html(templates::render(
        "forgot.html",
        ctx! { title => "Nouveau mot de passe", style_url => assets::style_url(), token => q.jeton },
    )?))
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    token: String,
    new: String,
}

pub async fn reset(
    State(state): State<WebState>,
    Form(form): Form<ResetForm>,
) -> Result<Html<String>, WebError> {
    state
        .app
        .reset_password(&form.token, &form.new, Utc::now())
        .await?;
    Ok(Html(templates::render(
        "message.html",
        ctx! {
            title => "Mot de passe changé", style_url => assets::style_url(),
            message => "Votre mot de passe est enregistré. Connectez-vous avec lui.",
            back_url => "/connexion", back_label => "Se connecter",
        },
    )?))
}

fn second_factor_page(
    me: &Me,
    enrolled: bool,
    enrolment: Option<minijinja::Value>,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    Ok(Html(templates::render(
        "second_factor.html",
        ctx! {
            title => "Double authentification", style_url => assets::style_url(),
            me => me.view(), csrf => me.csrf(), nav => "password",
            enrolled, enrolment, notice, error,
        },
    )?))
}

/// The person's own second factor: whether it is on, and the way to enrol a phone.
pub async fn second_factor(
    State(state): State<WebState>,
    me: Me,
) -> Result<Html<String>, WebError> {
    let enrolled = state.app.has_second_factor(me.0.user.id).await?;
    second_factor_page(&me, enrolled, None, None, None)
}

#[derive(Debug, Deserialize)]
pub struct OtpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
}

/// A new secret for the person's authenticator, shown once (QR code and key).
pub async fn begin_second_factor(
    State(state): State<WebState>,
    me: Me,
    Posted(_): Posted<OtpForm>,
) -> Result<Html<String>, WebError> {
    let enrolment = state
        .app
        .begin_second_factor(&me.0.commune, &me.0.user)
        .await?;
    let enrolled = state.app.has_second_factor(me.0.user.id).await?;
    let shown = ctx! { qr => enrolment.qr_svg, secret => enrolment.secret };
    second_factor_page(&me, enrolled, Some(shown), None, None)
}

/// The first code from the application confirms the enrolment.
pub async fn confirm_second_factor(
    State(state): State<WebState>,
    me: Me,
    Posted(form): Posted<OtpForm>,
) -> Result<Response, WebError> {
    match state
        .app
        .confirm_second_factor(&me.0.commune, &me.0.user, &form.otp, Utc::now())
        .await
    {
        Ok(()) => Ok(second_factor_page(
            &me,
            true,
            None,
            Some("La double authentification est active : vous pouvez signer."),
            None,
        )?
        .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let enrolled = state.app.has_second_factor(me.0.user.id).await?;
            Ok((
                axum::http::StatusCode::BAD_REQUEST,
                second_factor_page(&me, enrolled, None, None, Some(e.user_message()))?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

crate::session::csrf_forms!(OtpForm, PasswordForm);
