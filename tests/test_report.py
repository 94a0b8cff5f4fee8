"""``autometa.write_report`` and ``autometa tune --report``: one self-contained HTML page per study.

The fast tests read the page as text (sections, escaping, no network references) on a real small study
(scikit-learn's wine, the session's tiny knowledge base) and on made-up studies for the cases a short
real search does not produce (only failed trials, trials stopped on fewer rows, the meta-model's
predictions, an ensemble). The slow test renders the page in headless Chromium with no network.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

import autometa
from autometa.errors import InputError

HOSTILE_NAME = '<script>alert("name")</script>'
HOSTILE_COLUMN = "<img src=x onerror=alert(1)>"
HOSTILE_CONSTANT = '<script>alert("col")</script>'


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def wine_study(tiny_kb, wine_csv, tmp_path_factory):
    """(study, dataset, model): a real 6-trial search on wine and its best config fitted on all rows."""
    from autometa.data import load_dataset

    with pytest.MonkeyPatch.context() as patch:  # the session's meta-model cache (conftest's metamodel_cache)
        patch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "metamodel-cache"))
        dataset = load_dataset(wine_csv)
        study = autometa.tune(dataset, n_trials=6, kb=tiny_kb, n_warm=3, random_state=0)
    return study, dataset, _best_model(study, dataset)


def _best_model(study, dataset):
    """The study's best config fitted on all rows (a FittedModel with its card), as refit makes it."""
    from autometa.models import Candidate, fit_model

    best = study.best_trial
    config = json.loads(best.user_attrs["autometa.config"])
    metric = study.user_attrs["autometa"]["metric"]
    return fit_model([Candidate(best.user_attrs["autometa.family"], config, best.number, best.value)], dataset,
                     metric=metric, cv={"rows": dataset.n_rows, "folds": 3},
                     notes=["A note of the model's <b>card</b>."])


def _record(**extra):
    record = {"format_version": 1, "dataset": "made-up", "task": "classification", "target": "y",
              "metric": "balanced_accuracy", "families": ["lightgbm", "knn", "linear"], "n_rows": 8000,
              "n_features": 12, "protocol": {"version": 1, "k": 3, "seed": 0, "row_cap": 2000, "time_limit": 30.0},
              "fingerprint": "0123456789abcdef"}
    record.update(extra)
    return record


_DISTRIBUTIONS = {"family": CategoricalDistribution(["lightgbm", "knn", "linear"])}


def _trial(number, family, state, *, value=None, rungs=None, **attrs):
    import datetime as dt

    start = dt.datetime(2026, 1, 1, 12, 0, 0) + dt.timedelta(seconds=10 * number)
    user = {"autometa.family": family, "autometa.config": json.dumps({"C": 0.1 * (number + 1)}),
            "autometa.status": "ok" if state != TrialState.FAIL else "failed", "autometa.fit_seconds": 0.5}
    if rungs:
        user["autometa.balanced_accuracy"] = rungs[min(rungs)]
        user["autometa.rows"] = max(rungs)
    user.update({f"autometa.{k}": v for k, v in attrs.items()})
    return FrozenTrial(number=number, state=state, value=value, datetime_start=start,
                       datetime_complete=start + dt.timedelta(seconds=8), params={"family": family},
                       distributions=_DISTRIBUTIONS, user_attrs=user, system_attrs={},
                       intermediate_values=rungs or {}, trial_id=number)


def _page(study, tmp_path, **kwargs) -> str:
    path = autometa.write_report(study, tmp_path / "report.html", **kwargs)
    assert path == tmp_path / "report.html" and path.is_file()
    return path.read_text(encoding="utf-8")


def _assert_self_contained(page: str) -> None:
    """Nothing on the page is fetched: no external src/href, no script, no stylesheet link, no @import."""
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert "<iframe" not in page.lower() and "<img" not in page.lower()


