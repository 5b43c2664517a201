//! The core stays a core: no command-line or window library among its dependencies, and no
//! printing in its sources (clippy's print lints catch the macros; this catches the manifest
//! and any `std::io::stdout()` writes).

use std::path::Path;

const FACE_CRATES: [&str; 4] = ["clap", "tauri", "tauri-build", "wry"];

#[test]
fn the_manifest_names_no_face_library() {
    let manifest = include_str!("../Cargo.toml");
    let parsed: toml::Table = toml::from_str(manifest).unwrap_or_default();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(toml::Value::Table(deps)) = parsed.get(section) else {
            continue;
        };
        for name in deps.keys() {
            assert!(
                !FACE_CRATES.contains(&name.as_str()),
                "passbridge-core's [{section}] names {name}: the faces own it"
            );
        }
    }
    assert!(
        parsed.contains_key("dependencies"),
        "the manifest did not parse"
    );
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn no_source_prints() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "found only {} sources", files.len());
    for (path, text) in files {
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for needle in [
                "println!",
                "eprintln!",
                "print!(",
                "eprint!(",
                "io::stdout()",
                "io::stderr()",
            ] {
                assert!(
                    !code.contains(needle),
                    "{path}:{}: `{needle}` in the core (printing is the faces' job)",
                    number + 1
                );
            }
        }
    }
}
