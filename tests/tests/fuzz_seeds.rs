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

/// The `database_image` target's seeds (valid images), and a few hundred deterministic kinds
/// of damage to them (`check::damage_image`).
#[test]
fn database_image_seeds() {
    use liteshift_tests::check::{check_database_image, damage_image};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/database_image");
    let inputs = files(&root);
    assert!(inputs.len() >= 3);
    let damaged = std::env::var("LITESHIFT_IMAGE_DAMAGE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120u64);
    for f in &inputs {
        let image = fs::read(f).unwrap();
        if let Err(e) = check_database_image(&image) {
            panic!("{}: {e}", f.display());
        }
        for seed in 0..damaged {
            let bad = damage_image(&image, seed);
            if let Err(e) = check_database_image(&bad) {
                panic!("{} damaged with seed {seed}: {e}", f.display());
            }
        }
    }
    eprintln!(
        "database_image: {} seeds, {damaged} kinds of damage each",
        inputs.len()
    );
}

/// The seeds are what `check::seed_image` makes (regenerate them with
/// `LITESHIFT_WRITE_IMAGE_SEEDS=1`).
#[test]
fn database_image_seeds_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/database_image");
    if std::env::var_os("LITESHIFT_WRITE_IMAGE_SEEDS").is_some() {
        fs::create_dir_all(&root).unwrap();
        for rows in [0u32, 40, 400] {
            fs::write(
                root.join(format!("rows{rows}.db")),
                liteshift_tests::check::seed_image(rows),
            )
            .unwrap();
        }
    }
    for rows in [0u32, 40, 400] {
        let f = root.join(format!("rows{rows}.db"));
        let image = fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(&image[..16], b"SQLite format 3\0");
    }
}
