/**
 * A connect `Transport` over the REST shim's JSON, for browsers (no gRPC-web proxy needed): the
 * same generated client types and the same `GridClient` work over it. Routes come from the
 * `google.api.http` options in the generated descriptors, as the server's shim reads them
 * (server/rest, protos/README.md "The REST mapping"):
 *
 * - path variables (`{session_id}`) from the request; the binding whose variables are all set
 *   wins (WatchFills without a session uses `/api/grid/fills`);
 * - `body: "*"` sends the rest of the request as the JSON body, `body: "config"` that field;
 *   everything else goes into the query string with dotted paths (`user_auth.nonce=...`);
 * - JSON is proto3 JSON with the proto field names; responses come as `{"success": true, "data":
 *   ...}` with enums shortened ("RUNNING"), which are expanded back before parsing;
 * - errors are `{"success": false, "error_code", "code", "message", "details"}`, turned into a
 *   ConnectError with the same ErrorInfo / BadRequest / RetryInfo details the gRPC trailer carries;
 * - WatchFills is newline-delimited JSON; a failure after the first line is a last line {"error": ...}.
 */
import {
  create,
  fromJson,
  getOption,
  toJson,
  type DescEnum,
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { StreamResponse, UnaryResponse } from "@connectrpc/connect";

import { http } from "./gen/google/api/annotations_pb.js";
import type { HttpRule } from "./gen/google/api/http_pb.js";
import { HttpBodySchema } from "./gen/google/api/httpbody_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ERROR_DOMAIN } from "./errors.js";

export interface RestTransportOptions {
  /** Where the REST shim listens, e.g. "http://localhost:8001". */
  baseUrl: string;
  /** The fetch to use (a browser's, or one with credentials/proxies); globalThis.fetch by default. */
  fetch?: typeof globalThis.fetch;
}

interface Binding {
  readonly verb: string;
  readonly template: string;
  readonly body: string;
  readonly pathParams: readonly string[];
}

const VARIABLE = /\{([^}=]+)(?:=[^}]*)?\}/g;

function bindingOf(rule: HttpRule, body: string): Binding | undefined {
  const { case: verb, value } = rule.pattern;
  if (verb === undefined || verb === "custom") {
    return undefined;
  }
  const pathParams = [...value.matchAll(VARIABLE)].map((m) => m[1] as string);
  return { verb: verb.toUpperCase(), template: value, body, pathParams };
}

/** The method's bindings: the main rule first, then its additional_bindings. */
export function bindingsOf(method: DescMethod): Binding[] {
  const rule = getOption(method, http);
  const rules = [rule, ...rule.additionalBindings];
  const bindings = rules.map((r) => bindingOf(r, r.body)).filter((b): b is Binding => b !== undefined);
  if (bindings.length === 0) {
    throw new ConnectError(`${method.parent.typeName}.${method.name} has no google.api.http route`, Code.Unimplemented);
  }
  return bindings;
}

function valueAt(json: JsonObject, dotted: string): JsonValue | undefined {
  let node: JsonValue | undefined = json;
  for (const part of dotted.split(".")) {
    node = node !== null && typeof node === "object" && !Array.isArray(node) ? node[part] : undefined;
  }
  return node;
}

function removeAt(json: JsonObject, dotted: string): void {
  const parts = dotted.split(".");
  const last = parts.pop() as string;
  const parent = parts.length === 0 ? json : valueAt(json, parts.join("."));
  if (parent !== null && typeof parent === "object" && !Array.isArray(parent)) {
    delete parent[last];
  }
}

function queryPairs(json: JsonValue, prefix: string, out: [string, string][]): void {
  if (Array.isArray(json)) {
    json.forEach((item) => queryPairs(item, prefix, out));
  } else if (json !== null && typeof json === "object") {
    for (const [key, value] of Object.entries(json)) {
      queryPairs(value, prefix ? `${prefix}.${key}` : key, out);
    }
  } else if (json !== null) {
    out.push([prefix, String(json)]);
  }
}

interface HttpRequestParts {
  readonly verb: string;
  readonly path: string;
  readonly query: [string, string][];
  readonly body: string | undefined;
}

