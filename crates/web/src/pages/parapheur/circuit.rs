//! A folder's circuit: starting it, visas and signatures (one or a selection), sending,
//! and its documents (the PDF, the bordereau).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use parapheur_app::AppError;
use parapheur_app::domain::circuit::{Action, CircuitDef, StepDef, StepKind};
use parapheur_app::parapheur::SendBy;
use serde::Deserialize;
use uuid::Uuid;

use super::drafting::refused;
use super::list_page;
use super::visible_folder;
use crate::WebState;
use crate::error::WebError;
use crate::flash::{self, Done};
use crate::pages::item::{file_response, parse_id};
use crate::session::{Me, Posted};

/// The circuit form: a named circuit, or up to five steps chosen here.
#[derive(Debug, Deserialize)]
pub struct CircuitForm {
    #[serde(default)]
    csrf: String,
    /// A circuit's code, or "" for the steps below.
    #[serde(default)]
    circuit: String,
    #[serde(default)]
    etape1: String,
    #[serde(default)]
    personne1: String,
    #[serde(default)]
    etape2: String,
    #[serde(default)]
    personne2: String,
    #[serde(default)]
    etape3: String,
    #[serde(default)]
    personne3: String,
    #[serde(default)]
    etape4: String,
    #[serde(default)]
    personne4: String,
    /// "2" when step 2 runs with step 1, and so on.
    #[serde(default)]
    parallele2: String,
    #[serde(default)]
    parallele3: String,
    #[serde(default)]
    parallele4: String,
}

/// Puts the letter into its circuit.
pub async fn start(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<CircuitForm>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service peut lancer le circuit".into(),
        ));
    }
    let commune = &me.0.commune;
    let def = if form.circuit.is_empty() {
        match form.definition() {
            Ok(def) if !def.stages.is_empty() => def,
            Ok(_) => match state
                .app
                .default_circuit(commune, folder.doctype_code.as_deref())
                .await?
            {
                Some(def) => def,
                None => {
                    return refused(
                        &state,
                        &me,
                        &folder,
                        AppError::invalid("choisissez un circuit ou ses étapes"),
                    )
                    .await;
                }
            },
            Err(WebError::BadRequest(m)) => {
                return refused(&state, &me, &folder, AppError::invalid(m)).await;
            }
            Err(e) => return Err(e),
        }
    } else {
        let template = state
            .app
            .circuit_templates(commune.id)
            .await?
            .into_iter()
            .find(|c| c.code == form.circuit)
            .ok_or(WebError::NotFound)?;
        serde_json::from_str(&template.definition_json)
            .map_err(|e| WebError::Internal(format!("circuit illisible : {e}")))?
    };
    match state
        .app
        .start_circuit(commune, &me.0.actor(), folder.id, &def, Utc::now())
        .await
    {
        Ok(_) => Ok(flash::redirect(
            &format!("/parapheur/{}", folder.id),
            Done::CircuitStarted,
        )),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            refused(&state, &me, &folder, e).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    commentaire: String,
    #[serde(default)]
    personne: String,
    #[serde(default)]
    code: String,
    /// The code of the signer's authenticator application.
    #[serde(default)]
    otp: String,
}

