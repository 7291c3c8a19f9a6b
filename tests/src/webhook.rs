//! A webhook receiver inside the test: what Alertmanager delivers to it,
//! as JSON.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// An HTTP server on a loopback port that answers every `POST` with 200
/// and keeps its JSON body. Stops when dropped.
pub struct Webhook {
    addr: SocketAddr,
    received: Mutex<(Receiver<Value>, Vec<Value>)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the webhook");
        let addr = listener.local_addr().expect("the webhook's address");
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = mpsc::channel();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let body = match read_body(&mut stream) {
                        Ok(body) => body,
                        Err(e) => Value::String(format!("unreadable request: {e}")),
                    };
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    if sender.send(body).is_err() {
                        break;
                    }
                }
            })
        };
        Webhook {
            addr,
            received: Mutex::new((receiver, Vec::new())),
            stop,
            thread: Some(thread),
        }
    }

    /// The URL to give Alertmanager.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every delivery so far, without waiting.
    pub fn deliveries(&self) -> Vec<Value> {
        let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        let (receiver, seen) = &mut *received;
        seen.extend(receiver.try_iter());
        seen.clone()
    }

    /// Wait until a delivery (this one or an earlier one) makes `pick`
    /// return `Some`, and return that. On timeout, panic with every
    /// delivery so far and `context()`.
    #[track_caller]
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Value) -> Option<T>,
        context: impl FnOnce() -> String,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        let (receiver, seen) = &mut *received;
        if let Some(found) = seen.iter().find_map(&mut pick) {
            return found;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(delivery) => {
                    let found = pick(&delivery);
                    seen.push(delivery);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Err(_) => {
                    let seen: Vec<String> = seen.iter().map(Value::to_string).collect();
                    panic!(
                        "waited {timeout:?} for {what} at the webhook; it received {} deliveries:\n{}\n{}",
                        seen.len(),
                        seen.join("\n"),
                        context()
                    );
                }
            }
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The JSON body of one HTTP request.
fn read_body(stream: &mut TcpStream) -> Result<Value, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut request = Vec::new();
    let mut buffer = [0; 8192];
    loop {
        let n = stream.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed mid-request".to_owned());
        }
        request.extend_from_slice(&buffer[..n]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or("no Content-Length")?;
        if request.len() >= end + 4 + length {
            let body = &request[end + 4..end + 4 + length];
            return serde_json::from_slice(body).map_err(|e| e.to_string());
        }
    }
}
