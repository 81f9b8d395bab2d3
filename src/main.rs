//! The `iras` binary: wiring only; the CLI lives in `iras_local::cli`.

fn main() -> std::process::ExitCode {
    iras_local::cli::main()
}