/// A circuit action on the letter: visa, signature, refusal, transfer, opinion, bypass.
pub async fn act(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<ActionForm>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let person = || {
        Uuid::parse_str(&form.personne)
            .map_err(|_| WebError::BadRequest("choisissez une personne".into()))
    };
    let action = match form.action.as_str() {
        "approve" => Action::Approve,
        "sign" => Action::Sign,
        "reject" => Action::Reject {
            comment: form.commentaire.trim().to_owned(),
        },
        "transfer" => Action::Transfer { to: person()? },
        "ask_opinion" => Action::AskOpinion { of: person()? },
        "answer_opinion" => Action::AnswerOpinion {
            text: form.commentaire.trim().to_owned(),
        },
        "bypass" => Action::Bypass {
            comment: form.commentaire.trim().to_owned(),
        },
        _ => return Err(WebError::BadRequest("action inconnue".into())),
    };
    let done = match &action {
        Action::Approve => Done::Approved,
        Action::Sign | Action::Seal => Done::Signed,
        Action::Reject { .. } => Done::Rejected,
        Action::Transfer { .. } => Done::Transferred,
        Action::AskOpinion { .. } => Done::OpinionAsked,
        Action::AnswerOpinion { .. } => Done::OpinionGiven,
        Action::Bypass { .. } => Done::Bypassed,
    };
    match state
        .app
        .act_on_folder(
            &me.0.commune,
            &me.0.actor(),
            folder.id,
            action,
            parapheur_app::parapheur::SignerProof {
                code: Some(form.otp.as_str()).filter(|c| !c.is_empty()),
                pin: Some(form.code.as_str()).filter(|c| !c.is_empty()),
            },
            Utc::now(),
        )
        .await
    {
        // Back to the list: the next letter to sign is there, under a word of what was
        // signed and who sends it.
        Ok(_) if done == Done::Signed => Ok(flash::redirect(
            &format!("/parapheur?courrier={}", folder.id),
            done,
        )),
        Ok(_) => Ok(flash::redirect(&format!("/parapheur/{}", folder.id), done)),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            refused(&state, &me, &folder, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// "Annuler la signature": the signer takes back their signature within its window; the
/// letter's page then says it waits for it again. Refused afterwards, in words.
pub async fn undo_signature(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(_): Posted<crate::session::CsrfOnly>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    match state
        .app
        .undo_signature(&me.0.commune, &me.0.actor(), folder.id, Utc::now())
        .await
    {
        Ok(_) => Ok(flash::redirect(
            &format!("/parapheur/{}", folder.id),
            Done::SignatureUndone,
        )),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            let page = list_page(&state, &me, None, Some(e.user_message())).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs (or approves) every checked letter of the list at once.
pub async fn sign_selection(
    State(state): State<WebState>,
    me: Me,
    body: String,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut code = String::new();
    let mut otp = String::new();
    let mut ids = Vec::new();
    let mut confirmed = false;
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match &*key {
            "csrf" => csrf = value.into_owned(),
            "code" => code = value.into_owned(),
            "otp" => otp = value.into_owned(),
            "courrier" => ids.push(parse_id(&value)?),
            "confirme" => confirmed = value == "1",
            _ => {}
        }
    }
    me.check_csrf(&csrf)?;
    if ids.is_empty() {
        let page = list_page(
            &state,
            &me,
            None,
            Some("Cochez les courriers à signer.".into()),
        )
        .await?;
        return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
    }
    if ids.len() > 100 {
        return Err(WebError::BadRequest(
            "100 courriers au plus à la fois".into(),
        ));
    }
    for id in &ids {
        visible_folder(&state, &me, &id.to_string()).await?;
    }
    // Nothing is signed unseen: the selection is first named, letter by letter (to whom,
    // in answer to what), with the codes a signature needs, and confirmed.
    if !confirmed {
        let chosen: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let letters: Vec<_> = super::waiting_rows(&state, &me)
            .await?
            .into_iter()
            .filter(|row| {
                row.get_attr("id")
                    .ok()
                    .and_then(|id| id.as_str().map(|id| chosen.iter().any(|c| c == id)))
                    .unwrap_or(false)
            })
            .collect();
        if letters.is_empty() {
            let page = list_page(
                &state,
                &me,
                None,
                Some("Aucun des courriers cochés n'attend votre visa ni votre signature.".into()),
            )
            .await?;
            return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
        }
        let signing = letters.iter().any(|row| {
            row.get_attr("action")
                .ok()
                .is_some_and(|a| a.as_str() == Some("Signer"))
        });
        let commune = &me.0.commune;
        let pin_needed = state
            .app
            .signing_key(
                commune.id,
                parapheur_app::parapheur::views::KeyKind::Person,
                Some(me.0.user.id),
            )
            .await?
            .is_some_and(|k| k.pin_protected);
        let page = crate::templates::render(
            "sign_confirm.html",
            ctx! {
                title => "Confirmer la signature", style_url => crate::assets::style_url(),
                me => me.view(), csrf => me.csrf(), nav => "parapheur",
                letters, signing, pin_needed,
                second_factor => state.app.has_second_factor(me.0.user.id).await?,
            },
        )?;
        return Ok(axum::response::Html(page).into_response());
    }
    let results = state
        .app
        .sign_folders(
            &me.0.commune,
            &me.0.actor(),
            &ids,
            parapheur_app::parapheur::SignerProof {
                code: Some(otp.as_str()).filter(|c| !c.is_empty()),
                pin: Some(code.as_str()).filter(|c| !c.is_empty()),
            },
            Utc::now(),
        )
        .await;
    let done = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    let notice = Some(parapheur_app::domain::french::count(
        done,
        "courrier signé ou visé",
        "courriers signés ou visés",
    ));
    let error = (!failed.is_empty()).then(|| format!("Refusé : {}", failed.join(" ; ")));
    Ok(list_page(&state, &me, notice, error).await?.into_response())
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    par: String,
    #[serde(default)]
    recommande: String,
}

/// Sends the signed letter by email or records it as posted; the request is closed.
pub async fn send(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
    Posted(form): Posted<SendForm>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    if !(me.can_register() || folder.author_id == me.0.user.id) {
        return Err(WebError::Forbidden(
            "seul le service envoie le courrier".into(),
        ));
    }
    let by = match form.par.as_str() {
        "courriel" => SendBy::Email,
        "poste" => SendBy::Post {
            registered_number: Some(form.recommande).filter(|r| !r.trim().is_empty()),
        },
        _ => return Err(WebError::BadRequest("choisissez courriel ou poste".into())),
    };
    match state
        .app
        .send_letter(&me.0.commune, &me.0.actor(), folder.id, by, Utc::now())
        .await
    {
        Ok(registered) => Ok(Redirect::to(&format!(
            "/courrier/{}?enregistre=1",
            registered.item.id
        ))
        .into_response()),
        Err(e) if e.kind() == parapheur_app::ErrorKind::Invalid => {
            refused(&state, &me, &folder, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The letter's current PDF (with the signatures made so far).
pub async fn document(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state.app.folder_pdf(&me.0.commune, &folder).await?;
    Ok(file_response(pdf, "courrier.pdf", "application/pdf"))
}

/// The *bordereau de signature*.
pub async fn bordereau(
    State(state): State<WebState>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let folder = visible_folder(&state, &me, &id).await?;
    let pdf = state
        .app
        .bordereau_pdf(&me.0.commune, folder.id, Utc::now())
        .await?;
    Ok(file_response(
        pdf,
        "bordereau-de-signature.pdf",
        "application/pdf",
    ))
}

impl CircuitForm {
    /// The steps typed in the form: each a (kind, person) in order; a step marked
    /// parallel joins the previous stage.
    pub(super) fn definition(&self) -> Result<CircuitDef, WebError> {
        let rows = [
            (&self.etape1, &self.personne1, ""),
            (&self.etape2, &self.personne2, self.parallele2.as_str()),
            (&self.etape3, &self.personne3, self.parallele3.as_str()),
            (&self.etape4, &self.personne4, self.parallele4.as_str()),
        ];
        let mut stages: Vec<Vec<StepDef>> = Vec::new();
        for (kind, person, parallel) in rows {
            if kind.is_empty() {
                continue;
            }
            let kind: StepKind = kind
                .parse()
                .map_err(|_| WebError::BadRequest(format!("type d'étape inconnu « {kind} »")))?;
            let user_id = if kind == StepKind::Seal {
                None
            } else {
                Some(Uuid::parse_str(person).map_err(|_| {
                    WebError::BadRequest(format!(
                        "choisissez la personne de l'étape « {} »",
                        kind.label_fr()
                    ))
                })?)
            };
            let step = StepDef { kind, user_id };
            match stages.last_mut() {
                Some(last) if parallel == "1" && kind != StepKind::Seal => last.push(step),
                _ => stages.push(vec![step]),
            }
        }
        Ok(CircuitDef { stages })
    }
}

crate::session::csrf_forms!(ActionForm, CircuitForm, SendForm);
