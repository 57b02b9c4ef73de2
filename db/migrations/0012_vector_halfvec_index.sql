-- Semantic search at a million chunks: the HNSW index of the wheel model's width holds
-- half-precision copies of the embeddings (halfvec: 512 bytes a vector instead of 1,024),
-- so the graph of a big store stays in memory, builds in half the maintenance_work_mem and
-- is read from fewer pages per query; recall@10 against an exact full-precision scan is
-- measured by bench/vector_search.py (docs/benchmarks.md). The rows keep full precision.
-- m and ef_construction are pgvector's defaults, spelt out: the recall figure depends on them.
DROP INDEX IF EXISTS vector_chunks_hnsw_256;
CREATE INDEX vector_chunks_hnsw_256_half
    ON vector_chunks USING hnsw ((embedding::halfvec(256)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 64)
    WHERE live AND dimensions = 256;
