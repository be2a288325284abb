//! The real `portcullis` binary as an operator runs it: killed with SIGKILL under write load,
//! stopped with SIGTERM while requests are in flight.

use crate::support::{ADMIN_TOKEN, PASSWORD};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A running binary.
struct Node {
    child: Child,
    api: Arc<Api>,
}

/// Talks to a node over HTTP.
struct Api {
    base: String,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    /// Starts the binary over `data` (or `database`, on PostgreSQL) and waits until it is
    /// ready.
    async fn start(data: &Path, site: &Path, database: Option<&str>) -> Node {
        Self::start_with(data, site, database, &[]).await
    }

    /// `start`, with settings of the test's own (`PORTCULLIS_*` variables).
    async fn start_with(
        data: &Path,
        site: &Path,
        database: Option<&str>,
        settings: &[(&str, &str)],
    ) -> Node {
        Self::start_logging(data, site, database, settings, Stdio::null()).await
    }

    /// `start_with`, the log (the process's standard output) going to `log`.
    async fn start_logging(
        data: &Path,
        site: &Path,
        database: Option<&str>,
        settings: &[(&str, &str)],
        log: Stdio,
    ) -> Node {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        if let Some(url) = database {
            cmd.env("PORTCULLIS_DATABASE_URL", url);
        }
        let child = cmd
            .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_DATA_DIR", data)
            .env("PORTCULLIS_SITE_DIR", site)
            .env("PORTCULLIS_BOOTSTRAP_API_TOKEN", ADMIN_TOKEN)
            .env("PORTCULLIS_MFA_ENROLLMENT", "required")
            .env("PORTCULLIS_RATE_LIMIT_PER_IP", "1000000")
            .env("PORTCULLIS_RATE_LIMIT_PER_USER", "1000000")
            .env("PORTCULLIS_LOG", "warn")
            .env("PORTCULLIS_DEMO", "0")
            // The tests send more sign-ins at once than a 2-core pool queues by default.
            .env("PORTCULLIS_HASH_QUEUE", "256")
            .env_remove("PORTCULLIS_CONFIG")
            .envs(settings.iter().copied())
            .stdout(log)
            .spawn()
            .unwrap();
        let node = Node {
            child,
            api: Arc::new(Api {
                base: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::new(),
            }),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = node.api.http.get(node.api.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return node;
            }
            assert!(Instant::now() < deadline, "the node did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn create_user(&self, login: &str) -> Result<String, reqwest::Error> {
        let res = self
            .http
            .post(self.url("/api/v1/users?activate=true"))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .json(&json!({
                "profile": { "login": login, "email": login, "firstName": "T", "lastName": "P" },
                "credentials": { "password": { "value": PASSWORD } }
            }))
            .send()
            .await?
            .error_for_status()?;
        let user: Value = res.json().await?;
        Ok(user["id"].as_str().unwrap_or_default().to_owned())
    }

    async fn create_group(&self, name: &str) -> Result<String, reqwest::Error> {
        let res = self
            .http
            .post(self.url("/api/v1/groups"))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .json(&json!({ "profile": { "name": name } }))
            .send()
            .await?
            .error_for_status()?;
        let group: Value = res.json().await?;
        Ok(group["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Primary authentication; with enrollment required the answer is a stored transaction.
    async fn authn(&self, login: &str) -> Result<Value, reqwest::Error> {
        self.http
            .post(self.url("/api/v1/authn"))
            .json(&json!({ "username": login, "password": PASSWORD }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    let database = crate::support::test_database().await;
    let mut node = Node::start(data.path(), site.path(), database.as_deref()).await;
    node.api.create_user("alice@example.com").await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (n, stop) = (node.api.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut users, mut tokens, mut groups) = (Vec::new(), Vec::new(), Vec::new());
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let done = match w % 3 {
                        0 => n
                            .create_user(&format!("w{w}-{i}@example.com"))
                            .await
                            .map(|id| users.push(id)),
                        1 => n
                            .authn("alice@example.com")
                            .await
                            .map(|tx| tokens.push(tx["stateToken"].as_str().unwrap().to_owned())),
                        // An admin change no user write carries: its System Log event is
                        // written by the log writer, and the answer waits for it.
                        _ => n
                            .create_group(&format!("g{w}-{i}"))
                            .await
                            .map(|id| groups.push(id)),
                    };
                    if done.is_err() {
                        break;
                    }
                }
                (users, tokens, groups)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL while the writers are still going: no drain, no flush.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let (mut users, mut tokens, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for w in writers {
        let (u, t, g) = w.await.unwrap();
        users.extend(u);
        tokens.extend(t);
        groups.extend(g);
    }
    assert!(
        users.len() >= 5 && tokens.len() >= 5 && groups.len() >= 5,
        "too little load: {} users, {} transactions, {} groups",
        users.len(),
        tokens.len(),
        groups.len()
    );

    let node = Node::start(data.path(), site.path(), database.as_deref()).await;
    let api = &node.api;
    for id in &users {
        let res = api
            .http
            .get(api.url(&format!("/api/v1/users/{id}")))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged user {id} was lost");
    }
    for token in &tokens {
        let res = api
            .http
            .post(api.url("/api/v1/authn"))
            .json(&json!({ "stateToken": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "an acknowledged stateToken was lost");
    }
    // Every acknowledged group, and the System Log event that records its creation.
    let mut logged = std::collections::HashSet::new();
    let mut next = Some(api.url(
        "/api/v1/logs?since=2000-01-01T00:00:00.000Z&limit=1000&filter=eventType%20eq%20%22group.lifecycle.create%22",
    ));
    while let Some(url) = next.take() {
        let res = api
            .http
            .get(&url)
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        let more = res
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|l| l.to_str().ok())
            .find(|l| l.contains("rel=\"next\""))
            .and_then(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_owned()));
        let events: Vec<Value> = res.json().await.unwrap();
        if events.is_empty() {
            break;
        }
        for e in &events {
            for t in e["target"].as_array().into_iter().flatten() {
                logged.insert(t["id"].as_str().unwrap_or_default().to_owned());
            }
        }
        next = more;
    }
    for id in &groups {
        let res = api
            .http
            .get(api.url(&format!("/api/v1/groups/{id}")))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged group {id} was lost");
        assert!(
            logged.contains(id),
            "the System Log lost the creation of acknowledged group {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_requests_in_flight_then_exits_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    let database = crate::support::test_database().await;
    let mut node = Node::start(data.path(), site.path(), database.as_deref()).await;
    node.api.create_user("bob@example.com").await.unwrap();
    // More password checks than the machine runs at once: some are still queued at SIGTERM.
    let in_flight: Vec<_> = (0..12)
        .map(|_| {
            let api = node.api.clone();
            tokio::spawn(async move { api.authn("bob@example.com").await.map(|_| ()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let pid = node.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for r in in_flight {
        r.await.unwrap().expect("a request in flight was cut off");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = node.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        node.api
            .http
            .get(node.api.url("/healthz"))
            .send()
            .await
            .is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn readiness_fails_while_draining_and_liveness_holds() {
    let s = crate::support::start().await;
    let get = |p: &'static str| s.client.get(s.url(p)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    s.state.draining.store(true, Ordering::SeqCst);
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "draining");
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
}

impl Api {
    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    }

    async fn token(&self, client: &(String, String), form: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .http
            .post(self.url("/oauth2/v1/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// Registers a confidential client for the password and refresh grants: (id, secret).
    async fn password_client(&self, name: &str) -> (String, String) {
        let client: Value = self
            .admin(reqwest::Method::POST, "/oauth2/v1/clients")
            .json(
                &json!({ "client_name": name, "redirect_uris": ["https://app.example/cb"],
                           "grant_types": ["password", "refresh_token"] }),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            client["client_id"].as_str().unwrap().to_owned(),
            client["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Tokens for `login` (with a refresh token) through the password grant.
    async fn password_grant(&self, client: &(String, String), login: &str) -> Value {
        let (status, tokens) = self
            .token(
                client,
                &[
                    ("grant_type", "password"),
                    ("username", login),
                    ("password", PASSWORD),
                    ("scope", "openid offline_access"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    async fn kids(&self, path: &str) -> Vec<String> {
        let keys: Value = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Two nodes on one database behind one load balancer: one public address, one issuer.
/// (Fields drop in order: the nodes stop before their directories go.)
struct TwoNodes {
    a: Node,
    b: Node,
    _dirs: Vec<tempfile::TempDir>,
}

impl TwoNodes {
    async fn start(database: &str, settings: &[(&str, &str)]) -> TwoNodes {
        let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut settings = settings.to_vec();
        settings.push(("PORTCULLIS_BASE_URL", "https://login.example.test"));
        let node = |data: usize| {
            Node::start_with(
                dirs[data].path(),
                dirs[data + 1].path(),
                Some(database),
                &settings,
            )
        };
        let a = node(0).await;
        let b = node(2).await;
        TwoNodes { a, b, _dirs: dirs }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_behave_as_one_server() {
    let Some(database) = crate::support::postgres_only().await else {
        return;
    };
    let settings = [
        ("PORTCULLIS_MFA_ENROLLMENT", "none"),
        ("PORTCULLIS_RATE_LIMIT_PER_USER", "6"),
    ];
    let nodes = TwoNodes::start(&database, &settings).await;
    let (a, b) = (&nodes.a.api, &nodes.b.api);

    // Made on A, used on B: a user, a client, tokens, a refresh, a session.
    let user_id = a.create_user("both@example.com").await.unwrap();
    let client = b.password_client("two nodes").await;
    let tokens = a.password_grant(&client, "both@example.com").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, renewed) = b
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, 200, "a refresh token from A renews at B: {renewed}");
    let access = renewed["access_token"].as_str().unwrap();
    let info = a
        .http
        .get(a.url("/oauth2/v1/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "B's access token is good at A");
    let done = a.authn("both@example.com").await.unwrap();
    let session: Value = b
        .admin(reqwest::Method::POST, "/api/v1/sessions")
        .json(&json!({ "sessionToken": done["sessionToken"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_id = session["id"]
        .as_str()
        .expect("a session from A's token at B");
    let seen = a
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/sessions/{session_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);

    // A client secret replaced on A: B, which has the client cached, refuses the old one.
    let introspect = |node: &Api, secret: &str| {
        node.http
            .post(node.url("/oauth2/v1/introspect"))
            .basic_auth(&client.0, Some(secret.to_owned()))
            .form(&[("token", access)])
            .send()
    };
    assert_eq!(introspect(b, &client.1).await.unwrap().status(), 200);
    let fresh: Value = a
        .admin(
            reqwest::Method::POST,
            &format!("/oauth2/v1/clients/{}/lifecycle/newSecret", client.0),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = fresh["client_secret"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(2);
    while introspect(b, &client.1).await.unwrap().status() != 401 {
        assert!(
            Instant::now() < deadline,
            "B still takes the replaced secret"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let active = |res: reqwest::Response| async move {
        res.json::<Value>().await.unwrap()["active"] == true
    };
    assert!(active(introspect(b, &new_secret).await.unwrap()).await);

    // An access token revoked on A: B, which has just said it is active, says it is not.
    let revoked = a
        .http
        .post(a.url("/oauth2/v1/revoke"))
        .basic_auth(&client.0, Some(&new_secret))
        .form(&[("token", access), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(2);
    while active(introspect(b, &new_secret).await.unwrap()).await {
        assert!(Instant::now() < deadline, "B still takes the revoked token");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = (client.0.clone(), new_secret);

    // A key rotated on A is published by B at once.
    let before = b.kids("/oauth2/default/v1/keys").await;
    let rotated: Value = a
        .admin(
            reqwest::Method::POST,
            "/api/v1/authorizationServers/default/credentials/lifecycle/keyRotate",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_kid = rotated
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "ACTIVE")
        .and_then(|k| k["kid"].as_str())
        .unwrap()
        .to_owned();
    assert!(!before.contains(&new_kid));
    let deadline = Instant::now() + Duration::from_secs(2);
    while !b.kids("/oauth2/default/v1/keys").await.contains(&new_kid) {
        assert!(Instant::now() < deadline, "B still publishes the old keys");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Guesses spread over both nodes count against one per-username limit (in one window).
    a.create_user("guessed@example.com").await.unwrap();
    crate::support::early_in_a_minute(15).await;
    let mut limited = 0;
    for i in 0..8 {
        let node = if i % 2 == 0 { a } else { b };
        let res = node
            .http
            .post(node.url("/api/v1/authn"))
            .json(&json!({ "username": "guessed@example.com", "password": "Wrong-Guess-1" }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited += 1;
        }
    }
    assert_eq!(limited, 2, "8 attempts over two nodes against a limit of 6");

    // Deactivated on B: A refuses the user, the session and the refresh token at once.
    let res = b
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/users/{user_id}/lifecycle/deactivate"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = a
        .http
        .post(a.url("/api/v1/authn"))
        .json(&json!({ "username": "both@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let seen = a
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/sessions/{session_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 404);
    let next = renewed["refresh_token"]
        .as_str()
        .unwrap_or(&refresh)
        .to_owned();
    let (status, _) = a
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &next)],
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_is_limited_across_nodes_not_per_node() {
    let Some(database) = crate::support::postgres_only().await else {
        return;
    };
    let nodes = TwoNodes::start(&database, &[("PORTCULLIS_RATE_LIMIT_PER_IP", "10")]).await;
    let (a, b) = (&nodes.a.api, &nodes.b.api);

    // Fourteen requests from one address, alternating nodes, each for a different username.
    crate::support::early_in_a_minute(15).await;
    let mut limited = 0;
    for i in 0..14 {
        let node = if i % 2 == 0 { a } else { b };
        let res = node
            .http
            .post(node.url("/api/v1/authn"))
            .json(&json!({ "username": format!("nobody{i}@example.com"), "password": "Wrong-Guess-1" }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited += 1;
        }
    }
    assert_eq!(
        limited, 4,
        "14 requests over two nodes against one limit of 10"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_moves_from_sled_to_postgres_and_its_people_stay_signed_in() {
    let Some(database) = crate::support::postgres_only().await else {
        return;
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let settings = [
        ("PORTCULLIS_BASE_URL", "https://login.example.test"),
        ("PORTCULLIS_MFA_ENROLLMENT", "none"),
    ];
    let mut embedded = Node::start_with(dirs[0].path(), dirs[1].path(), None, &settings).await;
    let api = embedded.api.clone();
    api.create_user("mover@example.com").await.unwrap();
    let client = api.password_client("moving").await;
    let tokens = api.password_grant(&client, "mover@example.com").await;
    let done = api.authn("mover@example.com").await.unwrap();
    let session: Value = api
        .admin(reqwest::Method::POST, "/api/v1/sessions")
        .json(&json!({ "sessionToken": done["sessionToken"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_id = session["id"].as_str().unwrap().to_owned();
    let idp: Value = api
        .admin(reqwest::Method::POST, "/api/v1/idps")
        .json(&crate::idps::oidc("Moving IdP", "https://idp.example.com"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let idp_id = idp["id"].as_str().unwrap().to_owned();
    let pid = embedded.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(embedded.child.wait().unwrap().success());

    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["migrate", "--to", &database])
        .env("PORTCULLIS_DATA_DIR", dirs[0].path())
        .env_remove("PORTCULLIS_DATABASE_URL")
        .env("PORTCULLIS_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("(1 users)"), "{said}");

    let shared = Node::start_with(dirs[0].path(), dirs[2].path(), Some(&database), &settings).await;
    let api = &shared.api;
    let info = api
        .http
        .get(api.url("/oauth2/v1/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "an access token issued before the move");
    let moved = api
        .admin(reqwest::Method::GET, &format!("/api/v1/idps/{idp_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200, "an identity provider moves too");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = api
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(
        status, 200,
        "a refresh token issued before the move: {body}"
    );
    let seen = api
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/sessions/{session_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200, "a session from before the move");
    api.authn("mover@example.com")
        .await
        .expect("the password hash moved too");

    // A second migration into the same database is refused: orgs are never merged.
    let again = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["migrate", "--to", &database])
        .env("PORTCULLIS_DATA_DIR", dirs[0].path())
        .env("PORTCULLIS_LOG", "warn")
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_shows_no_token_even_at_trace_level() {
    let (data, site) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let database = crate::support::test_database().await;
    let log_path = data.path().join("trace.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let node = Node::start_logging(
        &data.path().join("db"),
        site.path(),
        database.as_deref(),
        &[
            ("PORTCULLIS_LOG", "trace"),
            ("PORTCULLIS_MFA_ENROLLMENT", "optional"),
        ],
        Stdio::from(log),
    )
    .await;
    let api = node.api.clone();
    api.create_user("logged@example.com").await.unwrap();
    let tx = api.authn("logged@example.com").await.unwrap();
    let session_token = tx["sessionToken"].as_str().unwrap().to_owned();
    let res = api
        .http
        .get(api.url("/login/sessionCookieRedirect"))
        .query(&[
            ("token", session_token.as_str()),
            ("redirectUrl", &api.url("/")),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let link = "LinkToken0123456789abcdefghij";
    api.http
        .get(api.url(&format!("/signin/reset-password/{link}")))
        .send()
        .await
        .unwrap();
    drop(node);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("sessionCookieRedirect"),
        "requests are in the trace log"
    );
    assert!(!log.contains(&session_token), "a session token in the log");
    assert!(!log.contains(link), "a link's token in the log");
}

/// An operator's API token: created with `portcullis token create` while the server is
/// stopped, it acts with its owner's admin role as that role is at each request (read-only
/// cannot write; a role given later counts at once), shows up in the token list with its
/// owner and last use, never with its value, and ends when revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_api_token_acts_with_its_owners_role_until_revoked() {
    let (data, site) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let database = crate::support::test_database().await;
    let mut node = Node::start(data.path(), site.path(), database.as_deref()).await;
    let owner = node.api.create_user("ops@example.com").await.unwrap();
    let boot = |method, path: &str| {
        node.api
            .http
            .request(method, node.api.url(path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
    };
    let res = boot(
        reqwest::Method::POST,
        &format!("/api/v1/users/{owner}/roles"),
    )
    .json(&json!({ "type": "READ_ONLY_ADMIN" }))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let role: Value = res.json().await.unwrap();
    assert_eq!(
        (&role["type"], &role["status"], &role["assignmentType"]),
        (&json!("READ_ONLY_ADMIN"), &json!("ACTIVE"), &json!("USER"))
    );
    let again = boot(
        reqwest::Method::POST,
        &format!("/api/v1/users/{owner}/roles"),
    )
    .json(&json!({ "type": "READ_ONLY_ADMIN" }))
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.unwrap()["errorCode"],
        "E0000090"
    );
    let pid = node.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(node.child.wait().unwrap().success());

    let mut create = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    if let Some(url) = &database {
        create.env("PORTCULLIS_DATABASE_URL", url);
    }
    let out = create
        .args([
            "token",
            "create",
            "--name",
            "nightly export",
            "--user",
            "ops@example.com",
        ])
        .env("PORTCULLIS_DATA_DIR", data.path())
        .env("PORTCULLIS_LOG", "warn")
        .env_remove("PORTCULLIS_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("00") && token.len() == 42, "{token}");

    let node = Node::start(data.path(), site.path(), database.as_deref()).await;
    let with = |method, path: &str, t: &str| {
        node.api
            .http
            .request(method, node.api.url(path))
            .header("Authorization", format!("SSWS {t}"))
    };
    let new_user = json!({ "profile": { "login": "new@example.com", "email": "new@example.com",
                                        "firstName": "N", "lastName": "U" } });
    let listed = with(reqwest::Method::GET, "/api/v1/users", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "a read-only admin reads");
    let refused = with(reqwest::Method::POST, "/api/v1/users", &token)
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "a read-only admin cannot write");
    assert_eq!(
        refused.json::<Value>().await.unwrap()["errorCode"],
        "E0000006"
    );
    let tokens = with(reqwest::Method::GET, "/api/v1/api-tokens", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 403, "only a super admin manages tokens");

    let tokens: Value = with(reqwest::Method::GET, "/api/v1/api-tokens", ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &tokens.as_array().unwrap()[0];
    assert_eq!(
        (&listed["name"], &listed["userId"]),
        (&json!("nightly export"), &json!(owner))
    );
    assert!(listed["lastUsed"].is_string(), "{listed}");
    assert_eq!(listed["tokenWindow"], "P30D");
    assert!(
        !tokens.to_string().contains(&token),
        "the value is never shown again"
    );

    let res = with(
        reqwest::Method::POST,
        &format!("/api/v1/users/{owner}/roles"),
        ADMIN_TOKEN,
    )
    .json(&json!({ "type": "ORG_ADMIN" }))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let created = with(reqwest::Method::POST, "/api/v1/users", &token)
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "the role given counts at once");

    // The creation and the uses are in the System Log, the token's id on each use.
    let log: Vec<Value> = with(reqwest::Method::GET, "/api/v1/logs", ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = log
        .iter()
        .find(|e| e["eventType"] == "system.api_token.create")
        .expect("the creation is logged");
    assert_eq!(created["target"][0]["displayName"], "nightly export");
    let made_user = log
        .iter()
        .find(|e| e["eventType"] == "user.lifecycle.create" && e["actor"]["id"] == json!(owner))
        .expect("the token's write is logged with its owner as the actor");
    assert_eq!(
        made_user["transaction"]["detail"]["requestApiTokenId"],
        listed["id"]
    );

    let revoked = with(
        reqwest::Method::DELETE,
        "/api/v1/api-tokens/current",
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = with(reqwest::Method::GET, "/api/v1/users", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}
