"""ferronet.plot: training curves from a History, saved as PNG; a clear error without matplotlib."""

import sys

import pytest

import ferronet as fn


def fit_history(data, make_model):
    x, y = data
    return make_model(metrics=["mae"]).fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25)


def test_plot_history_writes_png(data, make_model, tmp_path):
    path = tmp_path / "curves.png"
    fig = fn.plot.history(fit_history(data, make_model), path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mae"]
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["train", "validation"]
        assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]


def test_plot_history_selected_metrics_and_dict(tmp_path):
    import matplotlib.pyplot as plt

    fig = fn.plot.history({"loss": [1.0, 0.5], "learning_rate": [0.1, 0.05]}, metrics=["learning_rate"])
    assert [ax.get_title() for ax in fig.axes] == ["learning_rate"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]
    plt.close(fig)
    with pytest.raises(ValueError, match="plot.history: expected metrics among \\['learning_rate', 'loss'\\], got \\['accuracy'\\]"):
        fn.plot.history({"loss": [1.0], "learning_rate": [0.1]}, metrics=["accuracy"])
    with pytest.raises(TypeError, match="expected a History or a dict of lists, got list"):
        fn.plot.history([1.0, 0.5])


def test_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="ferronet.plot needs matplotlib: pip install 'ferronet\\[plot\\]'"):
        fn.plot.history({"loss": [1.0]})


def test_plot_gradient_norms_needs_gradient_monitor():
    with pytest.raises(ValueError, match="GradientMonitor"):
        fn.plot.gradient_norms(fn.callbacks.History())


def test_import_ferronet_does_not_import_matplotlib():
    import subprocess

    code = "import sys, ferronet; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
