//! The layering of the crate's top-level modules, checked from the source.
//!
//! Every `.rs` file under `src/` is read, its comments and literals blanked out, and each
//! path that leaves its top-level module is collected: `crate::x…` in use trees (grouped ones
//! too) and inline paths, `super::…` that climbs to the crate root, and in the binary
//! (`src/main.rs`, which calls the library's `cli`) `agent_packager::x…`. A name re-exported at the crate root
//! (`pub use plan::{Options, Plan}` in `src/lib.rs`) counts as the module it comes from.
//! Unit tests (`#[cfg(test)] mod …`) are left out: they are compiled only into the test
//! binary, where the whole crate is present, so a test of `plan` that builds with
//! `writers::ALL` does not make `plan` depend on `writers`.
//!
//! The graph must have no cycle, and the README's
//! "Project layout" section shows it as rendered here (between the `module-graph` markers;
//! `CFY_AP_UPDATE_GRAPH=1 cargo test --test layering` rewrites that block).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

const BEGIN: &str = "<!-- module-graph:begin -->";
const END: &str = "<!-- module-graph:end -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_cycles_between_top_level_modules() {
    let graph = crate_graph(&root().join("src"));
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|scc| describe_cycle(&graph, scc))
        .collect();
    assert!(
        found.is_empty(),
        "cycles between top-level modules of src/:\n{}",
        found.join("\n")
    );
}

