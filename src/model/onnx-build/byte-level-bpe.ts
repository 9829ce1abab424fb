/** The pieces of the generators' small fallback byte-level BPE tokenizers (GPT-2 style, as SmolVLM's and Qwen2's). */

/** GPT-2's byte-to-unicode symbols in vocabulary order: the printable bytes as themselves ('!' first), then the rest from U+0100. */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const rest = [...Array(256).keys()].filter((b) => !printable.includes(b));
  return [...printable.map((b) => String.fromCharCode(b)), ...rest.map((_, i) => String.fromCharCode(256 + i))];
}

/**
 * Adds to `vocab` (ids from `nextId` on) the merge chain of each word, left to right, so the BPE spells each word
 * as one token; returns the merges in order.
 */
export function addMergeChains(vocab: Record<string, number>, words: readonly string[], nextId: number): [string, string][] {
  const merges: [string, string][] = [];
  for (const word of words) {
    const symbols = Array.from(word);
    let left = symbols[0] as string;
    for (const right of symbols.slice(1)) {
      const merged = left + right;
      if (!(merged in vocab)) {
        merges.push([left, right]);
        vocab[merged] = nextId++;
      }
      left = merged;
    }
  }
  return merges;
}
