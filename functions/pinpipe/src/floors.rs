//! The library's shape as a test: its folders are floors (lib.rs lists them), a module
//! imports only from its own floor or the ones below, and no files import each other
//! in a circle. Read from the sources (every `crate::`, `super::` and child path
//! outside comments and test modules), so a new upward arrow or cycle fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module's floor (lib.rs's list).
const FLOORS: &[(&str, u8)] = &[
    ("kind", 0),
    ("config", 0),
    ("failure", 0),
    ("telemetry", 0),
    ("retry", 0),
    ("record", 1),
    ("delivery", 1),
    ("lake", 2),
    ("stream", 3),
    ("sink", 3),
    ("silver", 3),
    ("maintenance", 3),
    ("metrics", 3),
    ("analytics", 4),
    ("ingest", 4),
    ("deployment", 5),
];

/// Every module's source, by path (`lake::delta`), without comments and test modules.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, &[prefix, &[name]].concat(), out);
            } else if path.extension().is_some_and(|e| e == "rs") && name != "tests" && name != "floors" {
                let module = if name == "mod" || name == "lib" { prefix.to_vec() } else { [prefix, &[name]].concat() };
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
                out.insert(module.join("::"), code.join("\n"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &[], &mut out);
    out
}

/// The paths a module's code names: `crate::a::b`, `super::c` and its children's `d::…`,
/// including the members of `use …::{…}` groups.
fn named_paths(module: &str, code: &str, known: &BTreeMap<String, String>) -> Vec<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let join = |base: &str, rest: &str| match (base.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => base.to_owned(),
        _ => format!("{base}::{rest}"),
    };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find("::") {
        let at = from + found;
        from = at + 2;
        let start = code[..at].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let head = &code[start..at];
        let preceded = code[..start].ends_with("::");
        let tail = &code[at + 2..];
        let path_end = tail.find(|c| !is_ident(c)).unwrap_or(tail.len());
        let path = tail[..path_end].trim_end_matches(':');
        let base = match head {
            "crate" if !preceded => Some(String::new()),
            "super" if !preceded => Some(parent.to_owned()),
            child if !preceded && known.contains_key(&join(module, child)) => Some(join(module, child)),
            _ => None,
        };
        if let Some(base) = base {
            if tail[path_end..].starts_with('{') {
                let group = &tail[path_end + 1..tail[path_end..].find('}').map_or(tail.len(), |i| path_end + i)];
                let base = join(&base, path);
                for member in group.split(',').map(|m| m.trim().split(" as ").next().unwrap_or_default()) {
                    paths.push(join(&base, member));
                }
            } else {
                paths.push(join(&base, path));
            }
        }
    }
    paths
}

/// The module a path points into: its longest prefix that is a module.
fn module_of(path: &str, known: &BTreeMap<String, String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| known.contains_key(m))
}

fn floor(module: &str) -> u8 {
    let top = module.split("::").next().unwrap_or_default();
    FLOORS.iter().find(|(name, _)| *name == top).unwrap_or_else(|| panic!("{top} has no floor in FLOORS")).1
}

#[test]
fn the_library_has_floors_and_no_cycles() {
    let known = modules();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in known.iter().filter(|(m, _)| !m.is_empty()) {
        for path in named_paths(module, code, &known) {
            if let Some(target) = module_of(&path, &known).filter(|t| t != module && !t.is_empty()) {
                edges.entry(module).or_default().insert(target);
            }
        }
    }
    assert!(
        edges.get("config").is_some_and(|e| e.contains("kind")),
        "the reader sees config's import of kind: {edges:?}"
    );

    let upward: Vec<String> = edges
        .iter()
        .flat_map(|(from, to)| to.iter().filter(|t| floor(t) > floor(from)).map(move |t| format!("{from} → {t}")))
        .collect();
    assert!(upward.is_empty(), "imports from a floor above: {upward:?}");

    // A cycle: a module that reaches itself through its imports.
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<String>> = vec![vec![start.to_string()]];
        while let Some(trail) = stack.pop() {
            for next in edges.get(trail.last().unwrap().as_str()).into_iter().flatten() {
                assert_ne!(next, start, "an import cycle: {} → {next}", trail.join(" → "));
                if seen.insert(next.clone()) {
                    stack.push([trail.clone(), vec![next.clone()]].concat());
                }
            }
        }
    }
}
