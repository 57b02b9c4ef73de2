"""Data for the vector store benchmarks.

- Chunks: generated text whose words follow Zipf's law over the English words of the wheel
  model's own tokenizer (its BPE merges come in corpus-frequency order), so that word
  frequencies, full-text matches and embeddings look like real prose rather than a few
  words repeated.
- A labelled set (questions whose answer chunk is known), written for Docket and dedicated
  to the public domain.
- The stores are loaded with binary COPY straight into `vector_chunks` (live rows, real
  embeddings); a big load drops the table's HNSW and GIN indexes first and rebuilds them
  once, in parallel, which is many times faster than inserting into them row by row.
- A loaded store is cached: on a database that outlives the run (DATABASE_URL, e.g. the
  server of `python -m bench.vector_data serve DIR`), the next run finds it by name and
  moves it into its own project instead of loading it again.
"""

import argparse
import asyncio
import functools
import json
import logging
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from bench.client import TAG
from core.embedding import WordLlamaEmbedder

log = logging.getLogger(__name__)

# Bumped whenever the generated data changes: the cache key of every loaded store.
DATA_VERSION = 1
# Zipf's law as fitted to English (exponent ~1, rank offset ~2.7: Mandelbrot's form).
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 2.7
# Words per chunk: a short paragraph, as Docket's chunker cuts them.
CHUNK_WORDS = (30, 60)
# Words per search query, and the most frequent ranks a query skips (function words).
QUERY_WORDS = (3, 6)
QUERY_SKIP_RANKS = 100
# Chunks per parse result in a loaded store (a parse result of a ~20-page document).
CHUNKS_PER_RESULT = 100
# The tokenizer's mark of a word's first piece (SentencePiece's).
WORD_START = "\u2581"
# Shortest word kept (single letters are mostly pieces of other words in this vocabulary).
MIN_WORD = 3
# Generated chunks whose direct embedding is checked against the model's, and the largest
# cosine distance between the two that counts as the same vector (float32 rounding).
SAMPLE_CHECK = 512
SAME_VECTOR = 1e-4
# Texts whose token rows are gathered and summed at once (their rows stay in the CPU cache).
SUM_PAGE = 64
# Chunks embedded and copied per round trip.
LOAD_PAGE = 4_096
# Pages between two progress lines of a load.
LOG_EVERY = 25
# A load this big drops the HNSW and GIN indexes and rebuilds them after.
REBUILD_FROM = 50_000
# For the rebuild: the whole HNSW graph of a million halfvecs fits in memory, and one
# parallel worker besides the leader (the machine has 2 cores).
REBUILD_SETTINGS = {"maintenance_work_mem": "3GB", "max_parallel_maintenance_workers": "1"}
# The server `serve` runs: big enough buffers for the 1M-chunk index to stay in them.
SERVE_SETTINGS = {"shared_buffers": "3GB", "effective_cache_size": "8GB"}

# (question, answer chunk): the answer shares few exact words with the question.
LABELLED = [
    (
        "Why do volcanoes erupt?",
        "Magma and hot gas rise through the crust until the mountain bursts open.",
    ),
    (
        "How is bread made?",
        "The baker kneads dough, lets it rise and bakes the loaves in a hot oven.",
    ),
    (
        "Who won the football match?",
        "The striker scored twice and the home team beat the visitors.",
    ),
    ("What can telescopes show?", "Through the lens one sees distant galaxies, stars and planets."),
    (
        "How are infections cured?",
        "Doctors prescribe antibiotics that kill the bacteria in a patient.",
    ),
    (
        "How do bees make honey?",
        "Bees gather nectar from flowers and store it in wax combs in the hive.",
    ),
    ("Why does it rain?", "Water vapour cools in the clouds, condenses into drops and falls."),
    (
        "How do ships stay afloat?",
        "A hull displaces water whose weight equals the weight of the vessel.",
    ),
    (
        "What do farmers grow?",
        "Fields of wheat, barley and maize are sown in spring and harvested.",
    ),
    (
        "How is glass made?",
        "Sand is melted in a furnace with soda and lime, then shaped while hot.",
    ),
    (
        "Why do leaves fall in autumn?",
        "Trees stop feeding their foliage as days shorten and it drops.",
    ),
    ("How do birds migrate?", "Flocks fly south for the winter, guided by the sun and the stars."),
]


