/** Schemas of the accuracy and calibration figures that both `sav-mcp eval` and evaluate_task report. */
import { z } from "zod";

/** One reliability-diagram bin: the examples whose confidence fell in [lower, upper). */
export const calibrationBinSchema = z.object({
  lower: z.number(),
  upper: z.number(),
  count: z.number().int(),
  confidence: z.number(),
  accuracy: z.number(),
});

/** Coverage and accuracy of the answers at or above a confidence threshold (null accuracy: none was). */
export const selectiveSchema = z.object({
  threshold: z.number(),
  coverage: z.number(),
  selectiveAccuracy: z.number().nullable(),
});

export const perClassSchema = z.array(
  z.object({ label: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() }),
);

export const accuracyByHeadCountSchema = z.array(z.object({ heads: z.number().int(), accuracy: z.number() }));
