"""Wire payloads copied from orderly-wire-reference.md (docs samples and ccxt/probe captures)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def load(text: str) -> Any:
    """Parse as the adapter does: floats become Decimal."""
    return json.loads(text, parse_float=Decimal)


DOCS_NEW_REPORT = """{"topic":"executionreport","ts":1704679472455,
 "data":{"symbol":"PERP_MATIC_USDC","clientOrderId":"","orderId":292820969,"type":"LIMIT","side":"BUY",
  "quantity":7029.0,"price":0.7699,"tradeId":0,"executedPrice":0.0,"executedQuantity":0.0,"fee":0.0,
  "feeAsset":"USDC","totalExecutedQuantity":0.0,"avgExecutedPrice":0,"status":"NEW","reason":"",
 "totalFee":0.0,
  "visibleQuantity":7029.0,"timestamp":1704679472448,"marginMode":"CROSS","maker":false,
  "match_id":"1707119522287540609","seq":1730181536341943600}}"""

CCXT_MARKET_FILL = """{"symbol":"PERP_XRP_USDC","clientOrderId":"","orderId":1167632251,
 "type":"MARKET","side":"BUY",
 "quantity":20,"price":0,"tradeId":"1715179456664012","executedPrice":0.5276,"executedQuantity":20,
 "fee":0.006332,
 "feeAsset":"USDC","totalExecutedQuantity":20,"avgPrice":0.5276,"averageExecutedPrice":0.5276,
 "status":"FILLED",
 "reason":"","totalFee":0.006332,"visible":0,"visibleQuantity":0,"timestamp":1715179456660,
 "orderTag":"CCXT",
 "createdTime":1715179456656,"maker":false}"""

POSITION_PUSH = """{"topic":"position","ts":1684926050966,"data":{"positions":[{"symbol":"PERP_ETH_USDC",
 "positionQty":3.1408,"costPosition":5706.51952,"lastSumUnitaryFunding":0.804,"sumUnitaryFundingVersion":0,
 "pendingLongQty":0.0,"pendingShortQty":-1.0,"settlePrice":1816.9,"averageOpenPrice":1804.51490427,
 "unsettledPnl":-2.79856,"pnl24H":-338.90179488,"fee24H":4.242423,"markPrice":1816.2,"estLiqPrice":0.0,
 "version":179967,"imrwithOrders":0.1,"mmrwithOrders":0.05,"mmr":0.05,"imr":0.1,"seq":1730181536341943600,
 "timestamp":1685429350571,"updated_time":1685429350571,"leverage":10,"marginMode":"CROSS","margin":0}]}}"""

MARK_PRICE_PUSH = """{"topic":"PERP_BTC_USDC@markprice","ts":1790139274000,
 "data":{"symbol":"PERP_BTC_USDC","price":87109.2}}"""

OPEN_ORDER_ROW = """{"order_id":78151,"user_id":12345,"price":0.67772,"type":"LIMIT","quantity":20,
 "amount":null,
 "executed":0,"total_executed_quantity":0,"visible":0.01,"visible_quantity":1,"symbol":"PERP_LTC_USDC",
 "side":"BUY","status":"NEW","total_fee":0,"fee_asset":"USDC","client_order_id":1,
 "average_executed_price":0,
 "created_time":1710931373834,"updated_time":1710931373834,"realized_pnl":0,"reduce_only":null,
 "order_tag":null}"""

INFO_ROW = """{"symbol":"PERP_BTC_USDC","quote_min":0,"quote_max":100000,"quote_tick":0.1,
 "base_min":0.00001,
 "base_max":20,"base_tick":0.00001,"min_notional":1,"price_range":0.02,"price_scope":0.4,
 "funding_period":8}"""

LIVE_INFO_ROW_TRIMMED = """{"symbol":"PERP_AAPL_USDC_mythos","quote_tick":0.01,"base_tick":0.01,
 "base_min":0.01,
 "min_notional":10,"broker_id":"mythos","status":"REDUCE_ONLY"}"""

FUTURES_ROW = """{"symbol":"PERP_BTC_USDC","index_price":64185.4,"mark_price":64171.0,
 "sum_unitary_funding":26522.3,
 "est_funding_rate":0.0001,"last_funding_rate":0.00010041,"next_funding_time":1786032000000,
 "open_interest":110.64612,"24h_open":64105.6,"24h_close":64180.0,"24h_high":64941.0,"24h_low":63837.6,
 "24h_volume":102.2817,"24h_amount":6595662.199482}"""

POSITIONS_DATA = """{"free_collateral":1000.5,"total_collateral_value":2000,
 "rows":[{"symbol":"PERP_BTC_USDC",
 "position_qty":-5,"cost_position":-139329.358492,"average_open_price":27908.14386047,
 "mark_price":27794.9}]}"""