#[test]
fn readme_shows_the_module_graph() {
    let graph = crate_graph(&root().join("src"));
    let block = format!("```text\n{}```\n", render(&graph));
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no {BEGIN} … {END} block");
    };
    let start = b + BEGIN.len() + 1;
    let current = &readme[start..e];
    if current == block {
        return;
    }
    if std::env::var_os("CFY_AP_UPDATE_GRAPH").is_some_and(|v| v == "1") {
        let updated = format!("{}{}{}", &readme[..start], block, &readme[e..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "README.md's module graph is out of date \
         (CFY_AP_UPDATE_GRAPH=1 cargo test --test layering rewrites it); it should read:\n{block}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reading the tree.

/// Which crate a file belongs to, and so what its paths mean.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Crate {
    /// `src/lib.rs` and the library's modules: `crate::x` is the library's module `x`.
    Lib,
    /// `src/main.rs`: `agent_packager::x` is the library's module `x` (its `main` is `cli`'s).
    Bin,
}

/// The graph of the tree under `src`: one node per top-level module (the binary's `cli`
/// among them), an edge per module used from another.
fn crate_graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules = declared_modules(&lib);
    let reexports = root_reexports(&lib);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let Some((krate, module_path)) = module_of(rel) else {
            continue; // src/lib.rs: the crate root, above every module
        };
        let top = module_path[0].clone();
        let text = std::fs::read_to_string(&file).unwrap();
        let used = references(&text, krate, &module_path);
        let entry = graph.entry(top.clone()).or_default();
        for name in used {
            let target = if modules.contains(&name) {
                Some(name)
            } else {
                reexports.get(&name).cloned()
            };
            if let Some(target) = target.filter(|t| *t != top) {
                entry.insert(target);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate and module path of a file under `src/`, or `None` for the library's root.
fn module_of(rel: &Path) -> Option<(Crate, Vec<String>)> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap().to_string();
    if parts.is_empty() {
        return match stem.as_str() {
            "lib" => None,
            "main" => Some((Crate::Bin, vec!["cli".to_string()])),
            _ => Some((Crate::Lib, vec![stem])),
        };
    }
    if stem != "mod" {
        parts.push(stem);
    }
    Some((Crate::Lib, parts))
}

/// The `mod` items of a crate root.
fn declared_modules(root: &str) -> BTreeSet<String> {
    let tokens = lex(root);
    let mut out = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        if let (Tok::Ident(m), Some(Tok::Ident(name))) = (t, tokens.get(i + 1))
            && m == "mod"
        {
            out.insert(name.clone());
        }
    }
    out
}

/// Names the crate root re-exports, each with the top-level module it comes from.
fn root_reexports(root: &str) -> BTreeMap<String, String> {
    let tokens = lex(root);
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Tok::Ident("use".into()) {
            let (paths, next) = use_tree(&tokens, i + 1);
            for path in paths {
                let name = path.alias.as_ref().or(path.segments.last());
                if let (Some(first), Some(name)) = (path.segments.first(), name)
                    && path.segments.len() > 1
                {
                    out.insert(name.clone(), first.clone());
                }
            }
            i = next;
        } else {
            i += 1;
        }
    }
    out
}

/// The first segment after the crate root of every path in `text` that names the crate's root
/// (`crate::` in the library, `agent_packager::` in the binary, or `super::` climbing out of
/// the file's top-level module), outside `#[cfg(test)]` modules.
fn references(text: &str, krate: Crate, module_path: &[String]) -> BTreeSet<String> {
    let tokens = lex(text);
    let mut out = BTreeSet::new();
    // Inline modules open around the current token: (name, brace depth inside it, is a test).
    let mut inline: Vec<(String, usize, bool)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let in_test = inline.iter().any(|m| m.2);
        match &tokens[i] {
            Tok::Open('{') => depth += 1,
            Tok::Close('}') => {
                if inline.last().is_some_and(|m| m.1 == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open('{'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1, in_test || is_cfg_test(&tokens, i)));
                }
            }
            Tok::Ident(start) if !in_test && tokens.get(i + 1) == Some(&Tok::PathSep) => {
                // `a::crate::b` is not a root path (nor would it compile); only a path's start.
                let at_start = i == 0 || tokens[i - 1] != Tok::PathSep;
                let rooted = match (start.as_str(), krate) {
                    ("crate", Crate::Lib) | ("agent_packager", Crate::Bin) => Some(i + 2),
                    ("super", _) => {
                        let mut j = i;
                        let mut ups = 0;
                        while tokens.get(j) == Some(&Tok::Ident("super".into()))
                            && tokens.get(j + 1) == Some(&Tok::PathSep)
                        {
                            ups += 1;
                            j += 2;
                        }
                        let here = module_path.len() + inline.len();
                        (ups >= here && krate == Crate::Lib).then_some(j)
                    }
                    _ => None,
                };
                if let (true, Some(from)) = (at_start, rooted) {
                    let (paths, next) = use_tree(&tokens, from);
                    for path in paths {
                        if let Some(first) = path.segments.into_iter().next()
                            && first != "self"
                        {
                            out.insert(first);
                        }
                    }
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Whether the attributes right before token `i` (an item's `mod`, after any `pub(…)`)
/// include `#[cfg(test)]`.
fn is_cfg_test(tokens: &[Tok], i: usize) -> bool {
    let mut j = i;
    // Step back over a visibility: `pub`, `pub(crate)`, `pub(super)`, `pub(in a::b)`.
    if j >= 1 && tokens[j - 1] == Tok::Close(')') {
        while j > 0 && tokens[j - 1] != Tok::Open('(') {
            j -= 1;
        }
        j = j.saturating_sub(1);
    }
    if j >= 1 && tokens[j - 1] == Tok::Ident("pub".into()) {
        j -= 1;
    }
    // Then over each attribute `# [ … ]`, looking for `cfg ( test )`.
    while j >= 1 && tokens[j - 1] == Tok::Close(']') {
        let end = j - 1;
        let mut k = end;
        let mut level = 0;
        loop {
            match tokens[k] {
                Tok::Close(_) => level += 1,
                Tok::Open(_) => level -= 1,
                _ => {}
            }
            if level == 0 || k == 0 {
                break;
            }
            k -= 1;
        }
        let attr = &tokens[k..=end];
        let test = [
            Tok::Open('['),
            Tok::Ident("cfg".into()),
            Tok::Open('('),
            Tok::Ident("test".into()),
            Tok::Close(')'),
            Tok::Close(']'),
        ];
        if attr == test {
            return true;
        }
        if k == 0 || tokens[k - 1] != Tok::Punct('#') {
            return false;
        }
        j = k - 1;
    }
    false
}

/// One path of a use tree: its segments, and the name it is imported as when renamed.
#[derive(Debug, PartialEq)]
struct UsePath {
    segments: Vec<String>,
    alias: Option<String>,
}

/// The paths of a use tree (or of an inline path) starting at token `i`, and the index after
/// it. `a::{b, c::{d, e as f}}` is `a::b`, `a::c::d` and `a::c::e` (as `f`).
fn use_tree(tokens: &[Tok], i: usize) -> (Vec<UsePath>, usize) {
    let mut prefix = Vec::new();
    let mut i = i;
    loop {
        match tokens.get(i) {
            Some(Tok::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                if tokens.get(i) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                let mut alias = None;
                if tokens.get(i) == Some(&Tok::Ident("as".into())) {
                    if let Some(Tok::Ident(a)) = tokens.get(i + 1) {
                        alias = Some(a.clone());
                    }
                    i += 2;
                }
                let path = UsePath {
                    segments: prefix,
                    alias,
                };
                return (vec![path], i);
            }
            Some(Tok::Open('{')) => {
                let mut out = Vec::new();
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some(Tok::Close('}')) => return (out, i + 1),
                        Some(Tok::Punct(',')) => i += 1,
                        None => return (out, i),
                        Some(_) => {
                            let (paths, next) = use_tree(tokens, i);
                            if next == i {
                                i += 1; // `*` or anything else that names no module
                            } else {
                                i = next;
                            }
                            for p in paths {
                                out.push(UsePath {
                                    segments: prefix.iter().cloned().chain(p.segments).collect(),
                                    alias: p.alias,
                                });
                            }
                        }
                    }
                }
            }
            // `*`, `<` (turbofish) or the end: the path stops here.
            _ => {
                let out = if prefix.is_empty() {
                    vec![]
                } else {
                    vec![UsePath {
                        segments: prefix,
                        alias: None,
                    }]
                };
                return (out, i);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A lexer just good enough for paths: identifiers, `::`, brackets and other punctuation, with
// comments (doc comments included), string, byte-string, raw-string and char literals,
// lifetimes and numbers dropped.

#[derive(Clone, PartialEq, Debug)]
enum Tok {
    Ident(String),
    PathSep,
    Open(char),
    Close(char),
    Punct(char),
}

fn lex(text: &str) -> Vec<Tok> {
    let s: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut level = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    level += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    level -= 1;
                    i += 2;
                    if level == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&s, i);
        } else if c == '\'' {
            i = skip_quote(&s, i);
        } else if c.is_ascii_digit() {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let after = s.get(i).copied();
            match (word.as_str(), after) {
                ("b" | "c", Some('"')) => i = skip_string(&s, i),
                ("b", Some('\'')) => i = skip_quote(&s, i),
                ("r" | "br" | "cr", Some('"' | '#')) => {
                    let mut hashes = 0;
                    let mut j = i;
                    while s.get(j) == Some(&'#') {
                        hashes += 1;
                        j += 1;
                    }
                    if s.get(j) == Some(&'"') {
                        i = skip_raw_string(&s, j, hashes);
                    } else if word == "r" && hashes == 1 {
                        // A raw identifier, `r#type`: the name without its prefix.
                        let start = j;
                        i = j;
                        while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                            i += 1;
                        }
                        out.push(Tok::Ident(s[start..i].iter().collect()));
                    } else {
                        out.push(Tok::Ident(word));
                    }
                }
                _ => out.push(Tok::Ident(word)),
            }
        } else if c == ':' && next == Some(':') {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(match c {
                '{' | '(' | '[' => Tok::Open(c),
                '}' | ')' | ']' => Tok::Close(c),
                _ => Tok::Punct(c),
            });
            i += 1;
        }
    }
    out
}

/// Past a `"…"` literal starting at `i` (the opening quote).
fn skip_string(s: &[char], mut i: usize) -> usize {
    i += 1;
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Past a raw string whose opening quote is at `i`, closed by `"` and `hashes` `#`s.
fn skip_raw_string(s: &[char], mut i: usize, hashes: usize) -> usize {
    i += 1;
    while i < s.len() {
        if s[i] == '"' && (1..=hashes).all(|k| s.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// Past a char literal or a lifetime starting at `i` (the quote).
fn skip_quote(s: &[char], i: usize) -> usize {
    match (s.get(i + 1), s.get(i + 2)) {
        // '\n', '\'', '\u{…}'
        (Some('\\'), _) => {
            let mut j = i + 3;
            while j < s.len() && s[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        // 'a'
        (Some(_), Some('\'')) => i + 3,
        // 'a, 'static: a lifetime or label, whose name is no path.
        _ => {
            let mut j = i + 1;
            while j < s.len() && (s[j].is_alphanumeric() || s[j] == '_') {
                j += 1;
            }
            j
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cycles and layers.

/// The strongly connected components with more than one module (or a module that uses
/// itself), each sorted, in sorted order (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    sccs(graph)
        .into_iter()
        .filter(|c| c.len() > 1 || graph[&c[0]].contains(&c[0]))
        .collect()
}

/// Every strongly connected component, each sorted, in sorted order.
fn sccs(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(st: &mut State<'a>, v: &'a str) {
        let n = st.index.len();
        st.index.insert(v, n);
        st.low.insert(v, n);
        st.stack.push(v);
        st.on_stack.insert(v);
        for w in st.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !st.index.contains_key(w) {
                visit(st, w);
                let lw = st.low[w];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if st.on_stack.contains(w) {
                let iw = st.index[w];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = st.stack.pop().unwrap();
                st.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            st.out.push(comp);
        }
    }
    let mut st = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !st.index.contains_key(v.as_str()) {
            visit(&mut st, v);
        }
    }
    let mut out = st.out;
    out.sort();
    out
}

/// A component's members and one shortest cycle through its first member, with the edges
/// that close it: `{a, b, c}: a → b → c → a`.
fn describe_cycle(graph: &Graph, scc: &[String]) -> String {
    let members: BTreeSet<&str> = scc.iter().map(String::as_str).collect();
    let start = scc[0].as_str();
    // Breadth-first from start's successors back to start, inside the component.
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut found = false;
    while let Some(v) = queue.pop_front() {
        for w in &graph[v] {
            let w = w.as_str();
            if !members.contains(w) {
                continue;
            }
            if w == start {
                prev.insert(start, v);
                found = true;
                break;
            }
            if !prev.contains_key(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
        if found {
            break;
        }
    }
    let mut path = vec![start];
    let mut v = prev[start];
    while v != start {
        path.push(v);
        v = prev[v];
    }
    path.push(start);
    path.reverse();
    format!("  {{{}}}: {}", scc.join(", "), path.join(" → "))
}

/// The graph as text, bottom layer first: a module's layer is one above the highest of the
/// modules it uses (0 for one that uses none); the members of a cycle share a layer and are
/// marked `(cycle N)`. One line per module: `layer  module  uses`, sorted by layer then name.
fn render(graph: &Graph) -> String {
    let comps = sccs(graph);
    let comp_of: BTreeMap<&str, usize> = comps
        .iter()
        .enumerate()
        .flat_map(|(k, c)| c.iter().map(move |m| (m.as_str(), k)))
        .collect();
    let mut layer: BTreeMap<usize, usize> = BTreeMap::new();
    fn layer_of(
        k: usize,
        comps: &[Vec<String>],
        comp_of: &BTreeMap<&str, usize>,
        graph: &Graph,
        memo: &mut BTreeMap<usize, usize>,
    ) -> usize {
        if let Some(&l) = memo.get(&k) {
            return l;
        }
        let mut l = 0;
        for m in &comps[k] {
            for d in &graph[m] {
                let dk = comp_of[d.as_str()];
                if dk != k {
                    l = l.max(layer_of(dk, comps, comp_of, graph, memo) + 1);
                }
            }
        }
        memo.insert(k, l);
        l
    }
    let cyclic: Vec<usize> = (0..comps.len())
        .filter(|&k| comps[k].len() > 1 || graph[&comps[k][0]].contains(&comps[k][0]))
        .collect();
    let mut rows = Vec::new();
    for (m, deps) in graph {
        let k = comp_of[m.as_str()];
        let l = layer_of(k, &comps, &comp_of, graph, &mut layer);
        rows.push((l, m.clone(), deps, cyclic.iter().position(|&c| c == k)));
    }
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let width = graph.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (l, m, deps, cycle) in rows {
        let uses = if deps.is_empty() {
            "-".to_string()
        } else {
            deps.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        let mark = cycle.map_or(String::new(), |c| format!(" (cycle {})", c + 1));
        out.push_str(&format!("{l}  {m:width$}  {uses}{mark}\n"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The checker's own tests: it must see what it is meant to see, and fail on a cycle.

fn graph_of(edges: &[(&str, &[&str])]) -> Graph {
    edges
        .iter()
        .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
        .collect()
}

fn names(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn references_read_use_trees_and_inline_paths() {
    let text = r#"
        use crate::{a, b::c, d::{e, f::g as h}};
        use crate::util::*;
        use std::collections::BTreeMap;
        pub(crate) fn f() -> crate::error::Result<()> {
            let x = crate::codec::Setting::<u8>::new();
            crate::log::step!("x");
            Ok(())
        }
        pub(in crate::plan) struct S;
    "#;
    let got = references(text, Crate::Lib, &["top".to_string()]);
    assert_eq!(
        got,
        names(&["a", "b", "d", "util", "error", "codec", "log", "plan"])
    );
}

#[test]
fn references_ignore_comments_literals_and_tests() {
    let text = r####"
        // use crate::line_comment;
        /// [`crate::doc_comment`]
        /* use crate::block; /* crate::nested */ crate::still_comment */
        const A: &str = "crate::string \" crate::escaped";
        const B: &str = r#"crate::raw " crate::raw_inside"#;
        const C: &[u8] = br##"crate::raw_bytes"#crate::more"##;
        const D: char = '"';
        fn g<'a>(x: &'a str) -> &'a str { let _ = crate::kept::X; x }
        #[cfg(test)]
        mod tests {
            use crate::only_in_tests;
            mod inner { use crate::nested_test; }
        }
        #[cfg(test)]
        pub(crate) mod more_tests { use crate::pub_test; }
        #[cfg(unix)]
        mod unix { use crate::platform; }
        mod a::crate::b {}
    "####;
    let got = references(text, Crate::Lib, &["top".to_string()]);
    assert_eq!(got, names(&["kept", "platform"]));
}

#[test]
fn references_follow_super_out_of_the_top_module_only() {
    let text = "
        use super::sibling;
        use super::super::out_of_top;
        mod inner { use super::super::super::from_inner; use super::super::stays; }
    ";
    // src/top/sub.rs: module path [top, sub]; two `super`s reach the crate root.
    let got = references(text, Crate::Lib, &["top".to_string(), "sub".to_string()]);
    assert_eq!(got, names(&["out_of_top", "from_inner"]));
}

#[test]
fn references_in_the_binary_go_through_the_library_name() {
    let text = "
        use agent_packager::{Error, config, log::Log};
        use crate::cli::args;
        fn f() { agent_packager::util::malloc::tune_allocator(); }
    ";
    let got = references(text, Crate::Bin, &["cli".to_string()]);
    // `crate::cli` is the binary's own module, not the library's.
    assert_eq!(got, names(&["Error", "config", "log", "util"]));
}

#[test]
fn module_of_maps_files_to_top_level_modules() {
    let m = |p: &str| module_of(Path::new(p));
    assert_eq!(m("lib.rs"), None);
    assert_eq!(m("main.rs"), Some((Crate::Bin, vec!["cli".into()])));
    assert_eq!(
        m("cli/args.rs"),
        Some((Crate::Lib, vec!["cli".into(), "args".into()]))
    );
    assert_eq!(m("plan/mod.rs"), Some((Crate::Lib, vec!["plan".into()])));
    assert_eq!(
        m("pipeline.rs"),
        Some((Crate::Lib, vec!["pipeline".into()]))
    );
    assert_eq!(
        m("writers/deb/data.rs"),
        Some((
            Crate::Lib,
            vec!["writers".into(), "deb".into(), "data".into()]
        ))
    );
}

#[test]
fn root_reexports_name_their_modules() {
    let lib = "pub mod a; mod b;\npub use a::Thing;\npub use b::{c::Other, Third as T};\n";
    assert_eq!(declared_modules(lib), names(&["a", "b"]));
    let r = root_reexports(lib);
    assert_eq!(r["Thing"], "a");
    assert_eq!(r["Other"], "b");
    assert_eq!(r["T"], "b");
    assert!(!r.contains_key("Third"));
}

#[test]
fn an_acyclic_graph_has_no_cycles_and_renders_in_layers() {
    let g = graph_of(&[
        ("util", &[]),
        ("codec", &["util"]),
        ("plan", &["util", "codec"]),
        ("cli", &["plan", "util"]),
    ]);
    assert!(cycles(&g).is_empty());
    assert_eq!(
        render(&g),
        "0  util   -\n1  codec  util\n2  plan   codec, util\n3  cli    plan, util\n"
    );
}

#[test]
fn cycles_are_found_with_a_path_through_them() {
    let g = graph_of(&[
        ("a", &["b"]),
        ("b", &["c", "util"]),
        ("c", &["a"]),
        ("d", &["e", "a"]),
        ("e", &["d"]),
        ("self_user", &["self_user"]),
        ("util", &[]),
    ]);
    assert_eq!(
        cycles(&g),
        vec![
            vec!["a".to_string(), "b".into(), "c".into()],
            vec!["d".into(), "e".into()],
            vec!["self_user".into()],
        ]
    );
    assert_eq!(
        describe_cycle(&g, &cycles(&g)[0]),
        "  {a, b, c}: a → b → c → a"
    );
    assert_eq!(describe_cycle(&g, &cycles(&g)[1]), "  {d, e}: d → e → d");
    assert_eq!(
        describe_cycle(&g, &cycles(&g)[2]),
        "  {self_user}: self_user → self_user"
    );
    // The members of a cycle share a layer; d and e sit above the cycle they use.
    assert_eq!(
        render(&g),
        "0  self_user  self_user (cycle 3)\n\
         0  util       -\n\
         1  a          b (cycle 1)\n\
         1  b          c, util (cycle 1)\n\
         1  c          a (cycle 1)\n\
         2  d          a, e (cycle 2)\n\
         2  e          d (cycle 2)\n"
    );
}

#[test]
fn the_shortest_cycle_is_named_when_there_are_several() {
    // a → b → c → d → a and a → d → a: the shorter one through a is shown.
    let g = graph_of(&[
        ("a", &["b", "d"]),
        ("b", &["c"]),
        ("c", &["d"]),
        ("d", &["a"]),
    ]);
    assert_eq!(
        describe_cycle(&g, &cycles(&g)[0]),
        "  {a, b, c, d}: a → d → a"
    );
}
