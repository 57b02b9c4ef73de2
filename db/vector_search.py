"""Search in one store: semantic (pgvector, cosine), lexical (full-text) or hybrid
(reciprocal rank fusion of the two lists). Each is ONE statement; Postgres renders the
answer's JSON. The query's embedding is computed by the caller.

The dimension is part of the SQL text (an int from the store row, never user input): the
HNSW index is on `embedding::halfvec(256)` (migration 0012), and only the same expression
can use it; stores of other widths are ranked exactly, at full precision.
"""

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from db.pool import Conn

# Reciprocal rank fusion's constant (Cormack et al. 2009): damps the weight of the very
# first ranks so that neither list dominates.
RRF_K = 60
# Candidates each list contributes to a hybrid fusion, per result asked for.
HYBRID_DEPTH = 4


class QueryType(StrEnum):
    SEMANTIC = "semantic"
    LEXICAL = "lexical"
    HYBRID = "hybrid"


# $1 store, $2 query embedding (pgvector literal), $3 query text, $4 top_k, then filters.
FILTERS = """c.store_id = $1 AND c.live
    AND ($5::text IS NULL OR c.file_id = $5)
    AND ($6::text IS NULL OR c.parse_result_id = $6)
    AND ($7::jsonb IS NULL OR c.metadata @> $7::jsonb)"""
# Any of the query's words (plainto_tsquery ANDs them, which a question rarely satisfies).
TSQUERY = "replace(plainto_tsquery('english', $3)::text, ' & ', ' | ')::tsquery"

HIT_JSON = """json_build_object('content', c.content, 'blocks', c.blocks, 'score', h.score,
    'file_id', c.file_id, 'parse_result_id', c.parse_result_id, 'metadata', c.metadata)"""


# The width of the HNSW index (the wheel model's, migration 0012), and its element type.
INDEXED_DIMS = 256
INDEXED_TYPE = "halfvec"


def semantic_list(dims: int, limit: str) -> str:
    kind = INDEXED_TYPE if dims == INDEXED_DIMS else "vector"
    return f"""SELECT c.id, 1 - (c.embedding::vector({dims}) <=> $2::vector({dims})) AS score
        FROM vector_chunks c WHERE {FILTERS} AND c.dimensions = {dims}
        ORDER BY c.embedding::{kind}({dims}) <=> $2::{kind}({dims}) LIMIT {limit}"""


def lexical_list(limit: str) -> str:
    return f"""SELECT c.id, ts_rank_cd(c.content_tsv, q.q)::float8 AS score
        FROM vector_chunks c, (SELECT {TSQUERY} AS q) q
        WHERE {FILTERS} AND c.content_tsv @@ q.q
        ORDER BY score DESC, c.id LIMIT {limit}"""


def _answer(hits: str, unused: str = "NULL") -> str:
    # `unused`: the parameter a query type does not read, typed so the statement prepares.
    return f"""WITH unused AS (SELECT {unused}), h AS ({hits})
        SELECT json_build_object('chunks', COALESCE(json_agg({HIT_JSON}
            ORDER BY h.score DESC, c.id), '[]'::json))::text
        FROM h JOIN vector_chunks c ON c.id = h.id"""


@functools.cache
def search_sql(query_type: QueryType, dims: int) -> str:
    if query_type is QueryType.SEMANTIC:
        return _answer(semantic_list(dims, "$4"), "$3::text")
    if query_type is QueryType.LEXICAL:
        return _answer(lexical_list("$4"), f"$2::vector({dims})")
    depth = f"$4 * {HYBRID_DEPTH}"
    fused = f"""SELECT COALESCE(s.id, l.id) AS id,
            COALESCE(1.0 / ({RRF_K} + s.rank), 0) + COALESCE(1.0 / ({RRF_K} + l.rank), 0)
                AS score
        FROM (SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
              FROM ({semantic_list(dims, depth)}) x) s
        FULL JOIN (SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
                   FROM ({lexical_list(depth)}) y) l ON l.id = s.id
        ORDER BY score DESC LIMIT $4"""
    return _answer(fused)


# Per transaction: HNSW candidates, and iterative scans so that a store's filter (or the
# user's) still yields top_k rows when the index's first candidates belong to other stores.
SESSION = """SELECT set_config('hnsw.ef_search', $1, true),
                    set_config('hnsw.iterative_scan', 'relaxed_order', true)"""


@dataclass(frozen=True)
class Search:
    store_id: str
    dimensions: int
    query_type: QueryType
    text: str
    embedding: str | None  # pgvector literal; None for a lexical search
    top_k: int
    file_id: str | None = None
    parse_result_id: str | None = None
    metadata: dict[str, Any] | None = None

    def args(self) -> list[Any]:
        metadata = None if self.metadata is None else json.dumps(self.metadata)
        return [
            self.store_id,
            self.embedding,
            self.text,
            self.top_k,
            self.file_id,
            self.parse_result_id,
            metadata,
        ]


async def search(conn: Any, s: Search, ef_search: int) -> str:
    """`{"chunks": [...]}` as JSON text, highest score first."""
    async with conn.transaction():
        await conn.execute(SESSION, str(ef_search))
        body: str = await conn.fetchval(search_sql(s.query_type, s.dimensions), *s.args())
    return body


async def search_on(pool: Conn, s: Search, ef_search: int) -> str:
    async with pool.acquire() as conn:  # type: ignore[union-attr]
        return await search(conn, s, ef_search)
