"""Real tuning problems that ship with their data: scikit-learn models on its bundled data sets, scored by
5-fold cross-validation on a fixed 80% split, with bayesmark's search spaces for each model.

bayesmark (uber/bayesmark, sklearn_funcs.py) defines the models, their fixed settings and their
spaces; its package pins old scikit-learn and numpy, so the spaces are restated here in our task
format. Its "logit" axis has no counterpart in a task file and becomes a plain linear range.
"""
from __future__ import annotations

import math
import statistics
import warnings

from methods import best_so_far, budget_runs, make

CV_SPLITS = 5


def _real(low, high, log=False):
    return {"type": "float", "low": low, "high": high, **({"log": True} if log else {})}


def _int(low, high):
    return {"type": "int", "low": low, "high": high}


SPACES = {
    "kNN": {"n_neighbors": _int(1, 25), "p": _int(1, 4)},
    "SVM": {"C": _real(1.0, 1e3, log=True), "gamma": _real(1e-4, 1e-3, log=True), "tol": _real(1e-5, 1e-1, log=True)},
    "DT": {"max_depth": _int(1, 15), "min_samples_split": _real(0.01, 0.99), "min_samples_leaf": _real(0.01, 0.49),
           "min_weight_fraction_leaf": _real(0.01, 0.49), "max_features": _real(0.01, 0.99),
           "min_impurity_decrease": _real(0.0, 0.5)},
    "RF": {"max_depth": _int(1, 15), "max_features": _real(0.01, 0.99), "min_samples_split": _real(0.01, 0.99),
           "min_samples_leaf": _real(0.01, 0.49), "min_weight_fraction_leaf": _real(0.01, 0.49),
           "min_impurity_decrease": _real(0.0, 0.5)},
    "linear": {"C": _real(1e-2, 1e2, log=True), "intercept_scaling": _real(1e-2, 1e2, log=True)},
    "lasso": {"C": _real(1e-2, 1e2, log=True), "intercept_scaling": _real(1e-2, 1e2, log=True)},
}

# (model, data set, metric): twelve of bayesmark's grid whose evaluation takes under 0.2 s here (AdaBoost,
# the MLPs and kNN on digits take up to seconds), classification scored by log loss, regression by
# squared or absolute error.
PROBLEMS = [
    ("kNN", "iris", "nll"), ("kNN", "breast", "nll"), ("kNN", "diabetes", "mse"),
    ("SVM", "wine", "nll"), ("SVM", "diabetes", "mse"),
    ("DT", "breast", "nll"), ("DT", "digits", "nll"), ("DT", "diabetes", "mse"),
    ("RF", "wine", "nll"), ("RF", "diabetes", "mae"),
    ("linear", "wine", "nll"), ("lasso", "iris", "nll"),
]
SCORERS = {"nll": "neg_log_loss", "acc": "accuracy", "mse": "neg_mean_squared_error", "mae": "neg_mean_absolute_error"}


def _model(name: str, regression: bool, params: dict):
    from sklearn import ensemble, linear_model, multiclass, neighbors, svm, tree

    if name == "kNN":
        return (neighbors.KNeighborsRegressor if regression else neighbors.KNeighborsClassifier)(**params)
    if name == "SVM":
        return svm.SVR(kernel="rbf", **params) if regression else svm.SVC(kernel="rbf", probability=True, **params)
    if name == "DT":
        return (tree.DecisionTreeRegressor if regression else tree.DecisionTreeClassifier)(max_leaf_nodes=None, **params)
    if name == "RF":
        cls = ensemble.RandomForestRegressor if regression else ensemble.RandomForestClassifier
        return cls(n_estimators=10, max_leaf_nodes=None, **params)
    # bayesmark's lasso and linear: liblinear logistic regression, l1 or l2, one class against the rest
    return multiclass.OneVsRestClassifier(linear_model.LogisticRegression(
        solver="liblinear", l1_ratio=1.0 if name == "lasso" else 0.0, **params))


def _data(name: str):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine, "breast": datasets.load_breast_cancer,
              "digits": datasets.load_digits, "diabetes": datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0, shuffle=True)
    return X_train, y_train, name == "diabetes"


def objective(model: str, dataset: str, metric: str):
    from sklearn.model_selection import cross_val_score

    X, y, regression = _data(dataset)

    def loss(params: dict) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(_model(model, regression, params), X, y, scoring=SCORERS[metric], cv=CV_SPLITS)
        value = -float(scores.mean())
        return value if math.isfinite(value) else 1e6  # a model that diverged: a bad score, not a crash

    return loss


def name(problem: tuple) -> str:
    return "-".join(problem)


def run(job):
    """Best-so-far cross-validated loss at each budget for one (method, problem, seed)."""
    method, problem, seed, budgets = job
    return best_so_far(make(method, SPACES[problem[0]], seed, max(budgets)), objective(*problem), budgets)


def jobs(methods, budgets, seeds) -> list[tuple]:
    return [(m, p, seed, runs) for m in methods for p in PROBLEMS for seed in seeds for runs in budget_runs(m, budgets)]


def mean_ranks(job_list, results, methods) -> dict:
    """(method, budget) -> mean over problems of the method's rank by its mean best loss over seeds
    (1 is best; ties share the average rank)."""
    means = {}
    for (method, problem, _, _), out in zip(job_list, results):
        for budget, value in out.items():
            means.setdefault((tuple(problem), int(budget)), {}).setdefault(method, []).append(value)
    ranks = {}
    for (problem, budget), per_method in means.items():
        values = {m: statistics.mean(v) for m, v in per_method.items()}
        for m in methods:
            below = sum(values[o] < values[m] for o in methods)
            equal = sum(values[o] == values[m] for o in methods)
            ranks.setdefault((m, budget), []).append(below + (equal + 1) / 2)
    return {k: statistics.mean(v) for k, v in ranks.items()}