# ----------------------------------------------------------------------------------------- fast tests
def test_report_of_a_real_study_has_every_section_and_needs_no_network(wine_study, tmp_path):
    study, dataset, model = wine_study
    page = _page(study, tmp_path, model=model, dataset=dataset)
    _assert_self_contained(page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for section in ("progress", "families", "advice", "top", "model", "notes"):
        assert f'<section id="{section}">' in page
    assert page.count("<svg ") >= 2  # the best score over trials, the families compared
    assert 'aria-label="best score over trials"' in page and 'aria-label="families compared"' in page
    # The header: data, task, metric, trials, best score and its rows.
    assert "Tuning report: wine" in page and "178 rows × 13 features" in page and "classification" in page
    assert "6 complete · 0 stopped on fewer rows (pruned) · 0 failed" in page
    assert f"{study.best_value:.4f}" in page and "3-fold CV on 178 rows" in page
    # Every trial is a point with a tooltip; the recommendations are ringed and ranked.
    assert page.count("<title>trial ") == 6
    assert "R1</text>" in page or ">R1<" in page
    # The model (from its card) and the notes of the data and of the model.
    assert model.card["members"][0]["family"] in page and "the best single model" in page
    assert "13 training columns" in page
    for note in dataset.notes:
        assert html.escape(note) in page
    assert "A note of the model&#x27;s &lt;b&gt;card&lt;/b&gt;." in page
    # One page per study: the figures' ids do not collide.
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_a_study_alone_still_gets_a_page_that_says_what_is_missing(wine_study, tmp_path):
    study, _, _ = wine_study
    page = _page(study, tmp_path)
    _assert_self_contained(page)
    assert "No fitted model was given to the report" in page
    assert "The data's notes were not given to the report" in page
    assert "178 rows × 13 features" in page  # from the study's record


def test_hostile_names_are_escaped(tiny_kb, tmp_path, monkeypatch, tmp_path_factory):
    import numpy as np
    import pandas as pd

    from autometa.data import load_dataset

    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "metamodel-cache"))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({HOSTILE_COLUMN: rng.normal(size=90), "x": rng.normal(size=90), HOSTILE_CONSTANT: 1.0})
    y = pd.Series((X[HOSTILE_COLUMN] + 0.3 * rng.normal(size=90) > 0).astype(int), name="y")
    dataset = load_dataset(X, y=y, task="classification", name=HOSTILE_NAME)
    assert any(HOSTILE_CONSTANT in note for note in dataset.notes)  # dropped, and said so
    study = autometa.tune(dataset, family="linear", n_trials=2, kb=tiny_kb, n_warm=1, random_state=0)
    page = _page(study, tmp_path, model=_best_model(study, dataset), dataset=dataset)
    _assert_self_contained(page)
    for raw in (HOSTILE_NAME, HOSTILE_COLUMN, HOSTILE_CONSTANT, "<b>card</b>"):
        assert raw not in page
    assert html.escape(HOSTILE_NAME) in page  # the title, the header
    assert f"<code>{html.escape(HOSTILE_COLUMN)}</code>" in page  # the model's training columns
    assert html.escape(HOSTILE_CONSTANT) in page  # the data's notes


def test_a_study_with_only_failed_trials(tmp_path):
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("autometa", _record())
    for number, family in enumerate(("lightgbm", "knn", "lightgbm")):
        study.add_trial(_trial(number, family, TrialState.FAIL, error=f"MemoryError: <{family}> ran out\ntraceback"))
    page = _page(study, tmp_path)
    _assert_self_contained(page)
    assert "0 complete · 0 stopped on fewer rows (pruned) · 3 failed" in page and "no trial finished" in page
    assert 'aria-label="best score over trials"' in page  # the failed trials, marked on the axis
    assert "failed (3)" in page
    assert "<h3>Failed trials</h3>" in page and "MemoryError: &lt;lightgbm&gt; ran out" in page
    assert "2 trials (0, 2)" in page and "traceback" not in page  # grouped; the first line only
    assert '<section id="top">' not in page  # no finished trial to rank


def test_an_empty_study_and_a_study_not_made_by_autometa(tmp_path):
    page = _page(optuna.create_study(), tmp_path)
    assert "No trial was scored." in page and "no trial ran" in page
    plain = optuna.create_study(direction="minimize")
    plain.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.2) ** 2, n_trials=4)
    page = _page(plain, tmp_path)
    _assert_self_contained(page)
    assert "4 complete" in page and page.count("<svg ") >= 2


