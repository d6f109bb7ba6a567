//! Runs the fuzz targets' check functions over their seed corpora (and the schema corpus in
//! `../shared/corpus` when present), so CI exercises them without a fuzzer.

use std::fs;
use std::path::Path;

use liteshift_tests::check::{check_declared_text, check_pair_from_bytes};

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn declared_schema_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut inputs = files(&root.join("fuzz/seeds/declared_schema"));
    assert!(inputs.len() >= 5);
    match liteshift_tests::corpus_dir() {
        Some(c) => {
            for p in files(&c).into_iter().filter(|p| p.is_dir()) {
                inputs.extend(
                    files(&p)
                        .into_iter()
                        .filter(|f| f.extension().is_some_and(|e| e == "sql")),
                );
            }
        }
        None => eprintln!("SKIPPED: ../shared/corpus is not present; only the committed seeds run"),
    }
    for f in &inputs {
        let data = fs::read(f).unwrap();
        if let Err(e) = check_declared_text(&data) {
            panic!("{}: {e}", f.display());
        }
    }
    eprintln!("declared_schema: {} inputs checked", inputs.len());
}

#[test]
fn plan_pairs_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/plan_pairs");
    let inputs = files(&root);
    assert!(inputs.len() >= 10);
    for f in &inputs {
        let data = fs::read(f).unwrap();
        if let Err(e) = check_pair_from_bytes(&data) {
            panic!("{}: {e}", f.display());
        }
    }
}
