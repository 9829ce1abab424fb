import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, LIMIT_NAMES, LimitSettingError, loadConfig, messageBytesFor, parseLimitSettings } from "../../src/config.js";

describe("limits can be changed from the environment and the command line", () => {
  it("reads SAV_LIMITS as comma-separated name=value settings, digit separators allowed", () => {
    const config = loadConfig({ SAV_LIMITS: "maxImagePixels=134_217_728, maxBatchImages=64" });
    expect(config.limits.maxImagePixels).toBe(134_217_728);
    expect(config.limits.maxBatchImages).toBe(64);
    expect(config.limits.maxExamplesPerCall).toBe(DEFAULT_LIMITS.maxExamplesPerCall);
  });

  it("lets flags override SAV_LIMITS, one limit at a time", () => {
    const flags = parseLimitSettings(["maxBatchImages=8"], "--limit");
    const config = loadConfig({ SAV_LIMITS: "maxBatchImages=64,maxImagesPerPrompt=4" }, { limits: flags });
    expect(config.limits.maxBatchImages).toBe(8);
    expect(config.limits.maxImagesPerPrompt).toBe(4);
  });

  it("raises the stdio message limit with the image-byte limit unless that is set too", () => {
    const raised = loadConfig({ SAV_LIMITS: "maxImageBytes=104857600" }).limits;
    expect(raised.maxMessageBytes).toBe(messageBytesFor(104_857_600));
    expect(raised.maxMessageBytes).toBeGreaterThan(2 * 104_857_600);
    expect(loadConfig({ SAV_LIMITS: "maxImageBytes=1000" }).limits.maxMessageBytes).toBe(DEFAULT_LIMITS.maxMessageBytes);
    expect(loadConfig({ SAV_LIMITS: "maxImageBytes=104857600,maxMessageBytes=5000000" }).limits.maxMessageBytes).toBe(5_000_000);
  });

  it("refuses unknown names, non-numbers and zero, naming the valid names and where the setting came from", () => {
    const refusal = (settings: string[]) => {
      try {
        parseLimitSettings(settings, "--limit");
      } catch (error) {
        expect(error).toBeInstanceOf(LimitSettingError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${settings.join(",")}`);
    };
    const unknown = refusal(["maxPixels=5"]);
    expect(unknown).toMatch(/^--limit: "maxPixels=5" is not a limit setting/);
    for (const name of LIMIT_NAMES) expect(unknown).toContain(name);
    expect(refusal(["maxBatchImages=lots"])).toMatch(/not a limit setting/);
    expect(refusal(["maxBatchImages=-1"])).toMatch(/not a limit setting/);
    expect(refusal(["maxBatchImages=0"])).toMatch(/maxBatchImages must be a whole number from 1/);
    expect(refusal(["maxBatchImages=99999999999999999999"])).toMatch(/must be a whole number/);
    expect(() => loadConfig({ SAV_LIMITS: "maxBatchImages" })).toThrow(/^SAV_LIMITS: /);
    expect(refusal(["x".repeat(500)]).length).toBeLessThan(400);
  });

  it("is documented in the README with every name", () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, "../../README.md"), "utf8");
    expect(readme).toContain("SAV_LIMITS");
    for (const name of LIMIT_NAMES) expect(readme).toContain(`\`${name}\``);
  });

  it("leaves every limit at its default when nothing is set", () => {
    expect(loadConfig({}).limits).toEqual(DEFAULT_LIMITS);
    expect(loadConfig({ SAV_LIMITS: " " }).limits).toEqual(DEFAULT_LIMITS);
  });
});