def _multi_fidelity_study():
    """Rungs of 2,000 and 8,000 rows: two trials reached all rows, three stopped at 2,000, one skipped as a
    twin, one failed; the first three are the meta-model's recommendations, with its predictions."""
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("autometa", _record())
    study.set_user_attr("autometa.rungs", [2000, 8000])
    rec = {"origin": "recommendation 1", "predicted": 0.91, "uncertainty": 0.05}
    study.add_trial(_trial(0, "lightgbm", TrialState.COMPLETE, value=0.88, rungs={2000: 0.85, 8000: 0.88}, **rec))
    study.add_trial(_trial(1, "knn", TrialState.PRUNED, rungs={2000: 0.71}, origin="recommendation 2", predicted=0.62,
                           stopped="the time budget cannot afford 8,000 rows"))
    study.add_trial(_trial(2, "linear", TrialState.PRUNED, rungs={2000: 0.74}, origin="recommendation 3", predicted=0.7))
    study.add_trial(_trial(3, "lightgbm", TrialState.COMPLETE, value=0.9, rungs={2000: 0.86, 8000: 0.9}))
    study.add_trial(_trial(4, "knn", TrialState.PRUNED, rungs={2000: 0.69}))
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"family": "knn"}, distributions=_DISTRIBUTIONS,
                                 user_attrs={"autometa.origin": "recommendation 2"}))  # a twin, skipped
    study.add_trial(_trial(6, "linear", TrialState.FAIL, error="ValueError: bad <config>"))
    return study


def test_trials_stopped_on_fewer_rows_and_the_meta_models_predictions(tmp_path):
    study = _multi_fidelity_study()
    page = _page(study, tmp_path)
    _assert_self_contained(page)
    assert "2 complete · 3 stopped on fewer rows (pruned) · 1 failed · 1 skipped as twins" in page
    assert "0.9000" in page and "3-fold CV on 8,000 of 8,000 rows" not in page
    assert "3-fold CV on 8,000 rows · trial 3, lightgbm" in page
    # Stopped trials are hollow points at their score on fewer rows, said in the legend and the tooltips.
    assert "stopped on fewer rows</text>" in page or "stopped on fewer rows" in page
    assert "trial 1 · knn · 0.7100 on 2,000 rows (stopped there) · recommendation 2" in page
    assert "trial 3 · lightgbm · 0.9000 on 8,000 rows" in page
    # The meta-model's predictions beside what its recommendations scored.
    assert "aria-label=\"the meta-model&#x27;s predictions and what its recommendations scored\"" in page
    assert "0.9100 ± 0.050" in page
    # Why a trial stopped, when it was not its score.
    assert "the time budget cannot afford 8,000 rows: 1 trial (1)" in page
    assert "ValueError: bad &lt;config&gt;" in page
    # The best trials are ranked on the rows they were measured on.
    top = page[page.index('<section id="top">'):page.index('<section id="model">')]
    assert '<td class="n">1</td><td class="n">3</td><td>lightgbm</td>' in top
    assert '<td class="n">2</td><td class="n">0</td><td>lightgbm</td>' in top and "8,000" in top


def test_a_minimized_metric_keeps_the_good_end_readable(tmp_path):
    study = optuna.create_study(direction="minimize")
    study.set_user_attr("autometa", _record(metric="log_loss"))
    values = [0.31, 0.29, 0.35, 0.30, 0.28, 0.33, 9.5]  # one disaster
    for number, value in enumerate(values):
        study.add_trial(_trial(number, "lightgbm", TrialState.COMPLETE, value=value, log_loss=value))
    page = _page(study, tmp_path)
    assert "log loss (lower is better)" in page and "off the chart (1)" in page
    assert "0.2800" in page


def test_an_ensembles_members_and_weights(tmp_path):
    study = _multi_fidelity_study()
    card = {"kind": "selection", "members": [
        {"family": "lightgbm", "config": {"num_leaves": 31}, "trial": 3, "cv_score": 0.9},
        {"family": "lightgbm", "config": {"num_leaves": 7}, "trial": 0, "cv_score": 0.88},
        {"family": "knn", "config": {"n_neighbors": 5}, "trial": 1, "cv_score": 0.71}],
        "weights": [0.5, 0.3, 0.2], "cv": {"rows": 8000, "folds": 3}, "notes": [],
        "trained_on": {"dataset": "made-up", "rows": 8000}, "classes": ["no", "yes"],
        "columns": {"a": {"kind": "numeric"}, "b": {"kind": "categorical", "categories": ["u", "v"]}}}
    page = _page(study, tmp_path, model=card)
    assert "selection</span> ensemble selection (Caruana et al. 2004)" in page
    assert 'aria-label="ensemble weights"' in page
    assert "50.0%" in page and "30.0%" in page and "20.0%" in page
    assert "members scored by 3-fold CV on 8,000 rows" in page and "classes: no, yes" in page
    assert "<code>b</code> · categorical (2 levels)" in page


