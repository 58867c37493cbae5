import { readFileSync } from "node:fs";
import type { CostShown } from "../model/pull-request.js";

/**
 * Fly's prices for started Machines, from a dated table (prices/fly-prices.json, or the
 * operator's own file named by PREVIEW_PRICES). Estimates only: Fly bills per second a
 * machine runs, and a preview's machine stops when idle (auto-stop).
 */
export interface PriceTable {
  /** Where the figures were read: the comment links to it. */
  source: string;
  /** When they were read (YYYY-MM-DD): prices change, so every estimate says how old it is. */
  date: string;
  /** The region the figures are for; other regions cost somewhat more. */
  region: string;
  currency: string;
  hoursPerMonth: number;
  /** What each GB of memory beyond a preset's own costs a month. */
  additionalRamPerGbMonth: number;
  presets: Preset[];
}

export interface Preset {
  name: string;
  cpuKind: "shared" | "performance";
  cpus: number;
  memoryMb: number;
  perMonth: number;
}

export interface MachineSize {
  cpuKind: "shared" | "performance";
  cpus: number;
  memoryMb: number;
}

// Read at runtime like the schema (src/config/schema.ts): prices/ sits outside src/, and
// this URL resolves to the same file from src/fly/ and dist/fly/.
export const DEFAULT_PRICES_URL = new URL("../../prices/fly-prices.json", import.meta.url);

/** The table in a file, checked field by field; throws an Error naming what is wrong. */
export function readPriceTable(path: string | URL): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read ${String(path)} as JSON: ${(error as Error).message}`);
  }
  return parsePriceTable(raw);
}

export function parsePriceTable(raw: unknown): PriceTable {
  const o = object(raw, "the file");
  const presets = o.presets;
  if (!Array.isArray(presets) || presets.length === 0) throw new Error(`"presets" must be a non-empty array`);
  return {
    source: text(o, "source"),
    date: text(o, "date", /^\d{4}-\d{2}-\d{2}$/, "a date like 2026-06-07"),
    region: text(o, "region"),
    currency: text(o, "currency", /^[A-Z]{3}$/, "a currency code like USD"),
    hoursPerMonth: amount(o, "hours_per_month"),
    additionalRamPerGbMonth: amount(o, "additional_ram_per_gb_month", true),
    presets: presets.map((p, i) => {
      const preset = object(p, `presets[${i}]`);
      const kind = text(preset, "cpu_kind", /^(shared|performance)$/, `"shared" or "performance"`, `presets[${i}].`);
      return {
        name: text(preset, "name", undefined, undefined, `presets[${i}].`),
        cpuKind: kind as Preset["cpuKind"],
        cpus: amount(preset, "cpus", false, `presets[${i}].`),
        memoryMb: amount(preset, "memory_mb", false, `presets[${i}].`),
        perMonth: amount(preset, "per_month", true, `presets[${i}].`),
      };
    }),
  };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function text(o: Record<string, unknown>, key: string, pattern?: RegExp, like?: string, at = ""): string {
  const value = o[key];
  if (typeof value !== "string" || value.trim() === "") throw new Error(`"${at}${key}" must be a non-empty string`);
  if (pattern && !pattern.test(value)) throw new Error(`"${at}${key}" must be ${like}, not "${value}"`);
  return value;
}

function amount(o: Record<string, unknown>, key: string, zeroAllowed = false, at = ""): number {
  const value = o[key];
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new Error(`"${at}${key}" must be a ${zeroAllowed ? "non-negative" : "positive"} number`);
  }
  return value;
}

/**
 * What a machine of this size costs always on: the preset of its CPU kind and count,
 * plus memory beyond the preset's. Undefined when the table has no such preset.
 */
export function estimateCost(table: PriceTable, machine: MachineSize): CostShown | undefined {
  const preset = table.presets.find((p) => p.cpuKind === machine.cpuKind && p.cpus === machine.cpus);
  if (!preset) return undefined;
  const extraGb = Math.max(0, machine.memoryMb - preset.memoryMb) / 1024;
  const perMonth = preset.perMonth + extraGb * table.additionalRamPerGbMonth;
  return {
    preset: preset.name,
    memoryMb: machine.memoryMb,
    perMonth,
    perHour: perMonth / table.hoursPerMonth,
    currency: table.currency,
    region: table.region,
    date: table.date,
    source: table.source,
  };
}

/** What a preview's machine costs, from the size its last successful deploy recorded (a store row's columns); undefined before one. */
export function recordedMachineCost(
  table: PriceTable,
  row: { machine_cpu_kind: MachineSize["cpuKind"] | null; machine_cpus: number | null; machine_memory_mb: number | null },
): CostShown | undefined {
  if (!row.machine_cpu_kind || !row.machine_cpus || !row.machine_memory_mb) return undefined;
  return estimateCost(table, { cpuKind: row.machine_cpu_kind, cpus: row.machine_cpus, memoryMb: row.machine_memory_mb });
}

