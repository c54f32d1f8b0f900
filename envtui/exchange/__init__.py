"""Export, import and diff of environments; docker save / load (later issues)."""
