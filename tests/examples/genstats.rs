//! Print what the pair generator exercises: `cargo run -p liteshift-tests --example genstats -- N`.
use liteshift_tests::check::{check_pair, PairOutcome};
use liteshift_tests::gen::{pair, Seeded};
use std::collections::BTreeMap;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let (mut migrated, mut refused, mut failed, mut steps) = (0, 0, 0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..n {
        let pr = pair(&mut Seeded(seed), 1 + (seed % 5) as usize);
        let (a, b) = (&pr.a, &pr.b);
        if seed < 2 {
            println!("--- a\n{a}--- b\n{b}");
        }
        if let Ok(p) = liteshift::plan_diff(
            a,
            "a",
            b,
            &liteshift::Options {
                allow_data_loss: true,
                hints: pr.hints.clone(),
                ..Default::default()
            },
        ) {
            for s in &p.plan.steps {
                let k: String = s
                    .reason
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                *kinds.entry(k).or_default() += 1;
            }
        }
        match check_pair(&pr, 3, true) {
            Ok(PairOutcome::Migrated { steps: s }) => {
                migrated += 1;
                steps += s;
            }
            Ok(PairOutcome::Refused) => refused += 1,
            Err(e) => {
                failed += 1;
                if failed < 3 {
                    println!("FAIL: {e}");
                }
            }
        }
    }
    println!("{n} pairs: {migrated} migrated ({steps} steps), {refused} refused, {failed} failed");
    for (k, v) in kinds {
        println!("{v:6}  {k}");
    }
}
