import numpy as np

import ferronet as fn
from gpu.parity import gpu_parity


def test_add_parity():
    gpu_parity(lambda a, b: a + b, [np.ones((3, 4)), np.arange(4)], what="add")
