"""seeds/ -> corpus: YAML that remembers lines, source texts, evidence spans, file structure,
ingest."""
