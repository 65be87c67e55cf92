//! The command line, described with clap. Help texts are in French, for the people using it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::LogFormat;
use crate::target::{CommuneTarget, Target};

#[derive(Debug, Parser)]
#[command(
    name = "parapheur",
    version,
    about = "Registre du courrier, parapheur et archives pour les communes",
    long_about = None
)]
pub struct Cli {
    /// Sortie JSON (pour les scripts)
    #[arg(long, global = true)]
    pub json: bool,
    /// Journal détaillé sur la sortie d'erreur
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Format du journal sur la sortie d'erreur : text (par défaut) ou json (une ligne JSON
    /// par événement, pour un collecteur de journaux)
    #[arg(
        long,
        global = true,
        env = "PARAPHEUR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crée le registre d'une commune et son administrateur
    Init {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Adresse de l'administrateur (mot de passe : PARAPHEUR_ADMIN_PASSWORD ou saisie)
        #[arg(long, value_name = "EMAIL")]
        admin: String,
        /// Nom affiché de l'administrateur
        #[arg(long, value_name = "NOM")]
        admin_name: Option<String>,
    },
    /// Crée une commune de démonstration réaliste et la sert
    Demo {
        /// Dossier de données de la démonstration
        #[arg(
            long,
            env = "PARAPHEUR_DATA",
            value_name = "DOSSIER",
            default_value = "parapheur-demo"
        )]
        data: PathBuf,
        /// Adresse d'écoute
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Crée les données sans lancer le serveur
        #[arg(long)]
        no_serve: bool,
    },
    /// Sert l'application web
    Serve {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Ce nœud ne fait aucune tâche de fond (boîtes aux lettres, extraction, courriels,
        /// échéances) : il répond seulement aux pages (réglage `background`)
        #[arg(long)]
        no_background: bool,
    },
    /// Administrateurs de l'hébergement (créent les communes, ne lisent pas leur courrier)
    HostAdmin {
        #[command(subcommand)]
        command: HostAdminCommand,
    },
    /// La configuration (parapheur.toml, variables PARAPHEUR_…)
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Enregistre un courrier, un appel ou une demande et affiche son numéro chrono
    Register(RegisterArgs),
    /// Types de documents (délai, règle du silence)
    Doctype {
        #[command(subcommand)]
        command: DoctypeCommand,
    },
    /// Consulte ou fait évoluer un élément du registre
    Item {
        #[command(subcommand)]
        command: ItemCommand,
    },
    /// Jetons de l'API (/api/v1) : création, liste, révocation
    Tokens {
        #[command(subcommand)]
        command: crate::tokens::TokensCommand,
    },
    /// Webhooks : abonnements d'autres logiciels aux événements du registre, envois
    Webhooks {
        #[command(subcommand)]
        command: crate::webhooks::WebhooksCommand,
    },
    /// Droits des personnes sur leurs données (RGPD) : copie, effacement, limitation
    Contacts {
        #[command(subcommand)]
        command: crate::contacts::ContactsCommand,
    },
    /// Archives : règles de conservation, gel, élimination visée, versement SEDA
    Archives {
        /// Agit au nom de cette personne (qui doit avoir le rôle d'archiviste)
        #[arg(long = "as", value_name = "EMAIL", global = true)]
        as_user: Option<String>,
        #[command(subcommand)]
        command: crate::archives::ArchivesCommand,
    },
    /// Réglages de la commune
    Commune {
        #[command(subcommand)]
        command: CommuneCommand,
    },
    /// Journal chaîné des modifications
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Vérifie les fichiers et la numérotation, et ramasse les fichiers orphelins
    Fsck {
        #[command(flatten)]
        target: Target,
        /// Signale les fichiers orphelins sans les supprimer
        #[arg(long)]
        no_collect: bool,
        /// Âge minimal (minutes) d'un fichier orphelin avant suppression
        #[arg(long, default_value_t = 60)]
        grace_minutes: i64,
    },
    /// Copies hors site chiffrées (dépôt restic) : faire, lister, vérifier
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Restaure une copie hors site dans un dossier de données vide, puis vérifie le
    /// journal et les fichiers
    Restore {
        /// Dossier de données à remplir (vide)
        #[arg(long, env = "PARAPHEUR_DATA", value_name = "DOSSIER")]
        data: PathBuf,
        /// Dépôt des copies (sinon celui de parapheur.toml ou de PARAPHEUR_BACKUP_REPOSITORY)
        #[arg(long, value_name = "DÉPÔT")]
        from: Option<String>,
        /// Fichier de la clé maître de l'installation copiée (placée dans le dossier)
        #[arg(long, value_name = "FICHIER")]
        master_key: Option<PathBuf>,
        /// Copie à restaurer (identifiant ; la plus récente par défaut)
        #[arg(long, value_name = "ID")]
        snapshot: Option<String>,
    },
    /// Exporte une commune dans une archive chiffrée (réversibilité) : registre, journal,
    /// fichiers et ancres. Phrase de passe : PARAPHEUR_ARCHIVE_PASSPHRASE ou saisie
    Export {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Archive à écrire (le fichier ne doit pas exister)
        #[arg(long, value_name = "FICHIER")]
        to: PathBuf,
    },
    /// Importe la commune d'une archive de « parapheur export » (crée le registre s'il
    /// n'existe pas), puis vérifie le journal et les fichiers et reconstruit l'index
    Import {
        #[command(flatten)]
        target: Target,
        /// Archive à lire
        #[arg(long, value_name = "FICHIER")]
        from: PathBuf,
    },
    /// Enregistre des courriels : fichiers .eml, mbox ou dossiers maildir
    ImportMail {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Fichiers .eml, fichiers mbox, dossiers maildir ou dossiers de .eml
        #[arg(required = true, value_name = "CHEMIN")]
        paths: Vec<PathBuf>,
    },
    /// Écrit l'accusé de réception (PDF) d'un courrier reçu
    Ar {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono du courrier (par exemple 2026-A-000042)
        #[arg(value_name = "NUMÉRO")]
        number: String,
        /// Fichier PDF à écrire (par défaut accuse-de-reception-NUMÉRO.pdf)
        #[arg(short = 'o', long = "output", value_name = "FICHIER.pdf")]
        output: Option<PathBuf>,
    },
    /// Signe un PDF au nom d'un utilisateur de la commune (signature PAdES visible)
    Sign {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Adresse du signataire (un utilisateur de la commune qui a un certificat)
        #[arg(long = "as", value_name = "EMAIL")]
        signer: String,
        /// PDF à signer
        #[arg(value_name = "FICHIER.pdf")]
        file: PathBuf,
        /// PDF signé à écrire
        #[arg(short = 'o', long = "output", value_name = "SORTIE.pdf")]
        output: PathBuf,
        /// Code à six chiffres de l'application d'authentification du signataire
        /// (la signature reste l'acte du signataire, même en ligne de commande)
        #[arg(long, env = "PARAPHEUR_SIGNING_CODE", hide_env_values = true)]
        code: Option<String>,
        /// Code de signature, si la clé en a un
        #[arg(long, env = "PARAPHEUR_SIGNING_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// Certificats et clés de signature de la commune
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Outils PDF : vérification des signatures
    Pdf {
        #[command(subcommand)]
        command: PdfCommand,
    },
    /// Recherche dans le registre d'une commune (texte intégral)
    Search {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Mots cherchés (tous doivent figurer) ; « entre guillemets » pour une expression
        #[arg(required = true, value_name = "MOTS")]
        query: Vec<String>,
        /// Nombre de résultats
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Du plus récent au plus ancien, au lieu de la pertinence
        #[arg(long)]
        by_date: bool,
    },
    /// Reconstruit l'index de recherche depuis la base (toutes les communes, ou une)
    Reindex {
        #[command(flatten)]
        target: Target,
        /// Code INSEE d'une seule commune
        #[arg(long, value_name = "INSEE")]
        commune: Option<String>,
    },
    /// Extrait le texte des fichiers en attente (OCR compris) puis s'arrête
    Extract {
        #[command(flatten)]
        target: Target,
        /// Remet d'abord en file les fichiers dont l'extraction a échoué (OCR installé depuis)
        #[arg(long, value_name = "INSEE")]
        retry_failed: Option<String>,
    },
    /// Boîtes aux lettres relevées (IMAP)
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Enregistre les fichiers déposés dans un dossier (numérisations du copieur)
    WatchFolder {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Le dossier surveillé
        #[arg(value_name = "DOSSIER")]
        folder: PathBuf,
        /// Un seul passage (les fichiers doivent être stables depuis 2 secondes)
        #[arg(long)]
        once: bool,
    },
    /// Met en page un document (registre imprimé, courrier ; JSON sur l'entrée standard,
    /// PDF sur la sortie) : le serveur le lance dans un processus à part, dont la mémoire
    /// est rendue à la fin
    #[command(hide = true)]
    Render,
    /// Mesures de performance (enregistrements par seconde)
    #[command(hide = true)]
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Ajoute une boîte (mot de passe : variable PARAPHEUR_MAILBOX_PASSWORD ou saisie)
    Add {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Nom affiché (« Accueil mairie »)
        #[arg(long)]
        label: String,
        /// Serveur IMAP
        #[arg(long)]
        host: String,
        /// Port (993 en TLS)
        #[arg(long, default_value_t = 993)]
        port: u16,
        /// tls, starttls ou plain (plain : cette machine seulement)
        #[arg(long, default_value = "tls")]
        security: String,
        /// Identifiant
        #[arg(long)]
        user: String,
        /// Dossier relevé
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// Après relève : leave (laisser), seen (marquer lu) ou move:DOSSIER
        #[arg(long, default_value = "leave")]
        after: String,
    },
    /// Liste les boîtes et leur dernière relève
    List {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Relève maintenant toutes les boîtes actives
    Poll {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub commune: CommuneTarget,
    /// paper, email, phone, form, counter ou registered
    #[arg(long)]
    pub channel: String,
    /// Objet
    #[arg(long)]
    pub subject: String,
    /// Expéditeur : identifiant, adresse électronique ou nom (créé s'il n'existe pas)
    #[arg(long, value_name = "CONTACT")]
    pub from: Option<String>,
    /// Code du type de document
    #[arg(long = "type", value_name = "CODE")]
    pub doctype: Option<String>,
    /// Date d'arrivée (AAAA-MM-JJ), aujourd'hui par défaut
    #[arg(long, value_name = "DATE")]
    pub arrived: Option<String>,
    /// Date du courrier (AAAA-MM-JJ)
    #[arg(long, value_name = "DATE")]
    pub letter_date: Option<String>,
    /// Sens : incoming (arrivée), outgoing (départ) ou internal
    #[arg(long, default_value = "incoming")]
    pub direction: String,
    /// Numéro La Poste d'un recommandé
    #[arg(long, value_name = "NUMÉRO")]
    pub registered_number: Option<String>,
    /// Référence de l'expéditeur
    #[arg(long)]
    pub reference: Option<String>,
    /// Première réception par une autre autorité (L114-2 ; le délai court selon L114-3), AAAA-MM-JJ
    #[arg(long, value_name = "DATE")]
    pub first_received: Option<String>,
    /// Fichiers joints
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DoctypeCommand {
    /// Ajoute un type de document
    Add {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Code stable (minuscules, chiffres, - ou _)
        #[arg(long)]
        code: String,
        #[arg(long)]
        label: String,
        /// Délai : 2m (mois), 15d (jours), 10wd (jours ouvrés)
        #[arg(long)]
        delay: String,
        /// acceptance, rejection ou none
        #[arg(long)]
        silence: String,
        /// Durée d'utilité administrative en années
        #[arg(long, default_value_t = 6)]
        retention_years: u32,
        /// Sort final : keep, destroy ou sort
        #[arg(long, default_value = "sort")]
        final_action: String,
        /// Pas d'accusé de réception (R112-4)
        #[arg(long)]
        no_acknowledgement: bool,
    },
    /// Liste les types de documents
    List {
        #[command(flatten)]
        commune: CommuneTarget,
    },
}

#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    /// Affiche un élément
    Show {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
    },
    /// Change le statut d'un élément
    Status {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
        /// Nouveau statut (registered, assigned, in_progress, awaiting_documents, in_circuit,
        /// reply_sent, closed, archived, destroyed)
        #[arg(long)]
        to: String,
        /// Motif de clôture (answered, no_follow_up, forwarded, duplicate, implicit_decision)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Donne son type de document à un élément : ses délais le suivent
    Classify {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
        /// Code du type de document
        #[arg(long = "type", value_name = "CODE")]
        doctype: String,
    },
    /// Pièces manquantes (article L114-5) : leur demande (--requested) ou leur réception
    /// (--received)
    #[command(group(clap::ArgGroup::new("step").required(true).args(["requested", "received"])))]
    Documents {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
        /// Date de la demande des pièces (AAAA-MM-JJ) ; aujourd'hui, le demandeur reçoit la
        /// liste par courriel
        #[arg(long, value_name = "DATE", requires = "list")]
        requested: Option<String>,
        /// Une pièce manquante (répétez l'option pour chacune)
        #[arg(long, value_name = "PIÈCE")]
        list: Vec<String>,
        /// Date fixée pour produire les pièces (AAAA-MM-JJ) ; par défaut un mois après la
        /// demande ; obligatoire pour une demande passée dont le silence vaut rejet ou qui n'a
        /// pas de décision implicite (elle borne la suspension du délai)
        #[arg(long, value_name = "DATE", requires = "requested")]
        deadline: Option<String>,
        /// Date de réception des pièces (AAAA-MM-JJ) : le délai repart ou reprend
        #[arg(long, value_name = "DATE", conflicts_with_all = ["requested", "list", "deadline"])]
        received: Option<String>,
    },
    /// Transmet à l'autorité compétente une demande qui ne relève pas de la commune (article
    /// L114-2) : le demandeur en est avisé, l'élément est clos (motif : transmis)
    Forward {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
        /// L'autorité compétente
        #[arg(long = "to", value_name = "AUTORITÉ")]
        authority: String,
        /// Son adresse électronique (la demande et ses fichiers lui sont envoyés)
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
    },
    /// Corrige la date d'arrivée (journalisée avec son motif) : les délais la suivent
    Arrival {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Numéro chrono
        number: String,
        /// La vraie date d'arrivée (AAAA-MM-JJ)
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Le motif de la correction
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CommuneCommand {
    /// Change un réglage de la commune
    Set {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Alsace-Moselle : le Vendredi saint est-il férié ici (oui dans les communes ayant un
        /// temple protestant ou une église mixte, article L3134-13 du code du travail)
        #[arg(long, value_name = "oui|non")]
        good_friday: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Fait une copie hors site maintenant (crée le dépôt à la première)
    Now {
        #[command(flatten)]
        target: Target,
    },
    /// Dernière copie, dernière erreur
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Liste les copies du dépôt
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Écrit la fiche de reprise à imprimer pour le coffre de la mairie (PDF) : clé maître,
    /// dépôt des copies, étapes de la restauration avec parapheur et avec restic seul
    Sheet {
        #[command(flatten)]
        target: Target,
        /// PDF à écrire (lisible par son propriétaire seul ; il ne doit pas exister)
        #[arg(long, value_name = "FICHIER.pdf")]
        to: PathBuf,
    },
    /// Vérifie le dépôt en relisant chaque objet (restic check --read-data)
    Verify {
        #[command(flatten)]
        target: Target,
        /// Vérifie la structure seulement, sans relire les données
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Vérifie le chaînage du journal de chaque commune
    Verify {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Affiche en PEM le certificat d'autorité à faire reconnaître par un vérificateur
    CaCert {
        #[command(flatten)]
        commune: CommuneTarget,
    },
    /// Crée (ou renouvelle) le certificat de signature d'un utilisateur
    Issue {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Adresse de l'utilisateur
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// Code de signature protégeant la clé (facultatif)
        #[arg(long, env = "PARAPHEUR_SIGNING_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// Importe une clé et son certificat (PKCS#12) pour un utilisateur ou pour le cachet
    Import {
        #[command(flatten)]
        commune: CommuneTarget,
        /// Adresse de l'utilisateur (sinon --seal)
        #[arg(long, value_name = "EMAIL", conflicts_with = "seal")]
        user: Option<String>,
        /// La clé est le cachet de la commune
        #[arg(long)]
        seal: bool,
        /// Fichier PKCS#12 (.p12, .pfx)
        #[arg(value_name = "FICHIER.p12")]
        file: PathBuf,
        /// Mot de passe du fichier PKCS#12
        #[arg(long, env = "PARAPHEUR_P12_PASSWORD", hide_env_values = true)]
        password: String,
        /// Code de signature protégeant la clé une fois importée (facultatif)
        #[arg(long, env = "PARAPHEUR_SIGNING_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostAdminCommand {
    /// Donne le droit d'administrer l'hébergement au compte actif de cette adresse
    Add {
        #[command(flatten)]
        target: Target,
        #[arg(value_name = "EMAIL")]
        email: String,
    },
    /// Retire ce droit
    Remove {
        #[command(flatten)]
        target: Target,
        #[arg(value_name = "EMAIL")]
        email: String,
    },
    /// Liste les administrateurs de l'hébergement
    List {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Vérifie la configuration et affiche celle qui s'applique, secrets masqués
    /// (code de sortie 1, avec la clé et la raison, si elle est refusée)
    Check {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
pub enum PdfCommand {
    /// Dit quelles signatures porte un PDF, qui a signé et quand (date prouvée ou non),
    /// si chacune est intacte, reconnue, et ce qui a changé depuis. Code de sortie 0
    /// seulement si chaque signature est valide (intacte, certificat reconnu grâce à
    /// --trust ou --commune, rien d'interdit ajouté après) ; 1 sinon ; 3 sans signature.
    Verify {
        /// PDF à vérifier
        #[arg(value_name = "FICHIER.pdf")]
        file: PathBuf,
        /// Certificat(s) d'autorité reconnus pour les signataires (PEM)
        #[arg(long, value_name = "CA.pem")]
        trust: Vec<PathBuf>,
        /// Certificat(s) d'autorité reconnus pour les horodatages (PEM) : sans eux, un
        /// horodatage ne prouve pas la date et les certificats sont jugés à aujourd'hui
        #[arg(long, value_name = "TSA-CA.pem")]
        tsa_trust: Vec<PathBuf>,
        /// Reconnaître aussi les certificats de cette commune (avec --data)
        #[arg(long, value_name = "INSEE", requires = "data")]
        commune: Option<String>,
        /// Dossier de données (pour --commune)
        #[arg(long, env = "PARAPHEUR_DATA", value_name = "DOSSIER")]
        data: Option<PathBuf>,
        /// Base PostgreSQL (postgres://…) au lieu de SQLite (pour --commune)
        #[arg(
            long,
            env = "PARAPHEUR_DATABASE_URL",
            value_name = "URL",
            hide_env_values = true
        )]
        database_url: Option<String>,
    },
}
