"""Sphinx configuration of the course site: the notebooks as committed, never executed."""

project = "minigrad"
author = "the minigrad authors"
copyright = "2026, the minigrad authors"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # the committed outputs are the ones nbval checks
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "minigrad: privacy-preserving machine learning from scratch"
html_static_path = ["_static"]
html_theme_options = {"show_toc_level": 2}
# MathJax is copied into _static by the build (python tools/site.py): no CDN at read time
mathjax_path = "mathjax/tex-chtml-full.js"

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type"]
