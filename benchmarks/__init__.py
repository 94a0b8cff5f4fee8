"""autometa's benchmarks, importable as a package from a source checkout (they are not in the wheel).

Each module is a script with a ``main(argv) -> int`` entry point and writes its results under
``benchmarks/results/``; ``python -m benchmarks.warmstart ...``, ``python benchmarks/warmstart.py ...``
and ``autometa benchmark warmstart ...`` run the same code.
"""
