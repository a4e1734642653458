//! Making the built virtualenv work from any directory (config key `relocatable`).
//!
//! A plain virtualenv names its build path in two places that matter at run time:
//! the shebang of every console script in `bin/`, and the `VIRTUAL_ENV=` line of the
//! `activate` scripts. After the modules are installed and before the tar is written,
//! this module rewrites both:
//!
//! * A script whose shebang names one of the venv's own interpreters becomes a
//!   sh/Python polyglot that runs the interpreter found next to the script's real
//!   location (symlinks to it resolved):
//!
//!   ```text
//!   #!/bin/sh
//!   '''exec' "$(dirname -- "$(readlink -f -- "$0")")/python3" "$0" "$@"
//!   ' '''
//!   <the original script, from its second line on>
//!   ```
//!
//!   For `sh` the second line is `exec <python> <script> <args>`; for Python the
//!   second and third lines are one string literal (the module docstring). An old
//!   installer that still rewrites the first line to `#!<new path>/bin/python` gets
//!   a normal Python script whose first statement is that harmless string.
//! * `activate`, `activate.csh` and `activate.fish` compute `VIRTUAL_ENV` from their
//!   own location when sourced (bash and zsh; tcsh; fish). POSIX shells such as
//!   dash cannot tell which file they are sourcing: there the current directory is
//!   used when it is the virtualenv (or its `bin/`), else the build path, with a
//!   warning.
//!
//! Binaries, symlinks and scripts for other interpreters are left alone. The result
//! depends only on the files and the venv path (deterministic); modes and
//! modification times are kept. A rewritten file is a new file renamed over the
//! old one, never written in place: it may be a hard link into uv's cache.

use crate::error::{IoContext, Result};
use crate::log::Log;
use std::path::{Path, PathBuf};

/// What was rewritten (names relative to `bin/`, sorted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Rewritten {
    pub scripts: Vec<String>,
    pub activate: Vec<String>,
    /// Files that name the venv but could not be rewritten: (name, why).
    pub skipped: Vec<(String, String)>,
}

/// The same for a venv whose files are at `dir` while its scripts name it `venv`
/// (a `--root` build: files on the host, paths as inside the root).
pub(crate) fn make_relocatable_at(dir: &Path, venv: &Path, log: &Log) -> Result<Rewritten> {
    let bin = dir.join("bin");
    // The venv as pip may have spelled it: as given, and with symlinks resolved.
    let mut roots = vec![venv.display().to_string()];
    if let Ok(real) = venv.canonicalize() {
        let real = real.display().to_string();
        if !roots.contains(&real) {
            roots.push(real);
        }
    }
    let mut names: Vec<(String, PathBuf)> = std::fs::read_dir(&bin)
        .ctx("reading", &bin)?
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    let mut report = Rewritten::default();
    for (name, path) in names {
        let meta = std::fs::symlink_metadata(&path).ctx("reading", &path)?;
        if !meta.file_type().is_file() {
            continue; // symlinks (python, python3 ...) and directories stay as they are
        }
        let bytes = std::fs::read(&path).ctx("reading", &path)?;
        if is_binary(&bytes) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let rewritten = match name.as_str() {
            "activate" => activate(&text, &roots, Shell::Sh),
            "activate.csh" => activate(&text, &roots, Shell::Csh),
            "activate.fish" => activate(&text, &roots, Shell::Fish),
            _ => script(&text, &roots),
        };
        let new = match rewritten {
            Rewrite::Unchanged => continue,
            Rewrite::Skipped(why) => {
                log.warn(&format!(
                    "{} names the build path and cannot be made relocatable: {why}",
                    path.display()
                ));
                report.skipped.push((name, why));
                continue;
            }
            Rewrite::Changed(new) => new,
        };
        // Replaced, never written in place: the file may be hard-linked from
        // the installer's cache.
        let mtime = meta.modified().ctx("reading", &path)?;
        crate::util::atomic::replace_contents(&path, new.as_bytes(), Some(mtime))
            .ctx("rewriting", &path)?;
        log.detail(&format!("made relocatable: bin/{name}"));
        if name.starts_with("activate") {
            report.activate.push(name);
        } else {
            report.scripts.push(name);
        }
    }
    Ok(report)
}

#[derive(Debug, PartialEq, Eq)]
enum Rewrite {
    Unchanged,
    Changed(String),
    Skipped(String),
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF") || bytes[..bytes.len().min(8192)].contains(&0)
}

