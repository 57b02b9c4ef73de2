"""Lexical search ranks by the query's words matched first, then by cover density; any
query text (quotes, backslashes, stopwords only, a very long question) is answered."""

import asyncpg
import httpx
import pytest

from db.vector_search import MAX_TIER_CLAUSES, lexical_tiers
from tests.helpers import wait_status
from tests.vector_helpers import add_results, chunk, create_store, insert_result, search

TERMINAL = {"succeeded", "failed", "cancelled", "partially_succeeded"}
BOTH = "Fresh bread from the oven."
ONE_WORD_OFTEN = "Oven oven oven: an oven, another oven, every oven in the oven shop."
NEITHER = "Rivers carry water to the sea."


def test_tiers_strictest_first() -> None:
    assert lexical_tiers(["a", "b", "c"]) == [
        "('a' & 'b' & 'c')",
        "('a' & 'b') | ('a' & 'c') | ('b' & 'c')",
        "'a' | 'b' | 'c'",
    ]
    assert lexical_tiers(["a"]) == ["'a'"]
    assert lexical_tiers([]) == []


def test_tiers_quote_lexemes_verbatim() -> None:
    assert lexical_tiers(["o'brien", "back\\slash"]) == [
        "('o''brien' & 'back\\\\slash')",
        "'o''brien' | 'back\\\\slash'",
    ]


def test_tiers_of_a_long_query_stay_bounded() -> None:
    words = [f"w{n}" for n in range(20)]
    tiers = lexical_tiers(words)
    # All 20, at least 19 (20 clauses), at least 18 (190), then straight to any one word.
    assert [tier.count("(") for tier in tiers] == [1, 20, 190, 0]
    assert all(tier.count("(") <= MAX_TIER_CLAUSES for tier in tiers)
    assert tiers[-1] == " | ".join(f"'{word}'" for word in words)


@pytest.fixture
async def store(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, pool: asyncpg.Pool
) -> str:
    store_id: str = (await create_store(api, headers, project, name="lexical"))["id"]
    texts = [BOTH, ONE_WORD_OFTEN, NEITHER]
    result = await insert_result(pool, project, [chunk(text) for text in texts])
    job = await add_results(api, headers, project, store_id, [result])
    done = await wait_status(api, headers, project, job["id"], TERMINAL)
    assert done["status"] == "succeeded", done
    return store_id


async def lexical(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, store: str, query: str
) -> list[dict[str, object]]:
    found = await search(api, headers, project, store, query=query, query_type="lexical")
    assert found.status_code == 200, found.text
    hits: list[dict[str, object]] = found.json()["chunks"]
    return hits


async def test_more_words_matched_rank_first(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, store: str
) -> None:
    hits = await lexical(api, headers, project, store, "oven bread")
    # The chunk that says "oven" eight times still ranks under the one holding both words.
    assert [hit["content"] for hit in hits] == [BOTH, ONE_WORD_OFTEN]
    both, once = (float(str(hit["score"])) for hit in hits)
    assert 2 <= both < 3 and 1 <= once < 2


async def test_hybrid_keeps_the_lexical_order(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, store: str
) -> None:
    found = await search(api, headers, project, store, query="oven bread", query_type="hybrid")
    assert found.status_code == 200, found.text
    assert found.json()["chunks"][0]["content"] == BOTH


@pytest.mark.parametrize(
    "query",
    [
        "O'Brien's oven \\ bread",
        "the and of",
        " ".join(["oven", "bread"] + [f"word{n}" for n in range(40)]),
        "!!! & | ( ) :*",
    ],
)
async def test_any_query_text_is_answered(
    api: httpx.AsyncClient, headers: dict[str, str], project: str, store: str, query: str
) -> None:
    hits = await lexical(api, headers, project, store, query)
    contents = [hit["content"] for hit in hits]
    if "oven" in query:
        assert contents == [BOTH, ONE_WORD_OFTEN]
    else:
        assert contents == []
