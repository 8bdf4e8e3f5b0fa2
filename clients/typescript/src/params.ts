/**
 * A grid's parameters as plain values -> request messages. Prices, quantities and money are decimal
 * text (or bigint); a JavaScript `number` is refused, since binary floats cannot hold most prices
 * exactly. Enums are given by short name ("LONG"), full proto name ("DIRECTION_LONG") or value.
 */
import { create, type DescEnum } from "@bufbuild/protobuf";

import {
  Direction,
  DirectionSchema,
  GridConfigSchema,
  GridStatus,
  GridStatusSchema,
  GridType,
  GridTypeSchema,
  type GridConfig,
} from "./gen/orderly_grid/v1/grid_pb.js";
import { StartGridRequestSchema, type StartGridRequest } from "./gen/orderly_grid/v1/grid_service_pb.js";

/** A decimal value: text such as "42500.5", or a bigint. Never a float. */
export type DecimalLike = string | bigint;
export type DirectionLike = "LONG" | "SHORT" | "BOTH" | Direction;
export type GridTypeLike = "ARITHMETIC" | "GEOMETRIC" | GridType;
export type GridStatusLike = "STARTING" | "WAITING_TRIGGER" | "RUNNING" | "STOPPING" | "STOPPED" | "FAILED" | GridStatus;

/**
 * The parameters of a grid, as `previewGrid` and `startGrid` take them. `gridLevels` counts price
 * LINES including both bounds (at least 2). The server lays the grid out around the venue's mark
 * price; `currentPrice`, when given, must be within `priceTolerance` (default 1 %) of it.
 */
export interface GridParams {
  ticker: string;
  lowerBound: DecimalLike;
  upperBound: DecimalLike;
  gridLevels: number;
  totalMargin: DecimalLike;
  currentPrice?: DecimalLike;
  direction?: DirectionLike;
  gridType?: GridTypeLike;
  gridRatio?: DecimalLike;
  leverage?: number;
  triggerPrice?: DecimalLike;
  stopLossPrice?: DecimalLike;
  takeProfitPrice?: DecimalLike;
  closePositionOnStop?: boolean;
  priceTolerance?: DecimalLike;
  /** Follow the price up (down) one cell at a time; never beyond the limit, when given. */
  trailingUp?: boolean;
  trailingDown?: boolean;
  trailingUpLimit?: DecimalLike;
  trailingDownLimit?: DecimalLike;
  /** Close a dropped cell's inventory (reduce-only) instead of keeping its counter order. */
  trailingClose?: boolean;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** The wire text of a decimal field ("" when undefined). Throws a TypeError naming the field. */
export function decimalText(field: string, value: DecimalLike | undefined): string {
  if (value === undefined) {
    return "";
  }
  if (typeof value === "bigint") {
    return value.toString();
  }
  if (typeof value !== "string") {
    throw new TypeError(`${field}: must be decimal text or a bigint, not ${typeof value}`);
  }
  const text = value.trim();
  if (!DECIMAL.test(text)) {
    throw new TypeError(`${field}: ${JSON.stringify(value)} is not a decimal number`);
  }
  return text;
}

/** The value of an enum given by short name, full name or number (not the UNSPECIFIED zero). */
export function enumValue(field: string, desc: DescEnum, value: string | number): number {
  const prefix = desc.values[0]?.name.replace(/UNSPECIFIED$/, "") ?? "";
  const found =
    typeof value === "number"
      ? desc.values.find((v) => v.number === value)
      : desc.values.find((v) => v.name === value.trim().toUpperCase() || v.name === prefix + value.trim().toUpperCase());
  if (found === undefined || found.number === 0) {
    const allowed = desc.values.filter((v) => v.number !== 0).map((v) => v.name.slice(prefix.length));
    throw new TypeError(`${field}: ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  }
  return found.number;
}

/** A status filter; undefined means any. */
export function gridStatus(value: GridStatusLike | undefined): GridStatus {
  return value === undefined ? GridStatus.UNSPECIFIED : (enumValue("status", GridStatusSchema, value) as GridStatus);
}

export function toGridConfig(p: GridParams): GridConfig {
  return create(GridConfigSchema, {
    ticker: p.ticker,
    direction: enumValue("direction", DirectionSchema, p.direction ?? "BOTH") as Direction,
    currentPrice: decimalText("currentPrice", p.currentPrice),
    upperBound: decimalText("upperBound", p.upperBound),
    lowerBound: decimalText("lowerBound", p.lowerBound),
    gridLevels: p.gridLevels,
    totalMargin: decimalText("totalMargin", p.totalMargin),
    gridType: enumValue("gridType", GridTypeSchema, p.gridType ?? "ARITHMETIC") as GridType,
    gridRatio: decimalText("gridRatio", p.gridRatio),
    leverage: p.leverage ?? 1,
    triggerPrice: decimalText("triggerPrice", p.triggerPrice),
    stopLossPrice: decimalText("stopLossPrice", p.stopLossPrice),
    takeProfitPrice: decimalText("takeProfitPrice", p.takeProfitPrice),
    closePositionOnStop: p.closePositionOnStop ?? false,
    priceTolerance: decimalText("priceTolerance", p.priceTolerance),
    trailingUp: p.trailingUp ?? false,
    trailingDown: p.trailingDown ?? false,
    trailingUpLimit: decimalText("trailingUpLimit", p.trailingUpLimit),
    trailingDownLimit: decimalText("trailingDownLimit", p.trailingDownLimit),
    trailingClose: p.trailingClose ?? false,
  });
}

/** StartGridRequest: GridConfig's fields under the same names (and numbers), without user_auth. */
export function toStartRequest(p: GridParams): StartGridRequest {
  const { $typeName: _ignored, ...fields } = toGridConfig(p);
  return create(StartGridRequestSchema, fields);
}
