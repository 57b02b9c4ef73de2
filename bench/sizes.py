"""How big each benchmark runs: FULL for `make bench`, QUICK (`--quick`) for the smoke test,
which only proves every figure is still produced."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    quick: bool
    warmup: int  # leading repetitions dropped from every latency figure
    latency_runs: int  # repetitions of each latency figure (p50/p95 need ≥ 30)
    # cancel of a running job, at the default heartbeat throttle and these others
    cancel_runs: int
    throttles_ms: tuple[int, ...]
    heartbeat_samples: int  # runs in which the heartbeat rate is sampled...
    heartbeat_sample_s: float  # ...for this long
    # job creation: rounds of `create_jobs` jobs by `create_clients` concurrent clients
    create_rounds: int
    create_jobs: int
    create_clients: int
    # reads
    list_rows: int
    history_events: int
    batch_children: int
    # parse throughput: rounds over a corpus of docs x pages
    parse_rounds: int
    corpus_docs: int
    corpus_pages: int
    # rechunk throughput: pages of the parse result that is re-chunked
    rechunk_pages: int
    # cancel of a running rechunk: pages of the result it re-chunks
    cancel_rechunk_pages: int
    # convergence loop: non-terminal jobs in Postgres
    unsettled_jobs: int
    # batch scale
    batch_documents: int
    fanout_children: int
    # vector stores: chunks in the searched store, recall queries, generated chunks beside
    # the labelled answers, chunks indexed by a job, chunks of the job whose cancel is timed
    vector_chunks: int = 300
    recall_queries: int = 5
    labelled_filler: int = 300
    index_chunks: int = 300
    cancel_index_chunks: int = 2_000


FULL = Sizes(
    quick=False,
    warmup=3,
    latency_runs=30,
    cancel_runs=30,
    throttles_ms=(50, 100, 250),
    heartbeat_samples=3,
    heartbeat_sample_s=1.0,
    create_rounds=5,
    create_jobs=200,
    create_clients=8,
    list_rows=1_000_000,
    history_events=50,
    batch_children=1_000,
    parse_rounds=3,
    corpus_docs=10,
    corpus_pages=20,
    rechunk_pages=2_000,
    cancel_rechunk_pages=10_000,
    unsettled_jobs=100_000,
    batch_documents=10_000,
    fanout_children=300,
    vector_chunks=1_000_000,
    recall_queries=1_000,
    labelled_filler=10_000,
    index_chunks=20_000,
    cancel_index_chunks=100_000,
)

QUICK = Sizes(
    quick=True,
    warmup=1,
    latency_runs=3,
    cancel_runs=3,
    throttles_ms=(50,),
    heartbeat_samples=1,
    heartbeat_sample_s=0.3,
    create_rounds=1,
    create_jobs=8,
    create_clients=4,
    list_rows=100,
    history_events=50,
    batch_children=20,
    parse_rounds=1,
    corpus_docs=2,
    corpus_pages=3,
    rechunk_pages=20,
    cancel_rechunk_pages=2_000,
    unsettled_jobs=1_000,
    batch_documents=20,
    fanout_children=20,
)
