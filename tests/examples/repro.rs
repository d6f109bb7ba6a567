//! Re-run one generated pair: `cargo run -p liteshift-tests --example repro -- SEED EDITS [loss]`.
use liteshift_tests::check::check_pair;
use liteshift_tests::gen::{pair, Seeded};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let seed: u64 = a[1].parse().unwrap();
    let edits: usize = a[2].parse().unwrap();
    let loss = a.get(3).map(|s| s == "loss").unwrap_or(false);
    let p = pair(&mut Seeded(seed), edits);
    match check_pair(&p, 3, loss) {
        Ok(o) => println!(
            "ok: {o:?}\n--- a\n{}--- b\n{}--- hints {:?}",
            p.a, p.b, p.hints.columns
        ),
        Err(e) => println!("FAIL: {e}"),
    }
}
