"""Vector store search: p50 of semantic / lexical / hybrid search through the API against
the same SQL over one connection (query embedding precomputed); recall@10 of semantic
search (HNSW, halfvec) against an exact full-precision scan; MRR@10 of hybrid against
lexical on a labelled set.

The stores are loaded directly (bench/vector_data.py: binary COPY of generated prose with
its real embeddings, indexes rebuilt once), not through the indexing job: that is
bench/vector_indexing.py's figure. Latency queries rotate over generated keyword queries.

The exact neighbours of the recall queries are computed in this process over every
embedding of the store read back (a brute-force scan in numpy, the same cosine distance),
checked against Postgres' own sequential scan on the first `EXACT_CHECKS` queries.
"""

import asyncio
import itertools
import json
import statistics
from typing import Any

import asyncpg
import numpy as np

from bench import vector_data
from bench.client import TAG, Api, api_client, interleave, sql, whole
from bench.lean_http import LeanHttp, lean_http
from bench.sizes import Sizes
from bench.stats import Row, Summary, within
from bench.vector_data import LABELLED, StoreSpec
from core.embedding import WordLlamaEmbedder
from core.settings import get_settings
from db import vector_search
from db.vector_search import QueryType, Search
from docket.devstack import DevStack

NAME = "vector_search"
BENCH = "vector search"
LATENCY_RATIO = 1.5
LATENCY_MS = 20.0
RECALL_TARGET = 0.95
TOP_K = 10
DIMS = 256
# Queries whose exact neighbours are also asked of Postgres (a sequential scan each).
EXACT_CHECKS = 5
# Recall queries multiplied against the store's matrix at once (bounds the memory).
EXACT_BLOCK = 50
APPROX = f"WITH unused AS (SELECT $3::text) SELECT {TAG} id FROM ({{}}) x".format(
    vector_search.semantic_list(DIMS, "$4")
)
EXACT = f"""SELECT {TAG} id FROM vector_chunks WHERE store_id = $1 AND live
ORDER BY embedding <=> $2::vector LIMIT $3"""
EMBEDDINGS = f"SELECT {TAG} id, embedding FROM vector_chunks WHERE store_id = $1 AND live"


def literal(vector: np.ndarray[Any, Any]) -> str:
    return json.dumps(vector.tolist(), separators=(",", ":"))


async def approx_ids(conn: asyncpg.Connection, store: str, vector: str) -> list[int]:
    s = Search(store, DIMS, QueryType.SEMANTIC, "", vector, TOP_K)
    async with conn.transaction():
        await conn.fetchrow(vector_search.SESSION, str(get_settings().vector_search_ef_search), "")
        return [row["id"] for row in await conn.fetch(APPROX, *s.args())]


async def exact_ids(
    conn: asyncpg.Connection, store: str, vectors: np.ndarray[Any, Any]
) -> list[list[int]]:
    """Each query's exact top k, by brute force over the store's embeddings."""
    rows = await conn.fetch(EMBEDDINGS, store)
    ids = np.array([row["id"] for row in rows])
    matrix = np.stack([row["embedding"] for row in rows])
    del rows
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    out: list[list[int]] = []
    for start in range(0, len(vectors), EXACT_BLOCK):
        similarity = vectors[start : start + EXACT_BLOCK] @ matrix.T
        top = np.argpartition(-similarity, TOP_K, axis=1)[:, :TOP_K]
        for row, candidates in zip(similarity, top, strict=True):
            ordered = candidates[np.argsort(-row[candidates])]
            out.append(ids[ordered].tolist())
    return out


async def recall(conn: asyncpg.Connection, store: str, model: WordLlamaEmbedder, n: int) -> float:
    vectors = model.embed_sync(vector_data.queries(n, seed=11)).astype(np.float32)
    exact = await exact_ids(conn, store, vectors)
    for vector, expected in zip(vectors[:EXACT_CHECKS], exact, strict=False):
        async with conn.transaction():  # Postgres' own exact answer: a sequential scan
            await conn.execute("SET LOCAL enable_indexscan = off")
            scanned = [r["id"] for r in await conn.fetch(EXACT, store, literal(vector), TOP_K)]
        assert len(set(scanned) & set(expected)) >= TOP_K - 1, "numpy and Postgres disagree"
    hits = []
    for vector, expected in zip(vectors, exact, strict=True):
        found = await approx_ids(conn, store, literal(vector))
        hits.append(len(set(found) & set(expected)) / TOP_K)
    return statistics.mean(hits)


