"""Text classification on sparse TF-IDF features: the first layer reads only the non-zeros.

A small corpus is generated here: documents about four topics (sport, cooking, computing, music),
each a mix of its topic's words and words common to every topic. scikit-learn's TfidfVectorizer
turns them into a sparse matrix X (one row per document, one column per word or pair of
adjacent words, most entries 0), and ``bpcore.MLPClassifier`` trains on X as it is. X is never densified: the first layer computes
Z^[1] = X W^[1] + b^[1] and ∂J/∂W^[1] = −(1/n) Xᵀ δ^[1] over X's stored values only, so memory and
time grow with the non-zeros, not with documents × vocabulary.

The script checks that the network classifies held-out documents well, and that the sparse fit
gives the same network as a fit on the densified X (``X.toarray()``), up to rounding.

Run: ``python examples/tfidf_text.py [--docs 800] [--seed 0]``. Needs scikit-learn.
Exits with status 1 if a claim does not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import bpcore
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split

TOPICS = {
    "sport": "match goal team player coach league score season stadium referee keeper striker "
    "tackle penalty trophy final sprint marathon medal record",
    "cooking": "recipe oven flour butter sugar garlic onion simmer bake roast sauce pepper salt "
    "dough knife pan whisk spice broth dessert",
    "computing": "compiler kernel thread memory cache pointer server network packet database "
    "query python binary debug socket compile algorithm vector cluster",
    "music": "guitar melody chord rhythm piano drum concert album singer violin tempo harmony "
    "orchestra lyric chorus bass jazz opera studio",
}
COMMON = (
    "the a of and to in is it that for on with as was at by this from day people time year new "
    "good first last long great little own other old right big high different small large next "
    "early young important few public bad same able week"
).split()


def corpus(n_docs: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n_docs`` documents of 10 to 30 words, about a quarter of them from the topic's own words."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    docs, labels = [], []
    for i in range(n_docs):
        topic = i % len(names)
        own = TOPICS[names[topic]].split()
        length = int(rng.integers(10, 31))
        words = [
            own[rng.integers(len(own))]
            if rng.random() < 0.25
            else COMMON[rng.integers(len(COMMON))]
            for _ in range(length)
        ]
        docs.append(" ".join(words))
        labels.append(names[topic])
    return docs, np.array(labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    docs, y = corpus(args.docs, args.seed)
    X = TfidfVectorizer(ngram_range=(1, 2)).fit_transform(docs)  # scipy.sparse CSR, float64
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=args.seed, stratify=y
    )
    n, d = X.shape
    density = X.nnz / (n * d)
    stored = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    print(
        f"{n} documents, {d} columns (words and word pairs): X is {type(X).__name__} with {X.nnz} stored values"
    )
    print(
        f"density {density:.2%}; X takes {stored / 1e3:.0f} kB, dense it would take "
        f"{n * d * 8 / 1e3:.0f} kB"
    )

    # 40 iterations classify this corpus well; the loss would still fall a little after them
    warnings.simplefilter("ignore", ConvergenceWarning)

    def classifier() -> bpcore.MLPClassifier:
        return bpcore.MLPClassifier(
            hidden_layer_sizes=(32,), max_iter=40, random_state=args.seed, tol=1e-3
        )

    t0 = time.perf_counter()
    clf = classifier().fit(X_train, y_train)
    t_sparse = time.perf_counter() - t0
    train_acc = clf.score(X_train, y_train)
    test_acc = clf.score(X_test, y_test)
    print(
        f"MLPClassifier {d}-32-{len(TOPICS)}: {clf.n_iter_} iterations, "
        f"training accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}"
    )

    t0 = time.perf_counter()
    dense = classifier().fit(X_train.toarray(), y_train)
    t_dense = time.perf_counter() - t0
    gap = max(np.abs(a - b).max() for a, b in zip(clf.coefs_, dense.coefs_))
    same = bool(np.array_equal(clf.predict(X_test), dense.predict(X_test.toarray())))
    print(
        f"the same fit on the densified X: largest weight difference {gap:.1e}, "
        f"same test predictions: {same}"
    )
    print(f"fit time: sparse X {t_sparse:.2f} s, densified X {t_dense:.2f} s")

    ok = True
    if test_acc < 0.9:
        print(f"FAIL: test accuracy {test_acc:.3f} < 0.9")
        ok = False
    if not (gap < 1e-9 and same):
        print("FAIL: the sparse and dense fits differ")
        ok = False
    if ok:
        print("all claims hold")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
