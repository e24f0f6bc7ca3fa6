// Descriptions come from doc comments, hard-wrapped at ~80 columns. Shown
// with their line breaks kept (white-space: pre-wrap, so that paragraphs and
// lists survive), a wrapped sentence would break mid-line in a wide field.

/** A list item (`- `, `* `, `• `, `1. `, `1) `) or an indented line. */
const STRUCTURED = /^(?:\s|[-*•]\s|\d+[.)]\s)/;

/** Joins the hard-wrapped lines of each paragraph; keeps blank lines, and
 * the line breaks around list items and indented lines. */
export function reflow(text: string): string {
  const lines = text.split("\n");
  let out = lines[0] ?? "";
  for (let i = 1; i < lines.length; i++) {
    const prev = lines[i - 1] ?? "";
    const line = lines[i] ?? "";
    const join = prev.trim() !== "" && line.trim() !== "" && !STRUCTURED.test(prev) && !STRUCTURED.test(line);
    out = join ? out.replace(/[ \t]+$/, "") + " " + line : out + "\n" + line;
  }
  return out;
}
