//! The crate's layout, checked: which top-level module may import which (the request flow of
//! `docs/architecture.md`), and no import cycle between any two files.
//!
//! Imports are read from the source text: `use` trees (re-exports by `pub use` are not
//! dependencies) and `crate::…` / `super::…` paths in code. A path counts for the longest module
//! prefix that is a file. Test modules are left out, and a module may always use its ancestors
//! (a parent holds what its children share).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Whom each top-level module may import; leaves import only other leaves listed here.
const ALLOWED: &[(&str, &[&str])] = &[
    ("app", &["*"]),
    ("cli", &["*"]),
    (
        "http",
        &["auth", "config", "error", "identity", "jsonrpc", "metrics", "telemetry"],
    ),
    ("auth", &["config", "identity", "metrics"]),
    ("authz", &["arguments", "audit", "config", "identity", "metrics"]),
    (
        "mcp",
        &[
            "arguments",
            "audit",
            "authz",
            "config",
            "egress",
            "error",
            "identity",
            "jsonrpc",
            "metrics",
            "sse",
        ],
    ),
    (
        "a2a",
        &[
            "arguments",
            "audit",
            "authz",
            "config",
            "egress",
            "error",
            "identity",
            "jsonrpc",
            "metrics",
            "state",
        ],
    ),
    (
        "llm",
        &[
            "arguments",
            "audit",
            "authz",
            "config",
            "egress",
            "error",
            "identity",
            "metrics",
            "state",
        ],
    ),
    ("egress", &["config"]),
    ("audit", &["batched", "config", "identity", "metrics"]),
    ("batched", &[]),
    ("error", &["jsonrpc"]),
    ("arguments", &[]),
    ("config", &[]),
    ("identity", &[]),
    ("jsonrpc", &[]),
    ("metrics", &[]),
    ("sse", &[]),
    ("state", &[]),
    ("telemetry", &["batched"]),
];

#[test]
fn top_level_modules_import_in_one_direction() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            let (Some(a), Some(b)) = (from.first(), to.first()) else {
                continue;
            };
            if a == b {
                continue;
            }
            let allowed = ALLOWED.iter().find(|(m, _)| m == a).map(|(_, may)| *may);
            match allowed {
                None => wrong.push(format!("{a} is not in tests/layout.rs's ALLOWED table")),
                Some(may) if may.contains(&"*") || may.contains(&b.as_str()) => {}
                Some(_) => wrong.push(format!(
                    "{} imports {} ({a} may not import {b})",
                    from.join("::"),
                    to.join("::")
                )),
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the layout:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let graph = graph();
    let cycles = cycles(&graph);
    let shown: Vec<String> = cycles
        .iter()
        .map(|c| c.iter().map(|m| m.join("::")).collect::<Vec<_>>().join(" → "))
        .collect();
    assert!(
        shown.is_empty(),
        "import cycles between files:\n  {}",
        shown.join("\n  ")
    );
}

#[test]
fn the_reader_sees_real_imports() {
    // The checks above are only as good as the reading: a few imports known to exist.
    let graph = graph();
    let has = |from: &str, to: &str| {
        let from: Module = from.split("::").map(String::from).collect();
        let to: Module = to.split("::").map(String::from).collect();
        graph.get(&from).is_some_and(|t| t.contains(&to))
    };
    assert!(has("mcp::dispatch", "mcp::hub"));
    assert!(has("mcp::upstream::supervisor", "egress::credentials"));
    assert!(has("http::authn", "auth"));
    assert!(has("app", "mcp::transport"));
}

// === reading the source ===

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    collect(&root, &root, &mut files);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &files {
        if module.iter().any(|s| s == "tests") {
            continue;
        }
        let mut targets = BTreeSet::new();
        for path in paths(text) {
            let Some(full) = resolve(module, &path) else { continue };
            let Some(target) = (0..=full.len())
                .rev()
                .map(|k| full[..k].to_vec())
                .find(|m| known.contains(m))
            else {
                continue;
            };
            // A module may use itself and its ancestors.
            if !module.starts_with(&target) {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut module: Module = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|l| l == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Every `crate::`/`super::`/`self::` path the file's code names, outside tests and comments.
fn paths(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or("")
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let line_start = rest[..at].rfind('\n').map_or(0, |i| i + 1);
        let prefix = rest[line_start..at].trim();
        // A `use` statement (not a re-export, not the word in a string).
        let statement = prefix.is_empty() || prefix.starts_with("pub(");
        let end = rest[at..].find(';').map(|e| at + e);
        scan_inline(&rest[..at], &mut out);
        match end {
            Some(end) if statement => {
                let tree: String = rest[at + 4..end].chars().filter(|c| !c.is_whitespace()).collect();
                expand("", &tree, &mut out);
                rest = &rest[end + 1..];
            }
            _ => rest = &rest[at + 4..],
        }
    }
    scan_inline(rest, &mut out);
    out.retain(|p| matches!(p.first().map(String::as_str), Some("crate" | "super" | "self")));
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<Vec<String>>) {
    let Some(open) = tree.find('{') else {
        let path = format!("{prefix}{}", tree.split(" as ").next().unwrap_or(tree));
        out.push(path.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        expand(&head, &inner[start..], out);
    }
}

/// Paths written in code: `crate::x::y(…)`, `super::z::W`.
fn scan_inline(code: &str, out: &mut Vec<Vec<String>>) {
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            let preceded = code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !preceded {
                out.push(path.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
            }
            from = at + path.len().max(1);
        }
    }
}

fn resolve(module: &Module, path: &[String]) -> Option<Module> {
    let mut base: Module = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => module.clone(),
        _ => return None,
    };
    let mut rest = if path[0] == "crate" { &path[1..] } else { path };
    while let Some(first) = rest.first() {
        match first.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Strongly connected groups of more than one file.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Two files are in one cycle when each reaches the other.
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Module, BTreeSet<Module>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut groups: Vec<Vec<Module>> = Vec::new();
    for (m, seen) in &reaches {
        if !seen.contains(*m) || groups.iter().any(|g| g.contains(m)) {
            continue;
        }
        let group: Vec<Module> = seen
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*m)))
            .cloned()
            .collect();
        groups.push(group);
    }
    groups
}
