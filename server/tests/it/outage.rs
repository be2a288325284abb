//! The database goes away under load and comes back: every request gets an answer in its
//! API's own format (503, no panic), readiness fails, and the node recovers by itself.
//! Runs on PostgreSQL, where the database is another process: a TCP proxy between the node
//! and the database is cut and restored.

use crate::support::{self, PASSWORD};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections to `upstream` while `open`; when closed, drops every connection it
/// carries and refuses new ones, as a database that went down does.
struct Proxy {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (o, c) = (open.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !o.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (upstream, c) = (upstream.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = c.notified() => {}
                    }
                });
            }
        });
        Proxy { addr, open, cut }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_is_503_in_each_format_then_heals() {
    let Some(url) = support::postgres_only().await else {
        return;
    };
    let (rest, db) = url.rsplit_once('/').unwrap();
    let upstream = rest.rsplit_once('@').unwrap().1.to_owned();
    let proxy = Proxy::start(upstream).await;
    let via_proxy = format!("postgres://postgres@{}/{db}", proxy.addr);
    let s = support::start_with(|c| {
        c.rate_limit_per_ip = 100_000;
        c.rate_limit_per_user = 100_000;
        c.hash_pool.queue = 256;
        if let Some(d) = c.database.as_mut() {
            d.url = via_proxy.clone();
            d.timeout = Duration::from_secs(2);
        }
    })
    .await;
    let user = s.create_user("steady@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(s.authn("steady@example.com", PASSWORD).await.status(), 200);
    let access_token = user_access_token(&s).await;
    // Load from four clients through the whole outage: each answer is 200 or 503, never a
    // 500 or a dropped connection.
    let s = Arc::new(s);
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let (s, stop, id) = (s.clone(), stop.clone(), id.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let res = if i % 2 == 0 {
                        s.admin_get(&format!("/api/v1/users/{id}")).send().await
                    } else {
                        s.client
                            .post(s.url("/api/v1/authn"))
                            .json(&serde_json::json!({ "username": "steady@example.com", "password": PASSWORD }))
                            .send()
                            .await
                    };
                    seen.push(res.map(|r| r.status().as_u16()).unwrap_or(0));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.cut();
    let res = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000010", "{body}");
    let res = s.authn("steady@example.com", PASSWORD).await;
    assert_eq!(res.status(), 503);
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "y"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    // Introspection cannot tell whether a token was revoked: 503, not "inactive".
    let res = s
        .client
        .post(s.url("/oauth2/v1/introspect"))
        .form(&[("token", "x"), ("client_id", "x"), ("client_secret", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Nor can userinfo: a good token is not called invalid (the app would sign its user out).
    let res = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(!res.headers().contains_key("www-authenticate"));
    let ready = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = s.client.get(s.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every connection of the pool heals, not only the one readiness used.
    for _ in 0..8 {
        let res = s.authn("steady@example.com", PASSWORD).await;
        let status = res.status();
        assert_eq!(status, 200, "{}", res.text().await.unwrap());
    }
    let res = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    stop.store(true, Ordering::SeqCst);
    let mut statuses = Vec::new();
    for l in load {
        statuses.extend(l.await.unwrap());
    }
    assert!(statuses.contains(&503), "the load saw no outage");
    assert!(
        statuses.iter().all(|c| *c == 200 || *c == 503),
        "answers under outage: {statuses:?}"
    );
}

/// An access token for steady@example.com from the password grant, with `openid`.
async fn user_access_token(s: &support::TestServer) -> String {
    let c: serde_json::Value = s
        .admin_post("/oauth2/v1/clients")
        .json(&serde_json::json!({ "client_name": "Outage", "redirect_uris": ["http://localhost:8080/cb"],
            "grant_types": ["authorization_code", "password"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens: serde_json::Value = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str(),
        )
        .form(&[
            ("grant_type", "password"),
            ("username", "steady@example.com"),
            ("password", PASSWORD),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}
