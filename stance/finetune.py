"""Fine-tuning the sentence encoder for stance, cheaply on a CPU.

A frozen encoder places sentences by topic: "Serbia buys French jets in a shift
away from Moscow" lands beside other sentences about Russia and arms. Training
the encoder's top layers with the stance labels moves sentences by who does
what to whom instead. Three things keep it affordable on two cores:

* only the top ``layers`` transformer layers are trained; the lower layers'
  token states are computed once per sentence and kept (they never change);
* batches hold sentences of similar length, so little compute goes to padding;
* sentences are cut at ``max_length`` tokens (news sentences rarely reach it).

The heads start from a logistic regression fitted on the frozen embeddings and
are then trained with the top layers (linear probing, then fine-tuning: it
changes the pre-trained features less than training from a random head, which
helps on text unlike the training set). The loss is cross-entropy with balanced
class weights, one head per target, summed over targets; a sentence unlabeled
for a target does not count for it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from stance.encoders.tuned import TunedEncoder, _transformer
from stance.model import StanceClassifier
from stance.schema import STANCES, TARGETS

__all__ = ["FineTunedClassifier", "LinearHead", "fine_tune", "lower_states"]


class LinearHead:
    """A fitted softmax layer: ``predict_proba(X) = softmax(X @ coef_.T + intercept_)``.

    What a fine-tuned model keeps of the head it trained, in scikit-learn's shape
    (``classes_``, ``coef_``, ``intercept_``), so that it is saved, loaded and
    calibrated like any other head.
    """

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str]):
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.classes_ = np.asarray(list(classes), dtype=object)

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        out = np.exp(logits)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _torch():
    import torch

    return torch


def _additive_mask(mask):
    torch = _torch()
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min


def _run_layers(inner, layers, hidden, mask):
    """Run transformer ``layers`` of ``inner`` (BERT-like, or MPNet with its relative position bias)."""
    extended = _additive_mask(mask)
    extra = ()
    if hasattr(inner.encoder, "compute_position_bias"):  # MPNet
        extra = (inner.encoder.compute_position_bias(hidden),)
    for layer in layers:
        out = layer(hidden, extended, *extra)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def _embed(inner, ids):
    """Token embeddings; BERT-like models also take token types (all 0 for one sentence)."""
    import inspect

    if "token_type_ids" in inspect.signature(inner.embeddings.forward).parameters:
        return inner.embeddings(input_ids=ids, token_type_ids=_torch().zeros_like(ids))
    return inner.embeddings(input_ids=ids)


def _tokenize(model, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return model.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _pad(rows: list, pad_id: int):
    torch = _torch()
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def _pad_states(states: list):
    torch = _torch()
    width = max(s.shape[0] for s in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]), dtype=states[0].dtype)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return hidden, mask


def lower_states(model, texts: Sequence[str], n_lower: int, max_length: int, memo: dict | None = None) -> list:
    """Token states after the embeddings and the lowest ``n_lower`` layers, one tensor per text.

    Frozen during fine-tuning, so computed once; ``memo`` (a dict kept by the
    caller) keeps them across cross-validation folds.
    """
    torch = _torch()
    memo = {} if memo is None else memo
    missing = [t for t in dict.fromkeys(texts) if (n_lower, max_length, t) not in memo]
    if missing:
        inner = _transformer(model)
        ids = _tokenize(model, missing, max_length)
        order = np.argsort([len(r) for r in ids], kind="stable")
        with torch.no_grad():
            for start in range(0, len(order), 64):
                chunk = order[start : start + 64]
                batch_ids, mask = _pad([ids[i] for i in chunk], model.tokenizer.pad_token_id or 0)
                hidden = _run_layers(inner, inner.encoder.layer[:n_lower], _embed(inner, batch_ids), mask)
                for row, i in enumerate(chunk):
                    memo[(n_lower, max_length, missing[i])] = hidden[row, : len(ids[i])].clone()
    return [memo[(n_lower, max_length, t)] for t in texts]


def _pool(hidden, mask):
    torch = _torch()
    weights = mask[..., None].to(hidden.dtype)
    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: sort within random pools of 8 batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 8
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _class_weights(y: np.ndarray) -> np.ndarray:
    """Balanced weights over STANCES for one target's labels (None = unlabeled)."""
    labeled = [v for v in y if v is not None]
    counts = np.array([labeled.count(s) for s in STANCES], dtype=float)
    present = counts > 0
    weights = np.zeros(len(STANCES))
    weights[present] = len(labeled) / (present.sum() * counts[present])
    return weights


