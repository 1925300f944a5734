"""Training curves with matplotlib (optional: `pip install 'ferronet[plot]'`).

matplotlib is imported inside the functions, so `import ferronet` stays fast without it.

Example:
>>> import ferronet as fn
>>> fig = fn.plot.history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
>>> [ax.get_title() for ax in fig.axes]
['loss']
"""

import os
import sys


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("ferronet.plot needs matplotlib: pip install 'ferronet[plot]'") from None
    return matplotlib


def _has_display():
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _figure(panels, path):
    """A figure with `panels` side-by-side axes. Saving without a display uses an Agg canvas and
    leaves pyplot (and its global figure list) untouched; otherwise pyplot, so `plt.show()` works."""
    _matplotlib()
    size = (4.5 * panels, 3.5)
    if path is not None and not _has_display():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size)
    return fig, [fig.add_subplot(1, panels, i + 1) for i in range(panels)]


def _series(history):
    """`{key: list}` from a `History` (or anything with `.history`) or a plain dict."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(f"plot.history: expected a History or a dict of lists, got {type(history).__name__}")
    return logs


def history(history, path=None, metrics=None):
    """Plot training and validation curves: one subplot per metric ("loss" first), each with its
    `val_` counterpart when present.

    Args:
        history: the `History` that `fit` returns (or its `.history` dict).
        path: save the figure there (format from the extension, e.g. ".png"). Default None.
        metrics: names to plot, without "val_". Default: "loss" then every other non-`val_` key.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> import ferronet as fn
    >>> fig = fn.plot.history({"loss": [0.9, 0.4], "accuracy": [0.5, 0.8]}, metrics=["accuracy"])
    >>> len(fig.axes)
    1
    """
    logs = _series(history)
    names = [k for k in logs if not k.startswith("val_")]
    if metrics is None:
        metrics = (["loss"] if "loss" in logs else []) + sorted(k for k in names if k != "loss")
    missing = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
    if missing or not metrics:
        raise ValueError(f"plot.history: expected metrics among {sorted(names)}, got {missing or list(metrics)}")
    fig, axes = _figure(len(metrics), path)
    epochs = list(getattr(history, "epoch", None) or range(len(next(iter(logs.values())))))
    for ax, name in zip(axes, metrics):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in logs:
                ax.plot([e + 1 for e in epochs[:len(logs[key])]], logs[key], marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path))
    return fig


def gradient_norms(history, path=None, logy=True):
    """Plot each layer's gradient norm over training, as `GradientMonitor` recorded it: one line
    per layer, first layer to last, on a log scale (vanishing gradients show as lines decades
    apart, exploding ones as lines shooting up).

    Args:
        history: the `History` that `fit` returned with a `GradientMonitor` among its callbacks,
            or a dict `{layer name: [norm per record]}`.
        path: save the figure there. Default None.
        logy: log-scale the norms. Default True.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> import ferronet as fn
    >>> fig = fn.plot.gradient_norms({"dense": [1e-6, 2e-6], "dense_1": [0.1, 0.2]})
    >>> fig.axes[0].get_yscale()
    'log'
    """
    norms = getattr(history, "gradient_norms", history)
    if not isinstance(norms, dict) or not norms:
        raise ValueError("plot.gradient_norms: expected a History from fit(callbacks=[GradientMonitor()]) or a dict "
                         f"of per-layer norms, got {type(history).__name__} without gradient norms")
    steps = getattr(history, "gradient_norm_steps", None)
    fig, (ax,) = _figure(1, path)
    fig.set_size_inches(6.5, 3.5)  # room for the legend beside the axes
    for name, values in norms.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    if logy:
        ax.set_yscale("log")
    per_epoch = steps is not None and all(batch is None for _, batch in steps)
    ax.set_xlabel("epoch" if per_epoch or steps is None else "record")
    ax.set_ylabel("gradient norm")
    ax.set_title("gradient norm per layer")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path))
    return fig
