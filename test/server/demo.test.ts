import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/server/demo.js";
import { testConfig } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

describe("sav-mcp demo", () => {
  it("runs create → add → classify → evaluate through the tools and says the tiny model's labels are not meaningful", async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const lines: string[] = [];
      const dataDir = path.join(dir, "data");
      const result = await runDemo({
        print: (line) => lines.push(line),
        config: testConfig({ dataDir, modelsDir: path.join(dir, "models"), allowedDirs: [] }),
        dataDir,
        examplesPerLabel: 3,
      });
      const output = lines.join("\n");
      for (const step of ["create_sav_task", "add_examples", "classify_image", "evaluate_task", "delete_task"]) expect(output).toContain(step);
      expect(output).toMatch(/random weights/);
      expect(result.predictions).toHaveLength(6);
      for (const p of result.predictions) expect(["circle", "square"]).toContain(p.label);
      expect(result.accuracy).toBeGreaterThanOrEqual(0);
      expect(result.accuracy).toBeLessThanOrEqual(1);
      // The demo cleans up its task but leaves the store it was given.
      expect(fs.existsSync(path.join(dataDir, "sav.db"))).toBe(true);
    } finally {
      cleanup();
    }
  });
});
