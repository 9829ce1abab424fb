import { defaultTinyModelDir, ensureTinyModel } from "../src/model/families/idefics3/tiny/index.js";
import { defaultTinyLlavaOnevisionDir, ensureTinyLlavaOnevision } from "../src/model/families/llava_onevision/tiny/index.js";

/**
 * Generates models/tiny-smolvlm and models/tiny-llava-onevision (tiny preset, seed 1, fp32 + q4 + int8) once per
 * test run when missing or made by another generator version; current ones are reused as they are.
 */
export default async function setup(): Promise<void> {
  await ensureTinyModel(defaultTinyModelDir());
  await ensureTinyLlavaOnevision(defaultTinyLlavaOnevisionDir());
}