def fine_tune(
    base,
    texts: Sequence[str],
    y: np.ndarray,
    *,
    warm_heads: Sequence[LinearHead],
    layers: int = 2,
    epochs: int = 3,
    lr: float = 1e-4,
    head_lr: float = 1e-3,
    batch_size: int = 16,
    max_length: int = 128,
    seed: int = 0,
    memo: dict | None = None,
):
    """Train a copy of ``base`` (a SentenceTransformer) and one head per target on labeled sentences.

    Parameters
    ----------
    base : SentenceTransformer
        Not changed; its top ``layers`` layers are trained in a copy.
    texts : sentences; y : object array (n, n_targets) of STANCES values or None.
    warm_heads : per target, the head to start from (classes in STANCES order).
    layers : how many top transformer layers to train (all of them for a full fine-tune).
    memo : lower-layer states kept by the caller across calls (see :func:`lower_states`).

    Returns
    -------
    (SentenceTransformer, list[LinearHead]) : the tuned encoder (``max_seq_length``
    set to ``max_length``) and the trained heads.
    """
    torch = _torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = copy.deepcopy(base).to("cpu")
    model.max_seq_length = max_length
    inner = _transformer(model)
    blocks = inner.encoder.layer
    n_lower = max(0, len(blocks) - layers)
    for p in inner.parameters():
        p.requires_grad_(False)
    trained = list(blocks[n_lower:])
    if n_lower == 0:
        trained.insert(0, inner.embeddings)
    for module in trained:
        for p in module.parameters():
            p.requires_grad_(True)
    if n_lower:
        states = lower_states(model, texts, n_lower, max_length, memo)
        lengths = np.array([s.shape[0] for s in states])
    else:
        ids = _tokenize(model, texts, max_length)
        lengths = np.array([len(r) for r in ids])
    dim = len(warm_heads[0].coef_[0])
    heads = torch.nn.ModuleList([torch.nn.Linear(dim, len(STANCES)) for _ in warm_heads])
    with torch.no_grad():
        for head, warm in zip(heads, warm_heads):
            assert list(warm.classes_) == list(STANCES)
            head.weight.copy_(torch.as_tensor(warm.coef_, dtype=torch.float32))
            head.bias.copy_(torch.as_tensor(warm.intercept_, dtype=torch.float32))
    index = {s: i for i, s in enumerate(STANCES)}
    targets_idx = torch.as_tensor(
        np.array([[index[v] if v is not None else -100 for v in row] for row in y], dtype=np.int64).reshape(len(texts), -1)
    )
    losses = [torch.nn.CrossEntropyLoss(weight=torch.as_tensor(_class_weights(y[:, j]), dtype=torch.float32),
                                        ignore_index=-100) for j in range(y.shape[1])]
    params = [p for m in trained for p in m.parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": params, "lr": lr}, {"params": list(heads.parameters()), "lr": head_lr}], weight_decay=0.01
    )
    steps = epochs * int(np.ceil(len(texts) / batch_size))
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    for module in trained:
        module.train()
    for _ in range(epochs):
        for batch in _batches(lengths, batch_size, rng):
            if n_lower:
                hidden, mask = _pad_states([states[i] for i in batch])
            else:
                batch_ids, mask = _pad([ids[i] for i in batch], model.tokenizer.pad_token_id or 0)
                hidden = _embed(inner, batch_ids)
            pooled = _pool(_run_layers(inner, blocks[n_lower:], hidden, mask), mask)
            gold = targets_idx[batch]
            loss = sum(
                losses[j](head(pooled), gold[:, j]) for j, head in enumerate(heads) if (gold[:, j] != -100).any()
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    for p in inner.parameters():
        p.requires_grad_(False)
    out = [
        LinearHead(h.weight.detach().numpy().copy(), h.bias.detach().numpy().copy(), STANCES) for h in heads
    ]
    return model, out


def _warm_head(features, y, groups, Cs, cv, unscored=None) -> tuple[LinearHead, float]:
    """A balanced logistic regression on frozen embeddings, C chosen by grouped CV, as a LinearHead over STANCES."""
    from stance.model import in_float64, inner_folds, search_C

    present = sorted(set(y.tolist()))
    if len(present) == 1:  # nothing to separate: the one class, always
        intercept = np.where(np.asarray(STANCES) == present[0], 0.0, -10.0)
        return LinearHead(np.zeros((len(STANCES), features.shape[1])), intercept, STANCES), float(Cs[0])
    folds = inner_folds(y, groups, cv, unscored)
    search = search_C(Cs, folds)
    features = in_float64(features)
    if folds is None or len(Cs) == 1:
        C = Cs[0] if len(Cs) == 1 else 1.0
        fitted = search.estimator.set_params(C=C).fit(features, y)
    else:
        fitted, C = search.fit(features, y).best_estimator_, search.best_params_["C"]
    classes = list(fitted.classes_)
    coef = np.zeros((len(STANCES), features.shape[1]))
    intercept = np.full(len(STANCES), -10.0)  # a class absent from the labels stays improbable
    if len(classes) == 2:  # binary LR keeps one row: the second class against the first
        rows = {classes[0]: -fitted.coef_[0] / 2, classes[1]: fitted.coef_[0] / 2}
        bias = {classes[0]: -fitted.intercept_[0] / 2, classes[1]: fitted.intercept_[0] / 2}
    else:
        rows = dict(zip(classes, fitted.coef_))
        bias = dict(zip(classes, fitted.intercept_))
    for i, s in enumerate(STANCES):
        if s in rows:
            coef[i], intercept[i] = rows[s], bias[s]
    return LinearHead(coef, intercept, STANCES), float(C)


class FineTunedClassifier(StanceClassifier):
    """A :class:`StanceClassifier` whose encoder's top layers are trained for stance.

    Parameters
    ----------
    encoder : SentenceEncoder, default=None
        The pre-trained encoder to start from (None: the bundled MiniLM). It is
        not changed; the model keeps a tuned copy.
    targets : sequence of str
    layers : int, default=2
        Top transformer layers to train (the lower ones are frozen and their
        outputs computed once); 6 trains all of MiniLM.
    epochs, lr, head_lr, batch_size, max_length, seed :
        Training settings (see :func:`fine_tune`): the best of the settings tried
        in cross-validation grouped by article (``experiments/README.md``).
    Cs, cv : candidate C and folds for the starting heads (logistic regression on
        the frozen embeddings; with several candidates, C is chosen by CV grouped by
        article, which costs more than the fine-tuning; one candidate is taken as is).
    temperature, threshold : dict[str, float] or None
        Per target, a temperature for the probabilities and an abstention
        threshold, as fitted on out-of-fold predictions by :func:`stance.train.train`.

    Attributes
    ----------
    encoder_ : TunedEncoder
    heads_ : dict[str, LinearHead or CalibratedHead]
    classes_, targets_, best_params_ : as in :class:`StanceClassifier`.
    """

    def __init__(
        self,
        encoder=None,
        targets: Sequence[str] = TARGETS,
        layers: int = 2,
        epochs: int = 3,
        lr: float = 1e-4,
        head_lr: float = 1e-3,
        batch_size: int = 16,
        max_length: int = 128,
        seed: int = 0,
        Cs=(3.0,),
        cv: int = 5,
        temperature: dict | None = None,
        threshold: dict | None = None,
    ):
        self.encoder = encoder
        self.targets = targets
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.seed = seed
        self.Cs = Cs
        self.cv = cv
        self.temperature = temperature
        self.threshold = threshold

    context = False  # read by the code a StanceClassifier shares; a fine-tuned model sees one sentence
    actors = False
    renamed_copies = False

    def fit(self, X, y, groups=None, unscored=None):
        """Start heads from the frozen embeddings, then train the top layers and the heads together.

        ``unscored`` rows are trained on and never score the warm heads' ``C`` (see ``StanceClassifier.fit``).
        """
        from stance.encoders.transformer import SentenceEncoder
        from stance.features import item_text
        from stance.model import CalibratedHead, _items, _label_matrix, unscored_mask

        items = _items(X)
        labels = _label_matrix(y, self.targets, len(items))
        groups = None if groups is None else np.asarray(groups)
        unscored = unscored_mask(unscored, len(items))
        texts = [item_text(x) for x in items]
        base = self.encoder if self.encoder is not None else SentenceEncoder()
        frozen = base.transform(texts)
        warm, chosen = [], []
        for j, target in enumerate(self.targets):
            mask = np.array([v is not None for v in labels[:, j]])
            if not mask.any():
                raise ValueInputError(f"no labeled rows for target {target!r}")
            head, C = _warm_head(frozen[mask], labels[mask, j].astype(str),
                                 None if groups is None else groups[mask], self.Cs, self.cv, unscored[mask])
            warm.append(head)
            chosen.append(C)
        tuned, heads = fine_tune(
            base._model(), texts, labels, warm_heads=warm, layers=self.layers, epochs=self.epochs, lr=self.lr,
            head_lr=self.head_lr, batch_size=self.batch_size, max_length=self.max_length, seed=self.seed,
            memo=base.__dict__.setdefault("_lower_memo", {}),
        )
        self.encoder_ = TunedEncoder(tuned, base.model_id, base.sha256)
        self.vectorizer_ = None
        self.targets_ = list(self.targets)
        self.classes_ = [np.asarray(STANCES, dtype=object) for _ in self.targets_]
        temperature, threshold = self.temperature or {}, self.threshold or {}
        self.heads_, self.best_params_ = {}, {}
        for target, head, C in zip(self.targets_, heads, chosen):
            t, th = float(temperature.get(target, 1.0)), float(threshold.get(target, 0.0))
            self.heads_[target] = head if (t, th) == (1.0, 0.0) else CalibratedHead(head, t, th)
            self.best_params_[target] = {"C": C, "layers": self.layers, "epochs": self.epochs, "lr": self.lr,
                                         "temperature": t, "threshold": th}
        return self

    def transform_features(self, X):
        from stance.features import item_text
        from stance.model import _items

        return self.encoder_.transform([item_text(x) for x in _items(X)])
