//! A throwaway PostgreSQL cluster for the tests: Debian's server binaries, `initdb` and
//! `pg_ctl` as the `postgres` user in a temporary directory, on a free port. Stopped (and
//! removed) when dropped, also when a test step failed.

use crate::tools::apt_install;
use crate::util::{Fail, is_root, run, step};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// Where the tests connect; they create a database each.
    pub(crate) url: String,
}

/// The newest installed server's `bin` directory.
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16, Fail> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Fail(format!("no free port for PostgreSQL: {e}")))
}

impl Cluster {
    pub(crate) fn start() -> Result<Cluster, Fail> {
        let bin = match server_bin() {
            Some(b) => b,
            None => {
                step("Installing Debian's PostgreSQL server (the second storage backend's tests)");
                apt_install(&["postgresql"])?;
                server_bin().ok_or_else(|| Fail("postgresql installed no initdb".into()))?
            }
        };
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("portcullis-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| Fail(format!("{}: {e}", dir.display())))?;
        let port = free_port()?;
        let cluster = Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        };
        if as_postgres {
            // initdb refuses to run as root.
            run(
                Command::new("chown").arg("postgres").arg(&cluster.dir),
                "chown of the PostgreSQL directory",
            )?;
        }
        step(&format!("Starting a throwaway PostgreSQL on port {port}"));
        let data = cluster.dir.join("data");
        cluster.pg(
            &format!(
                "{} -D {} -A trust -U postgres --no-sync -E UTF8",
                cluster.bin.join("initdb").display(),
                data.display()
            ),
            "initdb",
        )?;
        cluster.pg(
            &format!(
                "{} -D {} -o '-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400' -l {} -w start",
                cluster.bin.join("pg_ctl").display(),
                data.display(),
                cluster.dir.display(),
                cluster.dir.join("log").display()
            ),
            "pg_ctl start",
        )?;
        Ok(cluster)
    }

    /// Runs a shell command line as the cluster's owner.
    fn pg(&self, line: &str, what: &str) -> Result<(), Fail> {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("su");
            c.args(["postgres", "-s", "/bin/sh", "-c", line]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", line]);
            c
        };
        run(cmd.current_dir(Path::new("/")), what)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stop = format!(
            "{} -D {} -m fast -w stop",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display()
        );
        if self.pg(&stop, "pg_ctl stop").is_err() {
            eprintln!(
                "note: the test PostgreSQL in {} did not stop",
                self.dir.display()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
