//! `cargo xtask <command>`: the build tooling for Portcullis.
//!
//! - `setup`              install what the build and tests need (idempotent; quick when done)
//! - `build [--release]`  the server, the hydration bundle, the widget and the CSS into target/site
//! - `run [-- ARGS]`      build (release) and start `portcullis` with a demo org
//! - `check`              fmt and clippy for every feature set: the fast loop while editing
//! - `test [FILTER]`      everything CI checks: fmt, clippy per feature set, cargo tests,
//!   Playwright; with FILTER, only the Rust tests and Playwright specs whose names match
//! - `e2e [ARGS]`         build and run only the Playwright specs; ARGS go to
//!   `playwright test`, e.g. `-g "locked account"` or `tests/widget.spec.ts`
//!
//! No dependencies beyond std, so it compiles in seconds on a fresh machine.

mod postgres;
mod site;
mod tools;
mod util;

use std::process::ExitCode;
use util::{Fail, cargo, step};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => tools::setup(tools::Need::Everything).map(|_| ()),
        Some("build") => build(args.iter().any(|a| a == "--release")).map(|_| ()),
        Some("run") => run(&args[1..]),
        Some("check") => check(),
        Some("test") => test(args.get(1).map(String::as_str)),
        Some("e2e") => e2e(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|build [--release]|run [-- ARGS]|check|test [FILTER]|e2e [ARGS]>"
            );
            return ExitCode::from(2);
        }
    };
    util::timing_summary();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("\nxtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the server binary and the site assets; returns the toolchain used.
fn build(release: bool) -> Result<tools::Toolchain, Fail> {
    let tc = tools::setup(tools::Need::Build)?;
    step("Building the server");
    let mut args = vec!["build", "-p", "portcullis", "--bin", "portcullis"];
    if release {
        args.push("--release");
    }
    cargo(&args)?;
    site::build(&tc)?;
    Ok(tc)
}

fn run(extra: &[String]) -> Result<(), Fail> {
    build(true)?;
    let extra: Vec<&str> = extra
        .iter()
        .map(String::as_str)
        .skip_while(|a| *a == "--")
        .collect();
    step("Starting Portcullis (Ctrl-C to stop)");
    let status = std::process::Command::new(util::root().join("target/release/portcullis"))
        .args(&extra)
        .current_dir(util::root())
        .status()
        .map_err(|e| Fail(format!("cannot start target/release/portcullis: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Fail(format!("portcullis exited with {status}")))
    }
}

/// Every check CI runs, in the order that fails fastest; `filter` narrows the tests.
fn test(filter: Option<&str>) -> Result<(), Fail> {
    let started = std::time::Instant::now();
    let tc = tools::setup(tools::Need::Everything)?;
    check()?;
    tests(&tc, filter)?;
    let secs = started.elapsed().as_secs();
    println!(
        "\nxtask test: all checks passed in {}m{:02}s",
        secs / 60,
        secs % 60
    );
    Ok(())
}

/// Formatting and clippy for every feature set, without building for tests.
fn check() -> Result<(), Fail> {
    step("Formatting (cargo fmt --check)");
    cargo(&["fmt", "--all", "--check"])?;
    step("Layers (the cores depend on no edge crate; the store and the records name no core)");
    layers()?;

    step("Clippy, cores, server, wire types and tooling (ssr)");
    cargo(&[
        "clippy",
        "-p",
        "portcullis-core",
        "-p",
        "portcullis",
        "-p",
        "proto",
        "-p",
        "xtask",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    step("Clippy, pages (ssr)");
    cargo(&[
        "clippy",
        "-p",
        "app",
        "--features",
        "ssr",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    step("Clippy, pages and their entry point (hydrate)");
    cargo(&[
        "clippy",
        "-p",
        "app",
        "-p",
        "frontend",
        "--features",
        "app/hydrate",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    step("Clippy, widget (csr)");
    cargo(&[
        "clippy",
        "-p",
        "widget",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;

    Ok(())
}

/// The cores a storage or record module must not name: the seam knows no protocol.
const CORES: [&str; 6] = [
    "crate::authn",
    "crate::authz",
    "crate::directory",
    "crate::oauth",
    "crate::http",
    "crate::mail",
];

/// Lines of `source` (outside comments) that name a core.
fn core_references(source: &str) -> Vec<(usize, &str)> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or_default();
            CORES.iter().any(|core| code.contains(core))
        })
        .map(|(n, line)| (n + 1, line.trim()))
        .collect()
}

/// Crates of the edge that the cores must not depend on (HTTP, pages, SMTP).
const EDGE_CRATES: [&str; 7] = [
    "app",
    "leptos",
    "leptos_axum",
    "axum",
    "tower",
    "tower-http",
    "lettre",
];

/// The edge crates a manifest's `[dependencies]` name.
fn edge_dependencies(manifest: &str) -> Vec<&str> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            if EDGE_CRATES.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

fn layers() -> Result<(), Fail> {
    let core = util::root().join("core");
    let manifest = std::fs::read_to_string(core.join("Cargo.toml"))
        .map_err(|e| Fail(format!("core/Cargo.toml: {e}")))?;
    let edge = edge_dependencies(&manifest);
    if !edge.is_empty() {
        return Err(Fail(format!(
            "the cores must not depend on the edge; core/Cargo.toml names: {}",
            edge.join(", ")
        )));
    }
    let server = core.join("src");
    let mut found = Vec::new();
    for dir in ["store", "records"] {
        let entries = std::fs::read_dir(server.join(dir))
            .map_err(|e| Fail(format!("core/src/{dir}: {e}")))?;
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "rs"))
        {
            let source = std::fs::read_to_string(file)
                .map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            for (n, line) in core_references(&source) {
                found.push(format!(
                    "core/src/{dir}/{}:{n}: {line}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(Fail(format!(
            "the store and the records must not name a core (move the type to records/):\n{}",
            found.join("\n")
        )))
    }
}

/// The Rust tests on both backends, then Playwright; `filter` narrows each to matching names.
fn tests(tc: &tools::Toolchain, filter: Option<&str>) -> Result<(), Fail> {
    // `cargo test ARGS [FILTER]`.
    let filtered = |args: &[&'static str]| -> Vec<String> {
        args.iter()
            .map(|a| (*a).to_owned())
            .chain(filter.map(str::to_owned))
            .collect()
    };
    let cargo_test = |args: &[&'static str], env: &[(&str, &str)]| {
        let args = filtered(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        util::cargo_env(&args, env)
    };
    // The integration tests and Playwright start aiosmtpd with this interpreter.
    let mut env: Vec<(&str, &str)> = tc
        .python
        .as_deref()
        .map(|p| ("PORTCULLIS_TEST_PYTHON", p))
        .into_iter()
        .chain(
            tc.okta_python
                .as_deref()
                .map(|p| ("PORTCULLIS_TEST_OKTA_PYTHON", p)),
        )
        .collect();
    // Both storage backends: the whole suite on sled, then the integration tests and the
    // store's conformance tests against a throwaway PostgreSQL.
    let pg = postgres::Cluster::start()?;
    env.push(("PORTCULLIS_TEST_PG_URL", pg.url.as_str()));
    step("Unit and integration tests (sled, and the store's conformance on both)");
    cargo_test(
        &[
            "test",
            "-p",
            "portcullis-core",
            "-p",
            "portcullis",
            "-p",
            "proto",
            "-p",
            "xtask",
        ],
        &env,
    )?;
    step("Integration tests against PostgreSQL");
    env.push(("PORTCULLIS_TEST_BACKEND", "postgres"));
    cargo_test(&["test", "-p", "portcullis", "--test", "it"], &env)?;
    step("Page and widget unit tests");
    cargo_test(&["test", "-p", "app", "--features", "ssr", "--lib"], &[])?;
    cargo_test(&["test", "-p", "widget", "--lib"], &[])?;

    step("Building the server and site for the end-to-end tests");
    cargo(&["build", "-p", "portcullis", "--bin", "portcullis"])?;
    site::build(tc)?;
    // A filter that names only Rust tests is not a failure of Playwright's.
    let grep: Vec<String> = filter
        .map(|f| {
            vec![
                "-g".to_owned(),
                f.to_owned(),
                "--pass-with-no-tests".to_owned(),
            ]
        })
        .unwrap_or_default();
    playwright(tc, &grep, &pg)
}

fn e2e(args: &[String]) -> Result<(), Fail> {
    let tc = tools::setup(tools::Need::Everything)?;
    cargo(&["build", "-p", "portcullis", "--bin", "portcullis"])?;
    site::build(&tc)?;
    let pg = postgres::Cluster::start()?;
    playwright(&tc, args, &pg)
}

/// `npx playwright test ARGS` in end2end/ against the debug server and the built site; the
/// two-node specs run two more servers on `pg`.
fn playwright(tc: &tools::Toolchain, args: &[String], pg: &postgres::Cluster) -> Result<(), Fail> {
    step("End-to-end tests (Playwright, Chromium)");
    let root = util::root();
    util::run(
        std::process::Command::new("npx")
            .args(["playwright", "test"])
            .args(args)
            .current_dir(root.join("end2end"))
            .env("PORTCULLIS_BIN", root.join("target/debug/portcullis"))
            .env("PORTCULLIS_SITE_DIR", root.join("target/site"))
            .env("PORTCULLIS_E2E_DATABASE_URL", &pg.url)
            .env(
                "PORTCULLIS_TEST_PYTHON",
                tc.python.as_deref().unwrap_or("python3"),
            ),
        "Playwright specs",
    )
}

#[cfg(test)]
mod tests {
    use super::{core_references, edge_dependencies, util};

    #[test]
    fn an_edge_crate_among_the_core_dependencies_is_found() {
        let manifest = "[package]\nname = \"axum\"\n[dependencies]\nproto.workspace = true\n\
                        axum = { workspace = true }\nleptos.workspace = true\n\
                        [dev-dependencies]\ntower.workspace = true\n";
        assert_eq!(edge_dependencies(manifest), ["axum", "leptos"]);
        let core = std::fs::read_to_string(util::root().join("core/Cargo.toml")).unwrap();
        assert!(edge_dependencies(&core).is_empty());
    }

    #[test]
    fn a_store_line_naming_a_core_is_found_and_comments_are_not() {
        let source = "use crate::records::directory::User;\n\
                      // see crate::authn::flow for why\n\
                      use crate::oauth::clients::Client;\n";
        assert_eq!(
            core_references(source),
            [(3, "use crate::oauth::clients::Client;")]
        );
    }
}
