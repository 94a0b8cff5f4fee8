"""The ``autometa`` command line: ``_app.py`` (the app, the entry point, errors -> exit codes), one module
per verb, shared options (``_options.py``) and output (``_common.py``).

Each verb module defines ``register(app)`` and imports only typer/rich at module level; anything heavy
(pandas, scikit-learn, torch) is imported inside the command so that ``autometa --help`` starts fast.
Commands are thin: they parse, call one public function of the library, and print.
"""
