//! The `messaging` command: `serve`, `migrate`, `user …`, `token …`.
//! Every failure ends with one line on stderr and a non-zero exit code.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::auth::api_tokens;
use crate::config::{DbSettings, LogSettings, Settings, StorageSettings};
use crate::domain::users::{self, NewUser};
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "messaging",
    version,
    about = "Real-time messaging for the portal's members"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogSettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(Box<Settings>),
    /// Apply or roll back database migrations.
    Migrate {
        #[arg(value_enum, default_value = "up")]
        direction: Direction,
        #[command(flatten)]
        db: DbSettings,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        db: DbSettings,
    },
    /// Manage personal API tokens (for `Authorization: Bearer`).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
        #[command(flatten)]
        db: DbSettings,
    },
    /// Check the configuration, database, Redis, SMTP and storage; one line
    /// per check, a non-zero exit code when any failed. Takes the settings
    /// of `serve`.
    Doctor(Box<Settings>),
    /// Import the old portal's private and group messages (docs/legacy-import.md).
    ImportLegacy(Box<ImportArgs>),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The old portal's PostgreSQL database: postgres://user@host/portal.
    #[arg(long, env = "LEGACY_DATABASE_URL")]
    pub source: String,
    /// Directory of the old attachment files (`stored_filename` is relative to it).
    #[arg(long)]
    pub files_dir: Option<std::path::PathBuf>,
    /// Say what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows read and written per transaction (1–5000).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: u64,
    /// Stop after this many committed batches, as if killed (tests).
    #[arg(long, hide = true)]
    pub stop_after_batches: Option<u64>,
    #[command(flatten)]
    pub db: DbSettings,
    /// Attachment files go where `serve` keeps them (the same settings).
    #[command(flatten)]
    pub storage: StorageSettings,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Direction {
    /// Apply all pending migrations.
    Up,
    /// Roll back every migration (drops all tables).
    Down,
    /// List migrations and whether they are applied.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Give the user administrator rights.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (one line) instead of
        /// prompting twice on the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password (ends all their sessions).
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a user: no login, sessions and tokens stop working.
    Deactivate {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only this once).
    Create {
        #[arg(long)]
        email: String,
        /// A label to recognise the token by (e.g. the client's name).
        #[arg(long)]
        name: String,
    },
    /// List a user's tokens.
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke a token by its id (see `token list`).
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        id: i64,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = crate::telemetry::init(&cli.log) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // Before any HTTP client is built (S3 storage, the importer).
    crate::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the cause chain joined, no backtrace.
            let msg = e
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn open_db(db: &DbSettings) -> anyhow::Result<DatabaseConnection> {
    db.validate().map_err(anyhow::Error::msg)?;
    let conn = crate::db::connect(&db.url(), 2)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    Ok(conn)
}

/// Opens the database and applies pending migrations (admin commands work
/// on a fresh data directory too).
async fn open_migrated(db: &DbSettings) -> anyhow::Result<DatabaseConnection> {
    let conn = open_db(db).await?;
    crate::db::migrate(&conn)
        .await
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
    Ok(conn)
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => serve(*settings).await,
        Command::Migrate { direction, db } => {
            let conn = open_db(&db).await?;
            match direction {
                Direction::Up => {
                    crate::db::migrate(&conn).await?;
                    println!("Migrations applied.");
                }
                Direction::Down => {
                    crate::db::rollback(&conn).await?;
                    println!("Migrations rolled back.");
                }
                Direction::Status => {
                    for m in Migrator::get_pending_migrations(&conn).await? {
                        println!("pending  {}", m.name());
                    }
                    for m in Migrator::get_applied_migrations(&conn).await? {
                        println!("applied  {}", m.name());
                    }
                }
            }
            Ok(())
        }
        Command::User { command, db } => {
            let conn = open_migrated(&db).await?;
            user_command(&conn, command).await
        }
        Command::Token { command, db } => {
            let conn = open_migrated(&db).await?;
            token_command(&conn, command).await
        }
        Command::Doctor(settings) => {
            let checks = crate::doctor::run(&settings).await;
            for c in &checks {
                println!("{c}");
            }
            let failed = checks
                .iter()
                .filter(|c| c.status == crate::doctor::Status::Failed)
                .count();
            if failed > 0 {
                anyhow::bail!("{failed} of {} checks failed", checks.len());
            }
            Ok(())
        }
        Command::ImportLegacy(args) => import_legacy(*args).await,
    }
}