/** The HTTP request for one call of `method` with `message` (exported for tests). */
export function httpRequestOf<I extends DescMessage>(method: DescMethod & { input: I }, message: MessageShape<I>): HttpRequestParts {
  const json = toJson(method.input, message, { useProtoFieldName: true }) as JsonObject;
  const set = (name: string): boolean => {
    const v = valueAt(json, name);
    return v !== undefined && v !== "";
  };
  const bindings = bindingsOf(method);
  const binding = bindings.find((b) => b.pathParams.every(set)) ?? (bindings[0] as Binding);
  const path = binding.template.replace(VARIABLE, (_, name: string) => {
    const value = valueAt(json, name);
    removeAt(json, name);
    return encodeURIComponent(value === undefined || value === null ? "" : String(value));
  });
  let body: string | undefined;
  if (binding.body === "*") {
    body = JSON.stringify(json);
  } else if (binding.body !== "") {
    body = JSON.stringify(json[binding.body] ?? {});
    delete json[binding.body];
  }
  const query: [string, string][] = [];
  if (binding.body !== "*") {
    queryPairs(json, "", query);
  }
  return { verb: binding.verb, path, query, body };
}

function enumPrefix(desc: DescEnum): string {
  // buf's ENUM_VALUE_PREFIX: the type name in UPPER_SNAKE_CASE (GridStatus -> GRID_STATUS_).
  return `${desc.name.replace(/(?<=[a-z0-9])(?=[A-Z])/g, "_").toUpperCase()}_`;
}

function expandEnum(desc: DescEnum, value: JsonValue): JsonValue {
  if (typeof value === "string" && !desc.values.some((v) => v.name === value)) {
    const full = enumPrefix(desc) + value.toUpperCase();
    return desc.values.some((v) => v.name === full) ? full : value;
  }
  return value;
}

/** Response JSON with the REST contract's plain enum names ("LONG") turned back into the proto's. */
export function expandEnumNames(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return json;
  }
  const out: JsonObject = { ...json };
  for (const field of desc.fields) {
    const key = field.name in out ? field.name : field.jsonName;
    const value = out[key];
    if (value === undefined) {
      continue;
    }
    if (field.fieldKind === "enum") {
      out[key] = expandEnum(field.enum, value);
    } else if (field.fieldKind === "message") {
      out[key] = expandEnumNames(field.message, value);
    } else if (field.fieldKind === "list" && Array.isArray(value)) {
      if (field.listKind === "enum") {
        out[key] = value.map((v) => expandEnum(field.enum, v));
      } else if (field.listKind === "message") {
        out[key] = value.map((v) => expandEnumNames(field.message, v));
      }
    }
  }
  return out;
}

const CODES_BY_NAME: ReadonlyMap<string, Code> = new Map(
  Object.values(Code)
    .filter((c): c is Code => typeof c === "number")
    .map((c) => [Code[c].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase(), c]),
);

/** Grpc-gateway's mapping of an HTTP status, for answers without our envelope. */
function codeOfHttpStatus(status: number): Code {
  const codes: Record<number, Code> = {
    400: Code.InvalidArgument,
    401: Code.Unauthenticated,
    403: Code.PermissionDenied,
    404: Code.NotFound,
    409: Code.Aborted,
    429: Code.ResourceExhausted,
    501: Code.Unimplemented,
    503: Code.Unavailable,
    504: Code.DeadlineExceeded,
  };
  return codes[status] ?? (status >= 500 ? Code.Internal : Code.Unknown);
}

/** The ConnectError an error envelope describes, with the details the gRPC status would carry. */
export function errorOfEnvelope(envelope: JsonValue, httpStatus: number): ConnectError {
  const body = envelope !== null && typeof envelope === "object" && !Array.isArray(envelope) ? envelope : {};
  const codeName = typeof body["code"] === "string" ? body["code"] : "";
  const code = CODES_BY_NAME.get(codeName) ?? codeOfHttpStatus(httpStatus);
  const message = typeof body["message"] === "string" ? body["message"] : `HTTP ${httpStatus}`;
  const raw = body["details"];
  const details = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(details)) {
    if (typeof value === "string") {
      metadata[key] = value;
    }
  }
  const outgoing: ConstructorParameters<typeof ConnectError>[3] = [];
  if (typeof body["error_code"] === "string") {
    outgoing.push({ desc: ErrorInfoSchema, value: { reason: body["error_code"], domain: ERROR_DOMAIN, metadata } });
  }
  const violations = details["field_violations"];
  if (Array.isArray(violations)) {
    const fieldViolations = violations.map((v) => {
      const o = v !== null && typeof v === "object" && !Array.isArray(v) ? v : {};
      return { field: String(o["field"] ?? ""), description: String(o["description"] ?? "") };
    });
    outgoing.push({ desc: BadRequestSchema, value: { fieldViolations } });
  }
  const retryMs = details["retry_after_ms"];
  if (typeof retryMs === "number") {
    const value = { retryDelay: { seconds: BigInt(Math.floor(retryMs / 1000)), nanos: (retryMs % 1000) * 1e6 } };
    outgoing.push({ desc: RetryInfoSchema, value });
  }
  return new ConnectError(message, code, undefined, outgoing);
}

