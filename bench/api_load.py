"""Signed orders per second through HTTP, request->ack latency, cancels/s, memory under soak.

Starts a real node (uvicorn subprocess, SQLite WAL log with synchronous=FULL) on a free
loopback port, onboards traders, PRE-SIGNS every order before the timed phase, then drives
``POST /v3/orders`` with concurrent HTTP clients (HMAC headers computed per request, as a
real client must). Reports orders/s and p50/p99 latency from request to acknowledgement (the
ack comes only after the order's log record is durable), then cancels/s, and with
``--soak SECONDS`` the node's resident memory before and after sustained load.

    python bench/api_load.py            # full run
    python bench/api_load.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.node.nodeproc import NodeProcess  # noqa: E402

from starkperp.api.auth import compute_request_signature  # noqa: E402
from starkperp.client.http import AsyncStarkPerpClient, Identity, build_order_body  # noqa: E402
from starkperp.node.views import format_iso_ms  # noqa: E402

TARGET_OPS = 1_000
TARGET_P99_MS = 50


class RawConnection:
    """A minimal HTTP/1.1 keep-alive connection: the load generator must cost far less CPU
    than the node it measures (httpx spends milliseconds per request)."""

    def __init__(self, host: str, port: int, identity: Identity) -> None:
        self.host, self.port, self.identity = host, port, identity
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        try:
            return await self._request(method, path, body)
        except (ConnectionError, IndexError, asyncio.IncompleteReadError):
            # The server closed an idle keep-alive connection: reconnect once.
            await self.close()
            self.reader = self.writer = None
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        ts = format_iso_ms(time.time_ns() // 1_000_000)
        creds = self.identity.credentials
        sig = compute_request_signature(
            secret=creds.secret, iso_timestamp=ts, method=method, request_path=path, body=body
        )
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
            f"DYDX-SIGNATURE: {sig}\r\nDYDX-API-KEY: {creds.key}\r\n"
            f"DYDX-TIMESTAMP: {ts}\r\nDYDX-PASSPHRASE: {creds.passphrase}\r\n\r\n"
        )
        self.writer.write(head.encode() + content)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length)
        return status, json.loads(payload) if payload else {}

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks of 10 ms


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
    url: str, traders: list[Identity], bodies: list[tuple[int, dict]], concurrency: int
) -> tuple[float, list[float], list[dict[str, Any]], int]:
    queue: asyncio.Queue[tuple[int, dict]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    latencies: list[float] = []
    acks: list[dict[str, Any]] = []
    errors = 0

    host, port = url.rsplit("/", 1)[1].split(":")
    conns: dict[tuple[int, int], RawConnection] = {}

    async def worker(w: int) -> None:
        nonlocal errors
        while True:
            try:
                t, body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            conn = conns.setdefault((w, t), RawConnection(host, int(port), traders[t]))
            started = time.perf_counter()
            status, answer = await conn.request("POST", "/v3/orders", body)
            if status != 200:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            acks.append(answer["order"] | {"_t": t})

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    for conn in conns.values():
        await conn.close()
    return elapsed, latencies, acks, errors


async def _cancel(
    url: str, traders: list[Identity], acks: list[dict[str, Any]], concurrency: int
) -> tuple[float, int]:
    open_orders = [(a["_t"], a["id"]) for a in acks if a["status"] == "OPEN"]
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in open_orders:
        queue.put_nowait(item)
    done = 0

    host, port = url.rsplit("/", 1)[1].split(":")
    conns: dict[tuple[int, int], RawConnection] = {}

    async def worker(w: int) -> None:
        nonlocal done
        while True:
            try:
                t, oid = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            conn = conns.setdefault((w, t), RawConnection(host, int(port), traders[t]))
            status, _ = await conn.request("DELETE", f"/v3/orders/{oid}", None)
            done += status == 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    for conn in conns.values():
        await conn.close()
    return elapsed, done


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="starkperp-bench-"))
    node = NodeProcess(tmp / "node.sqlite")
    node.start()
    assert node.proc is not None
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=64)
    try:
        idents = [Identity.from_eth_key(f"0x{k + 1000:064x}") for k in range(args.traders)]
        clients = []
        for ident in idents:
            c = AsyncStarkPerpClient(node.url, identity=ident, limits=limits, timeout=60)
            await c.onboard()
            await c.deposit_testnet("10000000")
            clients.append(c)
        traders = [c.identity for c in clients]
        assert all(t is not None for t in traders)
        print(f"pre-signing {args.orders * args.runs} orders ...", flush=True)
        batches = [
            _presign(traders, args.orders, seed=r, tag=f"r{r}")  # type: ignore[arg-type]
            for r in range(args.runs)
        ]
        rates, p50s, p99s, cancel_rates, cpu_per_order = [], [], [], [], []
        for r, bodies in enumerate(batches):
            cpu0 = _cpu_s(node.proc.pid)
            elapsed, lat, acks, errors = await _drive(node.url, traders, bodies, args.concurrency)
            cpu_ms = (_cpu_s(node.proc.pid) - cpu0) * 1000 / max(1, len(lat))
            cpu_per_order.append(cpu_ms)
            rate = len(lat) / elapsed
            rates.append(rate)
            p50s.append(_pct(lat, 0.50))
            p99s.append(_pct(lat, 0.99))
            fills = sum(1 for a in acks if a["status"] == "FILLED")
            print(
                f"run {r}: {len(lat)} signed orders in {elapsed:.2f} s = {rate:,.0f} orders/s, "
                f"p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms, {fills} filled, {errors} errors, "
                f"node CPU {cpu_ms:.2f} ms/order",
                flush=True,
            )
            c_elapsed, canceled = await _cancel(node.url, traders, acks, args.concurrency)
            cancel_rates.append(canceled / c_elapsed if c_elapsed else 0.0)
            print(f"run {r}: {canceled} cancels in {c_elapsed:.2f} s = {cancel_rates[-1]:,.0f}/s")
        result: dict[str, Any] = {
            "orders_per_s": statistics.median(rates),
            "p50_ms": statistics.median(p50s),
            "p99_ms": statistics.median(p99s),
            "cancels_per_s": statistics.median(cancel_rates),
            "node_cpu_ms_per_order": statistics.median(cpu_per_order),
        }
        if args.soak:
            rss0 = _rss_mib(node.proc.pid)
            deadline = time.monotonic() + args.soak
            n = 0
            samples = []
            while time.monotonic() < deadline:
                bodies = _presign(traders, 500, seed=10_000 + n, tag=f"s{n}")  # type: ignore[arg-type]
                _, _, acks, _ = await _drive(node.url, traders, bodies, args.concurrency)
                await _cancel(node.url, traders, acks, args.concurrency)
                n += 1
                samples.append(_rss_mib(node.proc.pid))
            rss1 = _rss_mib(node.proc.pid)
            print(f"soak {args.soak:.0f} s, {n * 500} orders: RSS {rss0:.1f} -> {rss1:.1f} MiB")
            result["soak_rss_start_mib"] = rss0
            result["soak_rss_end_mib"] = rss1
        for c in clients:
            await c.aclose()
        return result
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--orders", type=int, default=3000, help="orders per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--traders", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of sustained load")
    args = parser.parse_args()
    if args.quick:
        args.orders, args.runs, args.traders = 300, 1, 4
    result = asyncio.run(main_async(args))
    print(
        f"signed orders/s {result['orders_per_s']:,.0f} (target >= {TARGET_OPS}), "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
        f"(target <= {TARGET_P99_MS}), cancels/s {result['cancels_per_s']:,.0f}"
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
                "cancels_per_s": round(result["cancels_per_s"], 1),
                "node_cpu_ms_per_order": round(result["node_cpu_ms_per_order"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
