//! The layers of `src/`, read from the code: each `crate::…` path (in a `use` line or in
//! code) is an edge from its file to the file it names. No edge may point up the table,
//! no files may import each other in a circle, and the core stays pure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first: a file may name its own layer and those below. Each layer
/// is a directory of `src/`; `main.rs` and `lib.rs` sit on top.
#[rustfmt::skip]
const LAYERS: &[(&str, &[&str])] = &[
    ("core", &["core"]),
    ("wire", &["wire"]),
    ("report", &["report"]),
    ("hub", &["hub"]),
    ("store", &["store"]),
    ("cluster", &["cluster"]),
    ("web", &["web"]),
    ("app", &["app"]),
    ("top", &["main", "lib"]),
];

/// What the core may not name: it has no runtime, clock, randomness or I/O.
const IMPURE: &str = "tokio rand std::fs std::net SystemTime Instant::now std::io";

/// Each file as its module path (`cluster::console`) with its code, comment lines left out.
fn sources(dir: &Path, src: &Path, files: &mut BTreeMap<String, String>) {
    for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        if path.is_dir() {
            sources(&path, src, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = path.strip_prefix(src).unwrap().with_extension("");
            let module = module
                .to_string_lossy()
                .replace('/', "::")
                .replace("::mod", "");
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            files.insert(module, code.collect::<Vec<_>>().join("\n"));
        }
    }
}

/// The words of `code`: names with their paths (`crate::hub::Hub`, `tokio::spawn`).
fn words(code: &str) -> impl Iterator<Item = &str> {
    code.split(|c: char| !c.is_alphanumeric() && c != '_' && c != ':')
        .filter(|w| !w.is_empty())
}

/// The modules each file names, by the longest prefix of a `crate::…` path that is a
/// file; a `crate::a::{b, c::d}` group is spelled out one level deep.
fn edges(files: &BTreeMap<String, String>) -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    for (file, code) in files {
        for (at, _) in code.match_indices("crate::") {
            let head = words(&code[at..]).next().unwrap();
            let group = code[at + head.len()..].strip_prefix('{');
            let group = group.map_or("", |g| &g[..g.find('}').unwrap()]);
            for path in group
                .split(',')
                .map(|item| head.to_owned() + words(item).next().unwrap_or(""))
            {
                let segments: Vec<&str> = path.split("::").skip(1).collect();
                let named = (1..=segments.len()).rev().map(|n| segments[..n].join("::"));
                let named = named.filter(|m| m != file).find(|m| files.contains_key(m));
                edges.extend(named.map(|m| (file.clone(), m)));
            }
        }
    }
    edges
}

/// Whether `to` can be reached from `from` along `edges`.
fn reaches(edges: &BTreeSet<(String, String)>, from: &str, to: &str) -> bool {
    let (mut seen, mut todo) = (BTreeSet::new(), vec![from]);
    while let Some(at) = todo.pop() {
        for (_, next) in edges.iter().filter(|(a, _)| a == at) {
            if seen.insert(next.as_str()) {
                todo.push(next);
            }
        }
    }
    seen.contains(to)
}

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    let layer = LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&top));
    layer.unwrap_or_else(|| panic!("{module} is in no layer"))
}

#[test]
fn imports_point_down_the_layers_without_a_circle_and_the_core_is_pure() {
    let (src, mut files) = (
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        BTreeMap::new(),
    );
    sources(&src, &src, &mut files);
    let edges = edges(&files);
    eprintln!("import edges: {edges:?}");
    let circles: Vec<_> = edges
        .iter()
        .filter(|(a, b)| reaches(&edges, b, a))
        .collect();
    assert!(circles.is_empty(), "edges in an import circle: {circles:?}");
    let upward: Vec<_> = edges.iter().filter(|(a, b)| layer(b) > layer(a)).collect();
    assert!(upward.is_empty(), "edges that point up a layer: {upward:?}");
    for (file, code) in files.iter().filter(|(file, _)| layer(file) == 0) {
        let named = |w: &str| words(code).any(|t| format!("::{t}::").contains(&format!("::{w}::")));
        let impure: Vec<_> = IMPURE.split(' ').filter(|w| named(w)).collect();
        assert!(impure.is_empty(), "the core file {file} names {impure:?}");
    }
}
