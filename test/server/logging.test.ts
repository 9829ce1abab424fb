import path from "node:path";
import { LoggingMessageNotificationSchema, type LoggingMessageNotification } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MODEL_ID } from "../../src/config.js";
import { writeShapeImages } from "../support/images.js";
import { callOk, startHarness, type Harness } from "../support/mcp-harness.js";
import { makeTempDir } from "../support/temp-dir.js";

type LogLine = LoggingMessageNotification["params"];

describe("logging capability", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;
  let images: Awaited<ReturnType<typeof writeShapeImages>>;
  let imagesDir: string;
  const lines: LogLine[] = [];

  /** Notifications travel beside the response; give them a turn of the event loop to arrive. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  beforeAll(async () => {
    temp = makeTempDir();
    imagesDir = path.join(temp.dir, "images");
    images = await writeShapeImages(imagesDir, 2);
    harness = await startHarness({ dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [imagesDir] });
    harness.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      lines.push(n.params);
    });
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  const examples = () => [
    ...images["red-circle"].map((p) => ({ image: { path: p }, label: "circle" })),
    ...images["blue-square"].map((p) => ({ image: { path: p }, label: "square" })),
    { image: { path: path.join(imagesDir, "missing.png") }, label: "circle" },
  ];

  it("declares logging and sends what it has to say about a call, with levels", async () => {
    expect(harness.client.getServerCapabilities()?.logging).toEqual({});
    await callOk(harness.client, "create_sav_task", { name: "shapes", prompt: "Which shape?", model: TINY_MODEL_ID });
    await settle();
    expect(lines).toContainEqual({ level: "info", logger: "sav-mcp", data: `loading model ${TINY_MODEL_ID}` });

    lines.length = 0;
    const added = await callOk<{ skipped: unknown[] }>(harness.client, "add_examples", { task: "shapes", skipInvalid: true, examples: examples() });
    expect(added.skipped).toHaveLength(1);
    await settle();
    const warnings = lines.filter((l) => l.level === "warning");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.data)).toMatch(/skipping 1 of 5 examples[\s\S]*example 4 \(label 'circle'\)/);

    lines.length = 0;
    await callOk(harness.client, "classify_image", { task: "shapes", image: { path: images["red-circle"][0] } });
    await settle();
    expect(lines.map((l) => [l.level, l.data])).toContainEqual(["info", expect.stringMatching(/Built the classifier of task 'shapes'/)]);
  });

  it("honours logging/setLevel: below the level nothing is sent", async () => {
    await harness.client.setLoggingLevel("error");
    lines.length = 0;
    await callOk(harness.client, "add_examples", { task: "shapes", skipInvalid: true, examples: examples() });
    await callOk(harness.client, "classify_image", { task: "shapes", image: { path: images["red-circle"][0] } });
    await settle();
    expect(lines).toEqual([]);

    await harness.client.setLoggingLevel("warning");
    await callOk(harness.client, "add_examples", { task: "shapes", skipInvalid: true, examples: examples() });
    await settle();
    expect(lines.map((l) => l.level)).toEqual(["warning"]);
  });
});
