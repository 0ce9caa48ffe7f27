"""The reference maths: softmax, loss, gradients, training, and the tutorial's errors it must not repeat."""

import inspect

import numpy as np
import pytest
from sklearn.metrics import log_loss

from nnlab_instructor import reference as R


def random_scores(shape, seed, scale=3.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def one_hot_columns(labels, n_classes):
    Y = np.zeros((n_classes, len(labels)))
    Y[labels, np.arange(len(labels))] = 1.0
    return Y


def small_problem(n_features, n_hidden, n_classes, n_samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_features, n_samples))
    Y = one_hot_columns(rng.integers(0, n_classes, n_samples), n_classes)
    params = R.init_params(n_features, n_hidden, n_classes, seed=seed)
    return X, Y, params


def teacher_problem(n_samples, seed, n_features=8, n_classes=3, label_noise=0.3):
    """Labels from a fixed linear teacher, a fraction of them flipped: learnable, and easy to overfit."""
    rng = np.random.default_rng(seed)
    teacher = np.random.default_rng(12345).normal(size=(n_classes, n_features))
    X = rng.normal(size=(n_features, n_samples))
    labels = np.argmax(teacher @ X, axis=0)
    flipped = rng.random(n_samples) < label_noise
    labels[flipped] = rng.integers(0, n_classes, flipped.sum())
    return X, one_hot_columns(labels, n_classes)


# --------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("shape", [(10, 1), (10, 7), (3, 50), (1, 4)])
def test_softmax_columns_sum_to_one_and_shape_is_kept(shape):
    P = R.softmax(random_scores(shape, seed=sum(shape)))
    assert P.shape == shape
    sums = P.sum(axis=0)
    worst = int(np.argmax(np.abs(sums - 1)))
    assert np.allclose(sums, 1.0, rtol=0, atol=1e-12), f"column {worst} sums to {sums[worst]!r}, expected 1"
    assert np.all(P >= 0)


def test_softmax_matches_the_textbook_formula_on_moderate_scores():
    Z = random_scores((10, 6), seed=1)
    expected = np.exp(Z) / np.exp(Z).sum(axis=0)
    np.testing.assert_allclose(R.softmax(Z), expected, rtol=1e-12)


def test_softmax_is_invariant_to_adding_a_constant_to_a_column():
    Z = random_scores((10, 5), seed=2)
    shift = np.array([[0.0, 100.0, -100.0, 7.5, 1e3]])
    np.testing.assert_allclose(R.softmax(Z + shift), R.softmax(Z), rtol=1e-10, atol=1e-15)


def test_softmax_does_not_overflow_at_plus_and_minus_1000():
    # The tutorial's exp(Z) / sum(exp(Z)) gives nan here: exp(1000) is inf.
    Z = np.array([[1000.0, -1000.0, 1000.0], [0.0, -1000.0, 1000.0], [-1000.0, -999.0, 999.0]])
    with np.errstate(over="raise", invalid="raise"):
        P = R.softmax(Z)
    assert np.all(np.isfinite(P)), f"softmax returned non-finite values {P}"
    np.testing.assert_allclose(P[:, 0], [1.0, 0.0, 0.0], atol=1e-300)
    e = np.exp(-1.0)
    np.testing.assert_allclose(P[:, 1], np.array([e, e, 1.0]) / (1 + 2 * e), rtol=1e-12)
    np.testing.assert_allclose(P[:, 2], np.array([1.0, 1.0, e]) / (2 + e), rtol=1e-12)


def test_softmax_rejects_a_vector():
    with pytest.raises(ValueError, match="n_classes, n_samples"):
        R.softmax(np.zeros(10))


# --------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("n_classes,n_samples,seed", [(10, 20, 0), (3, 1, 1), (10, 500, 2)])
def test_cross_entropy_equals_scikit_learns_log_loss(n_classes, n_samples, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_samples)
    P = R.softmax(random_scores((n_classes, n_samples), seed))
    expected = log_loss(labels, P.T, labels=np.arange(n_classes))
    assert R.cross_entropy(one_hot_columns(labels, n_classes), P) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_a_mean_over_samples_not_a_sum():
    Y = one_hot_columns(np.array([0, 1]), 2)
    P = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert R.cross_entropy(Y, P) == pytest.approx(np.log(2))


def test_cross_entropy_is_finite_when_a_probability_is_zero():
    # The tutorial took log(0) = -inf for a confidently wrong prediction.
    Y = one_hot_columns(np.array([0, 1]), 2)
    P = np.array([[0.0, 0.0], [1.0, 1.0]])
    with np.errstate(divide="raise", invalid="raise"):
        value = R.cross_entropy(Y, P)
    assert np.isfinite(value)
    assert value == pytest.approx(-np.log(np.finfo(np.float64).eps) / 2)
    assert value == pytest.approx(log_loss([0, 1], P.T), rel=1e-6)


