/** A model directory that is missing a file or holds a malformed one. */
export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFileError";
  }
}

/** A request the model cannot take as it is (too long a prompt, say); the message says the limit. */
export class ModelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelInputError";
  }
}
