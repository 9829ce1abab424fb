import { readFileSync } from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { describe, expect, it } from "vitest";
import { BoundedTemplate, TEMPLATE_LIMITS } from "../../src/model/bounded-template.js";
import { ChatPrompt } from "../../src/model/chat-prompt.js";
import { ModelFileError } from "../../src/model/errors.js";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";

const FILE = "/models/x/chat_template.json";
const turn = (text: string) => ({ messages: [{ role: "user", content: [{ type: "image" }, { type: "text", text }] }], add_generation_prompt: true, bos_token: "<s>" });

function refusal(source: string, text = "hi"): Error {
  try {
    new BoundedTemplate(source, FILE).render(turn(text), text.length);
  } catch (error) {
    return error as Error;
  }
  throw new Error("rendered");
}

describe("a chat template is rendered with bounds", () => {
  it("renders the tiny model's template exactly as the jinja package does", () => {
    const dir = defaultTinyModelDir();
    const source = JSON.parse(readFileSync(path.join(dir, "chat_template.json"), "utf8")).chat_template as string;
    const text = "Is this a cat? {% raw %} <|im_start|>";
    expect(new BoundedTemplate(source, FILE).render(turn(text), text.length)).toBe(new Template(source).render(turn(text)));
    const loops = "{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}{{ strftime_now('%Y') | length }}";
    expect(new BoundedTemplate(loops, FILE).render({}, 0)).toBe(new Template(loops).render({}));
  });

  it("refuses a huge range(), a string bomb and a step-heavy loop with a ModelFileError naming the file", () => {
    const range = refusal("{% for i in range(10**9) %}x{% endfor %}");
    expect(range).toBeInstanceOf(ModelFileError);
    expect(range.message).toMatch(/^The chat template in \/models\/x\/chat_template\.json runs too long: it asked for range\(\) of 1000000000 elements \(limit 10000\)/);
    expect(range.message).toMatch(/Reinstall the model/);
    expect(refusal("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}").message).toMatch(/runs too long: it produced a string of more than 65538 characters/);
    expect(refusal("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}").message).toMatch(
      new RegExp(`runs too long: it took more than ${TEMPLATE_LIMITS.maxSteps} steps`),
    );
  });

  it("allows the user's own text on top of the output bound", () => {
    const text = "w".repeat(TEMPLATE_LIMITS.maxOutputOverhead * 2);
    expect(new BoundedTemplate("{{ messages[0].content[1].text }}", FILE).render(turn(text), text.length)).toBe(text);
  });

  it("refuses a template over the size limit, and one that does not parse, naming the file", () => {
    const big = refusal("x".repeat(TEMPLATE_LIMITS.maxTemplateChars + 1));
    expect(big).toBeInstanceOf(ModelFileError);
    expect(big.message).toMatch(/^The chat template in \/models\/x\/chat_template\.json is 65537 characters, over the 65536 character limit/);
    expect(refusal("{% for %}").message).toMatch(/^The chat template in \/models\/x\/chat_template\.json does not parse/);
  });

  it("passes the file name through ChatPrompt", () => {
    const dir = defaultTinyModelDir();
    const read = (name: string) => JSON.parse(readFileSync(path.join(dir, name), "utf8")) as Record<string, unknown>;
    const prompt = new ChatPrompt({
      chatTemplate: "{% for i in range(10**7) %}{% endfor %}",
      chatTemplateFile: path.join(dir, "chat_template.json"),
      tokenizerJson: read("tokenizer.json"),
      tokenizerConfig: read("tokenizer_config.json"),
    });
    expect(() => prompt.render(1, "hi")).toThrow(new RegExp(`The chat template in ${path.join(dir, "chat_template.json").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} runs too long`));
  });
});
