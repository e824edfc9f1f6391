//! The `gatehouse` binary: parses the command line, then only wires
//! config → telemetry → bootstrap → serve.

use std::process::ExitCode;
use std::time::Duration;

use adapters::bootstrap;
use adapters::config::Settings;
use adapters::http;
use adapters::persistence;
use adapters::telemetry;
use clap::{Parser, Subcommand};
use poem::Server;
use poem::listener::TcpListener;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse authentication service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve HTTP (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Print the OpenAPI document (YAML, or JSON with --json).
    Openapi {
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Print a new random JWT secret (64 bytes, URL-safe base64).
    GenSecret,
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the last migration.
    Down,
    /// List applied and pending migrations.
    Status,
}

/// How long in-flight requests get to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command.unwrap_or(Command::Serve)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Openapi { json } => {
            print!(
                "{}",
                if json {
                    http::openapi_json() + "\n"
                } else {
                    http::openapi_yaml()
                }
            );
            Ok(())
        }
        Command::GenSecret => {
            println!("{}", bootstrap::generate_secret());
            Ok(())
        }
        Command::Migrate { action } => {
            let settings = Settings::from_env()?;
            telemetry::init(&settings.log_level, settings.log_format);
            let database =
                persistence::connect_with(&settings.database_url, settings.database_pool).await?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => {
                    database.migrate_up().await?;
                    println!("migrations applied");
                }
                MigrateAction::Down => {
                    database.migrate_down().await?;
                    println!("last migration rolled back");
                }
                MigrateAction::Status => {
                    for (name, applied) in database.migration_status().await? {
                        println!("{} {name}", if applied { "applied" } else { "pending" });
                    }
                }
            }
            Ok(())
        }
        Command::Serve => serve().await,
    }
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_level, settings.log_format);
    let secret = bootstrap::resolve_jwt_secret(&settings)?;
    let app = bootstrap::build_app(&settings, &secret).await?;
    let address = settings.listen_address();
    tracing::info!(%address, version = env!("CARGO_PKG_VERSION"), "gatehouse listening");
    Server::new(TcpListener::bind(address))
        .run_with_graceful_shutdown(app.endpoint, shutdown_signal(), Some(SHUTDOWN_GRACE))
        .await?;
    tracing::info!("gatehouse stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
