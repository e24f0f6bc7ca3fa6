//! Builds the guest workspace (`tools/`) for wasm32-wasip2 with a nested cargo
//! and generates path constants for every component, so `cargo test` needs no
//! manual build step; also for the frozen components in `frozen/`, which are
//! never rebuilt.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let artifacts_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let tools_dir = artifacts_dir.parent().unwrap().to_path_buf();
    let root = tools_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for path in [
        tools_dir.join("Cargo.toml"),
        tools_dir.join("Cargo.lock"),
        tools_dir.join(".cargo"),
        tools_dir.join("testing"),
        root.join("sdk/rust"),
        root.join("wit"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let bundled = bundled_tools(&tools_dir);
    for dir in &bundled {
        println!("cargo:rerun-if-changed={}", dir.display());
    }

    // A fixed sibling of the outer target dir: its own lock (no deadlock on
    // the outer build's), shared by debug and release builds of the host.
    let guest_target = guest_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&tools_dir)
        .args(["build", "--release", "--workspace", "--target", TARGET])
        .arg("--target-dir")
        .arg(&guest_target)
        // The outer build's flags are for the host, not for guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_PRIMARY_PACKAGE");
    if env::var_os("CI").is_some() && tools_dir.join("Cargo.lock").exists() {
        cmd.arg("--locked");
    }
    let status = cmd
        .status()
        .expect("failed to run cargo for the wasm32-wasip2 guests");
    assert!(
        status.success(),
        "building the guest tools for {TARGET} failed (see the output above); \
         `rustup target add {TARGET}` if the target is missing"
    );

    let release = guest_target.join(TARGET).join("release");
    let mut code = String::new();
    let mut fixtures = Vec::new();
    for dir in sorted_dirs(&tools_dir.join("testing")) {
        let (constant, path) = component(&dir, &release);
        writeln!(code, "/// The `{}` test fixture.", file_name(&dir)).unwrap();
        writeln!(code, "pub const {constant}: &str = {path:?};").unwrap();
        fixtures.push((file_name(&dir), constant));
    }
    let mut bundle = Vec::new();
    for dir in &bundled {
        let (constant, path) = component(dir, &release);
        writeln!(code, "/// The bundled `{}` tool.", file_name(dir)).unwrap();
        writeln!(code, "pub const {constant}: &str = {path:?};").unwrap();
        bundle.push(path);
    }
    writeln!(
        code,
        "/// Every test fixture: (directory name, component path)."
    )
    .unwrap();
    writeln!(code, "pub const FIXTURES: &[(&str, &str)] = &[").unwrap();
    for (name, constant) in &fixtures {
        writeln!(code, "    ({name:?}, {constant}),").unwrap();
    }
    writeln!(code, "];").unwrap();
    // Components built against released contract versions, kept as bytes.
    let frozen_dir = artifacts_dir.join("frozen");
    println!("cargo:rerun-if-changed={}", frozen_dir.display());
    let mut frozen: Vec<PathBuf> = std::fs::read_dir(&frozen_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", frozen_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    frozen.sort();
    for path in frozen {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let constant = stem.replace(['-', '.'], "_").to_uppercase();
        writeln!(code, "/// The frozen component `{stem}.wasm`.").unwrap();
        writeln!(
            code,
            "pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(code, "/// The bundled tools' component bytes.").unwrap();
    writeln!(code, "pub const BUNDLED: &[&[u8]] = &[").unwrap();
    for path in &bundle {
        writeln!(code, "    include_bytes!({path:?}),").unwrap();
    }
    writeln!(code, "];").unwrap();
    std::fs::write(out_dir.join("artifacts.rs"), code).unwrap();
}

/// The real tools: every member of the guest workspace outside `testing/`.
fn bundled_tools(tools_dir: &Path) -> Vec<PathBuf> {
    sorted_dirs(tools_dir)
        .into_iter()
        .filter(|d| {
            let name = file_name(d);
            d.join("Cargo.toml").exists() && name != "artifacts" && name != "testing"
        })
        .collect()
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !file_name(p).starts_with('.') && file_name(p) != "target")
        .collect();
    dirs.sort();
    dirs
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// (CONSTANT_NAME, path of the built component) for a crate directory.
fn component(dir: &Path, release: &Path) -> (String, String) {
    let name = file_name(dir);
    let path = release.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "expected {} to be built", path.display());
    (
        name.replace('-', "_").to_uppercase(),
        path.display().to_string(),
    )
}

/// `<target>/wasm-guests`, where `<target>` is the outer build's target
/// directory (OUT_DIR is `<target>[/<triple>]/<profile>/build/<pkg>/out`).
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .expect("OUT_DIR lies inside a `build` directory");
    build
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("wasm-guests")
}
