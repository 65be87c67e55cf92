//! Where the register is (the `--data` folder, or a PostgreSQL URL) and opening it: what
//! every command that works on a register starts with.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use parapheur_app::domain::Commune;
use parapheur_app::{App, Config};

/// Where the register is.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// Dossier de données (base SQLite, fichiers, clé maître)
    #[arg(long, env = "PARAPHEUR_DATA", value_name = "DOSSIER")]
    pub data: PathBuf,
    /// Base PostgreSQL (postgres://…) au lieu de SQLite
    #[arg(
        long,
        env = "PARAPHEUR_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CommuneTarget {
    #[command(flatten)]
    pub target: Target,
    /// Code INSEE de la commune
    #[arg(long, value_name = "INSEE")]
    pub commune: String,
}

pub(crate) fn config(target: &Target) -> anyhow::Result<Config> {
    Ok(Config::load(&target.data, target.database_url.clone())?)
}

/// Opens an existing register; a missing one is an error, not an empty new register.
pub(crate) async fn open(target: &Target) -> anyhow::Result<App> {
    open_with(target, &config(target)?).await
}

/// [`open`] with a configuration already read (and maybe adjusted, as by `serve`).
pub(crate) async fn open_with(target: &Target, config: &Config) -> anyhow::Result<App> {
    if !config.is_initialised() {
        bail!(
            "aucun registre dans {} : créez-le avec « parapheur init --data {} --commune INSEE --admin EMAIL »",
            target.data.display(),
            target.data.display()
        );
    }
    Ok(App::open(config).await?)
}

pub(crate) async fn open_commune(target: &CommuneTarget) -> anyhow::Result<(App, Commune)> {
    let app = open(&target.target).await?;
    let commune = app.commune(&target.commune).await?;
    Ok((app, commune))
}
