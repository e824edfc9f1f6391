//! The HTTP ceiling: the fastest this machine answers a small JSON object over loopback
//! with the same server stack as gatehouse (poem on tokio's multi-threaded runtime, one
//! worker per core, as `#[tokio::main]` gives both) and nothing else — no middleware, no
//! database, no token. Scenario 1's throughput is divided by what the same load
//! generator gets from this binary with the same connection count.
//!
//! Usage: `http-ceiling [--port 8099]`; serves `GET /` on 127.0.0.1 until killed.

use clap::Parser;
use poem::listener::TcpListener;
use poem::web::Json;
use poem::{Route, Server, get, handler};
use serde::Serialize;

#[derive(Parser)]
#[command(about = "A bare poem endpoint returning a small JSON object, on 127.0.0.1")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8099)]
    port: u16,
}

/// About the size of gatehouse's `/health` answer.
#[derive(Serialize)]
struct Status {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

#[handler]
fn status() -> Json<Status> {
    Json(Status {
        status: "ok",
        service: "http-ceiling",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = Route::new().at("/", get(status));
    Server::new(TcpListener::bind(("127.0.0.1", args.port)))
        .run(app)
        .await?;
    Ok(())
}
