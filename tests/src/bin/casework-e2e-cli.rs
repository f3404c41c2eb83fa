//! The `casework` program under another name, so the end-to-end tests can run the real CLI
//! (the binary is `casework_cli::main()` and nothing else).

fn main() -> std::process::ExitCode {
    casework_cli::main()
}
