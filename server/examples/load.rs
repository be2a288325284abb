//! A load command for a running Portcullis on this machine: registers a service client and a
//! user through the admin API, then sends token (client credentials), introspection, authn,
//! page or user-search requests from `--concurrency` workers for `--seconds`, and prints
//! throughput, latency percentiles and, with `--pid`, the server's resident memory after the run.
//!
//! ```sh
//! PORTCULLIS_BOOTSTRAP_API_TOKEN=… target/release/portcullis &
//! cargo run --release -p portcullis --example load -- --token … --scenario token
//! ```
//!
//! `--scenario custom-token --alg ES256` (or `EdDSA`, `RS256`) first makes the `default`
//! server sign with that algorithm (a key rotation), to compare what signing costs.
//!
//! `--scenario search` sends `GET /api/v1/users?search=…` with the expression `--query`, in
//! which `{n}` becomes a random number below `--users` (`{n7}`: seven digits, as the `fill`
//! example numbers its users; `{n%50}`: that number modulo 50), plus `--params` (e.g.
//! `sortBy=profile.lastName`).
//! Only loopback addresses are accepted: this is for measuring, not for attacking.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    token: String,
    scenario: String,
    seconds: u64,
    concurrency: usize,
    /// The server's process id, to report its memory and CPU.
    pid: Option<u32>,
    /// Seconds to wait after the run before reading the server's memory again.
    settle: u64,
    /// The search expression of `--scenario search`, with `{n}` / `{n7}` placeholders.
    query: String,
    /// Extra query parameters of a search.
    params: String,
    /// How many users `{n}` ranges over.
    users: u64,
    /// The signing algorithm the `default` server is moved to for `custom-token`.
    alg: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: "http://127.0.0.1:3000".into(),
        token: std::env::var("PORTCULLIS_BOOTSTRAP_API_TOKEN").unwrap_or_default(),
        scenario: "token".into(),
        seconds: 10,
        concurrency: 16,
        pid: None,
        settle: 0,
        query: r#"profile.email eq "fill-{n7}@example.com""#.into(),
        params: String::new(),
        users: 1_000_000,
        alg: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--token" => args.token = value,
            "--scenario" => args.scenario = value,
            "--seconds" => args.seconds = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            "--pid" => args.pid = Some(value.parse()?),
            "--settle" => args.settle = value.parse()?,
            "--query" => args.query = value,
            "--params" => args.params = value,
            "--users" => args.users = value.parse()?,
            "--alg" => args.alg = Some(value),
            other => bail!(
                "unknown option {other} (--url, --token, --scenario token|custom-token|introspect|authn|page|search, --seconds, --concurrency, --pid, --settle, --query, --params, --users, --alg RS256|ES256|EdDSA)"
            ),
        }
    }
    let host = url::Url::parse(&args.url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    if !matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        bail!("only loopback targets are allowed, not {host}");
    }
    if args.token.is_empty() {
        bail!("give the admin API token with --token or PORTCULLIS_BOOTSTRAP_API_TOKEN");
    }
    if args.seconds > 120 || args.concurrency > 256 {
        bail!("at most 120 seconds and 256 workers");
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let admin =
        |req: reqwest::RequestBuilder| req.header("Authorization", format!("SSWS {}", args.token));

    let client: Value = admin(http.post(format!("{}/oauth2/v1/clients", args.url)))
        .json(&json!({ "client_name": "load", "application_type": "service" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let (id, secret) = (
        client["client_id"].as_str().unwrap_or_default().to_owned(),
        client["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    if args.scenario == "custom-token" {
        // The default custom server: a scope and an expression claim, so every request reads
        // the server, evaluates its policy and computes the claim.
        let server = format!("{}/api/v1/authorizationServers/default", args.url);
        let pid = std::process::id();
        admin(http.post(format!("{server}/scopes")))
            .json(&json!({ "name": format!("load:{pid}") }))
            .send()
            .await?
            .error_for_status()?;
        admin(http.post(format!("{server}/claims")))
            .json(&json!({ "name": format!("load_{pid}"), "claimType": "RESOURCE",
                           "value": "String.toUpperCase(app.clientId) + \"-\" + String.len(app.name)" }))
            .send()
            .await?
            .error_for_status()?;
        if let Some(alg) = &args.alg {
            let current: Value = admin(http.get(&server))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            admin(http.put(&server))
                .json(
                    &json!({ "name": current["name"], "description": current["description"],
                               "audiences": current["audiences"],
                               "credentials": { "signing": { "alg": alg } } }),
                )
                .send()
                .await?
                .error_for_status()?;
        }
    }
    let token_path = if args.scenario == "custom-token" {
        "/oauth2/default/v1/token"
    } else {
        "/oauth2/v1/token"
    };
    let scope = if args.scenario == "custom-token" {
        format!("load:{}", std::process::id())
    } else {
        String::new()
    };
    // For introspection: one access token, asked about over and over.
    let introspected = if args.scenario == "introspect" {
        let t: Value = http
            .post(format!("{}{token_path}", args.url))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        t["access_token"].as_str().unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    let login = format!("load-{}@example.com", std::process::id());
    admin(http.post(format!("{}/api/v1/users?activate=true", args.url)))
        .json(&json!({ "profile": { "login": login, "email": login, "firstName": "Load", "lastName": "Test" },
                       "credentials": { "password": { "value": "Sturdy-Gate-Passw0rd-9" } } }))
        .send()
        .await?
        .error_for_status()?;

    if args.scenario == "authn" {
        match reference_argon2_ms() {
            Some(ms) => println!(
                "reference: one argon2id verify (19 MiB, t=2, p=1) in the reference C implementation costs {ms:.1} ms of CPU"
            ),
            None => println!("reference: install Debian's argon2 to print the reference cost"),
        }
    }
    let cpu_before = args.pid.map(cpu_ms);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let search = Search {
            token: args.token.clone(),
            query: args.query.clone(),
            params: args.params.clone(),
            users: args.users.max(1),
            seed: std::process::id() as u64 * 1000 + worker as u64 + 1,
        };
        let (http, url, id, secret, login, scenario, scope, introspected) = (
            http.clone(),
            format!("{}{token_path}", args.url),
            id.clone(),
            secret.clone(),
            login.clone(),
            args.scenario.clone(),
            scope.clone(),
            introspected.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut search = search;
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                let res = if scenario == "search" {
                    http.get(url.replace(token_path, &search.next_path()))
                        .header("Authorization", format!("SSWS {}", search.token))
                        .send()
                        .await
                } else if scenario == "page" {
                    // The hosted sign-in page, server-rendered (Leptos SSR) with its CSP nonce.
                    http.get(url.replace(token_path, "/login")).send().await
                } else if scenario == "introspect" {
                    // RFC 7662: the signature, expiry and revocation list of one access token.
                    http.post(url.replace("/token", "/introspect"))
                        .basic_auth(&id, Some(&secret))
                        .form(&[
                            ("token", introspected.as_str()),
                            ("token_type_hint", "access_token"),
                        ])
                        .send()
                        .await
                } else if scenario == "authn" {
                    http.post(url.replace(token_path, "/api/v1/authn"))
                        .json(&json!({ "username": login, "password": "Sturdy-Gate-Passw0rd-9" }))
                        .send()
                        .await
                } else {
                    http.post(&url)
                        .basic_auth(&id, Some(&secret))
                        .form(&[
                            ("grant_type", "client_credentials"),
                            ("scope", scope.as_str()),
                        ])
                        .send()
                        .await
                };
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(start.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        all.extend(l);
        errors += e;
    }
    all.sort();
    let secs = args.seconds as f64;
    println!(
        "scenario {}: {} ok, {} errors in {}s with {} workers",
        args.scenario,
        all.len(),
        errors,
        args.seconds,
        args.concurrency
    );
    println!("throughput: {:.0} requests/s", all.len() as f64 / secs);
    println!(
        "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&all, 50.0).as_secs_f64() * 1000.0,
        percentile(&all, 90.0).as_secs_f64() * 1000.0,
        percentile(&all, 99.0).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    if let (Some(pid), Some(before)) = (args.pid, cpu_before) {
        let spent = cpu_ms(pid) - before;
        println!(
            "server CPU: {:.1} ms per successful request ({spent:.0} ms in all)",
            spent / all.len().max(1) as f64
        );
        println!("server memory after the run: {}", rss(pid));
        if args.settle > 0 {
            tokio::time::sleep(Duration::from_secs(args.settle)).await;
            println!(
                "server memory {} s after the run: {}",
                args.settle,
                rss(pid)
            );
        }
    }
    Ok(())
}

/// The user searches one worker sends.
struct Search {
    token: String,
    query: String,
    params: String,
    users: u64,
    /// xorshift state: a different sequence of numbers for each worker.
    seed: u64,
}

impl Search {
    /// The next request's path: the expression with a fresh random number.
    fn next_path(&mut self) -> String {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let n = self.seed % self.users;
        let mut text = self
            .query
            .replace("{n7}", &format!("{n:07}"))
            .replace("{n}", &n.to_string());
        // `{n%K}`: the number modulo K (one of K departments, say).
        while let Some(start) = text.find("{n%") {
            let Some(len) = text[start..].find('}') else {
                break;
            };
            let k: u64 = text[start + 3..start + len].parse().unwrap_or(1).max(1);
            text.replace_range(start..=start + len, &(n % k).to_string());
        }
        let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let extra = if self.params.is_empty() {
            String::new()
        } else {
            format!("&{}", self.params)
        };
        format!("/api/v1/users?search={encoded}{extra}")
    }
}

/// CPU time (user + system) process `pid` has used, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // rest starts at field 3 (state, skipped by the parse) so utime/stime are at 11 and 12.
    let ticks = f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0);
    ticks * 10.0 // USER_HZ is 100 on Linux
}

/// The CPU cost of one argon2id hash with Portcullis' parameters in the reference C
/// implementation (Debian's `argon2` command), if installed: ten runs, children's CPU time.
fn reference_argon2_ms() -> Option<f64> {
    use std::io::Write as _;
    let children = || {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let rest = stat
            .rsplit_once(')')
            .map_or(String::new(), |(_, r)| r.to_owned());
        let f: Vec<&str> = rest.split_whitespace().collect();
        // cutime and cstime: fields 16 and 17, i.e. 13 and 14 after the state field.
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(13) + t(14)) * 10.0
    };
    let before = children();
    let runs = 10;
    for _ in 0..runs {
        let mut child = std::process::Command::new("argon2")
            .args([
                "portcullis-salt",
                "-id",
                "-t",
                "2",
                "-k",
                "19456",
                "-p",
                "1",
                "-l",
                "32",
                "-r",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        child
            .stdin
            .take()?
            .write_all(b"Sturdy-Gate-Passw0rd-9")
            .ok()?;
        if !child.wait().ok()?.success() {
            return None;
        }
    }
    Some((children() - before) / f64::from(runs))
}

/// The resident and peak resident memory of process `pid`, from /proc.
fn rss(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}
