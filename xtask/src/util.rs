//! Small helpers: running commands with clear failures, finding the workspace root.

use std::path::PathBuf;
use std::process::Command;

/// A failure with a message that says what to do about it.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) String);

pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// When each step began, for the summary at the end.
static STEPS: std::sync::Mutex<Vec<(String, std::time::Instant)>> =
    std::sync::Mutex::new(Vec::new());

pub(crate) fn step(what: &str) {
    println!("\n==> {what}");
    if let Ok(mut steps) = STEPS.lock() {
        steps.push((what.to_owned(), std::time::Instant::now()));
    }
}

/// How long each step took (until the next began; the last until now), in order.
pub(crate) fn timing_summary() {
    let Ok(steps) = STEPS.lock() else { return };
    if steps.is_empty() {
        return;
    }
    let now = std::time::Instant::now();
    println!("\nTime per step:");
    for (i, (what, began)) in steps.iter().enumerate() {
        let ended = steps.get(i + 1).map_or(now, |(_, next)| *next);
        let secs = ended.duration_since(*began).as_secs_f64();
        println!("  {secs:>7.1} s  {what}");
    }
}

/// Runs `cmd` in the workspace (unless it has a directory), failing with `what` if it fails.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<(), Fail> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Fail(format!("{what} failed ({s})"))),
        Err(e) => Err(Fail(format!(
            "{what}: cannot run {:?}: {e}",
            cmd.get_program()
        ))),
    }
}

/// Runs `cmd` and returns its standard output if it succeeded.
pub(crate) fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn cargo(args: &[&str]) -> Result<(), Fail> {
    cargo_env(args, &[])
}

/// `cargo ARGS` with extra environment variables.
pub(crate) fn cargo_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), Fail> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, &format!("cargo {}", args.join(" ")))
}

pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this runs as root (apt-get directly; initdb only through `su postgres`).
pub(crate) fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0")
}
