"""The reference maths: softmax, loss, gradients, training, and the tutorial's errors it must not repeat."""

import inspect

import numpy as np
import pytest
from sklearn.metrics import log_loss

from nnlab import reference as R


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
    X, Y, params = small_problem(6, 5, 4, 9, seed=0)
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
    X, Y, params = small_problem(6, 5, 4, 10, seed=7)
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
        arrays = {k: type(v).__name__ for k, v in inspect.getclosurevars(function).globals.items() if isinstance(v, np.ndarray)}
        assert not arrays, f"{function.__name__} reads global arrays {arrays}"


def test_train_with_validation_records_losses_and_early_stopping_keeps_the_best_epoch():
    # Few noisy samples and a large network overfit quickly, so the validation loss turns up.
    X, Y = teacher_problem(n_samples=40, seed=15)
    X_val, Y_val = teacher_problem(n_samples=200, seed=16)
    params, history = R.train_with_validation(X, Y, X_val, Y_val, n_hidden=64, learning_rate=0.3, epochs=60, batch_size=5, seed=0)
    assert history.epoch.tolist() == list(range(61))
    assert history.train_loss.shape == history.val_loss.shape == (61,)
    assert history.train_loss[-1] < history.train_loss[0]
    best = int(np.argmin(history.val_loss))
    assert 0 < best < 60, "this set-up is meant to overfit: the validation loss should turn up"
    assert history.best_epoch == history.epoch[best]
    np.testing.assert_allclose(R.loss(X_val, Y_val, params), history.val_loss[-1], rtol=1e-12)

    stopped, early = R.train_with_validation(X, Y, X_val, Y_val, n_hidden=64, learning_rate=0.3, epochs=60, batch_size=5, seed=0, patience=5)
    assert early.stopped_early and early.epoch[-1] == early.best_epoch + 5
    assert early.best_epoch == early.epoch[np.argmin(early.val_loss)]
    np.testing.assert_allclose(R.loss(X_val, Y_val, stopped), early.val_loss.min(), rtol=1e-12)
    np.testing.assert_allclose(early.val_loss, history.val_loss[: len(early.val_loss)], rtol=1e-12)


def test_record_every_thins_the_history():
    X, Y, _ = small_problem(5, 4, 3, 20, seed=17)
    _, history = R.train_with_validation(X, Y, X, Y, n_hidden=4, epochs=7, batch_size=5, record_every=3)
    assert history.epoch.tolist() == [0, 3, 6, 7]
