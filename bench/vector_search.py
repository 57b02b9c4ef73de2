"""Vector store search: p50 of semantic / lexical / hybrid search through the API against
the same SQL over one connection (query embedding precomputed); recall@10 of semantic
search (HNSW) against an exact scan; MRR@10 of hybrid against lexical on a labelled set.

The store is filled directly (one INSERT per page of generated sentences with their real
embeddings), not through the indexing job: that is bench/vector_indexing.py's figure.
"""

import asyncio
import json
import statistics

import asyncpg

from bench.client import TAG, Api, api_client, interleave, sql, whole
from bench.sizes import Sizes
from bench.stats import Row, Summary
from bench.vector_data import LABELLED, sentences
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
PAGE = 2_000
FILL = f"""INSERT INTO vector_chunks {TAG} (store_id, job_id, parse_result_id, file_id,
    chunk_index, content, blocks, dimensions, embedding, live)
SELECT $1, $2, $3, 'file_bench', x.i, x.content, '[]', 256, x.e::vector, true
FROM unnest($4::int[], $5::text[], $6::text[]) AS x(i, content, e)"""
EXACT = f"""SELECT {TAG} id FROM vector_chunks WHERE store_id = $1 AND live
ORDER BY embedding <=> $2::vector LIMIT $3"""
APPROX = f"""SELECT {TAG} id FROM vector_chunks c WHERE c.store_id = $1 AND c.live
AND c.dimensions = 256 ORDER BY c.embedding::vector(256) <=> $2::vector(256) LIMIT $3"""


def literal(vector: list[float]) -> str:
    return json.dumps(vector, separators=(",", ":"))


async def fill(
    conn: asyncpg.Connection, store: str, texts: list[str], model: WordLlamaEmbedder
) -> None:
    for start in range(0, len(texts), PAGE):
        part = texts[start : start + PAGE]
        vectors = [literal(v) for v in model.embed_sync(part).tolist()]
        indexes = list(range(start, start + len(part)))
        await conn.execute(FILL, store, "job_bench_" + store, "pres_bench", indexes, part, vectors)


async def store_of(api: Api, project: str, name: str) -> str:
    body = await api.json("POST", f"/v1/projects/{project}/vector-stores", json={"name": name})
    return str(body["id"])


async def ids_of(conn: asyncpg.Connection, store: str, sql_text: str, vector: str) -> list[int]:
    async with conn.transaction():
        await conn.execute(vector_search.SESSION, str(get_settings().vector_search_ef_search))
        return [row["id"] for row in await conn.fetch(sql_text, store, vector, TOP_K)]


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


async def measure(stack: DevStack, sizes: Sizes) -> list[Row]:
    model = WordLlamaEmbedder()
    rows: list[Row] = []
    async with api_client(stack) as api, sql(stack) as conn:
        project = await api.project("vector-search")
        store = await store_of(api, project, "big")
        texts = sentences(sizes.vector_chunks)
        await fill(conn, store, texts, model)
        await conn.execute("ANALYZE vector_chunks")
        query = "harbour merchant silver lantern"
        vector = literal(model.embed_sync([query]).tolist()[0])
        url = f"/v1/projects/{project}/vector-stores/{store}/search"
        for query_type in QueryType:
            search = Search(store, 256, query_type, query, vector, TOP_K)

            async def http(qt: str = query_type.value) -> None:
                response = await api.call("POST", url, json={"query": query, "query_type": qt})
                response.raise_for_status()

            async def raw(s: Search = search) -> None:
                await vector_search.search(conn, s, get_settings().vector_search_ef_search)

            ours, base = await interleave(
                sizes.latency_runs, whole(http), whole(raw), warmup=sizes.warmup
            )
            row = Row(
                BENCH,
                f"{query_type.value} search p50, {sizes.vector_chunks} chunks in one store",
                Summary.latency(ours),
                Summary.latency(base),
                f"≤ {LATENCY_RATIO}x raw and ≤ {LATENCY_MS:.0f} ms",
            )
            row.met = (
                row.ratio is not None and row.ratio <= LATENCY_RATIO and row.ours.p50 <= LATENCY_MS
            )
            rows.append(row)

        queries = sentences(sizes.recall_queries, seed=11)
        vectors = [literal(v) for v in model.embed_sync(queries).tolist()]
        hits = []
        for v in vectors:
            approx = await ids_of(conn, store, APPROX, v)
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_indexscan = off")
                exact = [r["id"] for r in await conn.fetch(EXACT, store, v, TOP_K)]
            hits.append(len(set(approx) & set(exact)) / TOP_K)
        recall = statistics.mean(hits)
        rows.append(
            Row(
                BENCH,
                f"recall@{TOP_K} of semantic search vs exact, {len(queries)} queries",
                Summary.single(recall, "recall"),
                Summary.single(1.0, "recall"),
                f"≥ {RECALL_TARGET}",
                met=recall >= RECALL_TARGET,
            )
        )

        labelled = await store_of(api, project, "labelled")
        filler = sentences(sizes.vector_chunks // 10 or 1, seed=3)
        await fill(conn, labelled, [a for _, a in LABELLED] + filler, model)
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
