//! A running Portcullis for one test, and helpers that talk to it.

use portcullis::config::Config;
use reqwest::{Client, RequestBuilder, Response, redirect};
use serde_json::{Value, json};
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_TOKEN: &str = "it-admin-token-0123456789abcdef";
pub const PASSWORD: &str = "Sturdy-Gate-42";
/// The master key every test server seals its secrets with (so the whole suite runs sealed).
pub const MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmctISE=";

pub fn master_key(current: &str, previous: &[&str]) -> Option<portcullis::config::MasterKeys> {
    Some(portcullis::config::MasterKeys {
        current: current.to_owned(),
        previous: previous.iter().map(|k| (*k).to_owned()).collect(),
    })
}

pub struct TestServer {
    pub base: String,
    /// Where the server really listens (`base` may be a public URL set by a test).
    pub local: String,
    /// A client that keeps cookies and does not follow redirects, like a careful browser.
    pub browser: Client,
    pub client: Client,
    pub data: TempDir,
    pub site: TempDir,
    /// The PostgreSQL database of this test, when the suite runs on that backend.
    pub database: Option<String>,
    /// The running server's state, for driving background tasks directly.
    pub state: portcullis::http::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    let database = test_database().await;
    serve(data, site, database, tweak).await
}

/// Which backend the suite runs on: sled unless `PORTCULLIS_TEST_BACKEND=postgres`, then a
/// fresh database of its own for each test on the server `PORTCULLIS_TEST_PG_URL` names.
pub async fn test_database() -> Option<String> {
    if std::env::var("PORTCULLIS_TEST_BACKEND").as_deref() != Ok("postgres") {
        return None;
    }
    let admin = std::env::var("PORTCULLIS_TEST_PG_URL")
        .expect("PORTCULLIS_TEST_BACKEND=postgres needs PORTCULLIS_TEST_PG_URL");
    let name = format!(
        "it_{}",
        portcullis::crypto::new_secret(12)
            .expose()
            .to_lowercase()
            .replace('-', "_")
    );
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("PORTCULLIS_TEST_PG_URL has no database part: {admin}"),
    };
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    })
    .await
    .unwrap();
    Some(url)
}

/// The test's own PostgreSQL database, for tests that only mean something there (several
/// nodes, an outage); `None`, said aloud, when the suite runs on sled.
pub async fn postgres_only() -> Option<String> {
    let database = test_database().await;
    if database.is_none() {
        eprintln!("runs on the PostgreSQL backend only (PORTCULLIS_TEST_BACKEND=postgres)");
    }
    database
}

