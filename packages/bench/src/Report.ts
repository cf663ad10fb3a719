/**
 * Figures and how they are shown: every figure of the server under test
 * beside the baseline's from the same run, with their ratio and, where the
 * issue sets one, the target and whether it is met.
 */

/** A target from the issue: on the ratio to the baseline, or on the figure itself. */
export type TargetSpec =
  | { readonly kind: "ratioAtLeast"; readonly value: number }
  | { readonly kind: "atMost"; readonly value: number }
  | { readonly kind: "atLeast"; readonly value: number }

export interface Figure {
  readonly scenario: string
  readonly metric: string
  readonly unit: string
  /** By server: `parley` (or `target` for an external server) and `baseline`. */
  readonly values: Readonly<Record<string, number | undefined>>
  readonly target?: TargetSpec | undefined
  /** Why a figure is partial or not comparable. */
  readonly note?: string | undefined
}

export interface Row extends Figure {
  readonly subject: number | undefined
  readonly baseline: number | undefined
  readonly ratio: number | undefined
  readonly met: boolean | undefined
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x)

/** Adds the ratio (subject / baseline) and the verdict on the target. */
export const toRow = (figure: Figure): Row => {
  const subject = figure.values.parley ?? figure.values.target
  const baseline = figure.values.baseline
  const ratio = finite(subject) && finite(baseline) && baseline !== 0 ? subject / baseline : undefined
  let met: boolean | undefined
  const t = figure.target
  if (t !== undefined) {
    if (t.kind === "ratioAtLeast") met = ratio === undefined ? undefined : ratio >= t.value
    else if (!finite(subject)) met = undefined
    else met = t.kind === "atMost" ? subject <= t.value : subject >= t.value
  }
  return { ...figure, subject, baseline, ratio, met }
}

/** Three significant-ish digits, thousands separated. */
export const formatNumber = (x: number | undefined): string => {
  if (!finite(x)) return "—"
  const a = Math.abs(x)
  if (a >= 100) return Math.round(x).toLocaleString("en-US")
  if (a >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

export const formatTarget = (t: TargetSpec | undefined, unit: string): string => {
  if (t === undefined) return ""
  switch (t.kind) {
    case "ratioAtLeast":
      return `≥ ${t.value}× baseline`
    case "atMost":
      return `≤ ${formatNumber(t.value)} ${unit}`
    case "atLeast":
      return `≥ ${formatNumber(t.value)} ${unit}`
  }
}

/** A plain-text table, one row per figure. */
export const renderTable = (rows: ReadonlyArray<Row>, subjectName: string): string => {
  const header = ["scenario", "metric", subjectName, "baseline", "ratio", "target", "met"]
  const body = rows.map((r) => [
    r.scenario,
    `${r.metric} (${r.unit})`,
    formatNumber(r.subject),
    formatNumber(r.baseline),
    r.ratio === undefined ? "—" : `${r.ratio.toFixed(2)}×`,
    formatTarget(r.target, r.unit),
    r.met === undefined ? (r.target ? "?" : "") : r.met ? "yes" : "NO"
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const numeric = new Set([2, 3, 4])
  const fmt = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()
  const lines = [fmt(header), widths.map((w) => "-".repeat(w)).join("  ")]
  for (const b of body) lines.push(fmt(b))
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.scenario} / ${r.metric}: ${r.note}`)
  return [...lines, ...(notes.length > 0 ? ["", "notes:", ...notes] : [])].join("\n")
}
