"""Drive a starkperp node with the OFFICIAL dydx-v3-python client (runs in its own venv).

Usage: <dydx venv>/bin/python dydx_driver.py <host> ; prints one JSON object with what the
client saw. Nothing here imports starkperp: this is what a dYdX trader's script would do.
"""

import json
import sys
import time

from dydx3 import Client
from dydx3.constants import (
    MARKET_BTC_USD,
    ORDER_SIDE_BUY,
    ORDER_SIDE_SELL,
    ORDER_TYPE_LIMIT,
    TIME_IN_FORCE_GTT,
)
from dydx3.errors import DydxApiError

NETWORK_ID = 11155111  # Sepolia: dydx3 only asks the testnet faucet there
MAKER_KEY = "0x" + "a1" * 32
TAKER_KEY = "0x" + "b2" * 32


def make_client(host, eth_key):
    client = Client(host=host, network_id=NETWORK_ID, eth_private_key=eth_key)
    keys = client.onboarding.derive_stark_key()
    client.stark_private_key = keys["private_key"]
    client = Client(
        host=host,
        network_id=NETWORK_ID,
        eth_private_key=eth_key,
        stark_private_key=keys["private_key"],
    )
    onboarded = client.onboarding.create_user(
        stark_public_key=keys["public_key"],
        stark_public_key_y_coordinate=keys["public_key_y_coordinate"],
    ).data
    return client, onboarded


def main():
    host = sys.argv[1]
    out = {}
    maker, onboarded = make_client(host, MAKER_KEY)
    taker, _ = make_client(host, TAKER_KEY)
    out["onboarded_api_key_matches"] = (
        onboarded["apiKey"]["key"] == maker.api_key_credentials["key"]
    )
    out["markets"] = sorted(maker.public.get_markets().data["markets"])
    out["time"] = maker.public.get_time().data
    account = maker.private.get_account().data["account"]
    out["account_id"] = account["id"]
    maker_pos = account["positionId"]
    taker_pos = taker.private.get_account().data["account"]["positionId"]
    maker.private.request_testnet_tokens()
    taker.private.request_testnet_tokens()
    out["quote_balance"] = maker.private.get_account().data["account"]["quoteBalance"]
    expiration = int(time.time()) + 7 * 24 * 3600
    ask = maker.private.create_order(
        position_id=maker_pos,
        market=MARKET_BTC_USD,
        side=ORDER_SIDE_SELL,
        order_type=ORDER_TYPE_LIMIT,
        post_only=False,
        size="0.01",
        price="50100",
        limit_fee="0.002",
        expiration_epoch_seconds=expiration,
        time_in_force=TIME_IN_FORCE_GTT,
        client_id="maker-1",
    ).data["order"]
    out["ask"] = ask
    out["orderbook"] = maker.public.get_orderbook(MARKET_BTC_USD).data
    bid = taker.private.create_order(
        position_id=taker_pos,
        market=MARKET_BTC_USD,
        side=ORDER_SIDE_BUY,
        order_type=ORDER_TYPE_LIMIT,
        post_only=False,
        size="0.004",
        price="50200",
        limit_fee="0.002",
        expiration_epoch_seconds=expiration,
        client_id="taker-1",
    ).data["order"]
    out["bid"] = bid
    out["maker_order_by_id"] = maker.private.get_order_by_id(ask["id"]).data["order"]
    out["maker_order_by_client_id"] = maker.private.get_order_by_client_id("maker-1").data["order"]
    out["active"] = maker.private.get_active_orders(market=MARKET_BTC_USD).data["orders"]
    out["taker_fills"] = taker.private.get_fills(market=MARKET_BTC_USD).data["fills"]
    out["maker_fills"] = maker.private.get_fills().data["fills"]
    out["taker_positions"] = taker.private.get_positions(market=MARKET_BTC_USD).data["positions"]
    out["trades"] = maker.public.get_trades(MARKET_BTC_USD).data["trades"]
    out["cancel"] = maker.private.cancel_order(ask["id"]).data["cancelOrder"]
    for i in range(2):
        maker.private.create_order(
            position_id=maker_pos, market=MARKET_BTC_USD, side=ORDER_SIDE_BUY,
            order_type=ORDER_TYPE_LIMIT, post_only=True, size="0.001", price=str(40000 + i),
            limit_fee="0.002", expiration_epoch_seconds=expiration, client_id=f"bulk-{i}",
        )  # fmt: skip
    out["cancel_all"] = maker.private.cancel_all_orders(market=MARKET_BTC_USD).data["cancelOrders"]
    out["orders"] = maker.private.get_orders(market=MARKET_BTC_USD).data["orders"]
    out["withdrawal"] = maker.private.create_withdrawal(
        position_id=maker_pos, amount="10", asset="USDC", to_address=maker.default_address,
        expiration_epoch_seconds=expiration, client_id="wd-1",
    ).data["withdrawal"]  # fmt: skip
    out["transfers"] = maker.private.get_transfers().data["transfers"]
    out["funding"] = maker.private.get_funding_payments().data["fundingPayments"]
    try:
        maker.private.create_order(
            position_id=maker_pos, market=MARKET_BTC_USD, side=ORDER_SIDE_BUY,
            order_type=ORDER_TYPE_LIMIT, post_only=False, size="0.01", price="40000",
            limit_fee="0.002", expiration_epoch_seconds=expiration, client_id="bad-sig",
            signature="00" * 64,
        )  # fmt: skip
        out["bad_signature"] = None
    except DydxApiError as err:
        out["bad_signature"] = {"status": err.status_code, "body": err.msg}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
