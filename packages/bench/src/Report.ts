/**
 * Figures and how they are shown: every figure of the server under test
 * beside the baseline's from the same run, with their ratio and, where the
 * issue sets one, the target and whether it is met. There may be several
 * servers under test (Parley on SQLite and on PostgreSQL): each gets its
 * column, its ratio and its verdict.
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
  /** By server: `parley`, `parley-pg` (or `target` for an external server) and `baseline`. */
  readonly values: Readonly<Record<string, number | undefined>>
  readonly target?: TargetSpec | undefined
  /** Why a figure is partial or not comparable. */
  readonly note?: string | undefined
}

/** One server under test's figure, its ratio to the baseline's and the verdict on the target. */
export interface SubjectFigure {
  readonly server: string
  readonly value: number | undefined
  readonly ratio: number | undefined
  readonly met: boolean | undefined
}

export interface Row extends Figure {
  /** The first server under test's (`subjects[0]`). */
  readonly subject: number | undefined
  readonly baseline: number | undefined
  readonly ratio: number | undefined
  readonly met: boolean | undefined
  /** Every server under test, in the run's order. */
  readonly subjects: ReadonlyArray<SubjectFigure>
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x)

/** The servers under test of a figure: every one but the baseline, or `parley` when there is none. */
const subjectsOf = (figure: Figure): ReadonlyArray<string> => {
  const names = Object.keys(figure.values).filter((name) => name !== "baseline")
  return names.length > 0 ? names : ["parley"]
}

/** Adds each subject's ratio (subject / baseline) and the verdict on the target. */
export const toRow = (figure: Figure, subjects: ReadonlyArray<string> = subjectsOf(figure)): Row => {
  const baseline = figure.values.baseline
  const verdicts = subjects.map((server): SubjectFigure => {
    const value = figure.values[server]
    const ratio = finite(value) && finite(baseline) && baseline !== 0 ? value / baseline : undefined
    let met: boolean | undefined
    const t = figure.target
    if (t !== undefined) {
      if (t.kind === "ratioAtLeast") met = ratio === undefined ? undefined : ratio >= t.value
      else if (!finite(value)) met = undefined
      else met = t.kind === "atMost" ? value <= t.value : value >= t.value
    }
    return { server, value, ratio, met }
  })
  const first = verdicts[0]
  return { ...figure, subject: first?.value, baseline, ratio: first?.ratio, met: first?.met, subjects: verdicts }
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

const formatMet = (met: boolean | undefined): string => (met === undefined ? "?" : met ? "yes" : "NO")

/**
 * A plain-text table, one row per figure: each subject's figure, the
 * baseline's, each subject's ratio, the target and whether each met it (with
 * several subjects, `yes / NO` in their order).
 */
export const renderTable = (rows: ReadonlyArray<Row>, subjects: ReadonlyArray<string>): string => {
  const n = subjects.length
  const header = [
    "scenario",
    "metric",
    ...subjects,
    "baseline",
    ...subjects.map((s) => (n === 1 ? "ratio" : `${s} ratio`)),
    "target",
    "met"
  ]
  const body = rows.map((r) => {
    const verdicts = subjects.map((s) => r.subjects.find((v) => v.server === s))
    return [
      r.scenario,
      `${r.metric} (${r.unit})`,
      ...verdicts.map((v) => formatNumber(v?.value)),
      formatNumber(r.baseline),
      ...verdicts.map((v) => (v?.ratio === undefined ? "—" : `${v.ratio.toFixed(2)}×`)),
      formatTarget(r.target, r.unit),
      r.target === undefined ? "" : verdicts.map((v) => formatMet(v?.met)).join(" / ")
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const numeric = new Set(Array.from({ length: 2 * n + 1 }, (_, i) => i + 2))
  const fmt = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()
  const lines = [fmt(header), widths.map((w) => "-".repeat(w)).join("  ")]
  for (const b of body) lines.push(fmt(b))
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.scenario} / ${r.metric}: ${r.note}`)
  return [...lines, ...(notes.length > 0 ? ["", "notes:", ...notes] : [])].join("\n")
}
