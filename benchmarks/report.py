"""The machine description and the suite's outputs: ``results.json``, ``results.md``, PNG plots.

``results.json`` holds everything measured (seconds, errors, calls per
measurement, rounds) and the machine; ``results.md`` the summary table
(ours against the fastest peer at each N) and one table per expression (every
route's set-up time, largest relative error and steady-state time per N);
``<slug>.png`` the steady-state time against N, log-log, one line per route
and the floor dashed (written only when matplotlib is installed).
"""
from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
from pathlib import Path

PACKAGES = ("numpy", "scipy", "sympy", "pytensor", "numba", "llvmlite", "mpmath", "numexpr", "symengine",
            "jax", "jaxlib", "setuptools", "matplotlib")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine() -> dict:
    """Cores, CPU model, memory, OS, load average and the versions of every package involved."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
            "memory_GiB": _memory_gib(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "threads_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                       "NUMEXPR_MAX_THREADS", "NUMBA_NUM_THREADS")
                            if k in os.environ},
            "load_average_start": list(os.getloadavg())}


def seconds(t) -> str:
    """``1.23 ms``-style text of a duration in seconds (``-`` for None)."""
    if t is None or not math.isfinite(t):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def _num(v, fmt=".2f") -> str:
    return "-" if v is None else format(v, fmt)


def _size(n: int) -> str:
    return f"1e{round(math.log10(n))}" if n >= 1000 and 10 ** round(math.log10(n)) == n else str(n)


def _cpu(expression: dict, name: str) -> str:
    """CPU time over wall time of a route's best measurement at the largest N (threads in use)."""
    sizes = expression["sizes"]
    ratio = sizes[-1].get("cpu_over_wall", {}).get(name) if sizes else None
    return "-" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}"


def summary_rows(results: dict) -> list[dict]:
    """One row per (expression, N): ours, the fastest peer and the ratios."""
    rows = []
    for e in results["expressions"]:
        for s in e["sizes"]:
            rows.append({"expression": e["name"], "N": s["N"], "ours_route": s["ours_route"], "ours_s": s["ours_s"],
                         "fastest_peer": s["fastest_peer"], "fastest_peer_s": s["fastest_peer_s"],
                         "ours_over_fastest_peer": s["ours_over_fastest_peer"],
                         "ours_over_fastest_peer_cpu": s.get("ours_over_fastest_peer_cpu"),
                         "ours_over_floor": s["ours_over_floor"]})
    return rows


