"""The same library searched through each vector store: FAISS, Milvus Lite, a Milvus server.

Copies the demo library (20,000 images, 128-d demo model) into a scratch home once per store,
fills the store from library.db (what `rummage index --vectors STORE` does for an existing
library), then measures on 200 held-out targets' descriptions: one search of k 10, one of
k 400 (the engine's candidates per turn) excluding 20 ids (pushed into Milvus as a filter),
top-10 agreement with FAISS, and whole conversational turns through the Python API, the
stores interleaved session by session. The server is Milvus Lite's engine serving gRPC on a
local port (the path a Milvus standalone or cluster takes), unless --server names one.
Prints a table and writes JSON.

    python benchmarks/vector_stores.py [--sessions 10] [--server milvus://HOST:PORT]
                                       [--json bench-out/vector_stores.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from agent.api import Agent
from retrievers.demo.schema import describe, script_for
from retrievers.demo.tour import DEMO_LIBRARY, ensure_demo_library
from retrievers.home import rummage_home
from retrievers.library import Library


def local_server(folder: Path):
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from milvus_lite.server import Server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Server(str(folder / "server.db"), address=f"127.0.0.1:{port}")
    if not (server.init() and server.start()):
        raise SystemExit("could not start Milvus Lite's server")
    return server, f"milvus://127.0.0.1:{port}/bench"


def ms(values) -> dict:
    values = np.asarray(values) * 1000
    return {"p50": round(float(np.median(values)), 2),
            "p95": round(float(np.percentile(values, 95)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="conversations per store")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--server", help="a Milvus server to measure (milvus://HOST:PORT/COLL)")
    parser.add_argument("--json", default="bench-out/vector_stores.json")
    args = parser.parse_args()

    source = rummage_home()
    ensure_demo_library(source)
    scratch = Path(tempfile.mkdtemp(prefix="rummage-stores-"))
    server = None
    try:
        store_of = {"faiss": "faiss", "milvus-lite": "milvus"}
        if args.server:
            store_of["milvus-server"] = args.server
        else:
            server, store_of["milvus-server"] = local_server(scratch)
        rows: dict[str, dict] = {}
        libraries: dict[str, Library] = {}
        for name, store in store_of.items():
            shutil.copytree(source / DEMO_LIBRARY, scratch / name,
                            ignore=shutil.ignore_patterns("checkpoints.db*", "*.lock"))
            library = Library.open(name, scratch)
            library.use_store(store)
            started = time.perf_counter()
            library.index  # noqa: B018 -- fills the store from library.db
            rows[name] = {"store": store, "fill_s": round(time.perf_counter() - started, 2)}
            libraries[name] = library

        exact = libraries["faiss"]
        rng = random.Random(0)
        targets = rng.sample(exact.ids_in_split("test"), args.queries)
        texts = [describe(meta) for meta in exact.metadata(targets).values()]
        queries = exact.text_encoder.encode_texts(texts)
        excluded = [int(i) for i in rng.sample(exact.catalog.vector_ids().tolist(), 20)]
        held_out = exact.ids_in_split("test")
        truth = exact.index.search(queries, 10)[1]
        for name, library in libraries.items():
            index = library.index
            small, large, agree = [], [], []
            for query, want in zip(queries, truth):
                started = time.perf_counter()
                _, found = index.search(query, 10)
                small.append(time.perf_counter() - started)
                started = time.perf_counter()
                index.search(query, 400, exclude=excluded)
                large.append(time.perf_counter() - started)
                agree.append(len(set(found[0].tolist()) & set(want.tolist())) / 10)
            rows[name].update(search_k10_ms=ms(small), search_k400_excluding_20_ms=ms(large),
                              top10_agreement_with_faiss=round(float(np.mean(agree)), 4))
        for library in libraries.values():
            library.close()

        agents = {name: Agent.open(name, home=scratch) for name in store_of}
        for agent in agents.values():
            agent.warm_up()
        turns: dict[str, list[float]] = {name: [] for name in agents}
        for _ in range(args.sessions):
            script = [*script_for(agents["faiss"].image(rng.choice(held_out)).meta),
                      "not 1", "none of these", "more like 2", "#3"]
            for name, agent in agents.items():  # interleaved: the same load for each store
                session = agent.new_session()
                for text in script:
                    started = time.perf_counter()
                    session.say(text)
                    turns[name].append(time.perf_counter() - started)
        for name, agent in agents.items():
            rows[name]["turn_ms"] = ms(turns[name])
            agent.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    size = len(queries)
    print(f"demo library, {args.queries} queries, {args.sessions} sessions per store, "
          f"{os.cpu_count()} cores")
    print(f"{'store':<15}{'fill s':>8}{'k10 p50/p95 ms':>18}{'k400-ex p50/p95 ms':>22}"
          f"{'agree@10':>10}{'turn p50/p95 ms':>18}")
    for name, r in rows.items():
        print(f"{name:<15}{r['fill_s']:>8}"
              f"{r['search_k10_ms']['p50']:>10}/{r['search_k10_ms']['p95']:<7}"
              f"{r['search_k400_excluding_20_ms']['p50']:>14}/"
              f"{r['search_k400_excluding_20_ms']['p95']:<7}"
              f"{r['top10_agreement_with_faiss']:>10}"
              f"{r['turn_ms']['p50']:>10}/{r['turn_ms']['p95']:<7}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cores": os.cpu_count(), "queries": size,
                               "sessions": args.sessions, "stores": rows}, indent=2))


if __name__ == "__main__":
    main()
