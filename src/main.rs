//! `dtk`: the command line that hospital IT and HIM use to script the core.
fn main() {}