def test_cross_entropy_is_categorical_not_binary():
    # The tutorial's text added (1 - y) log(1 - p) terms; categorical cross-entropy has none,
    # so probabilities of wrong classes do not change the loss.
    Y = one_hot_columns(np.array([0]), 3)
    confident = np.array([[0.6], [0.4], [0.0]])
    spread = np.array([[0.6], [0.2], [0.2]])
    assert R.cross_entropy(Y, confident) == pytest.approx(R.cross_entropy(Y, spread)) == pytest.approx(-np.log(0.6))


def test_cross_entropy_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(2, 3\)"):
        R.cross_entropy(np.zeros((3, 2)), np.zeros((2, 3)))


# --------------------------------------------------------------------------- init, forward, backward


def test_init_params_shapes_dtype_and_seed():
    a = R.init_params(784, 64, 10, seed=3, dtype=np.float32)
    assert {k: v.shape for k, v in a.items()} == {"W1": (64, 784), "b1": (64, 1), "W2": (10, 64), "b2": (10, 1)}
    assert all(v.dtype == np.float32 for v in a.values())
    b = R.init_params(784, 64, 10, seed=3, dtype=np.float32)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = R.init_params(784, 64, 10, seed=4, dtype=np.float32)
    assert not np.array_equal(a["W1"], c["W1"])


def test_scaled_init_divides_randn_by_the_root_of_the_fan_in():
    randn = R.init_params(400, 50, 10, seed=0, init="randn")
    scaled = R.init_params(400, 50, 10, seed=0, init="scaled")
    np.testing.assert_allclose(scaled["W1"], randn["W1"] / 20.0)
    np.testing.assert_allclose(scaled["W2"], randn["W2"] / np.sqrt(50))
    assert np.std(randn["W1"]) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match="init must be"):
        R.init_params(4, 3, 2, init="xavier")


def test_forward_shapes_and_probabilities():
    X, _Y, params = small_problem(6, 5, 4, 9, seed=0)
    cache = R.forward(X, params)
    assert cache["A1"].shape == (5, 9) and cache["A2"].shape == (4, 9)
    np.testing.assert_allclose(cache["A2"].sum(axis=0), 1.0)
    np.testing.assert_allclose(cache["A1"], 1 / (1 + np.exp(-(params["W1"] @ X + params["b1"]))))


@pytest.mark.parametrize(
    "n_features,n_hidden,n_classes,n_samples,seed",
    [(4, 3, 2, 5, 0), (7, 5, 10, 12, 1), (12, 8, 3, 1, 2), (5, 16, 10, 30, 3), (3, 2, 4, 2, 4)],
)
def test_backward_passes_the_gradient_check(n_features, n_hidden, n_classes, n_samples, seed):
    X, Y, params = small_problem(n_features, n_hidden, n_classes, n_samples, seed)
    params["b1"] += np.random.default_rng(seed + 100).normal(size=params["b1"].shape)
    params["b2"] += np.random.default_rng(seed + 200).normal(size=params["b2"].shape)
    errors = R.gradient_check(X, Y, params)
    bad = {name: err for name, err in errors.items() if not err < 1e-7}
    assert not bad, f"relative error of the gradient above 1e-7 for {bad}"


def test_gradient_check_catches_a_wrong_backward_pass():
    X, Y, params = small_problem(5, 4, 3, 6, seed=5)

    def backward_without_mean(X, Y, params, cache):
        grads = R.backward(X, Y, params, cache)
        return {k: v * X.shape[1] for k, v in grads.items()}

    errors = R.gradient_check(X, Y, params, backward_fn=backward_without_mean)
    assert all(err > 0.5 for err in errors.values()), errors


def test_backward_gradients_have_the_shapes_of_their_parameters():
    X, Y, params = small_problem(6, 5, 4, 1, seed=6)  # a batch of one sample
    grads = R.backward(X, Y, params, R.forward(X, params))
    assert {k: v.shape for k, v in grads.items()} == {"d" + k: v.shape for k, v in params.items()}


def test_predict_and_accuracy():
    X, _Y, params = small_problem(6, 5, 4, 10, seed=7)
    predicted = R.predict(X, params)
    assert predicted.shape == (10,)
    np.testing.assert_array_equal(predicted, np.argmax(R.forward(X, params)["A2"], axis=0))
    assert R.accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="shape"):
        R.accuracy(np.zeros(3), np.zeros(4))


# --------------------------------------------------------------------------- minibatches and training


