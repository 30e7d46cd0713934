"""Pictures made by code: ``draw`` (strokes drawn by a shaky hand, text from fonts, doodles) and
``sets`` (the cached training sets built from them: digits not from MNIST, non-digits to refuse)."""
