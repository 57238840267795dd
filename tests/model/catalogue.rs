//! The rule catalogue against the code and the tests: every rule the model can
//! decide is written down in spec/, and every rule written there is named by a
//! test.

use mmoracle::spec::{catalogue, is_rule_id};
use std::fs;
use std::path::Path;

/// Every string literal in `dir` (recursively, `.rs` files) shaped like a rule ID.
fn rule_ids_in(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rule_ids_in(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                if is_rule_id(piece) {
                    out.push((piece.to_string(), path.display().to_string()));
                }
            }
        }
    }
}

fn text_of_tree(dir: &Path, ext: &[&str], out: &mut String) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text_of_tree(&path, ext, out);
        } else if path.extension().is_some_and(|e| ext.iter().any(|x| e == *x)) {
            out.push_str(&fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_rule_the_model_decides_is_in_spec() {
    let mut used = Vec::new();
    for dir in ["src/model", "src/api"] {
        rule_ids_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut used);
    }
    let missing: Vec<String> = used
        .iter()
        .filter(|(id, _)| mmoracle::spec::rule(id).is_none())
        .map(|(id, file)| format!("{id} (used in {file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "rules used by the model but not written in spec/: {missing:#?}"
    );
}

#[test]
fn every_rule_in_spec_is_named_by_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tests = String::new();
    text_of_tree(&root.join("tests"), &["rs"], &mut tests);
    let unnamed: Vec<&str> = catalogue()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !tests.contains(id))
        .collect();
    assert!(
        unnamed.is_empty(),
        "{} rules have no test naming them: {unnamed:?}",
        unnamed.len()
    );
}

#[test]
fn spec_holds_at_least_sixty_rules() {
    assert!(catalogue().len() >= 60, "spec/ holds only {} rules", catalogue().len());
}
