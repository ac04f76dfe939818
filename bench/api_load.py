"""Signed orders per second through HTTP, request->ack latency, cancels/s, memory under soak.

Starts a real node (uvicorn subprocess, SQLite WAL log with synchronous=FULL, signature pool)
on a free loopback port and onboards traders. Before each timed phase it pre-signs the orders
(STARK signatures, as dydx3 would) and pre-builds every HTTP request with its dYdX HMAC
headers, so the timed phase only writes bytes and reads answers: the load generator is a
lean asyncio protocol on keep-alive connections (one per concurrent client), because on this
2-core machine every millisecond it spends is taken from the node it measures.

Each run: ``--orders`` signed orders from ``--concurrency`` clients (throughput, p50/p99),
then as many again from ``--latency-concurrency`` clients (latency at a lighter load), then
the still-open orders cancelled from ``--concurrency`` clients (cancels/s). Every answer is
the acknowledgement, sent only after the order's log record is durable. Reported per run and
as medians: orders/s, latencies, cancels/s, the CPU the node (event loop + signature workers)
and the load generator spent per order, and the machine's load average. ``--soak SECONDS``
then keeps the load on and samples the node's resident memory: at the start, after
``--soak-warmup`` seconds (the engine's bounded windows — finished orders, book deltas, fills
— fill up first) and at the end, with the fitted growth rate after warm-up.

    python bench/api_load.py            # full run (3 runs)
    python bench/api_load.py --quick    # smoke run
    python bench/api_load.py --soak 600 # plus a 10-minute soak
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.node.nodeproc import NodeProcess  # noqa: E402

from starkperp.api.auth import compute_request_signature  # noqa: E402
from starkperp.client.http import AsyncStarkPerpClient, Identity, build_order_body  # noqa: E402
from starkperp.node.views import format_iso_ms  # noqa: E402

TARGET_OPS = 1_000
TARGET_P99_MS = 50


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: writes a pre-built request, returns the answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


def build_request(
    host: str, identity: Identity, method: str, path: str, body: dict[str, Any] | None
) -> bytes:
    """Return the bytes of one authenticated request (HMAC over timestamp+method+path+body)."""
    content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    ts = format_iso_ms(time.time_ns() // 1_000_000)
    creds = identity.credentials
    sig = compute_request_signature(
        secret=creds.secret, iso_timestamp=ts, method=method, request_path=path, body=body
    )
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
        f"DYDX-SIGNATURE: {sig}\r\nDYDX-API-KEY: {creds.key}\r\n"
        f"DYDX-TIMESTAMP: {ts}\r\nDYDX-PASSPHRASE: {creds.passphrase}\r\n\r\n"
    )
    return head.encode() + content


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(pid: int) -> tuple[float, float]:
    """Return (CPU seconds of the node process, of its live children: the signature pool)."""
    children = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children += _cpu_s(int(entry.name))
    return _cpu_s(pid), children


def _presign(traders: list[Identity], n: int, seed: int, tag: str) -> list[tuple[int, dict]]:
    rng = random.Random(seed)
    exp = int(time.time()) + 20 * 86400
    out = []
    for k in range(n):
        t = k % len(traders)
        side = "BUY" if rng.random() < 0.5 else "SELL"
        # Mostly resting orders around the mid, ~10 % crossing so fills happen too.
        offset = rng.randint(1, 400)
        cross = rng.random() < 0.1
        price = 50_000 + (offset if (side == "SELL") != cross else -offset)
        body = build_order_body(
            traders[t], market="BTC-USD", side=side, size="0.001", price=str(price),
            client_id=f"{tag}-{k}", expiration_s=exp,
        )  # fmt: skip
        out.append((t, body))
    return out


async def _drive(
    host: str, port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], list[tuple[int, bytes]]]:
    """Send pre-built requests from ``concurrency`` keep-alive connections; time each."""
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(min(concurrency, len(requests))):
        _, proto = await loop.create_connection(Connection, host, port)
        conns.append(proto)
    latencies = [0.0] * len(requests)
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    next_index = 0
    clock = time.perf_counter

    async def client(conn: Connection) -> None:
        nonlocal next_index
        while next_index < len(requests):
            k = next_index
            next_index += 1
            started = clock()
            answers[k] = await conn.request(requests[k])
            latencies[k] = clock() - started

    started = clock()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = clock() - started
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return elapsed, latencies, answers


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _place(
    host: str,
    port: int,
    traders: list[Identity],
    bodies: list[tuple[int, dict]],
    concurrency: int,
    pid: int,
) -> dict[str, Any]:
    requests = [build_request(host, traders[t], "POST", "/v3/orders", b) for t, b in bodies]
    node0, pool0 = _tree_cpu_s(pid)
    gen0 = time.process_time()
    elapsed, latencies, answers = await _drive(host, port, requests, concurrency)
    gen = time.process_time() - gen0
    node1, pool1 = _tree_cpu_s(pid)
    acks = []
    for (t, _), (status, payload) in zip(bodies, answers):
        if status == 200:
            acks.append(json.loads(payload)["order"] | {"_t": t})
    ok = [lat for lat, (status, _) in zip(latencies, answers) if status == 200]
    n = max(1, len(ok))
    return {
        "orders": len(ok),
        "errors": len(bodies) - len(ok),
        "rate": len(ok) / elapsed,
        "p50": _pct(ok, 0.50) if ok else 0.0,
        "p99": _pct(ok, 0.99) if ok else 0.0,
        "filled": sum(1 for a in acks if a["status"] == "FILLED"),
        "node_ms": (node1 - node0) * 1000 / n,
        "pool_ms": (pool1 - pool0) * 1000 / n,
        "gen_ms": gen * 1000 / n,
        "acks": acks,
    }


async def _cancel(
    host: str, port: int, traders: list[Identity], acks: list[dict[str, Any]], concurrency: int
) -> tuple[float, int]:
    opened = [(a["_t"], a["id"]) for a in acks if a["status"] == "OPEN"]
    requests = [
        build_request(host, traders[t], "DELETE", f"/v3/orders/{i}", None) for t, i in opened
    ]
    if not requests:
        return 0.0, 0
    elapsed, _, answers = await _drive(host, port, requests, concurrency)
    return elapsed, sum(1 for status, _ in answers if status == 200)


def _line(tag: str, r: dict[str, Any], concurrency: int) -> str:
    return (
        f"{tag}: {r['orders']} signed orders from {concurrency} clients = {r['rate']:,.0f}/s, "
        f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, {r['filled']} filled, "
        f"{r['errors']} errors; CPU per order: node {r['node_ms']:.2f} ms + signature "
        f"workers {r['pool_ms']:.2f} ms, load generator {r['gen_ms']:.2f} ms"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="starkperp-bench-"))
    node = NodeProcess(tmp / "node.sqlite")
    node.start()
    assert node.proc is not None
    pid = node.proc.pid
    host, port = "127.0.0.1", node.port
    try:
        idents = [Identity.from_eth_key(f"0x{k + 1000:064x}") for k in range(args.traders)]
        traders = []
        for ident in idents:
            c = AsyncStarkPerpClient(node.url, identity=ident, timeout=60)
            try:
                await c.onboard()
                await c.deposit_testnet("10000000")
                assert c.identity is not None
                traders.append(c.identity)
            finally:
                await c.aclose()
        # Warm-up (untimed): the signature workers start on the first onboarding.
        warm = _presign(traders, 2 * args.concurrency, seed=999, tag="warm")
        await _place(host, port, traders, warm, args.concurrency, pid)
        load = [os.getloadavg()[0]]
        results: dict[str, list[float]] = {}
        for r in range(args.runs):
            bodies = _presign(traders, args.orders, seed=r, tag=f"r{r}")
            thr = await _place(host, port, traders, bodies, args.concurrency, pid)
            print(_line(f"run {r} throughput", thr, args.concurrency), flush=True)
            bodies = _presign(traders, args.orders, seed=100 + r, tag=f"l{r}")
            lat = await _place(host, port, traders, bodies, args.latency_concurrency, pid)
            print(_line(f"run {r} latency   ", lat, args.latency_concurrency), flush=True)
            c_elapsed, canceled = await _cancel(
                host, port, traders, thr["acks"] + lat["acks"], args.concurrency
            )
            cancel_rate = canceled / c_elapsed if c_elapsed else 0.0
            print(f"run {r}: {canceled} cancels in {c_elapsed:.2f} s = {cancel_rate:,.0f}/s")
            load.append(os.getloadavg()[0])
            for key, value in (
                ("orders_per_s", thr["rate"]),
                ("p50_ms", thr["p50"]),
                ("p99_ms", thr["p99"]),
                ("latency_orders_per_s", lat["rate"]),
                ("latency_p50_ms", lat["p50"]),
                ("latency_p99_ms", lat["p99"]),
                ("cancels_per_s", cancel_rate),
                ("node_cpu_ms_per_order", thr["node_ms"]),
                ("pool_cpu_ms_per_order", thr["pool_ms"]),
                ("generator_cpu_ms_per_order", thr["gen_ms"]),
            ):
                results.setdefault(key, []).append(value)
        result: dict[str, Any] = {k: statistics.median(v) for k, v in results.items()}
        result["load_average"] = statistics.median(load)
        if args.soak:
            result |= await _soak(host, port, traders, args, pid)
        return result
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def _soak(
    host: str, port: int, traders: list[Identity], args: argparse.Namespace, pid: int
) -> dict[str, Any]:
    """Keep signed orders and cancels flowing for ``args.soak`` seconds; sample the RSS."""
    rss0 = _rss_mib(pid)
    started = time.monotonic()
    deadline = started + args.soak
    n = placed = 0
    samples: list[tuple[float, float]] = [(0.0, rss0)]
    busy = 0.0
    while time.monotonic() < deadline:
        bodies = _presign(traders, 500, seed=10_000 + n, tag=f"s{n}")
        t0 = time.monotonic()
        out = await _place(host, port, traders, bodies, args.concurrency, pid)
        await _cancel(host, port, traders, out["acks"], args.concurrency)
        busy += time.monotonic() - t0
        placed += out["orders"]
        n += 1
        samples.append((time.monotonic() - started, _rss_mib(pid)))
    rss1 = _rss_mib(pid)
    minute = -1
    for at, rss in samples:
        if int(at // 60) != minute:
            minute = int(at // 60)
            print(f"soak t={at:5.0f} s: node RSS {rss:.1f} MiB")
    warm = [(at, rss) for at, rss in samples if at >= args.soak_warmup]
    rss_warm = warm[0][1] if warm else rss1
    slope = _slope_mib_per_min(warm)
    print(
        f"soak {args.soak:.0f} s: {placed} signed orders placed and their open ones cancelled "
        f"(load on {100 * busy / args.soak:.0f} % of the time, the rest pre-signing); "
        f"node RSS {rss0:.1f} -> {rss_warm:.1f} MiB after {args.soak_warmup:.0f} s of warm-up "
        f"-> {rss1:.1f} MiB at the end ({rss1 - rss_warm:+.1f} MiB after warm-up, "
        f"fitted slope {slope:+.2f} MiB/min)"
    )
    return {
        "soak_rss_start_mib": rss0,
        "soak_rss_warm_mib": rss_warm,
        "soak_rss_end_mib": rss1,
        "soak_slope_mib_per_min": slope,
        "soak_orders": placed,
    }


def _slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time, in MiB per minute (0 with < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    ts = [at for at, _ in samples]
    rs = [rss for _, rss in samples]
    t_mean, r_mean = statistics.fmean(ts), statistics.fmean(rs)
    var = sum((t - t_mean) ** 2 for t in ts)
    if var == 0:
        return 0.0
    cov = sum((t - t_mean) * (r - r_mean) for t, r in zip(ts, rs))
    return 60 * cov / var


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--orders", type=int, default=3000, help="orders per phase and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--traders", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-concurrency", type=int, default=16)
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of sustained load")
    parser.add_argument(
        "--soak-warmup",
        type=float,
        default=180.0,
        help="seconds of the soak counted as warm-up (the bounded windows filling up)",
    )
    args = parser.parse_args()
    if args.quick:
        args.orders, args.runs, args.traders = 600, 1, 4
    try:
        import uvloop
    except ImportError:  # the generator then runs on the standard event loop
        result = asyncio.run(main_async(args))
    else:
        result = uvloop.run(main_async(args))
    print(
        f"signed orders/s {result['orders_per_s']:,.0f} (target >= {TARGET_OPS}) with "
        f"{args.concurrency} clients, p50 {result['p50_ms']:.1f} ms, p99 "
        f"{result['p99_ms']:.1f} ms; with {args.latency_concurrency} clients "
        f"{result['latency_orders_per_s']:,.0f}/s, p50 {result['latency_p50_ms']:.1f} ms, "
        f"p99 {result['latency_p99_ms']:.1f} ms (target <= {TARGET_P99_MS}); "
        f"cancels/s {result['cancels_per_s']:,.0f}; median of {args.runs} run(s), "
        f"load average {result['load_average']:.1f}"
    )
    print(
        f"CPU per signed order: node event loop {result['node_cpu_ms_per_order']:.2f} ms, "
        f"signature workers {result['pool_cpu_ms_per_order']:.2f} ms, load generator "
        f"{result['generator_cpu_ms_per_order']:.2f} ms"
    )
    print(
        json.dumps(
            {
                "name": "api_signed_orders_per_s",
                "value": round(result["orders_per_s"], 1),
                "unit": "orders/s",
                "target": TARGET_OPS,
                "higher_is_better": True,
                "p50_ms": round(result["p50_ms"], 2),
                "p99_ms": round(result["p99_ms"], 2),
                "latency_concurrency": args.latency_concurrency,
                "latency_p50_ms": round(result["latency_p50_ms"], 2),
                "latency_p99_ms": round(result["latency_p99_ms"], 2),
                "cancels_per_s": round(result["cancels_per_s"], 1),
                "node_cpu_ms_per_order": round(result["node_cpu_ms_per_order"], 3),
                "pool_cpu_ms_per_order": round(result["pool_cpu_ms_per_order"], 3),
                "generator_cpu_ms_per_order": round(result["generator_cpu_ms_per_order"], 3),
                "load_average": round(result["load_average"], 2),
                **{k: round(v, 2) for k, v in result.items() if k.startswith("soak_")},
            }
        )
    )


if __name__ == "__main__":
    main()
