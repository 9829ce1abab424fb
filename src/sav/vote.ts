/**
 * Majority vote over heads cast in rank order (best-ranked head first).
 * Ties on votes go to the tied label with the highest summed cosine among its voters, then to the label whose
 * first voter ranks best.
 */
export class VoteTally {
  readonly votes: Int32Array;
  readonly similaritySums: Float64Array;
  /** Rank (0 = best) of each label's first voter; meaningful only when the label has votes. */
  private readonly firstVoterRank: Int32Array;
  private cast = 0;

  constructor(labelCount: number) {
    this.votes = new Int32Array(labelCount);
    this.similaritySums = new Float64Array(labelCount);
    this.firstVoterRank = new Int32Array(labelCount);
  }

  reset(): void {
    this.votes.fill(0);
    this.similaritySums.fill(0);
    this.cast = 0;
  }

  /** Adds the vote of the next head in rank order. */
  add(label: number, similarity: number): void {
    if (this.votes[label] === 0) this.firstVoterRank[label] = this.cast;
    this.votes[label]!++;
    this.similaritySums[label]! += similarity;
    this.cast++;
  }

  /** The winning label index; -1 before any vote. */
  winner(): number {
    const { votes, similaritySums, firstVoterRank } = this;
    let best = -1;
    for (let c = 0; c < votes.length; c++) {
      const count = votes[c]!;
      if (count === 0) continue;
      if (
        best < 0 ||
        count > votes[best]! ||
        (count === votes[best]! &&
          (similaritySums[c]! > similaritySums[best]! ||
            (similaritySums[c] === similaritySums[best] && firstVoterRank[c]! < firstVoterRank[best]!)))
      ) {
        best = c;
      }
    }
    return best;
  }
}