@pytest.mark.parametrize("n_samples,batch_size", [(10, 3), (10, 5), (7, 7), (7, 10), (1, 1), (1001, 32)])
def test_every_sample_is_used_exactly_once_per_epoch(n_samples, batch_size):
    # The tutorial's slice begin:min(begin + batch_size, n - 1) dropped the last sample.
    batches = list(R.minibatches(n_samples, batch_size, np.random.default_rng(0)))
    used = np.concatenate(batches)
    assert sorted(used.tolist()) == list(range(n_samples)), f"samples used: {sorted(used.tolist())}"
    sizes = [len(b) for b in batches]
    assert sizes[:-1] == [batch_size] * (len(sizes) - 1)
    assert sizes[-1] == (n_samples % batch_size or min(batch_size, n_samples))


def test_minibatches_shuffle_differently_every_epoch_and_not_without_rng():
    rng = np.random.default_rng(0)
    first = np.concatenate(list(R.minibatches(50, 8, rng)))
    second = np.concatenate(list(R.minibatches(50, 8, rng)))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.concatenate(list(R.minibatches(50, 8, None))), np.arange(50))
    with pytest.raises(ValueError, match="batch_size"):
        list(R.minibatches(5, 0, None))


def test_train_sgd_updates_once_per_batch_including_the_uneven_last_one():
    # With 7 samples and batches of 3, an epoch is three updates (3 + 3 + 1); replaying them by hand
    # with the same shuffle must give the same parameters.
    X, Y, _ = small_problem(4, 3, 2, 7, seed=8)
    trained = R.train_sgd(X, Y, n_hidden=3, learning_rate=0.3, epochs=2, batch_size=3, seed=11)
    rng = np.random.default_rng(11)
    params = R.init_params(4, 3, 2, seed=rng)
    n_updates = 0
    for _ in range(2):
        for index in R.minibatches(7, 3, rng):
            grads = R.backward(X[:, index], Y[:, index], params, R.forward(X[:, index], params))
            for name in R.PARAM_NAMES:
                params[name] = params[name] - 0.3 * grads["d" + name]
            n_updates += 1
    assert n_updates == 6
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(trained[name], params[name], rtol=1e-12, err_msg=name)


def test_batch_gd_is_one_full_batch_step_per_epoch():
    X, Y, start = small_problem(4, 3, 2, 9, seed=9)
    trained = R.train_batch_gd(X, Y, learning_rate=0.7, epochs=1, params=start)
    grads = R.backward(X, Y, start, R.forward(X, start))
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(trained[name], start[name] - 0.7 * grads["d" + name], rtol=1e-12, err_msg=name)


def test_training_does_not_modify_the_starting_parameters_or_the_data():
    X, Y, start = small_problem(4, 3, 2, 9, seed=10)
    copies = {k: v.copy() for k, v in start.items()}
    X_copy = X.copy()
    R.train_sgd(X, Y, params=start, epochs=2, batch_size=4)
    assert all(np.array_equal(start[k], copies[k]) for k in start)
    np.testing.assert_array_equal(X, X_copy)


