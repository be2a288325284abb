//! Fills a store with many users, for measuring memory and listings at scale:
//!
//! ```sh
//! cargo run --release -p portcullis --example fill -- --data-dir /tmp/big --users 1000000
//! cargo run --release -p portcullis --example fill -- --database-url postgres://… --users 1000000
//! ```
//! Users get no password (hashing a million would take hours and measure argon2, not the
//! store); everything else is a real record written through the store's own seam, the user
//! attribute index included. Each has one of fifty departments and cities, for the searches
//! of `load --scenario search`.

use anyhow::{Context, bail};
use portcullis::clock::Timestamp;
use portcullis::directory::{Profile, User, UserStatus};
use portcullis::store::{PgSettings, PgStore, SledStore, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut url, mut users) = (None, None, 100_000usize);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data-dir" => dir = Some(value),
            "--database-url" => url = Some(value),
            "--users" => users = value.parse()?,
            other => bail!("unknown option {other} (--data-dir | --database-url, --users)"),
        }
    }
    let store: Arc<dyn Store> = match (dir, url) {
        (Some(d), None) => Arc::new(SledStore::open(std::path::Path::new(&d))?),
        (None, Some(u)) => Arc::new(PgStore::open(&PgSettings {
            url: u,
            pool_size: 8,
            timeout: Duration::from_secs(30),
        })?),
        _ => bail!("give exactly one of --data-dir and --database-url"),
    };
    let started = Instant::now();
    let threads = 8;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for n in (t..users).step_by(threads) {
                    let login = format!("fill-{n:07}@example.com");
                    store.insert_user(&User {
                        id: format!("00ufill{n:09}"),
                        status: UserStatus::Active,
                        created: Timestamp::now(),
                        activated: Some(Timestamp::now()),
                        status_changed: None,
                        last_login: None,
                        last_updated: Timestamp::now(),
                        password_changed: None,
                        profile: Profile {
                            login: login.clone(),
                            email: login,
                            first_name: format!("First{n}"),
                            last_name: format!("Last{n}"),
                            // Fifty departments and cities: searches that match many users.
                            attributes: [
                                (
                                    "department".to_owned(),
                                    format!("Department {}", n % 50).into(),
                                ),
                                ("city".to_owned(), format!("City {}", (n / 7) % 50).into()),
                                ("employeeNumber".to_owned(), n.to_string().into()),
                            ]
                            .into(),
                        },
                        password: None,
                        failed_attempts: 0,
                        password_history: Vec::new(),
                        credential_epoch: 0,
                        sessions_epoch: 0,
                        link_serials: Default::default(),
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    store.flush()?;
    println!(
        "{users} users written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
