//! The rule catalogue, read from the `spec/*.md` files compiled into the binary.
//!
//! The files are the single source of truth: `mmoracle spec` lists what they
//! say, and tests check that every rule the model can return is written down
//! there and that every rule written there is exercised.

use std::sync::OnceLock;

/// The spec files, by name, as compiled in.
pub const FILES: &[(&str, &str)] = &[
    ("mmap.md", include_str!("../spec/mmap.md")),
    ("munmap-mprotect.md", include_str!("../spec/munmap-mprotect.md")),
    ("locking.md", include_str!("../spec/locking.md")),
    ("rlimits.md", include_str!("../spec/rlimits.md")),
    ("shared-memory.md", include_str!("../spec/shared-memory.md")),
    ("objects-contents.md", include_str!("../spec/objects-contents.md")),
    ("processes.md", include_str!("../spec/processes.md")),
    ("fds.md", include_str!("../spec/fds.md")),
    ("peer.md", include_str!("../spec/peer.md")),
    ("memobj.md", include_str!("../spec/memobj.md")),
    ("gamma.md", include_str!("../spec/gamma.md")),
    ("iofunc_mmap.md", include_str!("../spec/iofunc_mmap.md")),
];

/// One rule as written in `spec/`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleSpec {
    /// The ID, e.g. `MMAP-EINVAL-2`.
    pub id: String,
    /// The short title after the ID.
    pub title: String,
    /// The spec file it is written in.
    pub file: &'static str,
    /// The line of its heading.
    pub line: usize,
    /// When it applies.
    pub condition: String,
    /// What it decides.
    pub outcome: String,
    /// The profiles it applies to.
    pub profiles: String,
    /// Where it comes from.
    pub source: String,
    /// An outcome also accepted, or "none".
    pub alternative: String,
}

impl RuleSpec {
    /// Whether the rule was withdrawn (its ID stays reserved; nothing can
    /// reach it, so coverage does not ask for it).
    pub fn withdrawn(&self) -> bool {
        self.condition.to_ascii_lowercase().starts_with("withdrawn")
    }
}

/// Whether `text` has the shape of a rule ID (`FAMILY-WORD-N`, uppercase).
pub fn is_rule_id(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        && parts[0].as_bytes()[0].is_ascii_uppercase()
}

/// Parses one spec file. Errors name the file, the line and what was expected.
pub fn parse(file: &'static str, text: &str) -> Result<Vec<RuleSpec>, String> {
    let mut rules: Vec<RuleSpec> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if let Some(heading) = line.strip_prefix("## ") {
            let (id, title) = heading.split_once(':').unwrap_or((heading, ""));
            if !is_rule_id(id.trim()) {
                continue;
            }
            rules.push(RuleSpec {
                id: id.trim().to_string(),
                title: title.trim().to_string(),
                file,
                line: line_no,
                condition: String::new(),
                outcome: String::new(),
                profiles: String::new(),
                source: String::new(),
                alternative: String::new(),
            });
        } else if let Some(rule) = rules.last_mut() {
            if let Some(field) = line.strip_prefix("- **") {
                let Some((key, value)) = field.split_once(":**") else {
                    return Err(format!("{file}:{line_no}: expected `- **Field:** value`"));
                };
                let value = value.trim().to_string();
                match key {
                    "Condition" => rule.condition = value,
                    "Outcome" => rule.outcome = value,
                    "Profiles" => rule.profiles = value,
                    "Source" => rule.source = value,
                    "Alternative" => rule.alternative = value,
                    other => return Err(format!("{file}:{line_no}: unknown field `{other}` (expected Condition, Outcome, Profiles, Source or Alternative)")),
                }
            }
        }
    }
    for r in &rules {
        for (name, value) in [
            ("Condition", &r.condition),
            ("Outcome", &r.outcome),
            ("Profiles", &r.profiles),
            ("Source", &r.source),
        ] {
            if value.is_empty() {
                return Err(format!("{file}:{}: rule {} has no {name}", r.line, r.id));
            }
        }
    }
    Ok(rules)
}

/// Every rule in every spec file, in file order.
pub fn catalogue() -> &'static [RuleSpec] {
    static CATALOGUE: OnceLock<Vec<RuleSpec>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        FILES
            .iter()
            .flat_map(|(file, text)| {
                parse(file, text).unwrap_or_else(|e| panic!("the compiled-in spec is malformed: {e}"))
            })
            .collect()
    })
}

/// The rule with this ID.
pub fn rule(id: &str) -> Option<&'static RuleSpec> {
    catalogue().iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_have_the_documented_shape() {
        assert!(is_rule_id("MMAP-EACCES-2"));
        assert!(is_rule_id("RLIMIT-DATA-1"));
        assert!(!is_rule_id("mmap-EACCES-2"));
        assert!(!is_rule_id("MMAP-EACCES"));
        assert!(!is_rule_id("MMAP-2"));
    }

    #[test]
    fn parse_reads_fields_and_reports_missing_ones() {
        let text =
            "# x\n## A-EINVAL-1: t\n- **Condition:** c\n- **Outcome:** EINVAL\n- **Profiles:** all\n- **Source:** s\n";
        let rules = parse("x.md", text).unwrap();
        assert_eq!(rules[0].id, "A-EINVAL-1");
        assert_eq!(rules[0].line, 2);
        let err = parse("x.md", "## A-EINVAL-1: t\n- **Outcome:** EINVAL\n").unwrap_err();
        assert!(err.contains("x.md:1") && err.contains("Condition"), "{err}");
        assert!(parse("x.md", "## A-EINVAL-1: t\n- **Bogus:** 1\n")
            .unwrap_err()
            .contains("x.md:2"));
    }

    #[test]
    fn catalogue_parses_and_ids_are_unique() {
        let all = catalogue();
        let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "a rule ID is written twice in spec/");
    }
}