def test_bad_calls_are_one_sentence(tmp_path):
    study = optuna.create_study()
    with pytest.raises(InputError, match="its folder .* does not exist"):
        autometa.write_report(study, tmp_path / "missing" / "report.html")
    with pytest.raises(InputError, match="it is a folder"):
        autometa.write_report(study, tmp_path)
    with pytest.raises(InputError, match="takes an optuna.Study"):
        autometa.write_report("study.db", tmp_path / "r.html")
    with pytest.raises(InputError, match="model card"):
        autometa.write_report(study, tmp_path / "r.html", model=object())
    with pytest.raises(InputError, match="2 objectives"):
        autometa.write_report(optuna.create_study(directions=["maximize", "minimize"]), tmp_path / "r.html")


def test_cli_tune_writes_the_report(tiny_kb, wine_csv, tmp_path, run_cli, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "metamodel-cache"))
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "2", "--report", str(out),
                                    "--save-model", str(tmp_path / "model"), "--json"])
    assert code == 0, stderr
    assert json.loads(stdout)["report"] == str(out)
    page = out.read_text(encoding="utf-8")
    _assert_self_contained(page)
    assert "2 complete" in page and "the best single model" in page
    assert "Using column &#x27;target&#x27; as the target" in page  # the data's notes
    # Without --save-model no model is fitted for the report, and the page says so.
    code, stdout, stderr = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", "--report", str(out)])
    assert code == 0, stderr
    said = " ".join(stdout.split())  # rich wraps long lines
    assert f"report written to {out} (no fitted model in it: --save-model fits one)" in said
    assert "No fitted model was given to the report" in out.read_text(encoding="utf-8")


def test_cli_checks_the_report_path_before_the_search(wine_csv, tmp_path, run_cli):
    code, stdout, stderr = run_cli(["tune", str(wine_csv), "-n", "1", "--report", str(tmp_path / "no" / "r.html")])
    assert code == 2 and "Cannot write the report" in stderr and "does not exist" in stderr
    assert "tune" not in stdout


# ----------------------------------------------------------------------------------------- slow: a real browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: Chromium with no network: every host name resolves to nothing and every request goes to a dead proxy.
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--disable-background-networking", "--disable-sync", "--disable-component-update",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--hide-scrollbars"]


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium); "
                    "the report is not rendered")
def test_the_report_renders_in_headless_chromium_with_no_network(wine_study, tmp_path):
    chromium = _chromium()
    import numpy as np
    from PIL import Image

    study, dataset, model = wine_study
    path = autometa.write_report(study, tmp_path / "report.html", model=model, dataset=dataset)
    profile = tmp_path / "profile"
    url = path.resolve().as_uri()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([chromium, *OFFLINE, f"--user-data-dir={profile}", *args, url], capture_output=True,
                              text=True, timeout=120)

    dom = run("--virtual-time-budget=5000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert rendered.count("<svg") >= 2 and "</svg>" in rendered
    for text in ("Tuning report: wine", "Best score over trials", "Families compared", "The fitted model",
                 "178 rows × 13 features", f"{study.best_value:.4f}", "Loading the data"):
        assert text in rendered, text
    assert rendered.count("<title>trial ") == len(study.trials)  # the SVG survived HTML parsing

    shot = tmp_path / "report.png"
    drawn = run("--window-size=1200,2000", f"--screenshot={shot}")
    assert drawn.returncode == 0 and shot.is_file(), drawn.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (2000, 1200)
    ink = pixels.min(axis=2) < 200  # text, lines, points: not the page's near-white background and cards
    assert ink.mean() > 0.01, f"a blank page? {ink.mean():.2%} of the pixels are inked"
    assert ink[:300].mean() > 0.01 and ink[300:1000].mean() > 0.01  # the header, the first figure
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, figures, anti-aliasing
    # The figures are drawn: the first family's colour (matplotlib's tab:blue) covers a fair number of pixels.
    blue = np.abs(pixels - np.array([0x1F, 0x77, 0xB4])).sum(axis=2) < 40
    assert blue.sum() > 100
