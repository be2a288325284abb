//! Builds the site assets into target/site: the hydration bundle and page CSS under pkg/, the
//! widget's loader, bundle and CSS under widget/; then reports what a browser downloads.

use crate::tools::{Toolchain, WasmRoute};
use crate::util::{Fail, root, run, step};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Bundle {
    package: &'static str,
    features: &'static str,
    artifact: &'static str,
    out_dir: &'static str,
    out_name: &'static str,
}

const BUNDLES: [Bundle; 2] = [
    Bundle {
        package: "frontend",
        features: "",
        artifact: "frontend.wasm",
        out_dir: "pkg",
        out_name: "portcullis",
    },
    Bundle {
        package: "widget",
        features: "",
        artifact: "widget.wasm",
        out_dir: "widget",
        out_name: "portcullis_widget",
    },
];

pub(crate) fn build(tc: &Toolchain) -> Result<(), Fail> {
    let site = root().join("target/site");
    for b in &BUNDLES {
        step(&format!("Building the {} WASM bundle", b.package));
        let wasm = compile(tc, b)?;
        let out = site.join(b.out_dir);
        std::fs::create_dir_all(&out)
            .map_err(|e| Fail(format!("cannot create {}: {e}", out.display())))?;
        run(
            Command::new("wasm-bindgen")
                .args([
                    "--target",
                    "web",
                    "--no-typescript",
                    "--out-name",
                    b.out_name,
                    "--out-dir",
                ])
                .arg(&out)
                .arg(&wasm),
            "wasm-bindgen",
        )?;
        let bg = out.join(format!("{}_bg.wasm", b.out_name));
        if let Some(opt) = &tc.wasm_opt {
            run(
                Command::new(opt)
                    .args([
                        "-Oz",
                        "--enable-bulk-memory",
                        "--enable-nontrapping-float-to-int",
                    ])
                    .arg(&bg)
                    .arg("-o")
                    .arg(&bg),
                "wasm-opt",
            )?;
        }
    }
    let r = root();
    copy(
        &r.join("style/portcullis.css"),
        &site.join("pkg/portcullis.css"),
    )?;
    copy(
        &r.join("style/widget.css"),
        &site.join("widget/portcullis-signin.css"),
    )?;
    copy(
        &r.join("widget/js/portcullis-signin.js"),
        &site.join("widget/portcullis-signin.js"),
    )?;
    report_sizes(&site)
}

fn compile(tc: &Toolchain, b: &Bundle) -> Result<PathBuf, Fail> {
    let r = root();
    let mut cmd = Command::new("cargo");
    cmd.args([
        "build",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
        "-p",
        b.package,
    ]);
    if !b.features.is_empty() {
        cmd.args(["--features", b.features]);
    }
    let target_dir = match tc.route {
        WasmRoute::Rustup => r.join("target"),
        WasmRoute::DebianBuildStd => {
            // Debian's compiler has no prebuilt wasm32 std: build it, in a target dir of its own.
            cmd.env("RUSTC", "/usr/bin/rustc")
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["-Z", "build-std=std,panic_abort", "--target-dir"])
                .arg(r.join("target/wasm-web"));
            r.join("target/wasm-web")
        }
    };
    run(&mut cmd, &format!("building the {} bundle", b.package))?;
    Ok(target_dir
        .join("wasm32-unknown-unknown/wasm-release")
        .join(b.artifact))
}

fn copy(from: &Path, to: &Path) -> Result<(), Fail> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        Fail(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

fn gzip_size(path: &Path) -> u64 {
    Command::new("sh")
        .arg("-c")
        .arg("gzip -9 -c \"$0\" | wc -c")
        .arg(path)
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// Prints and saves (target/site/sizes.txt) what each page downloads, raw and gzipped.
fn report_sizes(site: &Path) -> Result<(), Fail> {
    let groups = [
        (
            "widget (a host page downloads)",
            vec![
                "widget/portcullis-signin.js",
                "widget/portcullis_widget.js",
                "widget/portcullis_widget_bg.wasm",
                "widget/portcullis-signin.css",
            ],
        ),
        (
            "hosted pages (hydration)",
            vec![
                "pkg/portcullis.js",
                "pkg/portcullis_bg.wasm",
                "pkg/portcullis.css",
            ],
        ),
    ];
    let mut report = String::new();
    for (title, files) in groups {
        report.push_str(&format!("{title}\n"));
        let (mut raw_total, mut gz_total) = (0, 0);
        for f in files {
            let path = site.join(f);
            let raw = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let gz = gzip_size(&path);
            raw_total += raw;
            gz_total += gz;
            report.push_str(&format!("  {f:<36} {raw:>9} B  {gz:>8} B gzip\n"));
        }
        report.push_str(&format!(
            "  {:<36} {raw_total:>9} B  {gz_total:>8} B gzip\n",
            "total"
        ));
    }
    print!("\n{report}");
    std::fs::write(site.join("sizes.txt"), report)
        .map_err(|e| Fail(format!("cannot write sizes.txt: {e}")))
}
