//! Installs what the build and the tests need, each only when missing, saying what and why:
//! the wasm32 target (or Debian's fallback), wasm-bindgen-cli at the locked version, Node
//! packages (Playwright, binaryen's wasm-opt) and Debian's Chromium.

use crate::util::{Fail, have, output, root, run, step};
use std::path::PathBuf;
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Enough to build the server and the WASM bundles.
    Build,
    /// Also what the tests use: Chromium and Playwright.
    Everything,
}

/// How the WASM bundles are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WasmRoute {
    /// rustup's prebuilt wasm32 std.
    Rustup,
    /// Debian's rustc-web with std rebuilt from rust-web-src (`-Z build-std`).
    DebianBuildStd,
}

#[derive(Debug, Clone)]
pub(crate) struct Toolchain {
    pub(crate) route: WasmRoute,
    pub(crate) wasm_opt: Option<PathBuf>,
    /// A Python that can run the aiosmtpd test mail server (tests only).
    pub(crate) python: Option<String>,
    /// A Python with Okta's management SDK (`okta` on PyPI), for its test (tests only).
    pub(crate) okta_python: Option<String>,
}

pub(crate) fn setup(need: Need) -> Result<Toolchain, Fail> {
    let route = wasm_target()?;
    wasm_bindgen_cli()?;
    let node = node_packages(need)?;
    if need == Need::Everything {
        if !node {
            return Err(Fail(
                "Node.js and npm are needed for the end-to-end tests and could not be installed"
                    .into(),
            ));
        }
        chromium()?;
    }
    let (python, okta_python) = if need == Need::Everything {
        (Some(aiosmtpd()?), Some(okta_sdk_python()?))
    } else {
        (None, None)
    };
    let wasm_opt = root().join("end2end/node_modules/.bin/wasm-opt");
    let wasm_opt = wasm_opt.exists().then_some(wasm_opt);
    if wasm_opt.is_none() {
        println!("note: wasm-opt (npm binaryen) is not installed; bundles will be larger");
    }
    Ok(Toolchain {
        route,
        wasm_opt,
        python,
        okta_python,
    })
}

fn wasm_target() -> Result<WasmRoute, Fail> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(WasmRoute::Rustup);
    }
    if have("rustup") {
        step("Installing the wasm32-unknown-unknown target (the WASM bundles need its std)");
        let added = Command::new("timeout")
            .args(["120", "rustup", "target", "add", WASM_TARGET])
            .status()
            .is_ok_and(|s| s.success());
        if added {
            return Ok(WasmRoute::Rustup);
        }
        println!("rustup could not fetch the wasm32 std; falling back to Debian's rustc-web");
    }
    if !PathBuf::from("/usr/bin/rustc").exists() || !PathBuf::from("/usr/lib/rust-web-src").exists()
    {
        step(
            "Installing Debian's rustc-web, rust-web-src and lld (to build the wasm32 std from source)",
        );
        apt_install(&["rustc-web", "rust-web-src", "lld-22"])?;
    }
    Ok(WasmRoute::DebianBuildStd)
}

/// The `wasm-bindgen` version Cargo.lock pins; the CLI must match it exactly.
fn locked_wasm_bindgen() -> Result<String, Fail> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| Fail(format!("cannot read Cargo.lock: {e}")))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        let version = lines
            .clone()
            .next()
            .and_then(|l| l.trim().strip_prefix("version = \""));
        if let (true, Some(v)) = (line.trim() == "name = \"wasm-bindgen\"", version) {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    Err(Fail("Cargo.lock has no wasm-bindgen entry".into()))
}

fn wasm_bindgen_cli() -> Result<(), Fail> {
    let want = locked_wasm_bindgen()?;
    let have_version = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have_version.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    step(&format!(
        "Installing wasm-bindgen-cli {want} (must equal the wasm-bindgen crate in Cargo.lock; about 3 minutes)"
    ));
    run(
        Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &want]),
        "cargo install wasm-bindgen-cli",
    )
}