@functools.cache
def vocabulary() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The tokenizer's whole-word English pieces, most frequent first, and their token ids."""
    import wordllama

    config = Path(wordllama.__file__).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"
    vocab: dict[str, int] = json.loads(config.read_text(encoding="utf-8"))["model"]["vocab"]
    pieces = sorted(vocab.items(), key=lambda item: item[1])
    kept = [(p[1:], i) for p, i in pieces if p.startswith(WORD_START) and p[1:].isascii()]
    words = [(w, i) for w, i in kept if w.isalpha() and w.islower() and len(w) >= MIN_WORD]
    return np.array([w for w, _ in words]), np.array([i for _, i in words])


def _zipf(count: int, seed: int, lengths: tuple[int, int], skip: int = 0) -> tuple[Any, Any]:
    """Word ranks of `count` texts, drawn by Zipf's law, and the texts' lengths."""
    size = len(vocabulary()[0]) - skip
    weights = 1.0 / (np.arange(size) + ZIPF_OFFSET) ** ZIPF_EXPONENT
    rng = np.random.default_rng(seed)
    sizes = rng.integers(lengths[0], lengths[1] + 1, size=count)
    drawn = skip + rng.choice(size, size=int(sizes.sum()), p=weights / weights.sum())
    return drawn, sizes


def _joined(drawn: Any, sizes: Any) -> list[str]:
    words: list[str] = vocabulary()[0][drawn].tolist()
    ends = np.cumsum(sizes).tolist()
    return [
        " ".join(words[end - size : end]) for end, size in zip(ends, sizes.tolist(), strict=True)
    ]


def texts(count: int, seed: int = 7) -> list[str]:
    """`count` chunks of generated prose."""
    return _joined(*_zipf(count, seed, CHUNK_WORDS))


def embedded_texts(
    count: int, model: WordLlamaEmbedder, seed: int = 7
) -> tuple[list[str], np.ndarray[Any, Any]]:
    """`count` chunks of generated prose with their embeddings. Each word of the prose is one
    token of the model (a whole-word piece), so its embedding, the normalised mean of its
    tokens' rows, is computed from the words drawn without running the tokenizer: the same
    vectors (checked against the model on a sample), hundreds of times faster."""
    drawn, sizes = _zipf(count, seed, CHUNK_WORDS)
    contents = _joined(drawn, sizes)
    table = model.token_embeddings()
    tokens = vocabulary()[1][drawn]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    vectors = np.empty((count, table.shape[1]), dtype=np.float32)
    for first in range(0, count, SUM_PAGE):
        last = min(first + SUM_PAGE, count)
        begin, end = starts[first], starts[last - 1] + sizes[last - 1]
        sums = np.add.reduceat(table[tokens[begin:end]], starts[first:last] - begin, axis=0)
        vectors[first:last] = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    sample = min(count, SAMPLE_CHECK)
    worst = float((1 - (model.embed_sync(contents[:sample]) * vectors[:sample]).sum(axis=1)).max())
    assert worst < SAME_VECTOR, f"direct embeddings differ from the model's by {worst}"
    return contents, vectors


def queries(count: int, seed: int = 11) -> list[str]:
    """`count` short keyword queries over the same words (function words left out)."""
    return _joined(*_zipf(count, seed, QUERY_WORDS, skip=QUERY_SKIP_RANKS))


