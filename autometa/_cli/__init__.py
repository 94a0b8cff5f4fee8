"""Command groups of the ``autometa`` CLI, one module per verb (see ``cli.py``).

Each module defines ``register(app)`` and imports only typer/rich at module level; anything heavy
(pandas, scikit-learn, torch) is imported inside the command so that ``autometa --help`` starts fast.
"""
