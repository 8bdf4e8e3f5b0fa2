/**
 * The wallet signature every user-acting request carries (`user_auth`), exactly as the Python SDK
 * and the server build it (clients/python/orderly_grid/signing.py; README "What the wallet signs").
 *
 * EIP-191 `personal_sign` of seven lines joined by "\n", no trailing newline:
 *
 *   orderly-grid wants you to authorize this action.
 *   Domain: <the server's auth domain>
 *   Action: <RPC method name, e.g. StopGrid>
 *   User: <user_auth.user_id exactly as sent>
 *   Params: <SHA-256 hex of the canonical parameters>
 *   Timestamp: <user_auth.timestamp, ms>
 *   Nonce: <user_auth.nonce>
 *
 * Canonical parameters: the request without `user_auth`, as proto3 JSON with the proto field names
 * (defaults left out, enums by full name, 64-bit integers as strings, `optional` fields when set),
 * keys sorted at every level, no whitespace, UTF-8.
 */
import { clone, create, toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { bytesToHex, recoverMessageAddress, sha256, stringToBytes, type Hex } from "viem";
import { privateKeyToAccount, type LocalAccount } from "viem/accounts";

import { UserAuthSchema, type UserAuth } from "./gen/orderly_grid/v1/auth_pb.js";

export const DEFAULT_DOMAIN = "orderly-grid";
export const MESSAGE_HEADER = "orderly-grid wants you to authorize this action.";
const AUTH_FIELD = "user_auth";

/** The RPCs that act for a user and so carry a signature (PreviewGrid needs none). */
export type SignedAction =
  | "StartGrid"
  | "StopGrid"
  | "GetGrid"
  | "ListGrids"
  | "ListGridSummaries"
  | "WatchFills"
  | "RegisterAccount";

/** JSON.stringify with object keys sorted at every level (what Python's sort_keys does). */
function sortedJson(value: JsonValue): string {
  if (Array.isArray(value)) {
    return `[${value.map(sortedJson).join(",")}]`;
  }
  if (value !== null && typeof value === "object") {
    // Field names are ASCII, so UTF-16 order equals Python's code point order.
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(value[k] as JsonValue)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The canonical JSON text of `request` without its `user_auth` field. */
export function canonicalParamsJson<Desc extends DescMessage>(schema: Desc, request: MessageShape<Desc>): string {
  const params = clone(schema, request);
  const auth = schema.fields.find((f) => f.name === AUTH_FIELD);
  if (auth !== undefined) {
    // Unset, not emptied: an empty sub-message would still be printed as {}.
    (params as Record<string, unknown>)[auth.localName] = undefined;
  }
  return sortedJson(toJson(schema, params, { useProtoFieldName: true }));
}

/** SHA-256 (lower-case hex, no 0x) of the UTF-8 bytes of `canonicalParamsJson`. */
export function canonicalParamsDigest<Desc extends DescMessage>(schema: Desc, request: MessageShape<Desc>): string {
  return sha256(stringToBytes(canonicalParamsJson(schema, request))).slice(2);
}

export interface AuthFields {
  readonly domain: string;
  readonly action: string;
  readonly userId: string;
  readonly paramsDigest: string;
  readonly timestampMs: bigint | number;
  readonly nonce: string;
}

/** The text the wallet signs for one request. */
export function buildAuthMessage(f: AuthFields): string {
  return [
    MESSAGE_HEADER,
    `Domain: ${f.domain}`,
    `Action: ${f.action}`,
    `User: ${f.userId}`,
    `Params: ${f.paramsDigest}`,
    `Timestamp: ${f.timestampMs}`,
    `Nonce: ${f.nonce}`,
  ].join("\n");
}

/** A fresh single-use nonce: 16 random bytes as 32 hex digits. */
export function newNonce(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16))).slice(2);
}

/** The address (checksummed) whose key made `signature` over `text` (EIP-191). */
export async function recoverSigner(text: string, signature: Hex): Promise<string> {
  return recoverMessageAddress({ message: text, signature });
}

/**
 * What the client needs to authorize a call: the seam where another kind of credential slots in.
 * `walletSigner` signs each request with the wallet key; a session-key signer (once the service
 * offers session keys) implements the same interface, and the client does not change.
 */
export interface RequestSigner {
  /** The wallet the calls act for (the server keys sessions by its lower-case form). */
  readonly userId: string;
  /** The `user_auth` block for one call of `action` with `request` (without user_auth). */
  authorize<Desc extends DescMessage>(action: SignedAction, schema: Desc, request: MessageShape<Desc>): Promise<UserAuth>;
}

export interface WalletSignerOptions {
  /** The server's auth domain (GRID_AUTH_DOMAIN), "orderly-grid" by default. */
  domain?: string;
  /** Signing time in ms; the server accepts ±300 s around its clock. Injected for tests. */
  clockMs?: () => number;
  /** Nonce source; injected for tests (the test vector). */
  nonce?: () => string;
}

/** Signs every request with the wallet's own key (EIP-191 personal_sign). */
export function walletSigner(key: Hex | LocalAccount, options: WalletSignerOptions = {}): RequestSigner {
  const account = typeof key === "string" ? privateKeyToAccount(key) : key;
  const domain = options.domain ?? DEFAULT_DOMAIN;
  const clockMs = options.clockMs ?? Date.now;
  const nonce = options.nonce ?? newNonce;
  return {
    userId: account.address,
    async authorize(action, schema, request) {
      const fields: AuthFields = {
        domain,
        action,
        userId: account.address,
        paramsDigest: canonicalParamsDigest(schema, request),
        timestampMs: BigInt(clockMs()),
        nonce: nonce(),
      };
      const signature = await account.signMessage({ message: buildAuthMessage(fields) });
      return create(UserAuthSchema, {
        userId: fields.userId,
        signature,
        timestamp: BigInt(fields.timestampMs),
        nonce: fields.nonce,
      });
    },
  };
}
