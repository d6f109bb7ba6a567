//! UniFFI's binding generator, built from the same UniFFI version as the library.
fn main() {
    uniffi::uniffi_bindgen_main()
}
