//! The test-vector files of `tests/data/`: comma-separated rows under a
//! header line, with `#` comments, blank lines and hex fields.

/// The bytes `text` spells in hex.
pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// One file of `tests/data/`, read whole.
pub struct DataFile {
    pub path: String,
    text: String,
}

impl DataFile {
    /// Reads `tests/data/{name}`.
    pub fn read(name: &str) -> Self {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self { path, text }
    }

    /// The rows under the header line, which must be `header`, each with
    /// its line number and as many fields as the header names; comments
    /// and blank lines skipped.
    pub fn rows(&self, header: &str) -> Vec<(usize, Vec<&str>)> {
        let path = &self.path;
        let mut lines = self
            .text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
        let (_, first) = lines.next().unwrap_or_else(|| panic!("{path}: no header"));
        assert_eq!(first, header, "{path}: unexpected header");
        let fields = header.split(',').count();
        lines
            .map(|(line, l)| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), fields, "{path}:{line}: expected {fields} fields");
                (line, f)
            })
            .collect()
    }
}
