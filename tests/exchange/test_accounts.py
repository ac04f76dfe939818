"""Accounts: creation, deposits, withdrawals and transfers, with their rejections."""

from __future__ import annotations

import pytest

from starkperp.exchange import AccountKind, Exchange, ExchangeError, Reason, Side
from tests.exchange.helpers import USDC, funded, make_order


def _reject(ex: Exchange, reason: Reason, call, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    digest = ex.compute_state_digest()
    with pytest.raises(ExchangeError) as info:
        call(*args, **kwargs)
    assert info.value.reason is reason
    assert ex.compute_state_digest() == digest


def test_system_accounts_exist(exchange: Exchange) -> None:
    assert exchange.get_account(exchange.insurance_fund_id).kind is AccountKind.INSURANCE_FUND
    assert exchange.get_account(exchange.fee_account_id).kind is AccountKind.FEE


def test_deposit_withdraw_transfer(exchange: Exchange) -> None:
    a, b = funded(exchange, 1_000), funded(exchange, 0)
    exchange.withdraw(a, 100 * USDC)
    exchange.transfer(a, b, 200 * USDC)
    assert exchange.get_account(a).collateral == 700 * USDC
    assert exchange.get_account(b).collateral == 200 * USDC
    assert exchange.get_account(a).free_collateral == 700 * USDC


def test_create_account_with_key(exchange: Exchange) -> None:
    account = exchange.create_account(5_000, public_key=0x1234)
    assert exchange.get_account(account).public_key == 0x1234


def test_invalid_account_exists(exchange: Exchange) -> None:
    account = funded(exchange)
    _reject(exchange, Reason.ACCOUNT_EXISTS, exchange.create_account, account)


def test_invalid_amounts(exchange: Exchange) -> None:
    account = funded(exchange)
    _reject(exchange, Reason.INVALID_AMOUNT, exchange.deposit, account, 0)
    _reject(exchange, Reason.INVALID_AMOUNT, exchange.deposit, account, -5)
    _reject(exchange, Reason.OVERFLOW, exchange.deposit, account, 2**64)
    _reject(exchange, Reason.UNKNOWN_ACCOUNT, exchange.deposit, 424242, 5)


def test_invalid_withdraw_more_than_collateral(exchange: Exchange) -> None:
    account = funded(exchange, 10)
    _reject(exchange, Reason.INSUFFICIENT_COLLATERAL, exchange.withdraw, account, 11 * USDC)


def test_invalid_withdraw_breaking_initial_margin(exchange: Exchange) -> None:
    maker, trader = funded(exchange), funded(exchange, 3_000)
    exchange.place_order(make_order(exchange, maker, Side.SELL, "1", "50000"))
    exchange.place_order(make_order(exchange, trader, Side.BUY, "1", "50000"))
    # 1 BTC needs 2,500 of initial margin; the trader has ~2,900 of equity after fees
    _reject(exchange, Reason.INSUFFICIENT_COLLATERAL, exchange.withdraw, trader, 1_000 * USDC)
    exchange.withdraw(trader, 100 * USDC)


def test_invalid_transfer_to_self_or_from_fee_account(exchange: Exchange) -> None:
    account = funded(exchange)
    _reject(exchange, Reason.INVALID_AMOUNT, exchange.transfer, account, account, 1)
    _reject(exchange, Reason.SYSTEM_ACCOUNT, exchange.transfer, exchange.fee_account_id, account, 1)
    _reject(exchange, Reason.SYSTEM_ACCOUNT, exchange.withdraw, exchange.insurance_fund_id, 1)
