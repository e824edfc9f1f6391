//! The `gatehouse` binary: parses the command line, then only wires
//! config → telemetry → bootstrap → serve.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use adapters::bootstrap;
use adapters::config::Settings;
use adapters::http;
use adapters::persistence;
use adapters::telemetry;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

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
    /// Probe a running server: GET /health, exit 0 on 200 and 1 otherwise (for a
    /// container HEALTHCHECK, where there is no curl).
    Healthcheck {
        /// What to probe (plain http://); default http://127.0.0.1:$PORT/health.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the connection and for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
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
    // The environment section is read from `.env.example` at build time, so `--help`
    // names every variable the service reads (and `serve --help` too).
    let environment = adapters::config::environment_help();
    let command = Cli::command()
        .after_long_help(environment.clone())
        .after_help("Run `gatehouse --help` for the environment variables.")
        .mut_subcommand("serve", |serve| serve.after_help(environment));
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    match run(cli.command.unwrap_or(Command::Serve)).await {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`gatehouse openapi | head`) is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes `text` to standard output, reporting a closed pipe as an error instead of
/// panicking as `print!` does.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Openapi { json } => emit(&if json {
            http::openapi_json()? + "\n"
        } else {
            http::openapi_yaml()?
        }),
        Command::GenSecret => emit(&format!("{}\n", bootstrap::generate_secret())),
        Command::Migrate { action } => {
            let settings = Settings::from_env()?;
            telemetry::init(&settings.log_level, settings.log_format);
            let action = action.unwrap_or(MigrateAction::Up);
            if matches!(action, MigrateAction::Status)
                && let Some(path) = persistence::missing_sqlite_file(&settings.database_url)
            {
                // Asking about a database must not create it.
                let mut text = format!("# {} does not exist yet\n", path.display());
                for name in persistence::known_migrations() {
                    text.push_str(&format!("pending {name}\n"));
                }
                return emit(&text);
            }
            let database =
                persistence::connect_with(&settings.database_url, settings.database_pool).await?;
            match action {
                MigrateAction::Up => {
                    database.migrate_up().await?;
                    emit("migrations applied\n")
                }
                MigrateAction::Down => {
                    database.migrate_down().await?;
                    emit("last migration rolled back\n")
                }
                MigrateAction::Status => {
                    let mut text = String::new();
                    for (name, applied) in database.migration_status().await? {
                        let state = if applied { "applied" } else { "pending" };
                        text.push_str(&format!("{state} {name}\n"));
                    }
                    emit(&text)
                }
            }
        }
        Command::Serve => serve().await,
        Command::Healthcheck { url, timeout } => {
            healthcheck(url, Duration::from_secs(timeout.max(1)))
        }
    }
}

/// A blocking HTTP/1.0 GET of `url` (default: this host's /health on $PORT); an error
/// unless the status is 200.
fn healthcheck(url: Option<String>, timeout: Duration) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Read as _;
    use std::net::{TcpStream, ToSocketAddrs as _};
    let url = url.unwrap_or_else(|| {
        let port = std::env::var("PORT")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "8000".to_owned());
        format!("http://127.0.0.1:{}/health", port.trim())
    });
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let address = with_port
        .to_socket_addrs()
        .with_context(|| format!("{url}: cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{url}: no address for {authority}"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("{url}: cannot connect"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut head = Vec::new();
    stream
        .take(1024)
        .read_to_end(&mut head)
        .with_context(|| format!("{url}: no answer"))?;
    let status_line = String::from_utf8_lossy(&head);
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    anyhow::ensure!(
        status == "200",
        "{url}: status {}",
        if status.is_empty() { "missing" } else { status }
    );
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings.log_level, settings.log_format);
    let secret = bootstrap::resolve_jwt_secret(&settings)?;
    let app = bootstrap::build_app(&settings, &secret).await?;
    let descriptors = http::server::raise_descriptor_limit();
    let limits = http::server::ConnectionLimits {
        header_read_timeout: Duration::from_secs(settings.http.header_read_timeout_secs),
        max_connections: settings
            .http
            .max_connections
            .unwrap_or_else(|| http::server::default_max_connections(descriptors.unwrap_or(1024))),
    };
    let address = settings.listen_address();
    // Bind first: "listening" is logged only once it is true, and a port in use stops
    // start-up with an error naming the address.
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|err| anyhow::anyhow!("HOST, PORT: cannot listen on {address}: {err}"))?;
    let bound = listener.local_addr().map_or(address, |a| a.to_string());
    tracing::info!(
        address = %bound,
        version = env!("CARGO_PKG_VERSION"),
        max_connections = limits.max_connections,
        open_files_limit = descriptors,
        "gatehouse listening"
    );
    http::server::serve(
        listener,
        app.endpoint,
        limits,
        shutdown_signal(),
        SHUTDOWN_GRACE,
    )
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
