//! Profiles are data (spec/profiles.md): outside src/profile.rs no code
//! compares a profile's name, and the two order knobs only choose which
//! check list a call runs, never stand in for "is this Linux?".

use std::fs;
use std::path::{Path, PathBuf};

/// The functions that may read `mmap_order` / `ctrl_order`: each picks a
/// whole check list (or a prelude of one) by the order.
const CHECK_LIST_DISPATCHERS: [&str; 6] = [
    "mmap_checks",
    "munmap_checks",
    "mprotect_prelude",
    "msync_prelude",
    "mlock_prelude",
    "munlock_prelude",
];

/// Comparisons that make a profile name or an order a general switch.
const FORBIDDEN: [&str; 10] = [
    "== ProfileName::",
    "!= ProfileName::",
    "profile_name() ==",
    "profile_name() !=",
    "== MmapOrder::",
    "!= MmapOrder::",
    "== CtrlOrder::",
    "!= CtrlOrder::",
    "matches!(self.profile.mmap_order",
    "matches!(self.profile.ctrl_order",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file but src/profile.rs, with its code lines (comments dropped).
fn sources() -> Vec<(PathBuf, Vec<(usize, String)>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.ends_with("src/profile.rs"))
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            let lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//"))
                .map(|(i, l)| (i + 1, l.to_string()))
                .collect();
            (p, lines)
        })
        .collect()
}

#[test]
fn no_profile_name_or_order_is_compared_outside_profile_rs() {
    let mut found = Vec::new();
    for (path, lines) in sources() {
        for (n, line) in &lines {
            if let Some(pat) = FORBIDDEN.iter().find(|p| line.contains(*p)) {
                found.push(format!("{}:{n}: `{pat}` in `{}`", path.display(), line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "give the behaviour a knob in src/profile.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_order_knobs_are_read_only_where_a_check_list_is_chosen() {
    let mut found = Vec::new();
    let mut readers = 0;
    for (path, lines) in sources() {
        let mut current_fn = String::new();
        for (n, line) in &lines {
            if let Some(rest) = line.split("fn ").nth(1).filter(|_| line.trim_start().contains("fn ")) {
                current_fn = rest.split(['(', '<']).next().unwrap_or("").to_string();
            }
            if line.contains(".mmap_order") || line.contains(".ctrl_order") {
                readers += 1;
                if !CHECK_LIST_DISPATCHERS.contains(&current_fn.as_str()) {
                    found.push(format!("{}:{n}: in fn {current_fn}: `{}`", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "an order knob used as a general switch; give the behaviour its own knob:\n{}",
        found.join("\n")
    );
    // The scan itself works: the dispatchers are found.
    assert!(readers >= CHECK_LIST_DISPATCHERS.len(), "only {readers} readers found");
}