async fn import_legacy(args: ImportArgs) -> anyhow::Result<()> {
    // A dry run must not even migrate the target.
    let conn = if args.dry_run {
        open_db(&args.db).await?
    } else {
        open_migrated(&args.db).await?
    };
    let storage = if args.dry_run {
        None
    } else {
        Some(
            crate::storage::Storage::from_settings(&args.storage, &args.db.data_dir)
                .map_err(anyhow::Error::msg)?,
        )
    };
    let opts = crate::import::Options {
        source_url: args.source,
        files_dir: args.files_dir,
        storage,
        dry_run: args.dry_run,
        batch_size: args.batch_size,
        stop_after_batches: args.stop_after_batches,
        progress: true,
    };
    let report = crate::import::run(&conn, &opts).await?;
    print!("{}", report.render());
    if !report.ok() {
        anyhow::bail!("the import does not match the old data (see the table above)");
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let public = settings.public_url.trim_end_matches('/').to_owned();
    let app = Application::build(settings).await?;
    if let Some(admin) = &app.first_admin {
        println!("Created the first administrator account:");
        println!("  e-mail:   {}", admin.email);
        println!("  password: {}", admin.password);
        // The command as it can be pasted: this very binary.
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "messaging".into());
        println!("This password is shown only once. Change it with:");
        println!("  {exe} user set-password --email {}", admin.email);
    }
    println!("Messaging is running: log in at {public}/wiadomosci/ (API at {public}/api)");
    tracing::info!(port = app.port(), "listening");
    let stop = app.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: ending event streams, finishing requests");
        stop().await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (systemd, docker) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Reads a password from stdin (`--password-stdin`) or prompts twice.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to prompt for the password; pass --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat the password: ")?;
    if first != second {
        anyhow::bail!("the passwords do not match");
    }
    Ok(first)
}

async fn user_command(db: &DatabaseConnection, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            name,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = users::create(
                db,
                NewUser {
                    email,
                    name,
                    password,
                    is_admin: admin,
                },
            )
            .await?;
            println!(
                "Created user {} <{}> (id {}).",
                user.name, user.email, user.id
            );
        }
        UserCommand::List => {
            println!(
                "{:>6}  {:<32} {:<24} {:<6} {:<6}",
                "id", "e-mail", "name", "admin", "active"
            );
            for u in users::list(db).await? {
                println!(
                    "{:>6}  {:<32} {:<24} {:<6} {:<6}",
                    u.id,
                    u.email,
                    u.name,
                    if u.is_admin { "yes" } else { "no" },
                    if u.is_active { "yes" } else { "no" }
                );
            }
        }
        UserCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let user = users::get_by_email(db, &email)
                .await
                .map_err(|_| anyhow::anyhow!("no user with e-mail {email}"))?;
            let password = read_password(password_stdin)?;
            users::set_password(db, user.id, password).await?;
            println!(
                "Password changed for {}; their sessions were ended.",
                user.email
            );
        }
        UserCommand::Deactivate { email } => {
            let user = users::get_by_email(db, &email)
                .await
                .map_err(|_| anyhow::anyhow!("no user with e-mail {email}"))?;
            users::deactivate(db, user.id).await?;
            println!("Deactivated {}.", user.email);
        }
    }
    Ok(())
}

async fn token_command(db: &DatabaseConnection, command: TokenCommand) -> anyhow::Result<()> {
    let email = match &command {
        TokenCommand::Create { email, .. }
        | TokenCommand::List { email }
        | TokenCommand::Revoke { email, .. } => email.clone(),
    };
    let user = users::get_by_email(db, &email)
        .await
        .map_err(|_| anyhow::anyhow!("no user with e-mail {email}"))?;
    match command {
        TokenCommand::Create { name, .. } => {
            let (_, token) = api_tokens::create(db, user.id, &name).await?;
            // Only the token on stdout, so scripts can capture it.
            println!("{token}");
            eprintln!(
                "Store it now: it is not shown again. Use it as 'Authorization: Bearer <token>'."
            );
        }
        TokenCommand::List { .. } => {
            println!(
                "{:>6}  {:<24} {:<14} {:<20} status",
                "id", "name", "prefix", "created"
            );
            for t in api_tokens::list(db, user.id).await? {
                println!(
                    "{:>6}  {:<24} {:<14} {:<20} {}",
                    t.id,
                    t.name,
                    t.token_prefix,
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokenCommand::Revoke { id, .. } => {
            api_tokens::revoke(db, user.id, id)
                .await
                .map_err(|_| anyhow::anyhow!("{email} has no token with id {id}"))?;
            println!("Revoked token {id}.");
        }
    }
    Ok(())
}