def markdown(results: dict) -> str:
    """The Markdown report: header (date, machine, versions), summary, one table per expression."""
    m = results["machine"]
    v = ", ".join(f"{k} {ver}" for k, ver in m["versions"].items() if ver)
    lines = [
        "# sympy_theano_printer benchmarks", "",
        f"Run {results['started']} to {results['finished']} ({results['seconds']:.0f} s) on "
        f"{m['cpu']}, {m['usable_cores']} usable cores of {m['cores']}, {m['memory_GiB']} GiB, "
        f"{m['platform']}, Python {m['python']}; load average {m['load_average_start'][0]:.2f} at the "
        f"start, {m.get('load_average_end', [math.nan])[0]:.2f} at the end.", "",
        f"Versions: {v}.", "",
        "Times are the best of interleaved rounds (steady state, after a warm-up call). *ours*: the "
        "fastest of our routes; *fastest peer*: the fastest other route; a route whose largest "
        "relative error exceeds 1e-6 counts for neither. *ours / floor*: ours over the memory-bandwidth "
        "floor (element-wise) or over one n x n matrix product (Kalman). *CPU / wall*: process CPU time "
        "over wall time of the best measurement at the largest N (about 1: one thread; up to the "
        "number of cores: that many threads; below 1: waiting for a core). *ours / peer (CPU)*: the "
        "same ratio in process CPU time (wall time times CPU / wall of each best measurement; on each "
        "side the route with the least CPU time), which a busy machine disturbs less; it counts every "
        "thread of a multi-threaded route.", "",
        "## Ours against the fastest peer", "",
        "| expression | N | ours | ours time | fastest peer | peer time | ours / peer | ours / peer (CPU) "
        "| ours / floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary_rows(results):
        lines.append(f"| {r['expression']} | {_size(r['N'])} | {r['ours_route'] or '-'} | {seconds(r['ours_s'])} "
                     f"| {r['fastest_peer'] or '-'} | {seconds(r['fastest_peer_s'])} "
                     f"| {_num(r['ours_over_fastest_peer'])} | {_num(r['ours_over_fastest_peer_cpu'])} "
                     f"| {_num(r['ours_over_floor'])} |")
    for e in results["expressions"]:
        sizes = [s["N"] for s in e["sizes"]]
        lines += ["", f"## {e['name']}", "", f"N: {e['n_is']}. Floor: {e['floor_what']}.", "",
                  "| route | set-up | max rel. error | " + " | ".join(f"N={_size(n)}" for n in sizes)
                  + " | CPU / wall |", "|---|---|---|" + "---|" * (len(sizes) + 1)]
        for name, r in e["routes"].items():
            label = f"{name} ({r['group']})" if r["group"] == "ours" else name
            if r["status"] == "skipped" or (r["status"] == "fails" and not any(name in s["times_s"]
                                                                                for s in e["sizes"])):
                lines.append("| " + " | ".join([label, f"{r['status']}: {r['reason']}", ""] + [""] * (len(sizes) + 1))
                             + " |")
                continue
            errs = [s["errors"].get(name) for s in e["sizes"] if s["errors"].get(name) is not None]
            times = [seconds(s["times_s"].get(name)) for s in e["sizes"]]
            note = f" ({r['status']}: {r['reason']})" if r["status"] != "ok" else ""
            lines.append(f"| {label}{note} | {seconds(r['setup_s'])} | {_num(max(errs) if errs else None, '.1e')} "
                         f"| " + " | ".join(times) + f" | {_cpu(e, name)} |")
        lines.append("| (floor) | | | " + " | ".join(seconds(s["floor_s"]) for s in e["sizes"])
                     + f" | {_cpu(e, '(floor)')} |")
    return "\n".join(lines) + "\n"


def rst_summary(results: dict, min_n: int = 0) -> str:
    """The summary table as a reStructuredText grid table (for ``docs/benchmarks.rst``).

    Element-wise rows with ``N < min_n`` are left out (the Kalman rows are all kept).
    """
    kalman = {e["name"] for e in results["expressions"] if e["n_is"] != "array length"}
    header = ["expression", "N", "ours", "ours time", "fastest peer", "peer time", "ours / peer",
              "ours / peer (CPU)", "ours / floor"]
    body = [[r["expression"], _size(r["N"]), r["ours_route"] or "-", seconds(r["ours_s"]), r["fastest_peer"] or "-",
             seconds(r["fastest_peer_s"]), _num(r["ours_over_fastest_peer"]),
             _num(r["ours_over_fastest_peer_cpu"]), _num(r["ours_over_floor"])]
            for r in summary_rows(results) if r["N"] >= min_n or r["expression"] in kalman]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

    def line(char):
        return "+" + "+".join(char * (w + 2) for w in widths) + "+"

    def row(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line("-"), row(header), line("=")]
    for cells in body:
        out += [row(cells), line("-")]
    return "\n".join(out) + "\n"


def plot(expression: dict, path: Path) -> bool:
    """Steady-state time against N, log-log, for one expression; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = [s["N"] for s in expression["sizes"]]
    for name, r in expression["routes"].items():
        pts = [(s["N"], s["times_s"][name]) for s in expression["sizes"] if name in s["times_s"]]
        if pts:
            xs, ys = zip(*pts)
            ax.loglog(xs, ys, marker="o" if r["group"] == "ours" else "s",
                      linestyle="-" if r["group"] == "ours" else ":", label=name)
    ax.loglog(sizes, [s["floor_s"] for s in expression["sizes"]], "k--", label="floor")
    ax.set_xlabel(f"N ({expression['n_is']})")
    ax.set_ylabel("steady-state time per call (s)")
    ax.set_title(expression["name"])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    # fixed margins: tight_layout measures every log-axis tick label (about 1 s a figure)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.93)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_all(results: dict, out: Path, *, plots: bool = True) -> list[Path]:
    """Write ``results.json``, ``results.md`` and (if ``plots`` and matplotlib) ``<slug>.png`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "results.md"]
    written[0].write_text(json.dumps(_finite(results), indent=1, allow_nan=False, default=_json_default) + "\n")
    written[1].write_text(markdown(results))
    if plots:
        for e in results["expressions"]:
            path = out / f"{e['slug']}.png"
            if e["sizes"] and plot(e, path):
                written.append(path)
    return written


def _finite(obj):
    """``obj`` with every non-finite float replaced by its text (``"inf"``, ``"nan"``): valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_default(obj):
    try:
        return float(obj)
    except (TypeError, ValueError):
        raise TypeError(f"cannot write {type(obj).__name__} to JSON") from None


def best_of(runs: list[dict]) -> dict:
    """Several runs of the suite merged: for each expression, N and route, the run with the best time.

    The floor is likewise the best over the runs, and the ratios are computed
    again from the merged times (each time is still a best of interleaved
    rounds within its own run).  Runs must cover the same expressions and sizes.

    Raises
    ------
    ValueError
        The runs measured different expressions or sizes.
    """
    from .run import summarize
    from .measure import ERROR_LIMIT

    first = json.loads(json.dumps(runs[0]))
    shape = [(e["name"], [s["N"] for s in e["sizes"]]) for e in first["expressions"]]
    for other in runs[1:]:
        if [(e["name"], [s["N"] for s in e["sizes"]]) for e in other["expressions"]] != shape:
            raise ValueError("the runs measured different expressions or sizes; merge only like runs")
    first["merged_from"] = [{"started": r["started"], "load_average_start": r["machine"]["load_average_start"]}
                            for r in runs]
    first["finished"] = max(r["finished"] for r in runs)
    first["seconds"] = sum(r["seconds"] for r in runs)
    first["machine"]["load_average_end"] = runs[-1]["machine"].get("load_average_end", [math.nan])
    for i, e in enumerate(first["expressions"]):
        groups = {name: r["group"] for name, r in e["routes"].items()}
        for j, s in enumerate(e["sizes"]):
            for other in runs[1:]:
                o = other["expressions"][i]["sizes"][j]
                if o["floor_s"] < s["floor_s"]:
                    for key in ("floor_s", "floor_GBps", "floor_GFLOPs"):
                        if key in o:
                            s[key] = o[key]
                for name, t in o["times_s"].items():
                    if name not in s["times_s"] or t < s["times_s"][name]:
                        s["times_s"][name] = t
                        s["errors"][name] = o["errors"].get(name)
                        s.setdefault("cpu_over_wall", {})[name] = o.get("cpu_over_wall", {}).get(name)
            s["route_over_floor"] = {name: t / s["floor_s"] for name, t in s["times_s"].items()}
            usable = {name: err is None or (isinstance(err, float) and err <= ERROR_LIMIT)
                      for name, err in s["errors"].items()}
            summarize(s, groups, usable)
    return first


def main(argv=None) -> None:
    """``python -m benchmarks.report RESULTS.json [MORE.json ...] [--rst] [--out DIR]``.

    Prints the Markdown report of one run, or of several runs merged by
    :func:`best_of`; ``--rst`` prints the reStructuredText summary for
    N >= 1e6 instead; ``--out DIR`` writes the merged results as the suite does.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--rst", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    runs = [json.loads(p.read_text()) for p in args.results]
    data = best_of(runs)  # also for one run: recomputes the ratios of results written by older versions
    if args.out:
        write_all(data, args.out)
    print(rst_summary(data, min_n=10**6) if args.rst else markdown(data))


if __name__ == "__main__":
    main()