def vector_bytes(vector: np.ndarray[Any, Any] | str) -> bytes:
    """pgvector's binary form: dimensions (int16), an unused int16, big-endian float4s (a
    text literal, as the search statements take, is converted)."""
    if isinstance(vector, str):
        vector = np.array(json.loads(vector), dtype=np.float32)
    return struct.pack(">HH", len(vector), 0) + vector.astype(">f4").tobytes()


def vector_array(data: bytes) -> np.ndarray[Any, Any]:
    (dims,) = struct.unpack_from(">H", data)
    return np.frombuffer(data, ">f4", dims, 4).astype(np.float32)


async def vector_codec(conn: asyncpg.Connection) -> None:
    """Vectors as numpy arrays in binary form, for COPY and for reading them back."""
    await conn.set_type_codec(
        "vector", schema="public", encoder=vector_bytes, decoder=vector_array, format="binary"
    )


COLUMNS = [
    "store_id",
    "job_id",
    "parse_result_id",
    "file_id",
    "chunk_index",
    "content",
    "blocks",
    "metadata",
    "dimensions",
    "embedding",
    "live",
]
# A cached store: its name, with exactly the chunks it should have, all live.
CACHED = f"""SELECT {TAG} s.id FROM vector_stores s
WHERE s.name = $1 AND (SELECT count(*) FROM vector_chunks c WHERE c.store_id = s.id AND c.live) = $2
  AND NOT EXISTS (SELECT FROM pg_tables WHERE tablename = 'bench_dropped_indexes')
ORDER BY s.created_at LIMIT 1"""
ADOPT = f"UPDATE {TAG} vector_stores SET project_id = $2 WHERE id = $1"
NEW_STORE = f"""INSERT {TAG} INTO vector_stores (id, project_id, name, engine, embedding_model,
    dimensions) VALUES ($1, $2, $3, 'docket', 'docket/wordllama-256', 256)"""
# The indexes a bulk load drops, remembered in a table until rebuilt (a load that dies
# half-way leaves them listed, and the next load rebuilds them first).
REMEMBER = f"""CREATE {TAG} TABLE IF NOT EXISTS bench_dropped_indexes (name text PRIMARY KEY,
    definition text NOT NULL)"""
BULK_INDEXES = f"""INSERT {TAG} INTO bench_dropped_indexes
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'vector_chunks' AND (indexdef LIKE '%USING hnsw%' OR indexdef LIKE '%USING gin%')
ON CONFLICT DO NOTHING RETURNING name"""
DROPPED = f"SELECT {TAG} name, definition FROM bench_dropped_indexes ORDER BY name"


@dataclass(frozen=True)
class StoreSpec:
    name: str
    count: int
    # its `count` chunks (and their embeddings, or None), generated only when not cached
    make: Callable[[], tuple[Sequence[str], np.ndarray[Any, Any] | None]]

    @property
    def key(self) -> str:
        """The cache key: the name says what is in the store."""
        return f"bench-{self.name}-{self.count}-v{DATA_VERSION}"


def _records(
    store_id: str, start: int, part: Sequence[str], vectors: Any
) -> Iterator[tuple[Any, ...]]:
    for offset, (content, vector) in enumerate(zip(part, vectors, strict=True)):
        i = start + offset
        result = i // CHUNKS_PER_RESULT
        yield (
            store_id,
            f"job_bench_{store_id}_{result}",
            f"pres_bench_{store_id}_{result}",
            f"file_bench_{result}",
            i % CHUNKS_PER_RESULT,
            content,
            "[]",
            "{}",
            len(vector),
            vector,
            True,
        )