/// The interpreter file name when `path` is `<root>/bin/python*` for one of `roots`.
fn venv_python<'a>(path: &'a str, roots: &[String]) -> Option<&'a str> {
    roots.iter().find_map(|root| {
        let name = path.strip_prefix(root.as_str())?.strip_prefix("/bin/")?;
        let ok = name.starts_with("python")
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        ok.then_some(name)
    })
}

/// The polyglot header for interpreter `python` (a file name in the script's
/// directory), with an optional single interpreter argument and coding line.
fn header(python: &str, arg: Option<&str>, coding: Option<&str>) -> String {
    let mut h = String::from("#!/bin/sh\n");
    if let Some(c) = coding {
        // Line 2 is where Python looks for the encoding declaration; sh skips it.
        h.push_str(c);
        h.push('\n');
    }
    h.push_str(&format!(
        "'''exec' \"$(dirname -- \"$(readlink -f -- \"$0\")\")/{python}\""
    ));
    if let Some(a) = arg {
        h.push_str(&format!(" {a}"));
    }
    h.push_str(" \"$0\" \"$@\"\n' '''\n");
    h
}

fn is_coding_line(line: &str) -> bool {
    line.starts_with('#') && line.contains("coding") && (line.contains(':') || line.contains('='))
}

/// A console script: `#!<venv>/bin/python…` or the long-path form pip and uv
/// write, `#!/bin/sh` + `'''exec' "<venv>/bin/python…" "$0" "$@"` + `' '''`
/// (uv: the interpreter in single quotes).
fn script(text: &str, roots: &[String]) -> Rewrite {
    let Some(first_end) = text.find('\n') else {
        return Rewrite::Unchanged;
    };
    let first = &text[..first_end];
    let rest = &text[first_end + 1..];
    let Some(shebang) = first.strip_prefix("#!") else {
        return Rewrite::Unchanged;
    };
    let shebang = shebang.trim();
    if shebang == "/bin/sh" {
        // pip writes this form when the path is long or has spaces.
        let mut lines = rest.splitn(3, '\n');
        let (Some(exec), Some(close)) = (lines.next(), lines.next()) else {
            return Rewrite::Unchanged;
        };
        let body = lines.next().unwrap_or("");
        // pip quotes the interpreter with double quotes, uv with single quotes.
        let Some(quoted) = exec
            .strip_prefix("'''exec' \"")
            .and_then(|s| s.strip_suffix("\" \"$0\" \"$@\""))
            .or_else(|| {
                exec.strip_prefix("'''exec' '")
                    .and_then(|s| s.strip_suffix("' \"$0\" \"$@\""))
            })
        else {
            return Rewrite::Unchanged;
        };
        if close != "' '''" {
            return Rewrite::Unchanged;
        }
        return match venv_python(quoted, roots) {
            Some(py) => Rewrite::Changed(header(py, None, None) + body),
            None => Rewrite::Unchanged,
        };
    }
    let (interp, arg) = match shebang.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim())),
        None => (shebang, None),
    };
    let Some(py) = venv_python(interp, roots) else {
        return Rewrite::Unchanged;
    };
    if let Some(a) = arg
        && !a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Rewrite::Skipped(format!("unusual interpreter argument {a:?}"));
    }
    // Keep an encoding declaration on line 2, where Python looks for it.
    let (coding, body) = match rest.split_once('\n') {
        Some((second, body)) if is_coding_line(second) => (Some(second), body),
        _ => (None, rest),
    };
    Rewrite::Changed(header(py, arg.filter(|a| !a.is_empty()), coding) + body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shell {
    Sh,
    Csh,
    Fish,
}

/// The block that sets `_cfy_ap_venv` to the venv this file is in. `build` is the
/// build path, the fallback where the shell cannot tell its own file.
fn locate_block(shell: Shell, build: &str) -> String {
    match shell {
        Shell::Sh => format!(
            r#"# cfy-ap: relocatable virtualenv: VIRTUAL_ENV is where this file is.
if [ -n "${{BASH_VERSION:-}}" ]; then
    _cfy_ap_src=${{BASH_SOURCE[0]}}
elif [ -n "${{ZSH_VERSION:-}}" ]; then
    eval '_cfy_ap_src=${{(%):-%x}}'
elif [ -f "$PWD/pyvenv.cfg" ] && [ -f "$PWD/bin/activate" ]; then
    _cfy_ap_src=$PWD/bin/activate
elif [ -f "$PWD/../pyvenv.cfg" ] && [ -f "$PWD/activate" ]; then
    _cfy_ap_src=$PWD/activate
else
    _cfy_ap_src={build_q}/bin/activate
    echo "activate: this shell cannot tell where activate is; using {build_e}. Source it from bash or zsh, or from the virtualenv's directory." >&2
fi
_cfy_ap_venv=$(CDPATH= cd -- "$(dirname -- "$_cfy_ap_src")/.." && pwd -P)
"#,
            build_q = sh_quote(build),
            build_e = build.replace(['"', '`', '$', '\\'], "_"),
        ),
        Shell::Csh => format!(
            r#"# cfy-ap: relocatable virtualenv: VIRTUAL_ENV is where this file is, taken from
# the `source PATH` line in the history of an interactive shell, else the current
# directory when it is the virtualenv or its bin/.
set _cfy_ap_venv = ''
set _cfy_ap_src = ( `history -h 1` )
if ( $#_cfy_ap_src >= 2 ) then
    if ( "$_cfy_ap_src[1]" == "source" && -f "$_cfy_ap_src[2-]" ) then
        set _cfy_ap_venv = "`dirname -- '$_cfy_ap_src[2-]'`/.."
    endif
endif
if ( "$_cfy_ap_venv" == "" ) then
    if ( -f "$cwd/pyvenv.cfg" && -f "$cwd/bin/activate.csh" ) then
        set _cfy_ap_venv = "$cwd"
    else if ( -f "$cwd/../pyvenv.cfg" && -f "$cwd/activate.csh" ) then
        set _cfy_ap_venv = "$cwd/.."
    else
        set _cfy_ap_venv = {build_q}
        echo "activate.csh: cannot tell where activate.csh is; using {build_e}. Source it interactively, or from the virtualenv's directory." > /dev/stderr
    endif
endif
set _cfy_ap_venv = "`cd '$_cfy_ap_venv' && pwd -P`"
"#,
            build_q = sh_quote(build),
            build_e = build.replace(['"', '`', '$', '\\', '!'], "_"),
        ),
        Shell::Fish => format!(
            r#"# cfy-ap: relocatable virtualenv: VIRTUAL_ENV is where this file is.
set -g _cfy_ap_venv (command dirname -- (command dirname -- (command readlink -f -- (status filename))))
if test -z "$_cfy_ap_venv"
    set -g _cfy_ap_venv {build_q}
end
"#,
            build_q = sh_quote(build),
        ),
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Point an activate script's `VIRTUAL_ENV` at its own location.
fn activate(text: &str, roots: &[String], shell: Shell) -> Rewrite {
    let Some(root) = roots.iter().find(|r| text.contains(r.as_str())) else {
        return Rewrite::Unchanged;
    };
    let var = "\"$_cfy_ap_venv\"";
    let mut body = text.to_string();
    for r in roots {
        body = body
            .replace(&format!("\"{r}\""), var)
            .replace(&format!("'{r}'"), var);
        // Unquoted, as a whole word (`VIRTUAL_ENV=/path`, `cygpath /path`).
        body = replace_word(&body, r, var);
    }
    if roots.iter().any(|r| body.contains(r.as_str())) {
        return Rewrite::Skipped("the build path appears in an unexpected form".into());
    }
    // The block goes before the first command: tcsh's `$_` is the `source` line
    // only until then.
    let mut out = String::with_capacity(body.len() + 1024);
    let mut lines = body.split_inclusive('\n').peekable();
    while let Some(l) = lines.next_if(|l| l.starts_with('#')) {
        out.push_str(l);
    }
    out.push_str(&locate_block(shell, root));
    for l in lines {
        out.push_str(l);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(match shell {
        Shell::Sh | Shell::Csh => "unset _cfy_ap_src _cfy_ap_venv\n",
        Shell::Fish => "set -e _cfy_ap_venv\n",
    });
    Rewrite::Changed(out)
}

/// Replace `word` where it stands alone: after start, `=`, space, tab or `(`; before
/// end, newline, space, tab, `)` or `;`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().last();
        let after = rest[i + word.len()..].chars().next();
        let starts = matches!(before, None | Some('=' | ' ' | '\t' | '(' | '\n'));
        let ends = matches!(after, None | Some('\n' | ' ' | '\t' | ')' | ';'));
        out.push_str(&rest[..i]);
        out.push_str(if starts && ends { with } else { word });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<String> {
        vec!["/b/env".to_string()]
    }

    #[test]
    fn console_script_becomes_a_polyglot() {
        let src = "#!/b/env/bin/python3\n# -*- coding: utf-8 -*-\nimport sys\nsys.exit(0)\n";
        let Rewrite::Changed(out) = script(src, &roots()) else {
            panic!()
        };
        assert_eq!(
            out,
            "#!/bin/sh\n# -*- coding: utf-8 -*-\n'''exec' \"$(dirname -- \"$(readlink -f -- \"$0\")\")/python3\" \"$0\" \"$@\"\n' '''\nimport sys\nsys.exit(0)\n"
        );
        // Already relocatable: unchanged (idempotent).
        assert_eq!(script(&out, &roots()), Rewrite::Unchanged);
    }

    #[test]
    fn pips_long_path_form_and_arguments() {
        let src = "#!/bin/sh\n'''exec' \"/b/env/bin/python3.11\" \"$0\" \"$@\"\n' '''\nimport x\n";
        let Rewrite::Changed(out) = script(src, &roots()) else {
            panic!()
        };
        assert!(
            out.ends_with("/python3.11\" \"$0\" \"$@\"\n' '''\nimport x\n"),
            "{out}"
        );
        // uv's launcher for long paths quotes with single quotes.
        let uv = "#!/bin/sh\n'''exec' '/b/env/bin/python' \"$0\" \"$@\"\n' '''\n# -*- coding: utf-8 -*-\nimport x\n";
        let Rewrite::Changed(out) = script(uv, &roots()) else {
            panic!()
        };
        assert_eq!(
            out,
            header("python", None, None) + "# -*- coding: utf-8 -*-\nimport x\n"
        );
        let Rewrite::Changed(out) = script("#!/b/env/bin/python -E\nx\n", &roots()) else {
            panic!()
        };
        assert!(out.contains("/python\" -E \"$0\""), "{out}");
        assert!(matches!(
            script("#!/b/env/bin/python -c 'x y'\n", &roots()),
            Rewrite::Skipped(_)
        ));
    }

    #[test]
    fn other_files_are_left_alone() {
        for src in [
            "#!/usr/bin/env python\nx\n",
            "#!/usr/bin/python3\nx\n",
            "#!/b/envx/bin/python\nx\n",
            "#!/b/env/bin/perl\nx\n",
            "no shebang\n",
            "#!/b/env/bin/python",
        ] {
            assert_eq!(script(src, &roots()), Rewrite::Unchanged, "{src}");
        }
        assert!(is_binary(b"\x7fELF\x02\x01"));
        assert!(is_binary(b"#!/b/env/bin/python\n\0"));
    }

    #[test]
    fn activate_scripts_locate_themselves() {
        let sh = "# comment\n\ndeactivate nondestructive\nVIRTUAL_ENV=\"/b/env\"\nexport VIRTUAL_ENV\nx=$(cygpath /b/env)\n";
        let Rewrite::Changed(out) = activate(sh, &roots(), Shell::Sh) else {
            panic!()
        };
        assert!(out.starts_with("# comment\n# cfy-ap:"), "{out}");
        assert!(out.contains("VIRTUAL_ENV=\"$_cfy_ap_venv\"\n"), "{out}");
        assert!(out.contains("x=$(cygpath \"$_cfy_ap_venv\")\n"), "{out}");
        assert!(out.contains("_cfy_ap_src='/b/env'/bin/activate"), "{out}");
        assert!(out.ends_with("unset _cfy_ap_src _cfy_ap_venv\n"), "{out}");
        let csh = "setenv VIRTUAL_ENV \"/b/env\"\n";
        let Rewrite::Changed(out) = activate(csh, &roots(), Shell::Csh) else {
            panic!()
        };
        assert!(
            out.contains("setenv VIRTUAL_ENV \"$_cfy_ap_venv\""),
            "{out}"
        );
        let fish = "set -gx VIRTUAL_ENV '/b/env'\n";
        let Rewrite::Changed(out) = activate(fish, &roots(), Shell::Fish) else {
            panic!()
        };
        assert!(
            out.contains("set -gx VIRTUAL_ENV \"$_cfy_ap_venv\""),
            "{out}"
        );
        assert!(matches!(
            activate("X=/b/env/lib\n", &roots(), Shell::Sh),
            Rewrite::Skipped(_)
        ));
        assert_eq!(
            activate("nothing\n", &roots(), Shell::Sh),
            Rewrite::Unchanged
        );
    }
}
