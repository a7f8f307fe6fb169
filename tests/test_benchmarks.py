"""The benchmark suite (benchmarks/run.py) runs end to end on tiny sizes and writes valid JSON and Markdown.

No timing is asserted (speed is what the suite reports, not what the tests check);
the values every route computed are checked against mpmath by the suite itself,
and here its recorded errors are held to a few float64 ulps.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import expressions, kalman, measure, report, routes, run  # noqa: E402

EPS = np.finfo(np.float64).eps


def test_suite_writes_json_and_markdown(tmp_path):
    out = tmp_path / "results"
    results = run.main(["--sizes", "1000", "3000", "--kalman-sizes", "--expressions", "normal_pdf",
                        "--routes", "theano lambdify", "numpy", "--repeat", "2", "--no-plots", "-q",
                        "--out", str(out)])
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["settings"]["sizes"] == [1000, 3000]
    assert on_disk["machine"]["usable_cores"] >= 1 and on_disk["machine"]["versions"]["numpy"] == np.__version__
    [expr] = on_disk["expressions"]
    assert expr["name"] == "normal pdf" and set(expr["routes"]) == {"theano lambdify", "numpy"}
    assert all(r["status"] == "ok" and r["setup_s"] > 0 for r in expr["routes"].values())
    for size in expr["sizes"]:
        assert set(size["times_s"]) == {"theano lambdify", "numpy"}
        assert all(e <= 4 * EPS for e in size["errors"].values()), size["errors"]
        assert size["ours_route"] == "theano lambdify" and size["fastest_peer"] == "numpy"
        assert size["ours_over_fastest_peer"] == pytest.approx(size["ours_s"] / size["fastest_peer_s"])
        assert size["floor_s"] > 0 and size["ours_over_floor"] > 0
        share = size["cpu_over_wall"]
        assert size["ours_over_fastest_peer_cpu"] == pytest.approx(   # one route on each side
            size["ours_s"] * share["theano lambdify"] / (size["fastest_peer_s"] * share["numpy"]))
    md = (out / "results.md").read_text()
    assert md == report.markdown(results)
    assert "| normal pdf | 3000 | theano lambdify |" in md and "## normal pdf" in md
    # merging runs keeps each route's best time and recomputes the ratios from the merged times
    faster = json.loads(json.dumps(on_disk))
    faster["expressions"][0]["sizes"][0]["times_s"]["numpy"] /= 4
    merged = report.best_of([on_disk, faster])["expressions"][0]["sizes"][0]
    assert merged["fastest_peer_s"] == faster["expressions"][0]["sizes"][0]["times_s"]["numpy"]
    assert merged["ours_over_fastest_peer"] == pytest.approx(merged["ours_s"] / merged["fastest_peer_s"])


def test_failing_and_missing_routes_are_reported(tmp_path):
    absent = routes.Route("absent peer", "peer", routes.ROUTES[4].build, needs=("no_such_module_stp",))
    chosen = routes.by_name(["numpy", "numpy+scipy"]) + [absent]
    [special] = expressions.by_name(["special"])
    args = run.parse_args(["--sizes", "500", "--repeat", "1", "-q"])
    result = run.run_expression(special, chosen, args.sizes, args)
    numpy_route, scipy_route = result["routes"]["numpy"], result["routes"]["numpy+scipy"]
    assert numpy_route["status"] == "fails" and "besselj" in numpy_route["reason"]
    assert result["routes"]["absent peer"]["status"] == "skipped"
    assert "no_such_module_stp" in result["routes"]["absent peer"]["reason"]
    assert scipy_route["status"] == "ok"
    [size] = result["sizes"]
    assert size["errors"]["numpy+scipy"] <= 16 * EPS
    assert size["ours_s"] is None and size["ours_over_fastest_peer"] is None
    assert size["fastest_peer"] == "numpy+scipy"
    # a route's outputs are all checked: a wrong output count is an error, not a silent pass
    with pytest.raises(ValueError, match="2 outputs, expected 1"):
        measure.sample_error([np.zeros(500)] * 2, [np.zeros(3)], np.arange(3))


def test_kalman_peers_against_mpmath(monkeypatch, tmp_path):
    # our compiled variants are tested in test_kalman.py; here the hand-written peers and the
    # mpmath reference go through the suite's Kalman path (compiling ours would take seconds)
    monkeypatch.setattr(kalman, "OURS", {})
    args = run.parse_args(["--kalman-sizes", "6", "--repeat", "1", "-q"])
    result = run.run_kalman(args.kalman_sizes, args)
    [size] = result["sizes"]
    assert size["N"] == 6 and size["k"] == 3
    measured = [name for name, r in result["routes"].items() if r["status"] == "ok"]
    assert {"numpy", "scipy cho_solve"} <= set(measured)
    assert all(size["errors"][name] <= 64 * EPS for name in measured), size["errors"]
    report.write_all({"started": "", "finished": "", "seconds": 0.0, "machine": report.machine()
                          | {"load_average_end": [0.0]}, "settings": {}, "expressions": [result]},
                         tmp_path, plots=False)
    assert json.loads((tmp_path / "results.json").read_text())["expressions"][0]["slug"] == "kalman"


def test_unknown_names_are_listed():
    with pytest.raises(ValueError, match="known: .*normal_pdf"):
        expressions.by_name(["no such expression"])
    with pytest.raises(ValueError, match="known: .*jax jit"):
        routes.by_name(["no such route"])


def test_quick_settings_leave_the_full_run_alone():
    # --quick cuts rounds, budget and mpmath points; the full run keeps what it measured before
    full, quick = run.parse_args([]), run.parse_args(["--quick"])
    assert (full.repeat, full.budget, full.min_repeat, full.error_points) == (7, 30.0, 3, 200)
    assert run.ERROR_POINTS == measure.ERROR_SAMPLE  # run.py keeps its own copy (no PyTensor import)
    assert full.sizes == [10**3, 10**4, 10**5, 10**6, 10**7] and full.kalman_sizes == [100, 300, 1000]
    assert (quick.repeat, quick.budget, quick.error_points) == (run.QUICK_REPEAT, run.QUICK_BUDGET_S,
                                                                run.QUICK_ERROR_POINTS)
    assert quick.sizes == [10**3, 10**4, 10**5] and quick.min_repeat <= quick.repeat
    assert len(measure.sample_indices(10**5, quick.error_points)) == quick.error_points
    with pytest.raises(SystemExit):
        run.parse_args(["--error-points", "1"])


def test_timing_rounds_leave_the_garbage_collector_as_found():
    # interleaved_best freezes the heap for cheap collections between rounds: it must hand
    # back an unfrozen, enabled collector, also when a timed call raises
    import gc

    def boom(_):
        raise RuntimeError("timed call failed")

    timed = {"ok": measure.Timed(len, [1, 2]), "bad": measure.Timed(boom, None)}
    with pytest.raises(RuntimeError, match="timed call failed"):
        measure.interleaved_best(timed, repeat=2, min_repeat=1)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    best = measure.interleaved_best({"ok": measure.Timed(len, [1, 2], number=3)}, repeat=2)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert 0 < best["ok"] < 1 and timed["ok"].rounds >= 1
