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
    ("address-space.md", include_str!("../spec/address-space.md")),
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

/// The order of rule IDs people read: by family, then word, then number
/// compared as a number, so MMAP-EINVAL-2 comes before MMAP-EINVAL-10.
pub fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    let part = |x: &str, y: &str| match (x.parse::<u64>(), y.parse::<u64>()) {
        (Ok(m), Ok(n)) => m.cmp(&n),
        _ => x.cmp(y),
    };
    let mut xs = a.split('-');
    let mut ys = b.split('-');
    loop {
        match (xs.next(), ys.next()) {
            (Some(x), Some(y)) => match part(x, y) {
                std::cmp::Ordering::Equal => continue,
                other => return other,
            },
            (x, y) => return x.is_some().cmp(&y.is_some()),
        }
    }
}

/// Every rule, sorted by [`compare_ids`].
pub fn sorted() -> Vec<&'static RuleSpec> {
    let mut rules: Vec<&RuleSpec> = catalogue().iter().collect();
    rules.sort_by(|a, b| compare_ids(&a.id, &b.id));
    rules
}

/// Looks a rule up as a person types it: exact, else ignoring case.
pub fn lookup(id: &str) -> Option<&'static RuleSpec> {
    rule(id).or_else(|| rule(&id.trim().to_ascii_uppercase()))
}

/// The rules whose IDs are closest to `id` (for "did you mean"), nearest first:
/// at most `count`, each within a few edits or of the same family and word.
pub fn nearest(id: &str, count: usize) -> Vec<&'static RuleSpec> {
    let want = id.trim().to_ascii_uppercase();
    let stem = |s: &str| s.rsplit_once('-').map_or(s.to_string(), |(head, _)| head.to_string());
    let mut scored: Vec<(usize, &RuleSpec)> = catalogue()
        .iter()
        .map(|r| {
            let d = edit_distance(&want, &r.id);
            // A rule of the same family and word is a better guess than a
            // near spelling of another family.
            (if stem(&r.id) == stem(&want) { d.min(2) } else { d }, r)
        })
        .filter(|(d, _)| *d <= 3.max(want.len() / 4))
        .collect();
    scored.sort_by(|(da, a), (db, b)| da.cmp(db).then(compare_ids(&a.id, &b.id)));
    scored.into_iter().take(count).map(|(_, r)| r).collect()
}

/// The Levenshtein distance between two ASCII-ish strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// What the traces say about a rule, for [`explain`].
pub enum Exercised<'a> {
    /// These traces (of how many run) exercise it.
    By {
        /// The traces that exercise the rule.
        traces: Vec<&'a str>,
        /// How many traces were run.
        of: usize,
        /// Where they were found.
        place: &'a str,
    },
    /// The traces were not looked at, and why.
    NotLooked(&'a str),
}

/// A rule in full, for `mmoracle explain`: title, where it is written, each
/// field, and which traces exercise it.
pub fn explain(rule: &RuleSpec, exercised: &Exercised<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", rule.id, rule.title);
    let _ = writeln!(out, "  written in:  spec/{}:{}", rule.file, rule.line);
    // Where a reader finds a cited section, from the repository's root.
    let source = rule.source.replace("sources.md §", "spec/sources.md §");
    let alternative = if rule.alternative.is_empty() {
        "none"
    } else {
        rule.alternative.as_str()
    };
    for (name, value) in [
        ("condition", rule.condition.as_str()),
        ("outcome", rule.outcome.as_str()),
        ("profiles", rule.profiles.as_str()),
        ("alternative", alternative),
        ("source", source.as_str()),
    ] {
        let _ = writeln!(out, "  {:<12} {value}", format!("{name}:"));
    }
    match exercised {
        Exercised::By { traces, of, place } if traces.is_empty() => {
            let _ = writeln!(out, "  exercised:   by none of the {of} traces under {place}");
        }
        Exercised::By { traces, of, place } => {
            let _ = writeln!(
                out,
                "  exercised:   by {} of the {of} traces under {place}:",
                traces.len()
            );
            for t in traces {
                let _ = writeln!(out, "    {}", crate::oracle::report::text::escape(t));
            }
        }
        Exercised::NotLooked(why) => {
            let _ = writeln!(out, "  exercised:   not looked up ({why})");
        }
    }
    out
}

/// The answer for an ID that names no rule: the nearest ones, or how to list them.
pub fn unknown(id: &str) -> String {
    let near = nearest(id, 3);
    let escaped = crate::oracle::report::text::escape(id);
    if near.is_empty() {
        format!("no rule `{escaped}` in spec/ (`mmoracle spec` lists them all)")
    } else {
        let names: Vec<String> = near.iter().map(|r| format!("{} ({})", r.id, r.title)).collect();
        format!(
            "no rule `{escaped}` in spec/; the nearest: {} (`mmoracle spec` lists them all)",
            names.join(", ")
        )
    }
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
    fn ids_sort_by_family_word_then_number() {
        let mut ids = vec![
            "MMAP-EINVAL-10",
            "MMAP-EINVAL-2",
            "LOCK-OK-1",
            "MMAP-EACCES-3",
            "MMAP-EINVAL-1",
        ];
        ids.sort_by(|a, b| compare_ids(a, b));
        assert_eq!(
            ids,
            [
                "LOCK-OK-1",
                "MMAP-EACCES-3",
                "MMAP-EINVAL-1",
                "MMAP-EINVAL-2",
                "MMAP-EINVAL-10"
            ]
        );
    }

    #[test]
    fn an_unknown_id_suggests_the_nearest_rules() {
        assert_eq!(lookup("mmap-eacces-2").map(|r| r.id.as_str()), Some("MMAP-EACCES-2"));
        let near = nearest("MMAP-EACCES-99", 3);
        assert!(
            !near.is_empty() && near.iter().all(|r| r.id.starts_with("MMAP-EACCES-")),
            "{near:?}"
        );
        assert!(nearest("ZZZZZZZZZZZZZZZZZZZZZ", 3).is_empty());
        assert!(
            unknown("MMAP-EACESS-2").contains("MMAP-EACCES-2"),
            "{}",
            unknown("MMAP-EACESS-2")
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// Every spec file with its text, read from the source tree.
    fn spec_texts() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec");
        let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn every_source_cited_is_in_the_repository() {
        let sources = include_str!("../spec/sources.md");
        let sections: Vec<&str> = sources
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .filter_map(|h| h.split(':').next())
            .collect();
        let mut dangling = Vec::new();
        for (file, text) in spec_texts() {
            for (n, line) in text.lines().enumerate() {
                for outside in [
                    "qnx-semantics.md",
                    "machine-probes.md",
                    "oracle-anchors.md",
                    "shared/research",
                ] {
                    if line.contains(outside) {
                        dangling.push(format!(
                            "{file}:{}: cites {outside}, which is not in the repository",
                            n + 1
                        ));
                    }
                }
                for cite in line.split("§").skip(1) {
                    let id: String = cite
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                        .collect();
                    let id = id.trim_end_matches('.');
                    let research = id.starts_with(['Q', 'P', 'A']) && id.len() > 1;
                    if research && !sections.contains(&id) {
                        dangling.push(format!("{file}:{}: §{id} is not a section of spec/sources.md", n + 1));
                    }
                }
            }
        }
        assert!(dangling.is_empty(), "{dangling:#?}");
        // Every rule's source says something a reader can look up.
        for r in catalogue() {
            assert!(r.source.len() > 3, "{} has no usable source", r.id);
        }
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
