"""Type stubs of the native module trawl._trawl (re-exported by trawl)."""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]
_Qrels = Mapping[str, Mapping[str, int]]
_Run = Mapping[str, Mapping[str, float]]

HAS_DENSE: bool
HAS_TRAIN: bool

class Error(Exception): ...
class ParseError(Error): ...
class KnowledgeBaseError(Error): ...
class ModelError(Error): ...
class TrainError(Error):
    """Training or mining failed inside trawl (a tensor operation, a locked run folder)."""

class _RelevanceEvaluator:
    def __new__(
        cls,
        query_relevance: _Qrels,
        measures: List[str],
        relevance_level: int = 1,
        judged_docs_only_flag: bool = False,
    ) -> "_RelevanceEvaluator": ...
    def evaluate(self, scores: _Run) -> Dict[str, Dict[str, float]]: ...

def trec_measures(measures: List[str]) -> List[str]: ...
def evaluate(
    qrels: Union[_Qrels, _Path],
    run: Union[_Run, _Path],
    metrics: Optional[List[str]] = None,
    *,
    per_query: bool = False,
    relevance_threshold: int = 1,
    ignore_identical_ids: bool = False,
) -> Dict[str, Any]: ...

class Hit:
    id: str
    score: float
    ordinal: int
    title: str
    text: str
    @property
    def metadata(self) -> Dict[str, Any]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class KB:
    @staticmethod
    def build(
        docs: Union[_Path, Iterable[Mapping[str, Any]]],
        path: _Path,
        *,
        bm25: bool = True,
        dense: Optional[str] = None,
        overwrite: bool = False,
    ) -> "KB": ...
    @staticmethod
    def open(path: _Path) -> "KB": ...
    def search(self, query: str, k: int = 10, retriever: str = "bm25", model: Optional[str] = None) -> List[Hit]: ...
    def search_many(
        self, queries: Sequence[str], k: int = 10, retriever: str = "bm25", model: Optional[str] = None
    ) -> List[List[Hit]]: ...
    def search_batch(
        self, queries: Sequence[str], k: int = 10, retriever: str = "bm25", model: Optional[str] = None
    ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
    @overload
    def ids(self, ordinals: int) -> Optional[str]: ...
    @overload
    def ids(self, ordinals: Any) -> List[Any]: ...
    def get(self, id: str) -> Optional[Hit]: ...
    def __len__(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def retrievers(self) -> List[str]: ...
    @property
    def dense_model(self) -> Optional[str]: ...

class Retriever:
    name: str
    def __init__(self, kb: KB, retriever: str = "bm25", model: Optional[str] = None) -> None: ...
    def retrieve_batch(
        self,
        query_rewrites: Sequence[Union[str, Sequence[str]]],
        k: int = 10,
        mode: str = "union",
        fusion: str = "rrf",
        return_scores: bool = False,
    ) -> List[Any]: ...

class DocumentDataset:
    def __init__(self, labels: Union[Mapping[str, Union[Sequence[str], Mapping[str, int]]], _Path]) -> None: ...
    def compute_rewards_batch(
        self, uids: Sequence[str], doc_ids: Sequence[Sequence[str]], method: str = "ndcg", k: int = 10
    ) -> List[float]: ...
    def __len__(self) -> int: ...
    def __contains__(self, uid: str) -> bool: ...

class Encoder:
    def __init__(self, model: str, *, batch_size: int = 32, max_seq_len: Optional[int] = None) -> None: ...
    def encode(
        self, texts: Sequence[str], batch_size: int = 32, normalize: bool = True, prompt: Optional[str] = None
    ) -> npt.NDArray[np.float32]: ...
    @property
    def dim(self) -> int: ...

def mine_negatives(
    data: _Path,
    out: _Path,
    *,
    split: str = "train",
    retriever: str = "bm25",
    model: str = "all-MiniLM-L6-v2",
    num: int = 5,
    range: Union[str, Tuple[int, int], None] = None,
    margin: Optional[float] = None,
    strategy: str = "top",
    seed: int = 42,
    batch_size: int = 64,
) -> Dict[str, Any]:
    """Hard negatives for training, as ``trawl mine-negatives`` (same options and defaults).

    ``data``: a BEIR folder (queries, corpus and the ``split`` qrels) or JSONL pairs (the corpus
    is then every positive and negative in the file). ``retriever``: ``"bm25"`` or ``"dense"``
    (with ``model``). ``num`` negatives per query drawn from candidate ranks ``range``
    (``"FROM-TO"`` or ``(FROM, TO)``, 1-based, default ``"1-100"``), positives excluded;
    ``margin`` drops candidates scoring too close to the positive (likely unlabelled positives;
    cosine: absolute, BM25: relative); ``strategy``: ``"top"``, ``"random"`` or ``"semi-hard"``.

    Writes ``out`` atomically, one ``{"query", "positive", "negatives", "query_id",
    "positive_id", "negative_ids"}`` line per (query, positive), and returns ``{"out", "lines",
    "lines_with_negatives", "negatives"}``. Releases the GIL. Raises ``ValueError`` for bad
    options, ``FileNotFoundError`` for missing data or model, ``trawl.ParseError`` for bad data.
    """

def train(
    model: str,
    data: _Path,
    out: _Path,
    *,
    train_split: str = "train",
    run_dir: Optional[_Path] = None,
    force: bool = False,
    resume: bool = False,
    eval: Optional[_Path] = None,
    split: str = "dev",
    val_fraction: float = 0.0,
    epochs: int = 1,
    max_steps: Optional[int] = None,
    batch_size: int = 32,
    grad_accum: int = 1,
    lr: float = 2e-5,
    head_lr: Optional[float] = None,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    max_seq_len: Optional[int] = None,
    seed: int = 42,
    scale: Optional[float] = None,
    temperature: Optional[float] = None,
    symmetric: bool = False,
    max_negatives: Optional[int] = None,
    eval_every: Optional[int] = None,
    metric: str = "ndcg@10",
    patience: Optional[int] = None,
    freeze_base: bool = False,
    projection_dim: Optional[int] = None,
    interrupt_after: Optional[int] = None,
    autograd: bool = False,
    eval_batch_size: int = 64,
    isotropy_weight: float = 0.0,
    isotropy_kind: str = "covariance",
) -> Dict[str, Any]:
    """Contrastive fine-tuning (MNRL with in-batch and hard negatives), as ``trawl train``
    (same options and defaults; ``scale`` defaults to 20, and excludes ``temperature``).

    ``model``: a sentence-transformers folder or a name found in ``./models`` or the HF cache.
    ``data``: JSONL (``{"query","positive","negatives"}``, e.g. from ``mine_negatives``, or
    ``{"question","answer"|"context"}``) or a BEIR folder (its ``train_split`` qrels).
    Evaluation: ``eval`` (a BEIR folder with ``split``, or JSONL pairs) or ``val_fraction`` of
    the training queries held out; the best checkpoint by ``metric`` is kept.

    Writes the trained model to ``out`` (a sentence-transformers folder that ``trawl.Encoder``
    and sentence-transformers load) and checkpoints plus ``train_log.jsonl`` to ``run_dir``
    (default ``<out>.run``). Returns ``{"out", "run_dir", "steps", "seconds",
    "seconds_per_step", "last_loss", "best", "stopped_early", "log"}``, ``log`` being the
    ``train_log.jsonl`` records this call wrote (``{"event": "start"|"step"|"eval"|
    "early_stop"|"end", "step", ...}``; step records carry ``loss``, ``lr``, ``grad_norm``).
    Releases the GIL. Raises ``ValueError`` for bad options, ``FileNotFoundError`` for missing
    data or model, ``FileExistsError`` when ``out`` holds something it may not replace,
    ``trawl.ParseError`` for bad data, other ``trawl.Error`` subclasses otherwise.
    """