function parseJson(text: string, httpStatus: number): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new ConnectError(`HTTP ${httpStatus}: the answer is not JSON`, codeOfHttpStatus(httpStatus));
  }
}

function responseMessage<O extends DescMessage>(output: O, data: JsonValue): MessageShape<O> {
  return fromJson(output, expandEnumNames(output, data), { ignoreUnknownFields: true });
}

/** A network failure or an abort as the ConnectError the gRPC transport would raise. */
function fetchFailure(reason: unknown, signal: AbortSignal): ConnectError {
  if (signal.aborted) {
    const timedOut = signal.reason instanceof DOMException && signal.reason.name === "TimeoutError";
    return new ConnectError(timedOut ? "the deadline passed" : "the call was cancelled", timedOut ? Code.DeadlineExceeded : Code.Canceled);
  }
  return new ConnectError(`the REST server cannot be reached: ${String(reason)}`, Code.Unavailable, undefined, undefined, reason);
}

/** The REST transport: `createClient(GridService, createRestTransport({ baseUrl }))`. */
export function createRestTransport(options: RestTransportOptions): Transport {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);

  async function send(method: DescMethod, message: MessageShape<DescMessage>, signal: AbortSignal, header: HeadersInit | undefined): Promise<Response> {
    const parts = httpRequestOf(method, message);
    const url = new URL(baseUrl + parts.path);
    parts.query.forEach(([k, v]) => url.searchParams.append(k, v));
    const headers = new Headers(header);
    headers.set("accept", "application/json, application/x-ndjson");
    if (parts.body !== undefined) {
      headers.set("content-type", "application/json");
    }
    try {
      return await doFetch(url, { method: parts.verb, headers, body: parts.body, signal });
    } catch (reason) {
      throw fetchFailure(reason, signal);
    }
  }

  function callSignal(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal {
    const signals = [signal ?? new AbortController().signal];
    if (timeoutMs !== undefined && timeoutMs > 0) {
      signals.push(AbortSignal.timeout(timeoutMs));
    }
    return AbortSignal.any(signals);
  }

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      const callAbort = callSignal(signal, timeoutMs);
      const response = await send(method, create(method.input, input), callAbort, header);
      let text: string;
      try {
        text = await response.text();
      } catch (reason) {
        throw fetchFailure(reason, callAbort);
      }
      let message: MessageShape<O>;
      if (method.output.typeName === HttpBodySchema.typeName && response.ok) {
        // google.api.HttpBody is served raw (GET /metrics), not in the envelope.
        const contentType = response.headers.get("content-type") ?? "";
        message = create(HttpBodySchema, { contentType, data: new TextEncoder().encode(text) }) as unknown as MessageShape<O>;
      } else {
        const json = parseJson(text, response.status);
        const data = json !== null && typeof json === "object" && !Array.isArray(json) ? json["data"] : undefined;
        // Readiness answers 503 with data (not ready is an answer, not a failure).
        if (data === undefined || (!response.ok && response.status !== 503)) {
          throw errorOfEnvelope(json, response.status);
        }
        message = responseMessage(method.output, data);
      }
      return {
        stream: false,
        service: method.parent,
        method,
        header: response.headers,
        trailer: new Headers(),
        message,
      };
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
    ): Promise<StreamResponse<I, O>> {
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError("the REST shim serves server streaming only", Code.Unimplemented);
      }
      let request: MessageInitShape<I> | undefined;
      for await (const first of input) {
        request = first;
        break;
      }
      const callAbort = callSignal(signal, timeoutMs);
      const response = await send(method, create(method.input, request), callAbort, header);
      if (!response.ok || response.body === null) {
        const text = await response.text().catch(() => "");
        throw errorOfEnvelope(parseJson(text || "{}", response.status), response.status);
      }
      const body = response.body;
      async function* lines(): AsyncGenerator<MessageShape<O>> {
        const reader = body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = "";
        try {
          for (;;) {
            let chunk: ReadableStreamReadResult<string>;
            try {
              chunk = await reader.read();
            } catch (reason) {
              throw fetchFailure(reason, callAbort);
            }
            if (chunk.done) {
              return;
            }
            buffered += chunk.value;
            let newline: number;
            while ((newline = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (line === "") {
                continue;
              }
              const json = parseJson(line, 200);
              if (json !== null && typeof json === "object" && !Array.isArray(json) && "error" in json) {
                throw errorOfEnvelope(json["error"] ?? {}, 200);
              }
              yield responseMessage(method.output, json);
            }
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
      }
      return {
        stream: true,
        service: method.parent,
        method,
        header: response.headers,
        trailer: new Headers(),
        message: lines(),
      };
    },
  };
}
