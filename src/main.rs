//! The `cfy-ap` command line: all of it is the library's `cli` module.

fn main() -> std::process::ExitCode {
    agent_packager::main()
}
