"""Embedding engines: text → unit vectors, for indexing (activities) and queries (api).

- `docket` (the default): WordLlama's 256-dimension `l2_supercat` model, whose weights and
  tokenizer ship inside the `wordllama` wheel (MIT). Loaded from the package folder with
  downloads disabled: nothing is fetched at run time.
- `openai`: any OpenAI-compatible `/embeddings` endpoint (`DOCKET_EMBEDDINGS_BASE_URL`,
  `DOCKET_EMBEDDINGS_API_KEY`), offered only when its base URL is set.

Vectors are L2-normalised, so cosine distance ranks them (pgvector's `<=>`).
"""

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from core.settings import Settings

DOCKET_ENGINE = "docket"
OPENAI_ENGINE = "openai"
WORDLLAMA_MODEL = "docket/wordllama-256"
# The wheel's model: its config name and width (the store's `dimensions`).
WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIM = 256
# Texts sent per request to an OpenAI-compatible endpoint (its documented input limit is
# 2,048; smaller requests keep one failure cheap to retry).
OPENAI_BATCH = 256
# Texts up to this many characters in all (a search query, ~200 words: < 1 ms of CPU) are
# embedded on the event loop: a thread hop costs ~0.25 ms, five times the embedding of a
# few words. Longer input goes to a thread so that the loop never stalls on it.
INLINE_EMBED_MAX_CHARS = 1_000
# Asked once per store at creation to learn an endpoint model's dimension.
DIMENSION_PROBE = "dimension probe"


class EngineUnavailable(LookupError):
    """An engine or model Docket cannot run here; the message names what it can run."""


class Embedder(Protocol):
    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class WordLlamaEmbedder:
    """The wheel-shipped model. Embedding is CPU work: it runs on a thread, one at a time."""

    model = WORDLLAMA_MODEL
    dimensions = WORDLLAMA_DIM

    def __init__(self) -> None:
        import wordllama  # a 16 MB model: loaded only by processes that embed

        folder = Path(wordllama.__file__).parent
        # The package folder holds `weights/` and `tokenizers/`, laid out as WordLlama's
        # cache; with downloads disabled it can only load from there.
        self._model = wordllama.WordLlama.load(
            config=WORDLLAMA_CONFIG, dim=WORDLLAMA_DIM, cache_dir=folder, disable_download=True
        )
        self._lock = threading.Lock()

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        with self._lock:
            vectors: np.ndarray[Any, Any] = self._model.embed(list(texts), norm=True)
        return vectors

    def _embed_inline(self, texts: Sequence[str]) -> np.ndarray[Any, Any] | None:
        """Short input, embedded here unless a thread holds the model (never wait for it
        on the event loop); None: the caller embeds on a thread."""
        if sum(map(len, texts)) > INLINE_EMBED_MAX_CHARS or not self._lock.acquire(False):
            return None
        try:
            vectors: np.ndarray[Any, Any] = self._model.embed(list(texts), norm=True)
        finally:
            self._lock.release()
        return vectors

    def token_embeddings(self) -> np.ndarray[Any, Any]:
        """The model's table: one row per token id (a text's vector is the normalised mean
        of its tokens' rows)."""
        table: np.ndarray[Any, Any] = self._model.embedding
        return table

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._embed_inline(texts)
        if vectors is None:
            vectors = await asyncio.to_thread(self.embed_sync, texts)
        rows: list[list[float]] = vectors.tolist()
        return rows


@dataclass
class OpenAIEmbedder:
    """An OpenAI-compatible `POST {base_url}/embeddings` endpoint."""

    base_url: str
    api_key: str | None
    model: str
    timeout_seconds: float
    dimensions: int = 0  # learnt by `probe` (or known from the store)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.base_url.rstrip("/") + "/embeddings"
        out: list[list[float]] = []
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as http:
            for start in range(0, len(texts), OPENAI_BATCH):
                batch = list(texts[start : start + OPENAI_BATCH])
                response = await http.post(
                    url, json={"model": self.model, "input": batch}, headers=headers
                )
                response.raise_for_status()
                rows = sorted(response.json()["data"], key=lambda row: row["index"])
                out += [normalised(row["embedding"]) for row in rows]
        return out

    async def probe(self) -> int:
        self.dimensions = len((await self.embed([DIMENSION_PROBE]))[0])
        return self.dimensions


def normalised(vector: Sequence[float]) -> list[float]:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return [float(x) for x in (array / norm if norm else array)]


@dataclass
class Embedders:
    """The engines of one process, each built on first use (the wheel model once)."""

    settings: Settings
    _wordllama: WordLlamaEmbedder | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def engines(self) -> list[str]:
        return [DOCKET_ENGINE] + ([OPENAI_ENGINE] if self.settings.embeddings_base_url else [])

    def models(self, engine: str) -> list[str]:
        return [WORDLLAMA_MODEL] if engine == DOCKET_ENGINE else [self.settings.embeddings_model]

    def default_model(self, engine: str) -> str:
        return self.models(engine)[0]

    def check(self, engine: str, model: str | None) -> str:
        """The model to use for `engine`; EngineUnavailable names what this Docket runs."""
        if engine not in self.engines():
            raise EngineUnavailable(
                f"embedding engine {engine!r} is not configured; available engines: "
                + ", ".join(self.engines())
            )
        chosen = model or self.default_model(engine)
        if engine == DOCKET_ENGINE and chosen != WORDLLAMA_MODEL:
            raise EngineUnavailable(
                f"engine {DOCKET_ENGINE!r} has no model {chosen!r}; available models: "
                + ", ".join(self.models(engine))
            )
        return chosen

    def get(self, engine: str, model: str, dimensions: int = 0) -> Embedder:
        self.check(engine, model if engine == DOCKET_ENGINE else None)
        if engine == OPENAI_ENGINE:
            assert self.settings.embeddings_base_url is not None  # checked above
            key = self.settings.embeddings_api_key
            return OpenAIEmbedder(
                self.settings.embeddings_base_url,
                key.get_secret_value() if key else None,
                model,
                self.settings.embeddings_timeout_seconds,
                dimensions,
            )
        with self._lock:
            if self._wordllama is None:
                self._wordllama = WordLlamaEmbedder()
            return self._wordllama

    async def dimensions_of(self, engine: str, model: str) -> int:
        embedder = self.get(engine, model)
        if isinstance(embedder, OpenAIEmbedder):
            return await embedder.probe()
        return embedder.dimensions