async def load(
    conn: asyncpg.Connection,
    store_id: str,
    contents: Sequence[str],
    vectors: np.ndarray[Any, Any] | None,
    model: WordLlamaEmbedder,
) -> None:
    """COPY `contents` with their `vectors`; without them, each page is embedded by the model
    while the one before is copied."""

    def embed(first: int) -> Any:
        part = contents[first : first + LOAD_PAGE]
        if vectors is not None:
            return asyncio.sleep(0, vectors[first : first + LOAD_PAGE])
        return asyncio.to_thread(model.embed_sync, part)

    following = asyncio.ensure_future(embed(0))
    for start in range(0, len(contents), LOAD_PAGE):
        page = await following
        if start + LOAD_PAGE < len(contents):
            following = asyncio.ensure_future(embed(start + LOAD_PAGE))
        rows = _records(store_id, start, contents[start : start + LOAD_PAGE], page)
        await conn.copy_records_to_table("vector_chunks", records=rows, columns=COLUMNS)
        if (start // LOAD_PAGE) % LOG_EVERY == 0:
            log.warning("loaded %d of %d chunks into %s", start, len(contents), store_id)


async def rebuild_indexes(conn: asyncpg.Connection) -> None:
    """Every index a bulk load dropped, built again (in parallel where it can be)."""
    if await conn.fetchval("SELECT to_regclass('bench_dropped_indexes')") is None:
        return
    for name, setting in REBUILD_SETTINGS.items():
        await conn.execute("SELECT set_config($1, $2, false)", name, setting)
    for row in await conn.fetch(DROPPED):
        log.warning("building index %s", row["name"])
        await conn.execute(
            row["definition"].replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
        )
    await conn.execute("DROP TABLE bench_dropped_indexes")
    await conn.execute("ANALYZE vector_chunks")


async def stores(
    conn: asyncpg.Connection, project: str, specs: Sequence[StoreSpec], model: WordLlamaEmbedder
) -> list[str]:
    """The store id of each spec, in `project`: cached ones moved there, others loaded."""
    await vector_codec(conn)
    await rebuild_indexes(conn)  # left dropped by a load that died
    found: list[str | None] = []
    for spec in specs:
        found.append(await conn.fetchval(CACHED, spec.key, spec.count))
    missing = [(i, spec) for i, spec in enumerate(specs) if found[i] is None]
    if sum(spec.count for _, spec in missing) >= REBUILD_FROM:
        await conn.execute(REMEMBER)
        for row in await conn.fetch(BULK_INDEXES):
            await conn.execute(f'DROP INDEX IF EXISTS "{row["name"]}"')
    for i, spec in missing:
        store_id = f"vs_bench_{spec.name}_{spec.count}_{project}"
        contents, vectors = spec.make()
        assert len(contents) == spec.count, f"{spec.name}: {len(contents)} chunks, not {spec.count}"
        await conn.execute(NEW_STORE, store_id, project, spec.key)
        await load(conn, store_id, contents, vectors, model)
        found[i] = store_id
    await rebuild_indexes(conn)
    ids = [store_id for store_id in found if store_id is not None]
    for store_id in ids:
        await conn.execute(ADOPT, store_id, project)
    await conn.execute("ANALYZE vector_chunks")
    return ids


def serve(data_dir: Path, port: int) -> None:
    """A Postgres that outlives benchmark runs, so that loaded stores are cached; stops on
    SIGINT/SIGTERM."""
    from docket.embedded import EmbeddedPostgres

    async def configure(dsn: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for name, value in SERVE_SETTINGS.items():
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        finally:
            await conn.close()

    server = EmbeddedPostgres(data_dir, port)
    asyncio.run(configure(server.start()))
    server.stop()
    dsn = server.start()
    print(f"DATABASE_URL={dsn}", flush=True)  # the command's output
    stop = asyncio.Event()

    async def wait() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.vector_data")
    sub = parser.add_subparsers(required=True)
    run = sub.add_parser("serve", help="a persistent Postgres for cached benchmark stores")
    run.add_argument("data_dir", type=Path)
    run.add_argument("--port", type=int, default=55432)
    args = parser.parse_args()
    serve(args.data_dir, args.port)


if __name__ == "__main__":
    main()
