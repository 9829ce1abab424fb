/** Configs and requests that do not fit are refused with the field, file or limit named, before any heavy work. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelFileError, ModelInputError } from "../../src/model/errors.js";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { ModelRunner } from "../../src/model/runner.js";
import { tinyModelDir } from "../model/paths.js";

describe("model configs are checked before use", () => {
  let dir: string;
  const original = readFileSync(path.join(tinyModelDir, "config.json"), "utf8");
  const withConfig = (edit: (config: Record<string, any>) => void) => {
    const config = JSON.parse(original);
    edit(config);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  };
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sav-config-"));
    cpSync(tinyModelDir, dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the supported model types for an unknown one", () => {
    withConfig((c) => (c.model_type = "mystery_vlm"));
    expect(() => loadModelFiles(dir)).toThrow(/model_type is "mystery_vlm"; supported model types: idefics3\/smolvlm \(idefics3\)/);
  });

  it.each([
    ["num_attention_heads", 0, /"num_attention_heads" is 0; expected an integer from 1 to 256/],
    ["num_hidden_layers", 1e9, /"num_hidden_layers" is 1000000000; expected an integer from 1 to 256/],
    ["hidden_size", -64, /"hidden_size" is -64/],
    ["num_key_value_heads", 3, /num_attention_heads 4 is not a multiple of num_key_value_heads 3/],
  ])("refuses text_config.%s = %s", (field, value, message) => {
    withConfig((c) => (c.text_config[field] = value));
    expect(() => loadModelFiles(dir)).toThrow(ModelFileError);
    expect(() => loadModelFiles(dir)).toThrow(message);
  });

  it("refuses an absurd vision image size", () => {
    withConfig((c) => (c.vision_config.image_size = 1e6));
    expect(() => loadModelFiles(dir)).toThrow(/"image_size" is 1000000; expected an integer from 1 to 8192/);
  });

  it("says where the graphs belong when onnx/ is missing", () => {
    withConfig(() => undefined);
    const bare = mkdtempSync(path.join(os.tmpdir(), "sav-no-onnx-"));
    try {
      for (const file of ["config.json", "preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.json"]) {
        cpSync(path.join(dir, file), path.join(bare, file));
      }
      expect(() => loadModelFiles(bare)).toThrow(/has no onnx\/ folder; the idefics3 graphs \(vision_encoder, embed_tokens, decoder_model_merged\) belong there/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe("requests are bounded before the decoder runs", () => {
  let runner: ModelRunner;
  let image: Buffer;
  beforeAll(async () => {
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1 });
    image = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
  });
  afterAll(() => runner?.close());

  it("refuses a prompt over the model's token limit, naming the count and the limit", async () => {
    const text = "many different words here ".repeat(2500);
    await expect(runner.extract({ images: [image], text })).rejects.toThrow(ModelInputError);
    await expect(runner.extract({ images: [image], text })).rejects.toThrow(/The prompt is \d+ tokens .* over this model's limit of 8192/);
    expect(runner.info.maxPromptTokens).toBe(8192);
  });

  it("refuses processing options the family does not have, naming the ones it has", async () => {
    await expect(runner.extract({ images: [image], text: "x", options: { maxPixels: 1000 } })).rejects.toThrow(
      /Unknown processing option\(s\) maxPixels .* the only one is imageSplitting/,
    );
  });
});
