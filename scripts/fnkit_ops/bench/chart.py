"""A PNG chart of cold start and warm latency per variant (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

from fnkit_ops.bench.results import BenchRun

_COLD_PARTS = (("import_ms", "import"), ("load_ms", "model load"), ("first_inference_ms", "1st inference"))


def write_chart(run: BenchRun, path: Path) -> Path:
    """Two panels per model: stacked cold start, and warm p50 at batch 1 with 1 thread."""
    import matplotlib  # heavy: only when charting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, len(run.models))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.6 * rows), squeeze=False)
    for row, model in enumerate(run.models):
        names = [v.variant for v in model.variants]
        cold_ax, warm_ax = axes[row]
        left = [0.0] * len(names)
        for attr, label in _COLD_PARTS:
            values = [getattr(v.cold, attr) if v.cold else 0.0 for v in model.variants]
            cold_ax.barh(names, values, left=left, label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        for y, (end, v) in enumerate(zip(left, model.variants, strict=True)):
            label = f" {v.cold.total_ms:.0f} ms" if v.cold else " not measured"
            cold_ax.text(end, y, label, va="center", fontsize=8)
        cold_ax.set_title(f"{model.model}: cold start (median, ms)")
        cold_ax.set_xlim(0, max(left or [1.0]) * 1.25 or 1.0)
        cold_ax.legend(fontsize=7, loc="lower right")
        for offset, (label, kind) in enumerate((("handler", "handler"), ("raw session", "raw"))):
            values = []
            for v in model.variants:
                w = v.warm_at(1, 1)
                values.append(getattr(w, kind).p50_ms if w else 0.0)
            ys = [i + offset * 0.4 for i in range(len(names))]
            warm_ax.barh(ys, values, height=0.4, label=label)
        warm_ax.set_yticks([i + 0.2 for i in range(len(names))], names)
        warm_ax.set_title(f"{model.model}: warm p50, batch 1, 1 thread (ms)")
        warm_ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
