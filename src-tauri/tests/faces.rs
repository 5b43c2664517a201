//! The two faces import the core and never each other: `main.rs` picks one. A window module
//! that called a CLI helper (or the reverse) would bring the other face's words and types
//! along, which is what the core exists to prevent.

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

fn assert_no_import(face: &str, other: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(face);
    let files = sources(&root);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    for (path, text) in files {
        for needle in [format!("crate::{other}"), format!("passbridge::{other}")] {
            assert!(
                !text.contains(&needle),
                "{path} reaches into the {other} face (`{needle}`)"
            );
        }
    }
}

#[test]
fn the_command_line_does_not_import_the_window() {
    assert_no_import("cli", "desktop");
}

#[test]
fn the_window_does_not_import_the_command_line() {
    assert_no_import("desktop", "cli");
}
