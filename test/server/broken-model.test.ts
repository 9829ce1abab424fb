import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_ID, loadConfig } from "../../src/config.js";
import { errorText } from "../../src/server/errors.js";
import { createModelProvider } from "../../src/server/model-provider.js";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";
import { makeTempDir } from "../support/temp-dir.js";

/** A copy of the generated tiny model used as the default model's directory, broken by `mutate`. */
async function loadError(temp: string, name: string, mutate: (dir: string) => void): Promise<string> {
  const dir = path.join(temp, name);
  fs.cpSync(defaultTinyModelDir(), dir, { recursive: true });
  mutate(dir);
  const config = loadConfig({}, { dataDir: path.join(temp, "data"), modelsDir: path.join(temp, "models"), modelDir: dir, defaultModel: DEFAULT_MODEL_ID });
  const models = createModelProvider({ config, runner: { threads: 1 } });
  try {
    await models.extractor(DEFAULT_MODEL_ID, {});
  } catch (error) {
    return errorText(error);
  } finally {
    await models.close();
  }
  throw new Error(`the ${name} model loaded`);
}

describe("a broken model directory is a clear error naming it and the remedy", () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    temp = makeTempDir("sav-broken-model-");
  });
  afterAll(() => temp.cleanup());

  it.each<[string, (dir: string) => void, RegExp]>([
    ["missing onnx folder", (dir) => fs.rmSync(path.join(dir, "onnx"), { recursive: true }), /has no onnx\/vision_encoder/],
    [
      "num_attention_heads 0",
      (dir) => {
        const file = path.join(dir, "config.json");
        const config = JSON.parse(fs.readFileSync(file, "utf8"));
        config.text_config.num_attention_heads = 0;
        fs.writeFileSync(file, JSON.stringify(config));
      },
      /heads|num_attention_heads/,
    ],
    [
      "truncated ONNX files",
      (dir) => {
        for (const name of fs.readdirSync(path.join(dir, "onnx"))) {
          const file = path.join(dir, "onnx", name);
          fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
        }
      },
      /\.onnx/,
    ],
  ])("%s", async (name, mutate, detail) => {
    const message = await loadError(temp.dir, name.replace(/\W+/g, "-"), mutate);
    expect(message).not.toMatch(/Unexpected error|Unknown model/);
    expect(message).toContain(path.join(temp.dir, name.replace(/\W+/g, "-")));
    expect(message).toMatch(detail);
    expect(message).toMatch(/models verify .* models pull/);
  });
});