/// `npm ci` in end2end/ when its lock file changed: Playwright (no browser download) and
/// binaryen's wasm-opt. Returns whether Node packages are available.
fn node_packages(need: Need) -> Result<bool, Fail> {
    if !have("npm") {
        if need == Need::Build {
            println!("note: npm is not installed; skipping wasm-opt");
            return Ok(false);
        }
        step("Installing Node.js and npm (Debian) for Playwright");
        apt_install(&["nodejs", "npm"])?;
    }
    let dir = root().join("end2end");
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&stamp)) {
        (Ok(l), Ok(s)) => match (l.modified(), s.modified()) {
            (Ok(l), Ok(s)) => s >= l,
            _ => false,
        },
        _ => false,
    };
    if !fresh {
        step(
            "Installing end2end Node packages (npm ci: Playwright without browsers, binaryen's wasm-opt)",
        );
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .current_dir(&dir),
            "npm ci in end2end/",
        )?;
    }
    Ok(true)
}

fn imports_aiosmtpd(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python with aiosmtpd, the real SMTP server the tests read recovery emails from: pip
/// first, Debian's python3-aiosmtpd if pip cannot install it.
fn aiosmtpd() -> Result<String, Fail> {
    if imports_aiosmtpd("python3") {
        return Ok("python3".into());
    }
    step("Installing aiosmtpd (the SMTP server the tests receive email with)");
    let pip_ok = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if pip_ok && imports_aiosmtpd("python3") {
        return Ok("python3".into());
    }
    apt_install(&["python3-aiosmtpd"])?;
    if imports_aiosmtpd("/usr/bin/python3") {
        return Ok("/usr/bin/python3".into());
    }
    Err(Fail(
        "aiosmtpd could not be installed with pip or apt".into(),
    ))
}

/// The version of Okta's Python management SDK the tests run, unmodified.
const OKTA_SDK_PYTHON: &str = "okta==3.4.6";

/// A Python in `target/okta-sdk-python` (a virtual environment, so nothing else is touched)
/// with Okta's Python SDK installed from PyPI.
fn okta_sdk_python() -> Result<String, Fail> {
    let venv = root().join("target/okta-sdk-python");
    let python = venv.join("bin/python");
    let python_text = python.display().to_string();
    let has_sdk = || {
        Command::new(&python)
            .args(["-c", "import okta.client"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_sdk() {
        return Ok(python_text);
    }
    step("Installing Okta's Python SDK in target/okta-sdk-python (its test runs it)");
    let made = |interpreter: &str| {
        Command::new(interpreter)
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !made("python3") {
        // Debian's Python makes virtual environments with python3-venv only.
        apt_install(&["python3-venv"])?;
        if !made("/usr/bin/python3") {
            return Err(Fail("cannot make a Python virtual environment".into()));
        }
    }
    run(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", OKTA_SDK_PYTHON]),
        "pip install okta (Okta's Python SDK)",
    )?;
    if has_sdk() {
        Ok(python_text)
    } else {
        Err(Fail("Okta's Python SDK did not install".into()))
    }
}

fn chromium() -> Result<(), Fail> {
    let path = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if PathBuf::from(&path).exists() {
        return Ok(());
    }
    step("Installing Debian's Chromium (the browser the end-to-end tests drive)");
    apt_install(&["chromium"])
}

pub(crate) fn apt_install(packages: &[&str]) -> Result<(), Fail> {
    let root_user = crate::util::is_root();
    let sudo: &[&str] = if root_user { &[] } else { &["sudo", "-n"] };
    if !root_user && !have("sudo") {
        return Err(Fail(format!(
            "need to install {} with apt-get but not running as root and no sudo; install them and retry",
            packages.join(" ")
        )));
    }
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    update.args(sudo.iter().skip(1)).args(if sudo.is_empty() {
        &["update", "-q"][..]
    } else {
        &["apt-get", "update", "-q"][..]
    });
    run(&mut update, "apt-get update")?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    install
        .args(sudo.iter().skip(1))
        .args(if sudo.is_empty() {
            &["install", "-y", "-q"][..]
        } else {
            &["apt-get", "install", "-y", "-q"][..]
        })
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(
        &mut install,
        &format!("apt-get install {}", packages.join(" ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        let v = locked_wasm_bindgen().unwrap();
        assert!(v.starts_with("0.2."), "{v}");
    }
}
