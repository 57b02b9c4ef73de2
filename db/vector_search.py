"""Search in one store: semantic (pgvector, cosine), lexical (full-text) or hybrid
(reciprocal rank fusion of the two lists). Each is ONE statement; Postgres renders the
answer's JSON. The query's embedding is computed by the caller.

The dimension is part of the SQL text (an int from the store row, never user input): the
HNSW index is on `embedding::halfvec(256)` (migration 0012), and only the same expression
can use it; stores of other widths are ranked exactly, at full precision.

Lexical ranking is coordination level first (a chunk matching more of the query's distinct
words ranks higher, as Lucene's minimum-should-match), then cover density
(`ts_rank_cd`, scaled into [0, 1)): score = words matched + that rank. It is found tier by
tier, strictest first: the chunks holding all n words, then at least n - 1, ..., then any
one. The first tier with `top_k` matches holds the whole answer (every chunk outside it
matches fewer words than every chunk in it), so only that tier's chunks are ranked: in a
big store hundreds, not the tens of thousands that share one common word with the query.
"""

import functools
import itertools
import json
import math
from collections.abc import Sequence
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
# $8: the lexical tiers (tsquery texts, strictest first, the last = any word), $9: the
# query's distinct words as lexemes (db/vector_search.lexical_tiers builds both).
ANY_WORD = "($8::tsquery[])[cardinality($8::tsquery[])]"
# A query of stopwords only has no tiers: a parameter-only condition is a one-time filter,
# so the scan is skipped (the planner would otherwise walk every row testing `@@ NULL`).
HAS_WORDS = "cardinality($8::tsquery[]) > 0"
# A tier's clauses are the t-word subsets of the query's n words: past this many, the
# tiers in between are skipped for the any-word one (only very long queries get there).
MAX_TIER_CLAUSES = 256

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
    # The strictest tier with `limit` matches (counting stops there), else the any-word one.
    tier = f"""SELECT t.q FROM unnest($8::tsquery[]) WITH ORDINALITY AS t(q, n)
        WHERE t.n = cardinality($8::tsquery[]) OR (SELECT count(*) FROM (
            SELECT FROM vector_chunks c WHERE {FILTERS} AND c.content_tsv @@ t.q
            LIMIT {limit}) x) >= {limit}
        LIMIT 1"""
    matched = """cardinality(ARRAY(SELECT unnest(tsvector_to_array(c.content_tsv))
        INTERSECT SELECT unnest($9::text[])))"""
    # ts_rank_cd's normalisation 32 maps its rank r to r / (r + 1).
    return f"""SELECT c.id, {matched} + ts_rank_cd(c.content_tsv, {ANY_WORD}, 32)::float8
            AS score
        FROM vector_chunks c
        WHERE {HAS_WORDS} AND {FILTERS} AND c.content_tsv @@ ({tier})
        ORDER BY score DESC, c.id LIMIT {limit}"""


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand, taken verbatim ('' is a quote, \\ escapes)."""
    escaped = lexeme.replace("\\", "\\\\").replace("'", "''")
    return f"'{escaped}'"


def lexical_tiers(lexemes: Sequence[str]) -> list[str]:
    """tsquery texts, strictest first: all the words, at least n - 1 of them, ..., any one
    (tiers of more than MAX_TIER_CLAUSES clauses left out). Empty without words."""
    words = [_quoted(lexeme) for lexeme in lexemes]
    tiers = []
    for size in range(len(words), 1, -1):
        if math.comb(len(words), size) > MAX_TIER_CLAUSES:
            break
        clauses = itertools.combinations(words, size)
        tiers.append(" | ".join("(" + " & ".join(clause) + ")" for clause in clauses))
    if words:
        tiers.append(" | ".join(words))
    return tiers


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
        return _answer(lexical_list("$4"), f"$2::vector({dims}), $3::text")
    depth = f"$4 * {HYBRID_DEPTH}"
    fused = f"""SELECT COALESCE(s.id, l.id) AS id,
            COALESCE(1.0 / ({RRF_K} + s.rank), 0) + COALESCE(1.0 / ({RRF_K} + l.rank), 0)
                AS score
        FROM (SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
              FROM ({semantic_list(dims, depth)}) x) s
        FULL JOIN (SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
                   FROM ({lexical_list(depth)}) y) l ON l.id = s.id
        ORDER BY score DESC LIMIT $4"""
    return _answer(fused, "$3::text")


# Per transaction: HNSW candidates, and iterative scans so that a store's filter (or the
# user's) still yields top_k rows when the index's first candidates belong to other stores.
# It also answers the query's distinct words as lexemes (the lexical tiers are built of them).
SESSION = """SELECT set_config('hnsw.ef_search', $1, true),
                    set_config('hnsw.iterative_scan', 'relaxed_order', true),
                    tsvector_to_array(to_tsvector('english', $2)) AS lexemes"""


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

    def args(self, lexemes: Sequence[str] = ()) -> list[Any]:
        """The statement's parameters; a lexical or hybrid one also takes the query's
        lexemes (SESSION answers them)."""
        metadata = None if self.metadata is None else json.dumps(self.metadata)
        args: list[Any] = [
            self.store_id,
            self.embedding,
            self.text,
            self.top_k,
            self.file_id,
            self.parse_result_id,
            metadata,
        ]
        if self.query_type is not QueryType.SEMANTIC:
            args += [lexical_tiers(lexemes), list(lexemes)]
        return args


async def search(conn: Any, s: Search, ef_search: int) -> str:
    """`{"chunks": [...]}` as JSON text, highest score first."""
    async with conn.transaction():
        session = await conn.fetchrow(SESSION, str(ef_search), s.text)
        statement = search_sql(s.query_type, s.dimensions)
        body: str = await conn.fetchval(statement, *s.args(session["lexemes"]))
    return body


async def search_on(pool: Conn, s: Search, ef_search: int) -> str:
    async with pool.acquire() as conn:  # type: ignore[union-attr]
        return await search(conn, s, ef_search)
