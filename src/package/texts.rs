//! The package's human texts, shared by every format: the synopsis and the
//! extended description (Debian's indented form; rpm takes it unindented).

use super::{AgentInfo, PackagePlan, Role};

/// The Description field value: synopsis line, then the extended description
/// with every line indented by one space and empty lines as ` .`.
pub(crate) fn description(pkg: &PackagePlan, agent: &AgentInfo) -> String {
    if pkg.role == Role::Common {
        return indent(
            format!(
                "Cloudify agent files shared by the {} agents",
                pkg.distribution
            ),
            common_lines(pkg),
        );
    }
    let (synopsis, prose) = match pkg.description.as_deref().map(str::trim) {
        Some(d) => match d.split_once('\n') {
            Some((first, rest)) => (
                first.trim().to_string(),
                rest.trim_matches('\n').to_string(),
            ),
            None => (d.to_string(), String::new()),
        },
        None => (
            format!("Cloudify agent for {} {}", pkg.distribution, pkg.release),
            String::new(),
        ),
    };
    let shared = match &pkg.common {
        Some(c) => format!(
            " The celeryd configuration templates and the script that disables requiretty, \
             which every {} agent shares, are in {c}.",
            pkg.distribution
        ),
        None => String::new(),
    };
    let prose = if prose.is_empty() {
        wrap(&format!(
            "The Cloudify agent for {dist} {rel} hosts: a Python virtualenv with the \
             Cloudify modules, packed as {tar}. It is installed under {res}/packages, where \
             the Cloudify manager serves it to the hosts it installs agents on.{shared}",
            dist = pkg.distribution,
            rel = pkg.release,
            tar = pkg.agent_name,
            res = pkg.resources_dir
        ))
    } else {
        prose
    };
    let mut lines: Vec<String> = prose.lines().map(str::to_string).collect();
    lines.push(String::new());
    lines.push(format!("Distribution: {}", pkg.distribution));
    lines.push(format!("Release: {}", pkg.release));
    lines.push(format!(
        "Architecture of the agent's hosts: {}",
        pkg.agent_architecture
    ));
    match &agent.python_version {
        Some(v) => lines.push(format!("Python: {v}")),
        None => lines.push("Python: not recorded (packaged from an existing agent tar)".into()),
    }
    if !agent.installed.is_empty() {
        lines.push(String::new());
        lines.push("Installed Python modules:".into());
        lines.extend(agent.installed.iter().map(|(n, v)| format!(" {n} {v}")));
    }
    indent(synopsis, lines)
}

/// What the package is, in a few words (changelog entries, copyright comment):
/// `Cloudify agent for debian bookworm`.
pub(crate) fn what(pkg: &PackagePlan) -> String {
    match pkg.role {
        Role::Agent => format!("Cloudify agent for {} {}", pkg.distribution, pkg.release),
        Role::Common => format!(
            "Files shared by the Cloudify agents for {}",
            pkg.distribution
        ),
    }
}

/// The common package's extended description, one line per entry.
fn common_lines(pkg: &PackagePlan) -> Vec<String> {
    let prose = wrap(&format!(
        "The celeryd configuration templates and the script that disables requiretty, \
         shared by the Cloudify agent packages of every {dist} release (they depend on this \
         package). The files are installed under {res}/packages, where the Cloudify manager \
         serves them to the hosts it installs agents on.",
        dist = pkg.distribution,
        res = pkg.resources_dir
    ));
    let mut lines: Vec<String> = prose.lines().map(str::to_string).collect();
    lines.push(String::new());
    lines.push(format!("Distribution: {}", pkg.distribution));
    lines
}

/// `synopsis`, then each line indented by one space, empty lines as ` .`.
fn indent(synopsis: String, lines: Vec<String>) -> String {
    let mut out = synopsis;
    out.push('\n');
    for l in lines {
        let l = l.trim_end();
        if l.is_empty() {
            out.push_str(" .\n");
        } else {
            out.push(' ');
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Greedy word wrap at 76 columns.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        if col > 0 && col + 1 + word.len() > 76 {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// Summary and description without the Debian indentation (` .` lines become
/// empty lines), as rpm's Summary and Description tags take them.
pub(crate) fn summary_and_body(pkg: &PackagePlan, agent: &AgentInfo) -> (String, String) {
    let deb = description(pkg, agent);
    let mut lines = deb.lines();
    let summary = lines.next().unwrap_or_default().to_string();
    let body: Vec<&str> = lines
        .map(|l| {
            let l = l.strip_prefix(' ').unwrap_or(l);
            if l == "." { "" } else { l }
        })
        .collect();
    (summary, body.join("\n").trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping() {
        let w = wrap(&"word ".repeat(40));
        assert!(w.lines().all(|l| l.len() <= 76));
        assert_eq!(w.split_whitespace().count(), 40);
    }
}
