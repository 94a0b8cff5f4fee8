"""From a raw frame to a typed :class:`Dataset`: choose the target, infer the task, type every column.

Each decision that changes the data (a dropped column, an expanded date, dropped rows) is said in
``Dataset.notes``; input that cannot be used raises :class:`~autometa.errors.InputError`.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from autometa.data._dataset import DATETIME_PARTS, TASKS, Dataset, FeatureKind
from autometa.errors import InputError

#: Column names taken as the target, in this order, when none is given.
TARGET_NAMES = ("target", "class", "label", "y")
#: The fewest rows (after dropping rows with a missing target) that 3-fold CV can use.
MIN_ROWS = 10
#: The folds of the default evaluation protocol: a classification target needs a class this large.
CV_FOLDS = 3
#: An integer-valued target with at most this many distinct values is taken as class labels.
MAX_CLASSES_FOR_INTEGER_TARGET = 20
#: More distinct integers are labels only when they run from 0 or 1 with at most this share of the range
#: missing, and every value is on at least MIN_ROWS_PER_LABEL rows and on average on MEAN_ROWS_PER_LABEL.
MAX_MISSING_LABEL_SHARE = 0.05
MIN_ROWS_PER_LABEL = 2
MEAN_ROWS_PER_LABEL = 5
#: A categorical column with more levels than this is said in the notes (encoders cap it).
HIGH_CARDINALITY = 1000
_ID_NAME = re.compile(r"^(id|index|row|unnamed: ?\d+|.*[_ ]id)$", re.IGNORECASE)


def prepare(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    name: str = "dataset",
    source: str | None = None,
    declared_target: str | None = None,
    declared_task: str | None = None,
    categorical: tuple[str, ...] | list[str] = (),
) -> Dataset:
    """Type ``frame`` into a :class:`Dataset` (the target is one of its columns)."""
    where = f"'{source}'" if source else f"dataset '{name}'"
    notes: list[str] = []
    if frame.shape[1] == 0:
        raise InputError(f"{where} has no columns; give a table with feature columns and a target column.")
    if frame.shape[0] == 0:
        raise InputError(f"{where} has no rows; give a table with at least {MIN_ROWS} rows.")
    columns = [str(c) for c in frame.columns]
    duplicated = pd.Index(columns)[pd.Index(columns).duplicated()]
    if len(duplicated):
        raise InputError(f"{where} has two columns named '{duplicated[0]}'; give every column a unique name.")
    frame = frame.copy()
    frame.columns = columns

    target = _choose_target(frame, target, declared_target, where, notes)
    y = frame[target]
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise InputError(f"{where} has no feature columns besides the target '{target}'.")

    missing_target = y.isna().to_numpy()
    if missing_target.all():
        raise InputError(f"Target column '{target}' in {where} is entirely missing; choose another column with --target.")
    if missing_target.any():
        notes.append(f"Dropped {int(missing_target.sum())} rows whose target '{target}' is missing.")
        X, y = X.loc[~missing_target], y.loc[~missing_target]
    X = X.reset_index(drop=True)
    y = y.reset_index(drop=True)

    task = _choose_task(y, task or None, declared_task, target, where, notes)
    if len(y) < MIN_ROWS:
        raise InputError(
            f"{where} has only {len(y)} rows with a target; at least {MIN_ROWS} are needed to cross-validate."
        )
    y = _clean_target(y, task, target, where)
    if task == "classification":
        _say_rare_classes(y, notes)

    kinds: dict[str, FeatureKind] = {}
    kept: dict[str, pd.Series] = {}
    constants: dict[str, pd.Series] = {}
    declared_categorical = set(categorical)
    unknown = sorted(declared_categorical - set(X.columns) - {target})
    if unknown:
        raise InputError(f"Column '{unknown[0]}', given as categorical, is not in {where}; check its spelling.")
    for column in X.columns:
        kind, values = _type_column(X[column], column, column in declared_categorical, where, notes)
        kinds[column] = kind
        if kind is FeatureKind.DATETIME:
            kept.update(values)
        elif kind.is_kept:
            kept[column] = values[column]
        elif kind is FeatureKind.CONSTANT:
            constants[column] = values[column]
    _say_dropped(kinds, FeatureKind.CONSTANT, "constant", "a single value; meta-features still count them", notes)
    _say_dropped(kinds, FeatureKind.ID_LIKE, "ID-like", "a different value on every row", notes)
    if not kept:
        raise InputError(f"{where} has no usable feature: every column is constant, ID-like or empty.")
    features = pd.DataFrame(kept, index=y.index)
    return Dataset(X=features, y=y, task=task, name=name, target=target, feature_kinds=kinds,
                   notes=tuple(notes), source=source,
                   constants=pd.DataFrame(constants, index=y.index) if constants else None)


def _say_rare_classes(y: pd.Series, notes: list[str]) -> None:
    counts = y.value_counts()
    rare = counts[counts < CV_FOLDS]
    if len(rare):
        shown = ", ".join(f"{label!r} ({n})" for label, n in rare.head(5).items()) + (", ..." if len(rare) > 5 else "")
        many = len(rare) > 1
        notes.append(f"{len(rare)} class{'es have' if many else ' has'} fewer rows than the {CV_FOLDS} "
                     f"cross-validation folds ({shown}): some training folds lack {'them' if many else 'it'}; "
                     f"{'they are' if many else 'it is'} kept.")


def _say_dropped(kinds: dict[str, FeatureKind], kind: FeatureKind, label: str, reason: str,
                 notes: list[str]) -> None:
    names = [c for c, k in kinds.items() if k is kind]
    if not names:
        return
    shown = ", ".join(f"'{c}'" for c in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    plural = "s" if len(names) > 1 else ""
    notes.append(f"Dropped {len(names)} {label} column{plural} ({reason}): {shown}.")


def _choose_target(frame: pd.DataFrame, target: str | None, declared: str | None, where: str, notes: list[str]) -> str:
    if target is not None:
        if target in frame.columns:
            return target
        matches = [c for c in frame.columns if c.lower() == target.lower()]
        if len(matches) == 1:
            return matches[0]
        shown = ", ".join(repr(c) for c in list(frame.columns)[:8]) + (", ..." if frame.shape[1] > 8 else "")
        raise InputError(f"Target column '{target}' is not in {where}; its columns are {shown}.")
    if declared is not None and declared in frame.columns:
        return declared
    lowered = {c.lower(): c for c in frame.columns}
    found = [lowered[n] for n in TARGET_NAMES if n in lowered]
    if len({c.lower() for c in frame.columns if c.lower() in TARGET_NAMES}) > 1:
        raise InputError(
            f"{where} has several columns that could be the target ({', '.join(repr(c) for c in found)}); "
            "say which one with --target."
        )
    if found:
        notes.append(f"Using column '{found[0]}' as the target (pass --target to choose another).")
        return found[0]
    last = frame.columns[-1]
    notes.append(f"Using the last column '{last}' as the target (pass --target to choose another).")
    return last


def _choose_task(y: pd.Series, task: str | None, declared: str | None, target: str, where: str,
                 notes: list[str]) -> str:
    if task is not None:
        if task not in TASKS:
            raise InputError(f"Unknown task '{task}'; use 'classification' or 'regression'.")
        return task
    if declared in TASKS:
        return declared
    inferred, reason = _infer_task(y)
    notes.append(f"Task inferred as {inferred} from target '{target}': {reason} (pass --task, or task= in Python, "
                 "to choose).")
    return inferred


def infer_task(y: pd.Series) -> str:
    """``classification`` or ``regression`` for target ``y`` (the rule: see :func:`_infer_task`)."""
    return _infer_task(y)[0]


def _infer_task(y: pd.Series) -> tuple[str, str]:
    """The task, and the reason in words.

    Text, boolean and categorical targets are classes; non-integer numbers are regressed. Integers are
    class labels when there are at most MAX_CLASSES_FOR_INTEGER_TARGET values, or when they look like
    coded labels: non-negative, running from 0 or 1 with at most MAX_MISSING_LABEL_SHARE of the range
    missing, every value on at least MIN_ROWS_PER_LABEL rows and on MEAN_ROWS_PER_LABEL on average (letter
    recognition's 26 classes 1..26, a 200-class 0..199). Counts, prices and scores spread over a wider
    range, with gaps and single-row values in their tails, so they are regressed.
    """
    if isinstance(y.dtype, pd.CategoricalDtype) or y.dtype == bool or not pd.api.types.is_numeric_dtype(y):
        return "classification", "text, boolean or categorical values are classes"
    values = y.dropna().to_numpy(dtype=float)
    if not (np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        return "regression", "it holds non-integer numbers"
    counts = pd.Series(values).value_counts()
    k = len(counts)
    if k <= MAX_CLASSES_FOR_INTEGER_TARGET:
        return "classification", f"integers with {k} distinct values (at most {MAX_CLASSES_FOR_INTEGER_TARGET}) are classes"
    low, high = float(values.min()), float(values.max())
    span = high - low + 1
    labels = (low in (0.0, 1.0) and span - k <= MAX_MISSING_LABEL_SHARE * span
              and counts.min() >= MIN_ROWS_PER_LABEL and len(values) >= MEAN_ROWS_PER_LABEL * k)
    if labels:
        return "classification", (f"{k} integer values {low:.0f}..{high:.0f}, each on {int(counts.min())}+ rows, look "
                                  "like coded class labels")
    return "regression", (f"{k} distinct integers ({low:.0f}..{high:.0f}) look like quantities, not coded class "
                          f"labels (those run from 0 or 1 without gaps, each on {MIN_ROWS_PER_LABEL}+ rows)")


def _clean_target(y: pd.Series, task: str, target: str, where: str) -> pd.Series:
    if task == "regression":
        numeric = pd.to_numeric(y, errors="coerce")
        bad = numeric.isna() & y.notna()
        if bad.any():
            example = y[bad].iloc[0]
            raise InputError(
                f"Target '{target}' in {where} is not numeric (e.g. {example!r}), so it cannot be regressed; "
                "use --task classification."
            )
        numeric = numeric.astype(float)
        if not np.isfinite(numeric.to_numpy()).all():
            raise InputError(f"Target '{target}' in {where} has infinite values; replace them with finite numbers.")
        if numeric.nunique() < 2:
            raise InputError(f"Target '{target}' in {where} has a single value; there is nothing to predict.")
        return numeric.rename(target)
    if pd.api.types.is_float_dtype(y.dtype):
        values = y.dropna().to_numpy(dtype=float)
        fractional = values[np.isfinite(values) & (values != np.round(values))]
        if len(fractional):
            raise InputError(
                f"Target '{target}' in {where} has fractional values (e.g. {fractional[0]:g}), which are not classes; "
                "use --task regression, or bin the target into classes first."
            )
    counts = y.value_counts()
    if len(counts) < 2:
        raise InputError(
            f"Target '{target}' in {where} has a single class ({y.iloc[0]!r}); classification needs at least two."
        )
    if len(counts) == len(y):
        raise InputError(
            f"Target '{target}' in {where} has a different value on every row ({len(y)} rows), so it holds no classes "
            "to learn; choose another target column, or use --task regression if it is a quantity."
        )
    if counts.max() < CV_FOLDS:
        raise InputError(
            f"Target '{target}' in {where} has no class with {CV_FOLDS} rows ({len(counts)} classes, the largest has "
            f"{counts.max()}), so {CV_FOLDS}-fold cross-validation cannot stratify it; merge rare classes or add rows."
        )
    if isinstance(y.dtype, pd.CategoricalDtype):
        y = y.astype(y.cat.categories.dtype)
    return y.rename(target)


def _type_column(col: pd.Series, name: str, declared_categorical: bool, where: str,
                 notes: list[str]) -> tuple[FeatureKind, dict[str, pd.Series]]:
    n = len(col)
    present = col.dropna()
    if present.empty:
        raise InputError(
            f"Column '{name}' in {where} is entirely missing; drop it from the table (or fill it) and retry."
        )
    if pd.api.types.is_datetime64_any_dtype(col) or (col.dtype == object and _looks_like_dates(present)):
        return FeatureKind.DATETIME, _expand_datetime(col, name, notes)

    if col.dtype == object and not declared_categorical:
        col = _coerce_object(col, name, where, notes)
    if pd.api.types.is_bool_dtype(col):
        col = col.astype("category")
    is_numeric = pd.api.types.is_numeric_dtype(col) and not declared_categorical
    if is_numeric:
        values = col.to_numpy(dtype=float)
        if np.isinf(values).any():
            row = int(np.flatnonzero(np.isinf(values))[0])
            raise InputError(
                f"Column '{name}' in {where} has an infinite value (row {row + 1}); replace it with a finite number "
                "or leave the cell empty."
            )

    try:
        n_unique = present.nunique()
    except TypeError:  # lists, dicts or sets in cells: unhashable, so not values of a feature
        example = next(v for v in present if not isinstance(v, (str, int, float, bool)))
        raise InputError(
            f"Column '{name}' in {where} holds {type(example).__name__} values (e.g. {str(example)[:40]}), not "
            "numbers or text; flatten it into columns of plain values, or drop it."
        ) from None
    if n_unique <= 1:  # kept aside: models gain nothing from it, meta-features still count it
        return FeatureKind.CONSTANT, {name: col.astype(float) if is_numeric else _as_category(col, declared_categorical)}
    if n_unique == n and n >= MIN_ROWS and _is_identifier(col, name, is_numeric):
        return FeatureKind.ID_LIKE, {}
    if is_numeric:
        return FeatureKind.NUMERIC, {name: col.astype(float)}
    if n_unique > HIGH_CARDINALITY:
        notes.append(
            f"Column '{name}' is categorical with {n_unique} levels; models encode it with a cap on levels."
        )
    return FeatureKind.CATEGORICAL, {name: _as_category(col, declared_categorical)}


def _as_category(col: pd.Series, declared_categorical: bool) -> pd.Series:
    if isinstance(col.dtype, pd.CategoricalDtype) and not declared_categorical:
        return col
    return col.astype(str).where(col.notna()).astype("category")


def _coerce_object(col: pd.Series, name: str, where: str, notes: list[str]) -> pd.Series:
    """Text that is really numbers becomes numeric; a few numbers among text stays text; a mix is an error.

    Numbers written with a decimal comma ("5,1", "1.234,5": a ';'-separated file from a European
    spreadsheet) are numbers too, and the note says so.
    """
    present = col.dropna()
    # More than a tenth of the values not numbers rules out both outcomes that need the whole
    # column (all numbers, or a few text cells among >= 90% numbers), and a text column shows it in
    # its first tenth: parsing only that keeps typing a wide text-heavy table cheap.
    head = present.iloc[: len(present) // 10 + 1].astype(str).str.strip()
    decimal_comma = _has_decimal_commas(head, name, where)
    if decimal_comma:
        head = _from_decimal_comma(head)
    if int(pd.to_numeric(head, errors="coerce").isna().sum()) > 0.1 * len(present):
        return col
    text = present.astype(str).str.strip()
    if decimal_comma:
        text = _from_decimal_comma(text)
    as_number = pd.to_numeric(text, errors="coerce")
    if not decimal_comma and as_number.isna().any():  # decimal commas that first appear past the head
        unparsed = text[as_number.isna()]
        if unparsed.str.contains(",", regex=False).all() and _has_decimal_commas(unparsed, name, where):
            decimal_comma = True
            as_number = pd.to_numeric(_from_decimal_comma(text), errors="coerce")
    share = float(as_number.notna().mean())
    if share == 1.0:
        if decimal_comma:
            written = present.astype(str)
            example = written[written.str.contains(",", regex=False)].iloc[0]
            notes.append(f"Column '{name}' holds numbers with a decimal comma (e.g. {example!r}); read as numbers.")
        return as_number.reindex(col.index)
    if share >= 0.9:
        bad = present[as_number.isna()]
        raise InputError(
            f"Column '{name}' in {where} mixes numbers and text (e.g. {bad.iloc[0]!r} among numbers); "
            "clean those cells or leave them empty."
        )
    return col


_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?([eE][+-]?\d+)?$")


def _has_decimal_commas(head: pd.Series, name: str, where: str) -> bool:
    """Whether the first values are numbers written with a decimal comma (an ambiguous "1,234" refuses)."""
    with_comma = head[head.str.contains(",", regex=False)]
    if with_comma.empty or not head.str.match(_DECIMAL_COMMA).all():
        return False
    decimals = with_comma.str.extract(r",(\d+)", expand=False).str.len()
    if (decimals == 3).all():  # "1,234": a thousands separator as much as a decimal comma
        raise InputError(
            f"Column '{name}' in {where} holds numbers like {with_comma.iloc[0]!r}, where the comma may be a decimal "
            "comma or a thousands separator; write them without thousands separators and with a decimal point."
        )
    return True


def _from_decimal_comma(text: pd.Series) -> pd.Series:
    matches = text.str.match(_DECIMAL_COMMA)
    converted = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return converted.where(matches, text)


def _is_identifier(col: pd.Series, name: str, is_numeric: bool) -> bool:
    if not is_numeric:
        return True  # text unique on every row: names, keys, hashes
    values = col.to_numpy(dtype=float)
    if not np.all(values == np.round(values)):
        return False  # real-valued measurements are often unique per row
    ordered = np.sort(values)
    consecutive = np.all(np.diff(ordered) == 1)
    return bool(consecutive or _ID_NAME.match(name))


def _looks_like_dates(present: pd.Series) -> bool:
    sample = present.astype(str).head(200)
    if not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).mean() > 0.9:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.95)


def _expand_datetime(col: pd.Series, name: str, notes: list[str]) -> dict[str, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(col, errors="coerce", format="mixed") if col.dtype == object else col
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    parts = {f"{name}_{part}": getattr(stamps.dt, part) for part in DATETIME_PARTS}
    kept = {k: v.astype(float) for k, v in parts.items() if v.dropna().nunique() > 1}
    notes.append(
        f"Expanded datetime column '{name}' into {', '.join(kept) or 'nothing (it never changes)'}."
    )
    return kept
