//! A tiny HTTP/1.1 server on loopback that records the exact bytes it receives.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Recorder {
    pub port: u16,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    /// Answers every request with `response` (status line, headers and body, without
    /// `Connection`/`Content-Length`, which are added).
    pub fn start(status: &str, extra_headers: &[&str], body: &str) -> Self {
        Self::routes(&[("/", status, extra_headers, body)])
    }

    /// Answers by the first route whose path prefix matches the request line.
    pub fn routes(routes: &[(&str, &str, &[&str], &str)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responses: Vec<(String, String)> = routes
            .iter()
            .map(|(prefix, status, extra_headers, body)| {
                let response = format!(
                    "HTTP/1.1 {status}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    extra_headers
                        .iter()
                        .map(|h| format!("{h}\r\n"))
                        .collect::<String>(),
                    body.len()
                );
                (prefix.to_string(), response)
            })
            .collect();
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let path = String::from_utf8_lossy(&buf)
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .to_owned();
                log.lock().unwrap().push(buf);
                let response = responses
                    .iter()
                    .find(|(p, _)| path.starts_with(p.as_str()))
                    .map(|(_, r)| r.as_str());
                let _ = stream.write_all(
                    response
                        .unwrap_or("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Self { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    pub fn last(&self) -> String {
        self.requests()
            .pop()
            .expect("the recorder received a request")
    }
}

/// The value of header `name` in a raw request (case-insensitive name).
pub fn header(raw: &str, name: &str) -> Option<String> {
    raw.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}
