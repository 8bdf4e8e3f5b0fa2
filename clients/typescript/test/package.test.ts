/**
 * `npm pack` ships what package.json's exports point at (typed: every entry has its .d.ts), and no
 * tests. (Installing the tarball in a fresh project and importing both entries was checked by hand;
 * it needs the registry, which tests should not.)
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

it("npm pack ships every export with its types, and no tests", () => {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const out = execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path));
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    exports: Record<string, { types: string; import: string }>;
  };
  for (const [entry, target] of Object.entries(pkg.exports)) {
    for (const path of [target.types, target.import]) {
      const concrete = path.replace("*", "orderly_grid/v1/grid_service_pb").replace(/^\.\//, "");
      assert.ok(files.has(concrete), `${entry}: ${concrete} is not in the package`);
    }
  }
  assert.ok(![...files].some((f) => f.startsWith("dist/test/") || f.startsWith("test/")), "tests are packed");
});
