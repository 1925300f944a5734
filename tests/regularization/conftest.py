"""Fixtures for the overfitting-control tests: seeded regression data and a tiny compiled model."""

import numpy as np
import pytest

import ferronet as fn


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    return x, x @ np.array([[1.0], [2.0], [-1.0]], np.float32)


@pytest.fixture
def make_model():
    def make(optimizer=None, metrics=None):
        model = fn.Sequential([fn.Input((3,)), fn.layers.Dense(1)])
        model.compile(optimizer=optimizer or fn.optimizers.SGD(0.05), loss="mse", metrics=metrics)
        return model

    return make
