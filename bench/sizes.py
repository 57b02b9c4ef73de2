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
    # OCR: pages per CER condition, the scan timed through the worker, the OCR job a small
    # job queues behind (and that is cancelled), cancels of running OCR jobs
    ocr_cer_pages: int = 1
    ocr_pages: int = 2
    ocr_big_pages: int = 4
    ocr_cancel_runs: int = 2
    # storage backends: rounds of an upload of this size and of a parse of a PDF this long
    storage_rounds: int = 2
    storage_upload_mib: int = 1
    storage_pdf_pages: int = 5
    # job events: SSE streams open at once on the API process
    open_streams: int = 10
    # vector stores: chunks of the indexing job whose cancel is timed
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
    ocr_cer_pages=3,
    ocr_pages=50,
    ocr_big_pages=200,
    ocr_cancel_runs=10,
    storage_rounds=5,
    storage_upload_mib=32,
    storage_pdf_pages=200,
    open_streams=1_000,
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
