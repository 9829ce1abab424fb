/**
 * A small glob matcher for dataset filters: `*` (within one path component), `**` (any number of
 * components), `?` (one character), `[abc]` and `{a,b}`. Paths use "/" separators. A pattern without
 * "/" is matched against the file name alone, as .gitignore does, so "*.png" selects every PNG.
 */
export function globMatcher(pattern: string): (relativePath: string) => boolean {
  const regex = new RegExp(`^${globToRegexSource(pattern)}$`);
  const byName = !pattern.includes("/");
  return (relativePath) => {
    const normalized = relativePath.split("\\").join("/");
    return regex.test(byName ? normalized.slice(normalized.lastIndexOf("/") + 1) : normalized);
  };
}

function escapeLiteral(char: string): string {
  return /[.+^${}()|[\]\\*?]/.test(char) ? `\\${char}` : char;
}

function globToRegexSource(pattern: string): string {
  let source = "";
  let braceDepth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === "*") {
      if (pattern[i + 1] === "*") {
        const slashFollows = pattern[i + 2] === "/";
        source += slashFollows ? "(?:.*/)?" : ".*";
        i += slashFollows ? 2 : 1;
      } else {
        source += "[^/]*";
      }
    } else if (char === "?") {
      source += "[^/]";
    } else if (char === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) {
        source += "\\[";
      } else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
        source += body.startsWith("!") ? `[^/${body.slice(1)}]` : `[${body}]`;
        i = end;
      }
    } else if (char === "{") {
      braceDepth++;
      source += "(?:";
    } else if (char === "}" && braceDepth > 0) {
      braceDepth--;
      source += ")";
    } else if (char === "," && braceDepth > 0) {
      source += "|";
    } else {
      source += escapeLiteral(char);
    }
  }
  return source + ")".repeat(braceDepth);
}
