//! The `casework` binary: everything is in the library.

fn main() -> std::process::ExitCode {
    casework_cli::main()
}