/// Builds a server over `config`. After a restart the old server's last references (a
/// blocking task finishing its work) may hold sled's lock a moment longer, as a process that is
/// still exiting would: that is waited out, every other error returned.
async fn build(config: &Config) -> Result<(axum::Router, portcullis::http::AppState), String> {
    let mut tries = 0;
    loop {
        match portcullis::build(config) {
            Ok(built) => return Ok(built),
            Err(e) if tries < 50 && e.to_string().contains("could not acquire lock") => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn serve(
    data: TempDir,
    site: TempDir,
    database: Option<String>,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_dirs(PathBuf::from(data.path()), PathBuf::from(site.path()));
    config.base_url = format!("http://{addr}");
    config.bootstrap_api_token = Some(ADMIN_TOKEN.into());
    config.master_keys = master_key(MASTER_KEY, &[]);
    config.database = database.clone().map(|url| portcullis::store::PgSettings {
        url,
        pool_size: 4,
        timeout: std::time::Duration::from_secs(5),
    });
    tweak(&mut config);
    let (router, state) = build(&config).await.unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        local: format!("http://{addr}"),
        base: config.base_url,
        browser: Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .unwrap(),
        client: Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap(),
        data,
        site,
        database,
        state,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin_get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    }

    /// Any admin request, sent.
    pub async fn admin(&self, method: reqwest::Method, path: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap()
    }

    pub fn admin_post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    }

    pub fn admin_put(&self, path: &str) -> RequestBuilder {
        self.client
            .put(self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    }

    pub fn admin_delete(&self, path: &str) -> RequestBuilder {
        self.client
            .delete(self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    }

    pub async fn create_user(&self, login: &str, password: &str) -> Value {
        let res = self
            .admin_post("/api/v1/users?activate=true")
            .json(&json!({
                "profile": { "login": login, "email": login, "firstName": "Test", "lastName": "Person" },
                "credentials": { "password": { "value": password } }
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "creating {login}");
        res.json().await.unwrap()
    }

    /// The session token of a sign-in with the suite's [`PASSWORD`].
    pub async fn session_token(&self, login: &str) -> String {
        let body: Value = self.authn(login, PASSWORD).await.json().await.unwrap();
        body["sessionToken"].as_str().unwrap().to_owned()
    }

    /// The users whose login is `login` (none or one), as the admin API finds them.
    pub async fn users_named(&self, login: &str) -> Vec<Value> {
        self.admin_get("/api/v1/users")
            .query(&[("search", format!("profile.login eq \"{login}\""))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn authn(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/authn"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn trust_origin(&self, origin: &str, scopes: &[&str]) -> Value {
        let res = self
            .admin_post("/api/v1/trustedOrigins")
            .json(&json!({
                "name": format!("test {origin}"),
                "origin": origin,
                "scopes": scopes.iter().map(|s| json!({ "type": s })).collect::<Vec<_>>(),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Stops the server gracefully and starts a new one over the same data directory.
    pub async fn restart(self) -> TestServer {
        self.restart_with(|_| {}).await
    }

    /// Like `restart`, with settings changed for the new server.
    pub async fn restart_with(self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        self.stop().await.start(tweak).await
    }

    /// Stops the server gracefully; its data stays.
    pub async fn stop(mut self) -> Stopped {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        // As `main` does on SIGTERM: what the System Log writer holds is written first.
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.log_sink.drain())
            .await
            .unwrap();
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        let site = std::mem::replace(&mut self.site, tempfile::tempdir().unwrap());
        let database = self.database.take();
        drop(self);
        Stopped {
            data,
            site,
            database,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The value of cookie `name` set by `res`, if any.
/// The parameters of a redirect's `Location`: its query and its fragment.
pub fn location_params(res: &Response) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let mut p: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        p.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    p
}

/// PKCE's S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The authorize endpoint of `server` (`org` for the org server) with `params`.
pub fn authorize_url(s: &TestServer, server: &str, params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let prefix = if server == "org" {
        "/oauth2".to_owned()
    } else {
        format!("/oauth2/{server}")
    };
    s.url(&format!("{prefix}/v1/authorize?{}", ser.finish()))
}

pub fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Waits, if need be, until at least `secs` seconds are left in the current minute: rate
/// limits count in fixed one-minute windows, so attempts that must fall in one window (to
/// reach a limit) would otherwise be split by the boundary now and then.
pub async fn early_in_a_minute(secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_millis() % 60_000;
    let left = 60_000 - into;
    if left < u128::from(secs) * 1000 {
        let wait = u64::try_from(left).unwrap() + 100;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    }
}

/// The current 30-second TOTP step.
pub fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// The hidden CSRF field's value in a rendered page.
pub fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("a csrf field");
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let v = tag.find("value=\"").expect("a csrf value") + 7;
    tag[v..v + tag[v..].find('"').unwrap()].to_owned()
}

/// A stopped test server's data: start it again, or look at what it stored.
pub struct Stopped {
    pub data: TempDir,
    pub site: TempDir,
    pub database: Option<String>,
}

impl Stopped {
    pub async fn start(self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        serve(self.data, self.site, self.database, tweak).await
    }

    /// What starting over this data with `tweak` says, without serving (the error, if any).
    pub async fn try_build(&self, tweak: impl FnOnce(&mut Config)) -> Result<(), String> {
        let mut config = Config::for_dirs(
            PathBuf::from(self.data.path()),
            PathBuf::from(self.site.path()),
        );
        config.master_keys = master_key(MASTER_KEY, &[]);
        config.database = self
            .database
            .clone()
            .map(|url| portcullis::store::PgSettings {
                url,
                pool_size: 2,
                timeout: std::time::Duration::from_secs(5),
            });
        tweak(&mut config);
        build(&config).await.map(|_| ())
    }

    /// Everything the backend holds, as text: every file of the data directory, or every
    /// row of the PostgreSQL database's tables.
    pub async fn raw(&self) -> String {
        match &self.database {
            None => {
                let mut all = Vec::new();
                let mut dirs = vec![self.data.path().to_path_buf()];
                while let Some(dir) = dirs.pop() {
                    for entry in std::fs::read_dir(dir).unwrap() {
                        let path = entry.unwrap().path();
                        if path.is_dir() {
                            dirs.push(path);
                        } else {
                            all.extend(std::fs::read(path).unwrap());
                        }
                    }
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            Some(url) => {
                let url = url.clone();
                tokio::task::spawn_blocking(move || {
                    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    let mut all = String::new();
                    for table in ["factors", "clients", "signing_keys", "users", "meta"] {
                        let sql = format!("SELECT t::text FROM {table} t");
                        for row in c.query(sql.as_str(), &[]).unwrap() {
                            all.push_str(row.get::<_, &str>(0));
                            all.push('\n');
                        }
                    }
                    // jsonb prints `[48, 130, …]`: written as sled and serde_json write it.
                    all.replace(", ", ",")
                })
                .await
                .unwrap()
            }
        }
    }
}

/// The URL of a listing's `Link: <…>; rel="next"`, as Okta's SDKs follow it.
pub fn next_link(res: &Response) -> Option<String> {
    res.headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.ends_with("rel=\"next\""))
        .and_then(|v| Some(v.get(1..v.find('>')?)?.to_owned()))
}

/// Runs `n` copies of `f` at once and collects what they return.
pub async fn all_at_once<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
