//! The schema migrations under `sql/` are compiled into the binary (`sqlx::migrate!` in
//! `src/store/mod.rs`): rebuild when one of them changes or a new one is added.

fn main() {
    println!("cargo:rerun-if-changed=sql");
}
