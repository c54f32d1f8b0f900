"""Export, import and diff of environments; docker save / load (later issues)."""

FORMATS = ("environment-yml", "requirements", "conda-lock", "pylock")
"""Export formats; here rather than in files.py so the command line can name them without
importing what reads and writes them."""