async def mrr(api: Api, project: str, store: str, query_type: str) -> float:
    ranks = []
    for question, answer in LABELLED:
        body = {"query": question, "top_k": TOP_K, "query_type": query_type}
        found = await api.json(
            "POST", f"/v1/projects/{project}/vector-stores/{store}/search", json=body
        )
        contents = [hit["content"] for hit in found["chunks"]]
        ranks.append(1 / (contents.index(answer) + 1) if answer in contents else 0.0)
    return statistics.mean(ranks)


async def latency_rows(
    http: LeanHttp, conn: asyncpg.Connection, project: str, store: str, sizes: Sizes, model: Any
) -> list[Row]:
    """Timed through bench/lean_http.py, as every latency figure: httpx's own ~1.2 ms of
    client-side Python a request is not Docket's."""
    rows = []
    texts = vector_data.queries(sizes.latency_runs + sizes.warmup, seed=13)
    vectors = [literal(v) for v in model.embed_sync(texts)]
    url = f"/v1/projects/{project}/vector-stores/{store}/search"
    ef_search = get_settings().vector_search_ef_search
    for query_type in QueryType:
        http_turn = itertools.cycle(texts)
        raw_turn = itertools.cycle(zip(texts, vectors, strict=True))

        async def api(qt: str = query_type.value, turn: Any = http_turn) -> None:
            body = {"query": next(turn), "query_type": qt, "top_k": TOP_K}
            await http.ok("POST", url, body=body)

        async def raw(qt: QueryType = query_type, turn: Any = raw_turn) -> None:
            text, vector = next(turn)
            s = Search(store, DIMS, qt, text, vector, TOP_K)
            await vector_search.search(conn, s, ef_search)

        ours, base = await interleave(
            sizes.latency_runs, whole(api), whole(raw), warmup=sizes.warmup
        )
        row = Row(
            BENCH,
            f"{query_type.value} search p50, {sizes.vector_chunks} chunks in one store",
            Summary.latency(ours),
            Summary.latency(base),
            f"≤ {LATENCY_RATIO}x raw and ≤ {LATENCY_MS:.0f} ms",
        )
        row.met = within(row, LATENCY_MS, LATENCY_RATIO)
        rows.append(row)
    return rows


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    model = WordLlamaEmbedder()
    async with (
        api_client(stack) as api,
        lean_http(stack.api_url, stack.credentials) as http,
        sql(stack) as conn,
    ):
        project = await api.project("vector-search")
        specs = [
            StoreSpec(
                "big",
                sizes.vector_chunks,
                lambda: vector_data.embedded_texts(sizes.vector_chunks, model),
            ),
            StoreSpec(
                "labelled",
                len(LABELLED) + sizes.labelled_filler,
                lambda: (
                    [a for _, a in LABELLED] + vector_data.texts(sizes.labelled_filler, 3),
                    None,
                ),
            ),
        ]
        big, labelled = await vector_data.stores(conn, project, specs, model)
        rows = await latency_rows(http, conn, project, big, sizes, model)
        found = await recall(conn, big, model, sizes.recall_queries)
        rows.append(
            Row(
                BENCH,
                f"recall@{TOP_K} of semantic search vs exact, {sizes.recall_queries} queries",
                Summary.single(found, "recall"),
                Summary.single(1.0, "recall"),
                f"≥ {RECALL_TARGET}",
                met=found >= RECALL_TARGET,
            )
        )
        hybrid = await mrr(api, project, labelled, "hybrid")
        lexical = await mrr(api, project, labelled, "lexical")
        semantic = await mrr(api, project, labelled, "semantic")
        rows.append(
            Row(
                BENCH,
                f"MRR@{TOP_K}, {len(LABELLED)} labelled questions (hybrid vs lexical)",
                Summary.single(hybrid, "MRR"),
                Summary.single(lexical, "MRR"),
                "hybrid ≥ lexical",
                met=hybrid >= lexical,
                extra={"semantic_mrr": round(semantic, 3)},
            )
        )
    return rows


def run(stack: DevStack, sizes: Sizes) -> list[Row]:
    return asyncio.run(measure(stack, sizes))
