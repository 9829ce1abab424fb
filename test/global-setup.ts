import { defaultTinyModelDir, ensureTinyModel } from "../src/model/families/idefics3/tiny/index.js";

/**
 * Generates models/tiny-smolvlm (tiny preset, seed 1, fp32 + q4 + int8) once per test run when it is
 * missing or was made by another generator version; a current one is reused as is.
 */
export default async function setup(): Promise<void> {
  await ensureTinyModel(defaultTinyModelDir());
}
