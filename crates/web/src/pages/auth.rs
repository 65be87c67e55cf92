//! Login, logout, password change and reset.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::administration::auth::LoginError;
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
    next: &str,
    email: &str,
    error: Option<String>,
    communes: Vec<(String, String)>,
) -> Result<Html<String>, WebError> {
    let communes: Vec<_> = communes
        .into_iter()
        .map(|(insee, name)| ctx! { insee, name })
        .collect();
    Ok(Html(templates::render(
        "login.html",
        ctx! {
            title => "Connexion", style_url => assets::style_url(),
            next => asked_next(next).unwrap_or_default(), email, error, communes,
        },
    )?))
}

pub async fn login_form(Query(q): Query<NextQuery>) -> Result<Html<String>, WebError> {
    login_page(&q.suite, "", None, Vec::new())
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
                [(
                    header::SET_COOKIE,
                    session_cookie(&session.token, state.secure_cookies),
                )],
                Redirect::to(target),
            )
                .into_response())
        }
        Err(LoginError::ChooseCommune(communes)) => {
            let choices = communes.into_iter().map(|c| (c.insee, c.name)).collect();
            let page = login_page(
                &form.suite,
                &form.email,
                Some("Ce compte existe dans plusieurs communes : choisissez-en une.".into()),
                choices,
            )?;
            Ok(page.into_response())
        }
        Err(LoginError::App(e)) => Err(e.into()),
        Err(e) => {
            let page = login_page(&form.suite, &form.email, Some(e.to_string()), Vec::new())?;
            Ok((axum::http::StatusCode::UNAUTHORIZED, page).into_response())
        }
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
    Ok((
        [(header::SET_COOKIE, clear_cookie())],
        Redirect::to("/connexion"),
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
