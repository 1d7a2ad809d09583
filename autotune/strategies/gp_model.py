"""The Gaussian-process model behind the gp strategy: Matérn 5/2 kernel with one length scale per input
dimension, hyperparameters by maximum a posteriori marginal likelihood, the posterior, and log expected
improvement.

Written in numpy because the package's core dependencies stop at numpy (no scipy, no torch): the
kernel, its gradient, a small L-BFGS and the normal tail functions are here instead of in a library.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SQRT5 = math.sqrt(5.0)
LOG_2PI = math.log(2 * math.pi)
JITTER = 1e-8
# Priors, on the log of each hyperparameter (inputs in [0, 1]^D, targets warped to unit spread): length
# scales by Optuna's -0.1 (l^2 + 1 / l^2), flat around 1 and steep beyond 0.1 and 10 (the dimension-scaled
# prior of Hvarfner et al., 2024, centred near 9 at 10 dimensions, sent the search to the corners of
# bbob at these budgets); signal variance around 1; noise small (a measured score is repeatable to a
# few percent of its spread).
LENGTHSCALE_PRIOR_WEIGHT = 0.1
NOISE_PRIOR = (math.log(1e-3), 2.0)
SIGNAL_PRIOR = (0.0, 1.0)
BOUNDS_LOG_LENGTHSCALE = (math.log(1e-2), math.log(1e2))
BOUNDS_LOG_NOISE = (math.log(1e-6), math.log(1.0))
BOUNDS_LOG_SIGNAL = (math.log(1e-2), math.log(1e2))
FIT_ITERATIONS = 20


@dataclass
class GP:
    """A fitted model: training inputs, centred targets, hyperparameters and the factors the posterior needs."""
    X: np.ndarray
    y: np.ndarray  # the targets less their mean
    mean: float
    lengthscales: np.ndarray
    signal: float
    noise: float
    alpha: np.ndarray   # K^-1 y
    K_inv: np.ndarray

    def posterior(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (of the centred targets) and variance of the latent function at each row of Xs."""
        k = self.signal * matern52(sq_dist(Xs / self.lengthscales, self.X / self.lengthscales))
        mu = k @ self.alpha
        var = self.signal - np.einsum("ij,ij->i", k @ self.K_inv, k)
        return mu, np.maximum(var, 1e-12 * self.signal)


def sq_dist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def matern52(r2: np.ndarray) -> np.ndarray:
    r = np.sqrt(r2)
    return (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * np.exp(-SQRT5 * r)


def fit(X: np.ndarray, y: np.ndarray, subset: np.ndarray | None = None) -> GP:
    """The model of y over X, hyperparameters fitted on the rows in `subset` (all when None)."""
    mean = float(y.mean())
    yc = y - mean
    fit_X, fit_y = (X, yc) if subset is None else (X[subset], yc[subset])
    theta = optimise_hyperparameters(fit_X, fit_y)
    lengthscales, signal, noise = np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])
    K = signal * matern52(sq_dist(X / lengthscales, X / lengthscales)) + (noise + JITTER) * np.eye(len(X))
    L = _cholesky(K)
    L_inv = np.linalg.inv(L)
    K_inv = L_inv.T @ L_inv
    return GP(X, yc, mean, lengthscales, signal, noise, K_inv @ yc, K_inv)


def _cholesky(K: np.ndarray) -> np.ndarray:
    """Cholesky with growing jitter: duplicated rows (a repeated configuration) make K singular."""
    jitter = 0.0
    for _ in range(8):
        try:
            return np.linalg.cholesky(K + jitter * np.eye(len(K)))
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10, 1e-6 * float(np.mean(np.diag(K))))
    raise np.linalg.LinAlgError("kernel matrix is not positive definite")


def _bounds(dim: int) -> tuple[np.ndarray, np.ndarray]:
    low = np.array([BOUNDS_LOG_LENGTHSCALE[0]] * dim + [BOUNDS_LOG_SIGNAL[0], BOUNDS_LOG_NOISE[0]])
    high = np.array([BOUNDS_LOG_LENGTHSCALE[1]] * dim + [BOUNDS_LOG_SIGNAL[1], BOUNDS_LOG_NOISE[1]])
    return low, high


def _prior_centre(dim: int) -> np.ndarray:
    return np.array([0.0] * dim + [SIGNAL_PRIOR[0], NOISE_PRIOR[0]])


def log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """The log prior density of theta (up to a constant) and its gradient."""
    dim = len(theta) - 2
    t2 = np.exp(2.0 * theta[:dim])
    value = -LENGTHSCALE_PRIOR_WEIGHT * (t2 + 1.0 / t2).sum()
    grad = np.empty_like(theta)
    grad[:dim] = -2.0 * LENGTHSCALE_PRIOR_WEIGHT * (t2 - 1.0 / t2)
    for j, (mu, sd) in ((dim, SIGNAL_PRIOR), (dim + 1, NOISE_PRIOR)):
        value -= 0.5 * ((theta[j] - mu) / sd) ** 2
        grad[j] = -(theta[j] - mu) / sd ** 2
    return value, grad


