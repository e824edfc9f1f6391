//! Generates the client from the checked-in spec on every build where it changed: the
//! code lands in `OUT_DIR` and is never edited or committed.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with `env!`: a build script compiled in one checkout
    // and reused from a shared target directory must still read this checkout's spec.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")?;
    let spec_path = Path::new(&manifest_dir).join("../../contracts/auth.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let spec: openapiv3::OpenAPI = serde_yaml::from_reader(std::fs::File::open(&spec_path)?)?;
    let mut generator = progenitor::Generator::default();
    let tokens = generator.generate_tokens(&spec).map_err(|e| {
        format!(
            "progenitor cannot generate a client from {}: {e}",
            spec_path.display()
        )
    })?;
    let out = Path::new(&std::env::var("OUT_DIR")?).join("gatehouse_client.rs");
    std::fs::write(out, tokens.to_string())?;
    Ok(())
}
