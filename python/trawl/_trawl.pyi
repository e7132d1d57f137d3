"""Type stubs of the native module trawl._trawl (re-exported by trawl)."""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]
_Qrels = Mapping[str, Mapping[str, int]]
_Run = Mapping[str, Mapping[str, float]]

HAS_DENSE: bool

class Error(Exception): ...
class ParseError(Error): ...
class KnowledgeBaseError(Error): ...
class ModelError(Error): ...

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