def negative_log_posterior(theta: np.ndarray, diffs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """-(log marginal likelihood + log prior) of the hyperparameters theta = (log length scales, log
    signal variance, log noise variance), and its gradient. diffs holds the squared differences of the
    inputs per dimension, (D, n, n)."""
    dim, n = diffs.shape[0], len(y)
    inv_l2 = np.exp(-2.0 * theta[:dim])
    signal, noise = math.exp(theta[dim]), math.exp(theta[dim + 1])
    r2 = np.tensordot(inv_l2, diffs, axes=1)
    r = np.sqrt(r2)
    e = np.exp(-SQRT5 * r)
    Kf = signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e
    K = Kf + (noise + JITTER) * np.eye(n)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return math.inf, np.zeros_like(theta)
    L_inv = np.linalg.inv(L)
    K_inv = L_inv.T @ L_inv
    alpha = K_inv @ y
    nll = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * LOG_2PI
    A = np.outer(alpha, alpha) - K_inv  # d log p / d theta_j = 0.5 tr(A dK/dtheta_j)
    G = signal * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e  # dK / d log l_d = G * diffs_d / l_d^2
    grad = np.empty_like(theta)
    grad[:dim] = -0.5 * inv_l2 * np.tensordot(diffs, A * G, axes=([1, 2], [0, 1]))
    grad[dim] = -0.5 * (A * Kf).sum()
    grad[dim + 1] = -0.5 * noise * np.trace(A)
    prior, prior_grad = log_prior(theta)
    return float(nll - prior), grad - prior_grad


def optimise_hyperparameters(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MAP hyperparameters from the prior's centre by projected L-BFGS (deterministic: the same data
    gives the same model, which a restored strategy relies on)."""
    dim = X.shape[1]
    diffs = (X.T[:, :, None] - X.T[:, None, :]) ** 2
    low, high = _bounds(dim)
    theta0 = np.clip(_prior_centre(dim), low, high)
    return lbfgs(lambda t: negative_log_posterior(t, diffs, y), theta0, low, high, FIT_ITERATIONS)


def lbfgs(f, x0: np.ndarray, low: np.ndarray, high: np.ndarray, iterations: int, memory: int = 8) -> np.ndarray:
    """Minimise f (returning value and gradient) within a box: L-BFGS directions, steps projected onto
    the box, Armijo backtracking. Small and deterministic; scipy's L-BFGS-B is not a core dependency."""
    x = x0.copy()
    fx, g = f(x)
    if not math.isfinite(fx):
        return x
    s_list: list[np.ndarray] = []
    y_list: list[np.ndarray] = []
    for _ in range(iterations):
        # Two-loop recursion for the quasi-Newton direction.
        q = g.copy()
        alphas = []
        for s, yv in reversed(list(zip(s_list, y_list))):
            a = (s @ q) / (yv @ s)
            alphas.append(a)
            q -= a * yv
        if s_list:
            q *= (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
        else:
            q /= max(1.0, np.abs(q).max())
        for (s, yv), a in zip(zip(s_list, y_list), reversed(alphas)):
            q += s * (a - (yv @ q) / (yv @ s))
        direction = -q
        # Free variables only: a bound that the gradient pushes against stays put.
        blocked = ((x <= low) & (g > 0)) | ((x >= high) & (g < 0))
        direction[blocked] = 0.0
        if g @ direction >= 0:
            direction = -g * ~blocked
        step, accepted = 1.0, False
        for _ in range(20):
            x_new = np.clip(x + step * direction, low, high)
            f_new, g_new = f(x_new)
            if f_new <= fx + 1e-4 * (g @ (x_new - x)):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        s, yv = x_new - x, g_new - g
        converged = fx - f_new < 1e-7 * max(1.0, abs(fx))
        x, fx, g = x_new, f_new, g_new
        if s @ yv > 1e-10:
            s_list.append(s)
            y_list.append(yv)
            if len(s_list) > memory:
                s_list.pop(0)
                y_list.pop(0)
        if converged or np.abs(s).max() < 1e-6:
            break
    return x


def log_expected_improvement(gp: GP, Xs: np.ndarray, best: float) -> np.ndarray:
    """log EI of improving on `best` (a target value, in the units of the training targets), computed
    in the log domain so that it keeps ranking points where EI itself underflows to 0 (Ament et al.,
    2023, "Unexpected improvements to expected improvement")."""
    mu, var = gp.posterior(Xs)
    sd = np.sqrt(var)
    z = (best - gp.mean - mu) / sd
    return log_h(z) + np.log(sd)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)), the expected improvement of a standard normal over -z."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -2.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu) / math.sqrt(2 * math.pi) + zu * normal_cdf(zu))
    # Lower tail: phi(z) (1 - x R(x)), x = -z, with R the Mills ratio from its continued fraction.
    x = -z[~upper]
    out[~upper] = -0.5 * x * x - 0.5 * LOG_2PI + np.log(np.maximum(1.0 - x * mills_ratio(x), 1e-300))
    return out


def mills_ratio(x: np.ndarray, terms: int = 60) -> np.ndarray:
    """R(x) = (1 - Phi(x)) / phi(x) for x >= 2, by Laplace's continued fraction
    1 / (x + 1 / (x + 2 / (x + 3 / ...))), evaluated from the tail."""
    tail = np.zeros_like(x)
    for k in range(terms, 0, -1):
        tail = k / (x + tail)
    return 1.0 / (x + tail)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF to double precision: math.erf element by element (numpy has no erf)."""
    return np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in np.ravel(z)]).reshape(np.shape(z))
