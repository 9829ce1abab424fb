/**
 * The vision encoder session: the edited graph (vision-cache.ts) when it was verified, else the published one.
 * A graph whose mask Adds were dropped computes the published result only for an all-true mask, so every run
 * checks the mask inputs it was edited for; a feed with any false (padded) entry runs the published graph,
 * opened on first need.
 */
import * as ort from "onnxruntime-node";
import { prepareVision, type PreparedVision, type VisionSourceSpec } from "./vision-cache.js";

/** What the session hosts use of a loaded session (an `ort.InferenceSession` or a guarded vision session). */
export interface LoadedSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  run(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

function allTrue(tensor: ort.Tensor | undefined): boolean {
  if (!tensor) return false;
  // bool tensors hold bytes 0 or 1: one native scan (a 17-frame SmolVLM mask is 4.5 M entries).
  if (tensor.type === "bool") return (tensor.data as Uint8Array).indexOf(0) === -1;
  const data = tensor.data as ArrayLike<number | bigint | boolean>;
  for (let i = 0; i < data.length; i++) if (Number(data[i]) !== 1) return false;
  return true;
}

class GuardedVisionSession implements LoadedSession {
  private published: Promise<ort.InferenceSession> | undefined;
  /** Runs that went to the published graph because a mask was not all true (tests, diagnostics). */
  publishedRuns = 0;

  constructor(
    private readonly edited: ort.InferenceSession,
    private readonly maskInputs: readonly string[],
    private readonly openPublished: () => Promise<ort.InferenceSession>,
  ) {}

  get inputNames(): readonly string[] {
    return this.edited.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.edited.outputNames;
  }
  get inputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.edited.inputMetadata;
  }

  async run(feeds: Record<string, ort.Tensor>, fetches?: string[]): Promise<Record<string, ort.Tensor>> {
    let session = this.edited;
    if (!this.maskInputs.every((name) => allTrue(feeds[name]))) {
      this.publishedRuns++;
      if (!this.published) {
        const opening = this.openPublished();
        // A failed open is not kept: the next padded run tries again.
        opening.catch(() => {
          if (this.published === opening) this.published = undefined;
        });
        this.published = opening;
      }
      session = await this.published;
    }
    return fetches ? session.run(feeds, fetches) : session.run(feeds);
  }

  async release(): Promise<void> {
    const published = this.published;
    this.published = undefined;
    await Promise.all([this.edited.release(), published?.then((s) => s.release())]);
  }
}

/** Opens the vision encoder of `spec`, edited when verification passed; `prepared` reports what was used. */
export async function openVisionSession(
  spec: VisionSourceSpec,
  options: ort.InferenceSession.SessionOptions,
): Promise<{ session: LoadedSession; prepared: PreparedVision }> {
  const prepared = await prepareVision(spec, options);
  const openPublished = (): Promise<ort.InferenceSession> => ort.InferenceSession.create(spec.source, options);
  if (!prepared.path && !prepared.bytes) return { session: await openPublished(), prepared };
  let edited: ort.InferenceSession;
  try {
    edited = prepared.path ? await ort.InferenceSession.create(prepared.path, options) : await ort.InferenceSession.create(prepared.bytes!, options);
  } catch (error) {
    // A cached edit that will not open (removed meanwhile by another version's clean-up, truncated): the published graph, as on any mismatch.
    process.stderr.write(`[sav-mcp] cannot open the edited vision encoder ${prepared.path ?? "(in memory)"} (${(error as Error).message.split("\n")[0]}); using the published graph.\n`);
    return { session: await openPublished(), prepared: { verdict: { ...prepared.verdict, verified: false, reason: "the edited graph did not open", transient: true }, cold: prepared.cold } };
  }
  const masks = prepared.verdict.report.maskInputsUsed;
  return { session: masks.length > 0 ? new GuardedVisionSession(edited, masks, openPublished) : edited, prepared };
}
