/**
 * Without ../shared (a user's clone), the generator writes a built-in tokenizer: a small byte-level
 * BPE with the published special tokens at the published ids and the published chat template.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { AutoProcessor, AutoTokenizer, env, RawImage } from "@huggingface/transformers";
import { Tokenizer } from "@huggingface/tokenizers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectSharedModelDir, generateModel } from "../../src/model/families/idefics3/tiny/index.js";
import { allSpecialTokens } from "../../src/model/families/idefics3/tiny/tokenizer-files.js";

const shared = detectSharedModelDir();
let tmp: string;
let dir: string;

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(dir, file), "utf8")) as Record<string, unknown>;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "sav-tiny-"));
  dir = path.join(tmp, "fallback-smolvlm");
  const result = await generateModel({ outDir: dir, variants: ["fp32"], sharedModelDir: null });
  expect(result.tokenizerSource).toBe("fallback");
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const EXPECTED_IDS: [string, number][] = [
  ["<|endoftext|>", 0],
  ["<|im_start|>", 1],
  ["<|im_end|>", 2],
  ["<global-img>", 49152],
  ["<row_1_col_1>", 49153],
  ["<row_2_col_3>", 49153 + 6 + 2],
  ["<row_6_col_6>", 49188],
  ["<fake_token_around_image>", 49189],
  ["<image>", 49190],
  ["<|reserved_special_token_0|>", 49191],
  ["<|reserved_special_token_87|>", 49278],
  ["<end_of_utterance>", 49279],
];

describe("fallback tokenizer", () => {
  it("@huggingface/tokenizers loads it and encodes each special token as its published id", async () => {
    const tokenizer = new Tokenizer(await readJson("tokenizer.json"), await readJson("tokenizer_config.json"));
    for (const [token, id] of EXPECTED_IDS) {
      expect(tokenizer.token_to_id(token), token).toBe(id);
      expect(tokenizer.encode(token).ids, token).toEqual([id]);
    }
    const encoded = tokenizer.encode("<|im_start|>User:<image>What is in this image?<end_of_utterance>\nAssistant:");
    expect(encoded.ids[0]).toBe(1);
    expect(encoded.ids).toContain(49190);
    expect(encoded.ids).toContain(49279);
    expect(tokenizer.decode(encoded.ids, { skip_special_tokens: true })).toBe("User:What is in this image?\nAssistant:");
    // Ordinary text stays below the image token range and round-trips through bytes.
    const text = "Héllo 123 wörld, shape & colour!";
    const plain = tokenizer.encode(text).ids;
    expect(Math.max(...plain)).toBeLessThan(49152);
    expect(tokenizer.decode(plain)).toBe(text);
  });

  it("renders the published prompt format with the chat template", async () => {
    const template = (await readJson("chat_template.json")).chat_template as string;
    const rendered = new Template(template).render({
      messages: [{ role: "user", content: [{ type: "image" }, { type: "text", text: "What is in this image?" }] }],
      add_generation_prompt: true,
    });
    expect(rendered).toBe("<|im_start|>User:<image>What is in this image?<end_of_utterance>\nAssistant:");
    const textOnly = new Template(template).render({ messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }] }], add_generation_prompt: true });
    expect(textOnly).toBe("<|im_start|>User: What is this?<end_of_utterance>\nAssistant:");
    expect((await readJson("tokenizer_config.json")).chat_template).toBe(template);
  });

  it("transformers.js loads the fallback directory (tokenizer and processor)", async () => {
    env.allowRemoteModels = false;
    env.localModelPath = path.dirname(dir);
    const id = path.basename(dir);
    const tokenizer = await AutoTokenizer.from_pretrained(id);
    for (const [token, expected] of EXPECTED_IDS) expect(tokenizer.encode(token, { add_special_tokens: false }), token).toEqual([expected]);
    const processor = await AutoProcessor.from_pretrained(id);
    const data = new Uint8ClampedArray(64 * 64 * 3).fill(200);
    const inputs = await processor("<|im_start|>User:<image>Hi<end_of_utterance>\nAssistant:", [new RawImage(data, 64, 64, 3)], {
      do_image_splitting: false,
    });
    const ids = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    expect(ids.slice(0, 5)).toEqual([1, ids[1], ids[2], 49189, 49152]);
    expect(ids.filter((t) => t === 49190)).toHaveLength(4);
  });

  it("lists the same 145 special tokens as the published tokenizer", () => {
    const tokens = allSpecialTokens();
    expect(tokens).toHaveLength(145);
    expect(new Set(tokens.map((t) => t.id)).size).toBe(145);
  });

  it.skipIf(!shared)("writes tokenizer_config.json and added_tokens.json equal to the published files", async () => {
    for (const file of ["tokenizer_config.json", "added_tokens.json", "special_tokens_map.json", "generation_config.json", "chat_template.json"]) {
      const published = JSON.parse(await readFile(path.join(shared as string, file), "utf8")) as unknown;
      expect(await readJson(file), file).toEqual(published);
    }
    const publishedTokenizer = JSON.parse(await readFile(path.join(shared as string, "tokenizer.json"), "utf8")) as Record<string, unknown>;
    const fallback = await readJson("tokenizer.json");
    for (const key of ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder"]) {
      expect(fallback[key], key).toEqual(publishedTokenizer[key]);
    }
  });
});
