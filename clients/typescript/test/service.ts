/**
 * The real orderly-grid service for the tests: `orderly-grid simulate` and `orderly-grid serve` as
 * child processes of the venv's Python (ORDERLY_GRID_PYTHON, else the repository's .venv), on free
 * loopback ports with a temp data dir. Readiness is polled (GET /health/ready), never slept on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// dist/test/service.js -> the repository root.
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const PYTHON = process.env["ORDERLY_GRID_PYTHON"] ?? join(REPO, ".venv", "bin", "python");
export const SYMBOL = "PERP_BTC_USDC";
const START_TIMEOUT_MS = 60_000;

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** Poll `check` every 50 ms until it is truthy or `timeoutMs` passes (then throw naming `what`). */
export async function waitUntil<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function python(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(PYTHON, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r())));
}

interface SimulatorInfo {
  rest_url: string;
  public_ws_url: string;
  private_ws_url: string;
  account_id: string;
  orderly_key: string;
  orderly_secret: string;
}

export class RunningService {
  private sim: ChildProcess | undefined;
  private server: ChildProcess | undefined;
  private simInfo: SimulatorInfo | undefined;
  private stderr = "";
  readonly dataDir = mkdtempSync(join(tmpdir(), "orderly-grid-ts-"));
  grpcPort = 0;
  restPort = 0;

  get target(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.restPort}`;
  }

  /** Simulator first (it outlives service restarts), then the service. */
  async start(): Promise<void> {
    const sim = python(["-m", "server.cli", "simulate", "--host", "127.0.0.1", "--port", "0", "--seed", "7"], process.env);
    this.sim = sim;
    let out = "";
    sim.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.simInfo = await new Promise<SimulatorInfo>((resolveInfo, reject) => {
      sim.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n")[0];
        if (out.includes("\n") && line !== undefined) {
          resolveInfo(JSON.parse(line) as SimulatorInfo);
        }
      });
      sim.once("exit", (code) => reject(new Error(`the simulator exited (${code}): ${this.stderr}`)));
    });
    [this.grpcPort, this.restPort] = [await freePort(), await freePort()];
    await this.startService();
  }

  /** `orderly-grid serve` on the same ports and data dir as before; resolves once ready. */
  async startService(): Promise<void> {
    const sim = this.simInfo as SimulatorInfo;
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(ORDERLY_|GRID_|MONGODB_)/.test(k)),
    );
    Object.assign(env, {
      ORDERLY_ACCOUNT_ID: sim.account_id,
      ORDERLY_KEY: sim.orderly_key,
      ORDERLY_SECRET: sim.orderly_secret,
      ORDERLY_REST_URL: sim.rest_url,
      ORDERLY_PUBLIC_WS_URL: sim.public_ws_url,
      ORDERLY_PRIVATE_WS_URL: sim.private_ws_url,
      GRID_GRPC_HOST: "127.0.0.1",
      GRID_GRPC_PORT: String(this.grpcPort),
      GRID_REST_HOST: "127.0.0.1",
      GRID_REST_PORT: String(this.restPort),
      GRID_DATA_DIR: this.dataDir,
      GRID_LOG_LEVEL: "WARNING",
      GRID_SHUTDOWN_GRACE_S: "1",
    });
    const server = python(["-m", "server.cli", "serve"], env);
    this.server = server;
    server.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    await waitUntil(
      async () => {
        if (server.exitCode !== null) {
          throw new Error(`orderly-grid serve exited (${server.exitCode}): ${this.stderr.slice(-2000)}`);
        }
        const response = await fetch(`${this.restUrl}/health/ready`);
        return response.status === 200;
      },
      "orderly-grid serve to be ready",
      START_TIMEOUT_MS,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.stderr.slice(-2000)}`);
    });
  }

  /** SIGTERM the service (not the simulator) and wait until it has exited. */
  async stopService(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined && server.exitCode === null) {
      server.kill("SIGTERM");
      await exited(server);
    }
  }

  /** Move the simulator's mark price; returns how many fills it made. */
  async setPrice(price: string, symbol = SYMBOL): Promise<number> {
    const response = await fetch(`${(this.simInfo as SimulatorInfo).rest_url}/sim/price`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbol, price }),
    });
    const body = (await response.json()) as { data: { fills: number } };
    return body.data.fills;
  }

  async stop(): Promise<void> {
    await this.stopService();
    const sim = this.sim;
    this.sim = undefined;
    if (sim !== undefined && sim.exitCode === null) {
      sim.kill("SIGTERM");
      await exited(sim);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
