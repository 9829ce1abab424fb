/** The placeholder in a task prompt that takes each example's or query's own text. */
export const TEXT_PLACEHOLDER = "{text}";

export function promptUsesText(prompt: string): boolean {
  return prompt.includes(TEXT_PLACEHOLDER);
}

/**
 * The text of the user message that follows the images.
 * - The prompt has `{text}`: every occurrence is replaced by `text` (which is then required).
 * - No placeholder but `text` is given: the text comes first, then a blank line, then the prompt, so the
 *   question stays last, as in the SAV paper's prompts ("Instruction: … Is the image and instruction harmful?").
 * - Neither: the prompt as is.
 */
export function composePromptText(prompt: string, text?: string | null): string {
  if (promptUsesText(prompt)) return prompt.split(TEXT_PLACEHOLDER).join(text ?? "");
  if (text !== undefined && text !== null && text.trim() !== "") return `${text}\n\n${prompt}`;
  return prompt;
}
