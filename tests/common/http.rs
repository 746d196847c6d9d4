//! A local HTTP server for the end-to-end tests: health, smoke and webhook endpoints on loopback.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A local HTTP server answering every request with a JSON body that satisfies the examples' health and smoke
/// checks; it keeps the first line and body of every POST (the webhook's notifications).
pub fn ok_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    server(|| true)
}

/// A local HTTP server like [`ok_server`] that answers 503 while `broken` exists: a deploy step can break the
/// service (`touch broken`) and a rollback step mend it (`rm -f broken`).
pub fn flag_server(broken: std::path::PathBuf) -> u16 {
    server(move || !broken.exists()).0
}

fn server(healthy: impl Fn() -> bool + Send + 'static) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let posts = Arc::new(Mutex::new(Vec::new()));
    let seen = posts.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then as much body as Content-Length says.
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        if head.starts_with("POST") {
                            let first = head.lines().next().unwrap_or_default();
                            seen.lock().unwrap().push(format!("{first} {body}"));
                        }
                        break;
                    }
                }
            }
            let (status, body) = if healthy() {
                (
                    "200 OK",
                    r#"{"status":"ok","db":"up","title":"<title>Shop"}"#,
                )
            } else {
                ("503 Service Unavailable", r#"{"status":"down"}"#)
            };
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (port, posts)
}
