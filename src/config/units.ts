export const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s" → 30000. Throws on anything that is not a whole number followed by ms, s, m, h or d. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration; use a whole number and a unit, like "30s", "5m", "12h" or "7d"`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

const MEMORY = /^([0-9]+)(mb|gb)$/i;

/** "1gb" → 1024, "512MB" → 512. */
export function parseMemoryMb(text: string): number {
  const match = MEMORY.exec(text);
  if (!match) throw new Error(`"${text}" is not a memory size; use a value like "512mb" or "1gb"`);
  return Number(match[1]) * (match[2].toLowerCase() === "gb" ? 1024 : 1);
}
