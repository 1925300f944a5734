"""The UCI handwritten digits (1,797 8x8 images, 10 classes), bundled with ferronet.

Alpaydin & Kaynak, UCI Machine Learning Repository, CC BY 4.0 (see data/DIGITS_LICENSE.txt).
"""

from importlib import resources

import numpy as np

TEST_SIZE = 360  # a fifth of the 1,797 images, rounded to a round number
_SPLIT_SEED = 1998  # fixed, so every user gets the same train/test split


def load_data():
    """Load the digits as `(x_train, y_train), (x_test, y_test)`.

    Images are uint8 arrays of shape (n, 8, 8) with pixel counts 0..16; labels uint8 0..9.
    The split (1,437 train, 360 test) is random but fixed by a seed.

    Example:
    >>> import ferronet as fn
    >>> (x_train, y_train), (x_test, y_test) = fn.datasets.digits.load_data()
    >>> x_train.shape, x_test.shape
    ((1437, 8, 8), (360, 8, 8))
    """
    with resources.files("ferronet.datasets").joinpath("data/digits.npz").open("rb") as f:
        archive = np.load(f)
        x, y = archive["x"], archive["y"]
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(x))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return (x[train], y[train]), (x[test], y[test])