def test_training_is_deterministic_for_a_seed():
    X, Y, _ = small_problem(5, 4, 3, 20, seed=12)
    a = R.train_sgd(X, Y, n_hidden=4, epochs=3, batch_size=6, seed=1)
    b = R.train_sgd(X, Y, n_hidden=4, epochs=3, batch_size=6, seed=1)
    c = R.train_sgd(X, Y, n_hidden=4, epochs=3, batch_size=6, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_float32_training_stays_float32():
    X, Y, _ = small_problem(5, 4, 3, 20, seed=13)
    params = R.train_sgd(X, Y, n_hidden=4, epochs=2, batch_size=6, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in params.values())


def test_training_names_a_forgotten_transpose():
    X, Y, _ = small_problem(5, 4, 3, 20, seed=14)
    with pytest.raises(ValueError, match="forget to transpose"):
        R.train_sgd(X.T, Y)


def test_training_functions_read_no_global_data():
    # The tutorial's network() read a global X_train; everything here must come from arguments.
    for function in (R.train_sgd, R.train_batch_gd, R.train_with_validation, R._run, R._sgd_epochs):
        arrays = {
            k: type(v).__name__
            for k, v in inspect.getclosurevars(function).globals.items()
            if isinstance(v, np.ndarray)
        }
        assert not arrays, f"{function.__name__} reads global arrays {arrays}"


def test_train_with_validation_records_losses_and_early_stopping_keeps_the_best_epoch():
    # Few noisy samples and a large network overfit quickly, so the validation loss turns up.
    X, Y = teacher_problem(n_samples=40, seed=15)
    X_val, Y_val = teacher_problem(n_samples=200, seed=16)
    params, history = R.train_with_validation(
        X, Y, X_val, Y_val, n_hidden=64, learning_rate=0.3, epochs=60, batch_size=5, seed=0
    )
    assert history.epoch.tolist() == list(range(61))
    assert history.train_loss.shape == history.val_loss.shape == (61,)
    assert history.train_loss[-1] < history.train_loss[0]
    best = int(np.argmin(history.val_loss))
    assert 0 < best < 60, "this set-up is meant to overfit: the validation loss should turn up"
    assert history.best_epoch == history.epoch[best]
    np.testing.assert_allclose(R.loss(X_val, Y_val, params), history.val_loss[-1], rtol=1e-12)

    stopped, early = R.train_with_validation(
        X, Y, X_val, Y_val, n_hidden=64, learning_rate=0.3, epochs=60, batch_size=5, seed=0, patience=5
    )
    assert early.stopped_early and early.epoch[-1] == early.best_epoch + 5
    assert early.best_epoch == early.epoch[np.argmin(early.val_loss)]
    np.testing.assert_allclose(R.loss(X_val, Y_val, stopped), early.val_loss.min(), rtol=1e-12)
    np.testing.assert_allclose(early.val_loss, history.val_loss[: len(early.val_loss)], rtol=1e-12)


def test_record_every_thins_the_history():
    X, Y, _ = small_problem(5, 4, 3, 20, seed=17)
    _, history = R.train_with_validation(X, Y, X, Y, n_hidden=4, epochs=7, batch_size=5, record_every=3)
    assert history.epoch.tolist() == [0, 3, 6, 7]


# --------------------------------------------------------------------------- the fast training loop


def replay_sgd(X, Y, params, learning_rates, batch_size, rng):
    """SGD written out with the public forward and backward passes, one epoch per learning rate."""
    params = {k: v.copy() for k, v in params.items()}
    for learning_rate in learning_rates:
        for index in R.minibatches(X.shape[1], batch_size, rng):
            grads = R.backward(X[:, index], Y[:, index], params, R.forward(X[:, index], params))
            for name in R.PARAM_NAMES:
                params[name] = params[name] - learning_rate * grads["d" + name]
    return params


@pytest.mark.parametrize("n_samples,batch_size", [(50, 16), (50, 50), (50, 80), (33, 1), (64, 32)])
def test_the_fast_loop_does_what_forward_and_backward_do(n_samples, batch_size):
    # The training loop regroups the maths into reused buffers; the result must be the textbook one.
    X, Y, _ = small_problem(12, 7, 5, n_samples, seed=20)
    trained = R.train_sgd(X, Y, n_hidden=7, learning_rate=0.4, epochs=3, batch_size=batch_size, seed=21)
    rng = np.random.default_rng(21)
    start = R.init_params(12, 7, 5, seed=rng)
    expected = replay_sgd(X, Y, start, [0.4] * 3, min(batch_size, n_samples), rng if batch_size < n_samples else None)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(trained[name], expected[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_float32_training_matches_float64_within_float32_rounding():
    # Same seed, same shuffles, same maths: the two precisions differ only by rounding, which after
    # 5 epochs of 16 updates stays below 1e-5 relative to the size of each parameter.
    X, Y, _ = small_problem(20, 8, 4, 64, seed=22)
    p64 = R.train_sgd(X, Y, n_hidden=8, learning_rate=0.5, epochs=5, batch_size=4, seed=23, dtype=np.float64)
    p32 = R.train_sgd(X, Y, n_hidden=8, learning_rate=0.5, epochs=5, batch_size=4, seed=23, dtype=np.float32)
    for name in R.PARAM_NAMES:
        assert p32[name].dtype == np.float32
        scale = np.max(np.abs(p64[name]))
        np.testing.assert_allclose(p32[name], p64[name], rtol=0, atol=1e-5 * scale, err_msg=name)


def test_dtypes_without_blas_take_the_plain_path_and_agree():
    X, Y, _ = small_problem(6, 4, 3, 15, seed=24)
    p64 = R.train_sgd(X, Y, n_hidden=4, learning_rate=0.3, epochs=2, batch_size=4, seed=25)
    p_long = R.train_sgd(X, Y, n_hidden=4, learning_rate=0.3, epochs=2, batch_size=4, seed=25, dtype=np.longdouble)
    for name in R.PARAM_NAMES:
        assert p_long[name].dtype == np.longdouble
        np.testing.assert_allclose(p_long[name].astype(np.float64), p64[name], rtol=1e-12, err_msg=name)


def test_fortran_ordered_starting_parameters_train_the_same():
    X, Y, start = small_problem(6, 4, 3, 15, seed=26)
    fortran = {k: np.asfortranarray(v) for k, v in start.items()}
    a = R.train_sgd(X, Y, params=start, epochs=2, batch_size=4, seed=27)
    b = R.train_sgd(X, Y, params=fortran, epochs=2, batch_size=4, seed=27)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_training_gathers_batches_from_the_callers_data_without_copying_it():
    # The course passes X_train.T: its transpose is C-ordered, so batches come straight from it.
    rng = np.random.default_rng(28)
    X_rows = rng.random((40, 6))
    params = R.init_params(6, 4, 3, seed=0)
    fused = R._FusedSGD(X_rows.T, one_hot_columns(rng.integers(0, 3, 40), 3), params)
    assert np.shares_memory(fused.X_rows, X_rows)


def test_linear_schedule_lowers_the_learning_rate_every_epoch():
    assert [R.learning_rate_factor("linear", e, 4) for e in (1, 2, 3, 4)] == [1.0, 0.75, 0.5, 0.25]
    assert R.learning_rate_factor("constant", 3, 4) == 1.0
    X, Y, _ = small_problem(5, 4, 3, 20, seed=29)
    trained = R.train_sgd(X, Y, n_hidden=4, learning_rate=0.6, epochs=3, batch_size=6, seed=30, lr_schedule="linear")
    rng = np.random.default_rng(30)
    start = R.init_params(5, 4, 3, seed=rng)
    expected = replay_sgd(X, Y, start, [0.6, 0.4, 0.2], 6, rng)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(trained[name], expected[name], rtol=1e-12, err_msg=name)


def test_a_callable_schedule_and_the_schedule_of_every_training_function():
    X, Y, start = small_problem(5, 4, 3, 12, seed=31)
    halve_after_first = lambda epoch, epochs: 1.0 if epoch == 1 else 0.5
    gd = R.train_batch_gd(X, Y, params=start, learning_rate=1.0, epochs=2, lr_schedule=halve_after_first)
    expected = replay_sgd(X, Y, start, [1.0, 0.5], 12, None)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(gd[name], expected[name], rtol=1e-12, err_msg=name)
    validated, _ = R.train_with_validation(
        X, Y, X, Y, params=start, learning_rate=0.5, epochs=3, batch_size=5, seed=3, lr_schedule="linear"
    )
    plain = R.train_sgd(X, Y, params=start, learning_rate=0.5, epochs=3, batch_size=5, seed=3, lr_schedule="linear")
    assert all(np.array_equal(validated[k], plain[k]) for k in plain)
    with pytest.raises(ValueError, match="lr_schedule"):
        R.train_sgd(X, Y, epochs=1, lr_schedule="exponential")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_hidden_units_train_without_overflow_warnings(dtype):
    # Inputs 1000x too large push Z1 far below -88, where exp(-Z1) overflows float32; the sigmoid
    # of a large batch must still be exactly 0 there, silently, as scipy's expit gives it.
    X, Y, _ = small_problem(10, 6, 3, 64, seed=32)
    X = X * 1000.0
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        trained = R.train_sgd(X, Y, n_hidden=6, learning_rate=0.1, epochs=2, batch_size=64, seed=33, dtype=dtype)
        rng = np.random.default_rng(33)
        start = R.init_params(10, 6, 3, seed=rng, dtype=dtype)
        expected = replay_sgd(X.astype(dtype), Y.astype(dtype), start, [dtype(0.1)] * 2, 64, None)
    tolerance = 1e-4 if dtype is np.float32 else 1e-12
    for name in R.PARAM_NAMES:
        assert np.all(np.isfinite(trained[name])), name
        np.testing.assert_allclose(trained[name], expected[name], rtol=tolerance, atol=tolerance, err_msg=name)


def test_cosine_schedule_falls_from_one_by_half_a_cosine_wave():
    factors = [R.learning_rate_factor("cosine", e, 4) for e in (1, 2, 3, 4)]
    np.testing.assert_allclose(factors, [1.0, (1 + np.sqrt(0.5)) / 2, 0.5, (1 - np.sqrt(0.5)) / 2], rtol=1e-15)


def shifted(X, offsets):
    """Columns of X as square images moved by (down, right) offsets, zeros moved in: the slow, obvious way."""
    side = round(np.sqrt(X.shape[0]))
    out = np.zeros_like(X)
    for j, (down, right) in enumerate(offsets):
        image = X[:, j].reshape(side, side)
        moved = np.zeros_like(image)
        moved[max(down, 0) : side + min(down, 0), max(right, 0) : side + min(right, 0)] = image[
            max(-down, 0) : side + min(-down, 0), max(-right, 0) : side + min(-right, 0)
        ]
        out[:, j] = moved.ravel()
    return out


def replay_sgd_with(X, Y, params, learning_rates, batch_size, rng, *, weight_decay=0.0, max_shift=0):
    """replay_sgd plus an L2 penalty on W1, W2 and images moved by offsets drawn before each epoch's shuffle."""
    params = {k: v.copy() for k, v in params.items()}
    side = round(np.sqrt(X.shape[0]))
    for learning_rate in learning_rates:
        X_epoch = X
        if max_shift:
            rows = rng.integers(0, 2 * max_shift + 1, size=X.shape[1])
            cols = rng.integers(0, 2 * max_shift + 1, size=X.shape[1])
            X_epoch = shifted(X, np.stack([max_shift - rows, max_shift - cols], axis=1))
        assert X_epoch.shape[0] == side * side
        for index in R.minibatches(X.shape[1], batch_size, rng if batch_size < X.shape[1] else None):
            grads = R.backward(X_epoch[:, index], Y[:, index], params, R.forward(X_epoch[:, index], params))
            grads["dW1"] = grads["dW1"] + weight_decay * params["W1"]
            grads["dW2"] = grads["dW2"] + weight_decay * params["W2"]
            for name in R.PARAM_NAMES:
                params[name] = params[name] - learning_rate * grads["d" + name]
    return params


@pytest.mark.parametrize("dtype", [np.float64, np.longdouble], ids=["fused", "plain"])
@pytest.mark.parametrize("batch_size", [7, 40])
@pytest.mark.parametrize("weight_decay,max_shift", [(0.05, 0), (0.0, 1), (0.01, 2)])
def test_weight_decay_and_shifted_images_train_as_written_out(dtype, batch_size, weight_decay, max_shift):
    # 36 images of 6x6: every step must be the textbook step on this epoch's moved images plus
    # weight_decay * W, in both the fused loop and the plain one.
    X, Y, _ = small_problem(36, 5, 3, 40, seed=41)
    trained = R.train_sgd(
        X,
        Y,
        n_hidden=5,
        learning_rate=0.3,
        epochs=3,
        batch_size=batch_size,
        seed=42,
        dtype=dtype,
        weight_decay=weight_decay,
        max_shift=max_shift,
        lr_schedule="cosine",
    )
    rng = np.random.default_rng(42)
    start = R.init_params(36, 5, 3, seed=rng)
    rates = [0.3 * R.learning_rate_factor("cosine", e, 3) for e in (1, 2, 3)]
    expected = replay_sgd_with(X, Y, start, rates, batch_size, rng, weight_decay=weight_decay, max_shift=max_shift)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(
            trained[name].astype(np.float64), expected[name], rtol=1e-10, atol=1e-13, err_msg=name
        )


def test_weight_decay_shrinks_the_weights_and_leaves_the_biases_to_the_data():
    X, Y, start = small_problem(8, 6, 3, 60, seed=43)
    plain = R.train_sgd(X, Y, params=start, learning_rate=0.5, epochs=20, batch_size=10, seed=44)
    decayed = R.train_sgd(X, Y, params=start, learning_rate=0.5, epochs=20, batch_size=10, seed=44, weight_decay=0.1)
    for name in ("W1", "W2"):
        assert np.linalg.norm(decayed[name]) < 0.9 * np.linalg.norm(plain[name]), name
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        R.train_sgd(X, Y, epochs=1, weight_decay=-0.1)


def test_shifting_needs_square_images():
    X, Y, _ = small_problem(10, 4, 3, 20, seed=45)
    with pytest.raises(ValueError, match="10 features is not a square number"):
        R.train_sgd(X, Y, epochs=1, max_shift=1)


def test_validation_losses_are_the_plain_cross_entropy_on_unshifted_images():
    X, Y, _ = small_problem(16, 4, 3, 30, seed=46)
    params, history = R.train_with_validation(
        X, Y, X[:, :10], Y[:, :10], n_hidden=4, epochs=2, batch_size=5, weight_decay=0.5, max_shift=1
    )
    assert history.train_loss[-1] == pytest.approx(R.loss(X, Y, params), rel=1e-12)
    assert history.val_loss[-1] == pytest.approx(R.loss(X[:, :10], Y[:, :10], params), rel=1e-12)


# --------------------------------------------------------------------------- the capstone's fit (notebook 10)


def notebook_fit():
    """Notebook 10's model answer of ``fit``, run on its released ``earlier_steps.py`` (the course's 01-07)."""
    import importlib.util

    import nbformat
    from conftest import REPO

    from nnlab_instructor.authoring.build import solution_source

    folder = REPO / "source" / "10-capstone"
    spec = importlib.util.spec_from_file_location("earlier_steps_10", folder / "earlier_steps.py")
    assert spec is not None and spec.loader is not None
    earlier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(earlier)
    namespace = dict(vars(earlier))
    notebook = nbformat.read(folder / "10-capstone.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "fit"]
    exec(solution_source(cell), namespace)
    return namespace["fit"]


def test_fit_returns_the_best_epochs_parameters_and_stops_with_patience():
    X, Y = teacher_problem(n_samples=40, seed=15)
    X_val, Y_val = teacher_problem(n_samples=200, seed=16)
    settings = dict(hidden=64, learning_rate=0.3, batch_size=5, epochs=60, seed=0)
    _, history = R.train_with_validation(X, Y, X_val, Y_val, n_hidden=64, learning_rate=0.3, epochs=60, batch_size=5)
    best = int(np.argmin(history.val_loss))
    assert 0 < best < 55, "this set-up is meant to overfit: the validation loss should turn up"
    params = R.fit(X, Y, X_val, Y_val, patience=61, **settings)
    assert {name: params[name].shape for name in R.PARAM_NAMES} == {
        "W1": (64, 8),
        "b1": (64, 1),
        "W2": (3, 64),
        "b2": (3, 1),
    }
    np.testing.assert_allclose(R.loss(X_val, Y_val, params), history.val_loss[best], rtol=1e-12)
    stopped = R.fit(X, Y, X_val, Y_val, patience=2, **settings)
    first_stale = next(t for t in range(61) if t - int(np.argmin(history.val_loss[: t + 1])) >= 2)
    np.testing.assert_allclose(R.loss(X_val, Y_val, stopped), history.val_loss[: first_stale + 1].min(), rtol=1e-12)
    with pytest.raises(ValueError, match="patience must be at least 1"):
        R.fit(X, Y, X_val, Y_val, patience=0)


def test_fit_is_seeded_and_leaves_its_arguments_alone():
    X, Y = teacher_problem(n_samples=30, seed=21)
    X_val, Y_val = teacher_problem(n_samples=50, seed=22)
    saved = [a.copy() for a in (X, Y, X_val, Y_val)]
    settings = dict(hidden=5, learning_rate=0.5, batch_size=4, epochs=5, patience=2)
    first, again, other = (R.fit(X, Y, X_val, Y_val, seed=s, **settings) for s in (3, 3, 4))
    for name in R.PARAM_NAMES:
        assert np.array_equal(first[name], again[name]), name
    assert not np.array_equal(first["W1"], other["W1"])
    for before, after in zip(saved, (X, Y, X_val, Y_val)):
        assert np.array_equal(before, after)


@pytest.mark.parametrize("patience,batch_size", [(2, 5), (100, 7), (1, 40)])
def test_fit_agrees_with_notebook_10s_model_answer(patience, batch_size):
    # The answer key and the notebook draw alike: one generator, first the weights, then every shuffle.
    X, Y = teacher_problem(n_samples=40, seed=31)
    X_val, Y_val = teacher_problem(n_samples=100, seed=32)
    settings = dict(hidden=6, learning_rate=0.5, batch_size=batch_size, epochs=30, patience=patience, seed=7)
    expected = notebook_fit()(X, Y, X_val, Y_val, **settings)
    result = R.fit(X, Y, X_val, Y_val, **settings)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(result[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------------- weight decay and tuning (notebook 09)


def test_loss_with_weight_decay_adds_half_lambda_times_the_squared_weights_only():
    X, Y, params = small_problem(6, 5, 3, 9, seed=47)
    params["b1"] += 0.7  # biases far from 0 must not change the penalty
    squared = sum(float((params[name] ** 2).sum()) for name in ("W1", "W2"))
    assert R.loss_with_weight_decay(X, Y, params, 0.0) == R.loss(X, Y, params)
    assert R.loss_with_weight_decay(X, Y, params, 0.3) == pytest.approx(
        R.loss(X, Y, params) + 0.15 * squared, rel=1e-12
    )
    # Not divided by the number of samples: the same penalty on a quarter of the samples.
    quarter = R.loss_with_weight_decay(X[:, :2], Y[:, :2], params, 0.3) - R.loss(X[:, :2], Y[:, :2], params)
    assert quarter == pytest.approx(0.15 * squared, rel=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 0.7])
def test_backward_with_weight_decay_passes_the_gradient_check_of_the_penalised_loss(weight_decay):
    X, Y, params = small_problem(5, 4, 3, 7, seed=48)
    params["b2"] += 0.5
    saved = {name: value.copy() for name, value in params.items()}
    grads = R.backward_with_weight_decay(X, Y, params, R.forward(X, params), weight_decay)
    measured = R.loss_gradients_by_differences(
        X, Y, params, loss_fn=lambda X, Y, params: R.loss_with_weight_decay(X, Y, params, weight_decay)
    )
    errors = {name: R.relative_error(grads["d" + name], measured["d" + name]) for name in R.PARAM_NAMES}
    assert max(errors.values()) < 1e-7, errors
    plain = R.backward(X, Y, params, R.forward(X, params))
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(grads["d" + name], plain["d" + name])
    for name in R.PARAM_NAMES:
        np.testing.assert_array_equal(params[name], saved[name], err_msg=f"{name} was modified")


def test_train_sgd_decays_the_weights_as_backward_with_weight_decay_says():
    # The fused training loop (float64) and notebook 09's gradient must agree on what weight_decay means.
    X, Y, start = small_problem(6, 5, 3, 12, seed=49)
    stepped = R.train_sgd(X, Y, params=start, learning_rate=0.4, epochs=1, batch_size=12, weight_decay=0.2)
    grads = R.backward_with_weight_decay(X, Y, start, R.forward(X, start), 0.2)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(stepped[name], start[name] - 0.4 * grads["d" + name], rtol=1e-12, atol=1e-14)


def test_best_setting_takes_the_highest_accuracy_then_fewer_hidden_units_then_the_first():
    def result(accuracy, n_hidden):
        return {"learning_rate": 0.5, "n_hidden": n_hidden, "weight_decay": 0.0, "val_accuracy": accuracy}

    assert R.best_setting([result(0.90, 16), result(0.93, 64), result(0.91, 16)]) == 1
    assert R.best_setting([result(0.93, 64), result(0.93, 16)]) == 1  # a tie: the smaller network
    assert R.best_setting([result(0.93, 32), result(0.93, 32), result(0.92, 8)]) == 0  # then the first
    assert R.best_setting([result(0.5, 64)]) == 0
    with pytest.raises(ValueError, match="at least one result"):
        R.best_setting([])


# ----------------------------------------------------------------- initialisation and activations (notebook 08)


@pytest.mark.parametrize(
    "scheme,std_1,std_2", [("normal", 1.0, 1.0), ("scaled", 1 / 20, 1 / 40), ("he", 0.1 / 2**0.5, 1 / 20 / 2**0.5)]
)
def test_initialise_draws_normal_weights_of_the_schemes_scale_and_zero_biases(scheme, std_1, std_2):
    params = R.initialise(400, 1600, 30, np.random.default_rng(0), scheme)
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (1600, 400),
        "b1": (1600, 1),
        "W2": (30, 1600),
        "b2": (30, 1),
    }
    assert not params["b1"].any() and not params["b2"].any()
    # 640,000 and 48,000 draws: the sample deviation is within 1 % of the true one
    assert np.std(params["W1"]) == pytest.approx(std_1, rel=0.01)
    assert np.std(params["W2"]) == pytest.approx(std_2, rel=0.01)
    assert abs(np.mean(params["W1"])) < 0.01 * std_1


def test_initialise_draws_w1_then_w2_from_the_generator_it_is_given():
    rng = np.random.default_rng(5)
    W1 = rng.standard_normal((8, 6)) / np.sqrt(6)
    W2 = rng.standard_normal((3, 8)) / np.sqrt(8)
    params = R.initialise(6, 8, 3, np.random.default_rng(5))
    np.testing.assert_allclose(params["W1"], W1, rtol=1e-15, atol=0)
    np.testing.assert_allclose(params["W2"], W2, rtol=1e-15, atol=0)


def test_initialise_zeros_draws_nothing_and_sets_every_parameter_to_zero():
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    params = R.initialise(5, 4, 3, rng, "zeros")
    assert rng.bit_generator.state == state
    assert all(not value.any() for value in params.values())


def test_initialise_names_an_unknown_scheme():
    with pytest.raises(ValueError, match="'xavier'"):
        R.initialise(5, 4, 3, np.random.default_rng(0), "xavier")


def test_collapse_linear_computes_what_the_two_layers_compute():
    rng = np.random.default_rng(2)
    W1, b1 = rng.normal(size=(7, 5)), rng.normal(size=(7, 1))
    W2, b2 = rng.normal(size=(3, 7)), rng.normal(size=(3, 1))
    X = rng.normal(size=(5, 11))
    W, b = R.collapse_linear(W1, b1, W2, b2)
    assert W.shape == (3, 5) and b.shape == (3, 1)
    np.testing.assert_allclose(W @ X + b, W2 @ (W1 @ X + b1) + b2, rtol=1e-12, atol=1e-12)


def test_relu_and_its_derivative_element_by_element():
    Z = np.array([[-2.0, -0.0, 0.0], [1e-300, 3.5, -1e-300]])
    before = Z.copy()
    np.testing.assert_array_equal(R.relu(Z), [[0.0, 0.0, 0.0], [1e-300, 3.5, 0.0]])
    derivative = R.relu_derivative(Z)
    assert derivative.dtype == np.float64
    np.testing.assert_array_equal(derivative, [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(Z, before)
