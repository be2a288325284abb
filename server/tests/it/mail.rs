//! A real SMTP server for the tests: Python's aiosmtpd on loopback, writing to a maildir the
//! tests read, as a person reads their inbox.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let python = std::env::var("PORTCULLIS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {python} -m aiosmtpd (install it: pip install aiosmtpd): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpSink { child, port, dir }
    }

    pub fn settings(&self) -> portcullis::mail::SmtpSettings {
        portcullis::mail::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            from: "Portcullis <no-reply@portcullis.test>".into(),
            security: portcullis::mail::SmtpSecurity::None,
            username: None,
            password: None,
        }
    }

    fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        // In delivery order: Maildir names files `{secs}.M{micros}P{pid}Q{n}.{host}` with the
        // microseconds unpadded, so names do not sort in time order; `Q{n}` counts deliveries.
        files.sort_by_key(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let delivery = name
                .split('Q')
                .nth(1)
                .and_then(|rest| rest.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            (delivery, name)
        });
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|raw| decode_quoted_printable(&raw))
            .collect()
    }

    /// Waits for a message to `to` and returns it, headers and decoded body.
    pub async fn wait_for(&self, to: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| m.contains(&format!("To: {to}")))
            {
                return m;
            }
            assert!(Instant::now() < deadline, "no email to {to} arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `n`th message (oldest first) to `to`.
    pub fn nth_for(&self, to: &str, n: usize) -> String {
        self.messages()
            .into_iter()
            .filter(|m| m.contains(&format!("To: {to}")))
            .nth(n)
            .unwrap_or_default()
    }

    /// How many messages have arrived for `to` so far.
    pub fn count_for(&self, to: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| m.contains(&format!("To: {to}")))
            .count()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Undoes quoted-printable soft line breaks and `=XX` escapes, enough to read links.
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::with_capacity(joined.len());
    let mut chars = joined.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '=' {
            let hex: String = chars.clone().take(2).collect();
            if let Ok(b) = u8::from_str_radix(&hex, 16) {
                out.push(char::from(b));
                chars.next();
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The token at the end of the first link containing `marker` (e.g. `/signin/reset-password/`).
pub fn link_token(message: &str, marker: &str) -> String {
    let at = message
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} link in:\n{message}"));
    message[at + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
