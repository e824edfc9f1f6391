//! Connections a client holds open or fills slowly (issue 13): the binary under a low
//! file-descriptor limit stays reachable while one client hoards idle connections, and
//! slow headers, idle keep-alive connections and slow bodies are closed after their
//! timeouts. Each test is bounded: it waits for at most a few timeouts.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::binary::{Running, free_port, gatehouse};

/// Starts the binary with `vars`, under `bash -c 'ulimit -n N; exec gatehouse serve'` when
/// `open_files` is given (soft and hard limit both, so start-up cannot raise it).
async fn start(dir: &std::path::Path, vars: &[(&str, &str)], open_files: Option<u32>) -> Running {
    let port = free_port();
    let program = gatehouse(dir).get_program().to_owned();
    let mut command = match open_files {
        Some(limit) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" serve"))
                .arg(&program);
            c
        }
        None => {
            let mut c = Command::new(&program);
            c.arg("serve");
            c
        }
    };
    let clean = gatehouse(dir);
    for (key, value) in clean.get_envs() {
        match value {
            Some(v) => command.env(key, v),
            None => command.env_remove(key),
        };
    }
    let child = command
        .current_dir(dir)
        .env("PORT", port.to_string())
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse");
    let app = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !health(port, Duration::from_secs(1)) {
        assert!(Instant::now() < deadline, "gatehouse did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

fn port_of(app: &Running) -> u16 {
    app.base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// `GET /health` on a fresh connection answers 200 within `within`.
fn health(port: u16, within: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(within));
    let _ = stream.set_write_timeout(Some(within));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

/// Reads until the server closes the connection; how long that took, or `None` if it
/// was still open after `limit`. Returns what was read too.
fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buf = [0_u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return (Some(started.elapsed()), seen),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (Some(started.elapsed()), seen),
        }
    }
    (None, seen)
}

#[tokio::test]
async fn health_answers_while_one_client_holds_more_idle_connections_than_descriptors() {
    let dir = tempfile::tempdir().expect("dir");
    // 256 descriptors, so the cap sized from them is 128 connections; the client opens
    // 300, more than the process could hold at all.
    let app = start(dir.path(), &[], Some(256)).await;
    let port = port_of(&app);
    let hoard: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(hoard.len() >= 250, "the client holds its connections");
    std::thread::sleep(Duration::from_millis(500));
    for probe in 0..4 {
        assert!(
            health(port, Duration::from_secs(3)),
            "probe {probe}: /health answers while {} idle connections are held",
            hoard.len()
        );
    }
    drop(hoard);
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("dir");
    let app = start(
        dir.path(),
        &[("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1")],
        None,
    )
    .await;
    let port = port_of(&app);

    // Slowloris: a request line and one header, then nothing.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        .expect("write");
    // A connection that never sends anything.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // A kept-alive connection, idle after its first answer.
    let mut kept = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");

    for (name, stream) in [
        ("slow headers", &mut slow),
        ("silent", &mut silent),
        ("kept alive", &mut kept),
    ] {
        let (closed, seen) = until_closed(stream, Duration::from_secs(5));
        let closed = closed.unwrap_or_else(|| panic!("{name}: still open after 5 s"));
        assert!(
            closed < Duration::from_secs(4),
            "{name}: closed after {closed:?}"
        );
        if name == "kept alive" {
            assert!(seen.starts_with(b"HTTP/1.1 200"), "{name}: answered first");
        }
    }
    assert!(
        health(port, Duration::from_secs(2)),
        "the server itself is fine"
    );
}

#[tokio::test]
async fn a_slow_body_gets_408_in_the_envelope_and_the_connection_is_closed() {
    let dir = tempfile::tempdir().expect("dir");
    let app = start(dir.path(), &[("HTTP_BODY_READ_TIMEOUT_SECONDS", "1")], None).await;
    let port = port_of(&app);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .expect("write");
    let (closed, seen) = until_closed(&mut stream, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&seen);
    assert!(closed.is_some(), "closed after the answer: {text}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let envelope: serde_json::Value = serde_json::from_str(body).expect("a JSON envelope");
    assert_eq!(envelope["error"]["code"], "REQUEST_TIMEOUT", "{text}");
    assert!(envelope["meta"]["request_id"].is_string(), "{text}");
}
