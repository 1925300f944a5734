"""The autograd tape: accumulation, reuse, no_grad, leaves, retain_graph, explicit gradients,
resetting .grad, detach."""

import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import check_raises, sample

import ferronet as fn
from ferronet.errors import GradientError


def leaf(values, requires_grad=True):
    return fn.tensor(np.asarray(values, np.float32), requires_grad=requires_grad)


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])


def test_a_tensor_used_twice_gets_both_contributions():
    x = leaf([1.0, -2.0])
    y = x * 2.0
    (y * y + y).sum().backward()  # d/dx (4x^2 + 2x) = 8x + 2
    np.testing.assert_allclose(x.grad.numpy(), [10.0, -14.0])


def test_diamond_graph():
    x = leaf([0.5, 1.5])
    a = fn.ops.exp(x)
    b = x * x
    (a * b).sum().backward()
    xv = np.array([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), np.exp(xv) * xv**2 + np.exp(xv) * 2 * xv, rtol=1e-6)


def test_no_grad_context_manager():
    x = leaf([1.0, 2.0])
    with fn.no_grad():
        y = x * 2.0
        assert not y.requires_grad
        with fn.enable_grad():
            assert (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad
    with pytest.raises(GradientError):
        y.sum().backward()


def test_no_grad_restores_mode_after_an_exception():
    x = leaf([1.0])
    with pytest.raises(RuntimeError):
        with fn.no_grad():
            raise RuntimeError("boom")
    assert (x * 2.0).requires_grad


def test_no_grad_decorator():
    x = leaf([1.0, 2.0])

    @fn.no_grad()
    def double(t):
        return t * 2.0

    assert not double(x).requires_grad
    assert double.__name__ == "double"
    assert (x * 2.0).requires_grad


def test_requires_grad_only_settable_on_leaves():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf
    check_raises(ValueError, lambda: setattr(y, "requires_grad", False), "requires_grad", "leaf", "(2,)", "mul")
    x.requires_grad = False
    assert not (x * 2.0).requires_grad


def test_op_result_without_graph_is_a_leaf_that_can_become_a_parameter():
    # A common way to make parameters: an op on data that does not require grad.
    w = fn.tensor(sample((3,))) * 0.1
    assert w.is_leaf and not w.requires_grad
    w.requires_grad = True
    (w * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0, 3.0])
    with fn.no_grad():
        v = w * 2.0
    v.requires_grad = True
    v.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [1.0, 1.0, 1.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_default_backward_frees_the_graph():
    x = leaf([1.0, 2.0])
    y = (fn.ops.exp(x) * 2.0).sum()
    y.backward()
    check_raises(GradientError, y.backward, "backward", "freed", "retain_graph=True")


def test_freed_intermediate_is_reported():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    h.sum().backward()
    check_raises(GradientError, lambda: (h * 3.0).sum().backward(), "freed", "mul")


def test_backward_with_an_explicit_gradient():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, 2.0]], np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [3.0, 16.0]])
    z = leaf([1.0, 2.0])
    (z * 3.0).backward(gradient=fn.tensor([1.0, -1.0]))
    np.testing.assert_allclose(z.grad.numpy(), [3.0, -3.0])
    w = leaf([1.0, 2.0])
    (w * 3.0).backward([2.0, 2.0])
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 6.0])


def test_backward_of_a_scalar_defaults_to_one():
    x = leaf(2.0)
    (x * x).backward()
    assert x.grad.item() == 4.0
    y = leaf([3.0])
    (y * 2.0).backward()  # one element: a scalar too
    assert y.grad.numpy().tolist() == [2.0]


def test_backward_on_a_leaf():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_grad_reset_by_assigning_none():
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    x.grad = None
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_grad_can_be_assigned():
    x = leaf([1.0, 2.0])
    x.grad = np.array([0.5, 0.5], np.float32)
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 1.5])


def test_detach():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])
    (d * x).sum().backward()  # no gradient flows through d
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert d.grad is None


def test_tensor_of_a_tensor_is_a_new_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    t = fn.Tensor(y, requires_grad=True)
    assert t.is_leaf and t.requires_grad and not y.is_leaf
    (t * 1.0).sum().backward()
    assert x.grad is None


def test_inputs_without_requires_grad_get_no_grad():
    x, c = leaf([1.0, 2.0]), leaf([3.0, 4.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_long_chain_does_not_overflow_the_stack():
    x = leaf([1.0])
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**5000], rtol=1e-3)


def test_dropping_a_long_unbackwarded_graph_does_not_crash():
    # Freeing a 100k-op chain used to recurse once per op and overflow the stack (a segfault),
    # so run it in a child process.
    code = (
        "import ferronet as fn\n"
        "x = fn.tensor([1.0], requires_grad=True)\n"
        "total = x\n"
        "for _ in range(100_000):\n"
        "    total = total + x\n"
        "del total\n"
        "print('freed')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "freed" in result.stdout, result.stderr[-2000:]


def test_grad_does_not_alias_the_explicit_gradient_array():
    x = leaf([1.0, 2.0])
    seed = np.array([1.0, 1.0], np.float32)
    (x + 0.0).backward(seed)  # the gradient reaches x unchanged
    seed[:] = 99.0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    x.grad = None
    x.backward(seed)  # a leaf root
    seed[:] = -1.0
    np.testing.assert_array_equal(x.grad.numpy(), [99.0, 99.0])


def test_concurrent_backward_passes_accumulate_every_contribution():
    # Ops release the GIL; the read-add-write of .grad must be atomic or threads lose updates.
    w = leaf(sample((32, 32), seed=1))
    x = sample((128, 32), seed=2)
    steps, threads = 200, 4

    def work():
        for _ in range(steps):
            fn.ops.dense(x, w, activation="tanh").sum().backward()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    single = leaf(w.numpy())
    fn.ops.dense(x, single, activation="tanh").sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), steps * threads * single.grad.numpy(), rtol=1e-3, atol=1e-3)
