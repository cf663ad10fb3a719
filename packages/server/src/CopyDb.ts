/**
 * `parley-server copy-db`: moves a SQLite database to PostgreSQL, all or
 * nothing. What it guarantees:
 *
 * - The source is only read: opened read-only, from one snapshot (a server may
 *   still be running on it; what it writes after the snapshot is not copied).
 *   Its schema must be the current one: an older file is migrated by starting
 *   the server on it once, which this command will not do behind your back.
 * - The target is migrated by `PgDatabase` (as the server would), must hold no
 *   row (but `general`, which its migration makes), and gets every row in one
 *   transaction with every table locked against writers, so a server started on it meanwhile waits for the commit.
 *   The transaction commits only if each table then holds exactly as many rows
 *   as the snapshot; any failure (or Ctrl-C) rolls everything back.
 * - Ids are kept (the identity columns are `BY DEFAULT`) and each identity
 *   sequence is set to the largest copied id, so a client's cursors,
 *   unread DMs and `client_msg_id` ACKs mean the same afterwards, and the next
 *   message gets an id above every copied one.
 * - A message PostgreSQL cannot hold (U+0000 in its text or client_msg_id,
 *   which older servers accepted) is refused before anything is written.
 *
 * The source is read with better-sqlite3 itself, not a second `SqlClient`:
 * @effect/sql keeps the connection of the current transaction under one tag
 * shared by every client (`TransactionConnection`), so a SQLite query made
 * inside the PostgreSQL transaction would be sent to the PostgreSQL connection.
 * Rows go across in chunks, each one multi-row INSERT of `unnest`ed arrays (as
 * in `PgMessageStore`): one round trip per 5,000 rows.
 */
import { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import Database from "better-sqlite3"
import { Console, Data, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import { migrations } from "./Migrations.ts"
import { PgDatabase, redactUrl } from "./PgDatabase.ts"
import { ServerConfig } from "./ServerConfig.ts"

/** Why nothing was copied, in one line for the operator. */
export class CopyDbError extends Data.TaggedError("CopyDbError")<{ readonly message: string }> {}

export interface CopyDbOptions {
  /** The SQLite file. */
  readonly from: string
  /** The PostgreSQL URL (may hold a password: never printed). */
  readonly to: string
}

/** Rows per INSERT, unless they reach `CHUNK_CHARS` first (a chunk of 4096-character messages would be 80 MB). */
const CHUNK_ROWS = 5_000
const CHUNK_CHARS = 4 * 1024 * 1024
/** A progress line on stderr each time this many more rows of a table are copied. */
const PROGRESS_EVERY = 50_000

interface Table {
  readonly name: string
  /** The name its rows are counted under, when the table is copied in two parts. */
  readonly part?: string
  /** Columns in order, with the PostgreSQL array type they are sent as. */
  readonly columns: ReadonlyArray<readonly [column: string, pgType: "int4" | "int8" | "text"]>
  readonly key: string
  /** Whether its `id` is an identity whose sequence must follow the copied ids. */
  readonly identity: boolean
  /** The rows copied (and counted), when not all: `general` (id 0) is every database's own, made by its migration. */
  readonly where?: string
  /** What one row is, for the summary line; tables of protocol v1.2 are named there only when they hold rows. */
  readonly noun: string
  /** Named in the summary line: always, only when it holds rows, or never (general's read marks). */
  readonly summary: "always" | "rows" | "never"
}

const countKey = (t: Table) => t.part ?? t.name

/** In the order the foreign keys need. */
const tables: ReadonlyArray<Table> = [
  {
    name: "users",
    columns: [
      ["id", "int8"],
      ["username", "text"],
      ["password_hash", "text"],
      ["created_at", "text"],
      ["last_login", "text"],
      ["is_admin", "int4"],
      ["locked_at", "text"]
    ],
    key: "id",
    identity: true,
    noun: "user",
    summary: "always"
  },
  {
    name: "tokens",
    columns: [["token_hash", "text"], ["user_id", "int8"], ["created_at", "text"], ["expires_at", "text"]],
    key: "token_hash",
    identity: false,
    noun: "token",
    summary: "always"
  },
  {
    name: "sessions",
    columns: [["id", "int8"], ["user_id", "int8"], ["ip_address", "text"], ["connect_time", "text"], [
      "disconnect_time",
      "text"
    ], ["token_hash", "text"]],
    key: "id",
    identity: true,
    noun: "session",
    summary: "always"
  },
  {
    name: "rooms",
    columns: [
      ["id", "int8"],
      ["name", "text"],
      ["visibility", "text"],
      ["topic", "text"],
      ["created_by", "int8"],
      ["created_at", "text"],
      ["deleted_at", "text"]
    ],
    key: "id",
    identity: true,
    where: "id <> 0",
    noun: "room",
    summary: "rows"
  },
  // general's rows are every account's read mark there (it has no other members): copied, not named
  ...([["general_marks", "room_id = 0", "read mark", "never"], [
    "room_members",
    "room_id <> 0",
    "room membership",
    "rows"
  ]] as const)
    .map(([part, where, noun, summary]): Table => ({
      name: "room_members",
      part,
      columns: [["room_id", "int8"], ["user_id", "int8"], ["role", "text"], ["read_mark", "int8"], [
        "joined_at",
        "text"
      ]],
      key: "room_id, user_id",
      identity: false,
      where,
      noun,
      summary
    })),
  {
    name: "room_invites",
    columns: [["room_id", "int8"], ["user_id", "int8"], ["invited_by", "int8"], ["expires_at", "text"]],
    key: "room_id, user_id",
    identity: false,
    noun: "invitation",
    summary: "rows"
  },
  ...(["room_bans", "room_mutes"] as const).map((name): Table => ({
    name,
    columns: [
      ["room_id", "int8"],
      ["user_id", "int8"],
      ["expires_at", "text"],
      ["by_id", "int8"],
      ["reason", "text"],
      ["created_at", "text"]
    ],
    key: "room_id, user_id",
    identity: false,
    noun: name === "room_bans" ? "ban" : "mute",
    summary: "rows"
  })),
  {
    name: "room_audit",
    columns: [
      ["id", "int8"],
      ["room_id", "int8"],
      ["actor_id", "int8"],
      ["action", "text"],
      ["target", "text"],
      ["reason", "text"],
      ["expires_at", "text"],
      ["timestamp", "text"]
    ],
    key: "id",
    identity: true,
    noun: "audit entry",
    summary: "rows"
  },
  {
    name: "messages",
    columns: [
      ["id", "int8"],
      ["sender_id", "int8"],
      ["receiver_id", "int8"],
      ["message", "text"],
      ["timestamp", "text"],
      ["is_read", "int4"],
      ["client_msg_id", "text"],
      ["room_id", "int8"],
      ["edited_at", "text"],
      ["deleted_at", "text"],
      ["deleted_by", "int8"],
      ["delete_reason", "text"]
    ],
    key: "id",
    identity: true,
    noun: "message",
    summary: "always"
  }
]

/** Rows in each table, source or target (`rooms` without `general`). */
export type Counts = Readonly<Record<string, number>>

const whereOf = (t: Table) => (t.where === undefined ? "" : ` WHERE ${t.where}`)

const selectSql = (t: Table) =>
  `SELECT ${t.columns.map(([c]) => c).join(", ")} FROM ${t.name}${whereOf(t)} ORDER BY ${t.key}`

const insertSql = (t: Table) =>
  `INSERT INTO ${t.name} (${t.columns.map(([c]) => c).join(", ")}) ` +
  `SELECT * FROM unnest(${t.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")})`

const COUNTS_SQL = `SELECT ${
  tables.map((t) => `(SELECT count(*) FROM ${t.name}${whereOf(t)}) AS ${countKey(t)}`).join(", ")
}`

const plural = (n: number, noun: string) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? noun : noun.endsWith("ry") ? `${noun.slice(0, -1)}ies` : `${noun}s`}`

const SUMMARY_ORDER = [
  "users",
  "messages",
  "sessions",
  "tokens",
  "rooms",
  "room_members",
  "room_invites",
  "room_bans",
  "room_mutes",
  "room_audit"
]

/** "3 users, 120 messages, 7 sessions, 2 tokens" (and the tables of rooms, where they hold rows) */
export const describeCounts = (c: Counts) =>
  SUMMARY_ORDER.map((key) => tables.find((t) => countKey(t) === key)!)
    .filter((t) => t.summary === "always" || (t.summary === "rows" && Number(c[countKey(t)] ?? 0) > 0))
    .map((t) => plural(Number(c[countKey(t)] ?? 0), t.noun))
    .join(", ")

const total = (c: Counts) => tables.reduce((sum, t) => sum + Number(c[countKey(t)] ?? 0), 0)

const reason = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0) return reason(cause.errors[0])
  if (cause instanceof SqlError || cause instanceof MigrationError) {
    const inner = cause.cause === undefined ? "" : reason(cause.cause)
    return inner === "" ? cause.message : inner
  }
  if (cause instanceof Error) {
    const detail = (cause as { detail?: unknown }).detail
    const text = cause.message !== "" ? cause.message : (cause as { code?: unknown }).code?.toString() ?? cause.name
    return typeof detail === "string" && detail !== "" ? `${text} (${detail})` : text
  }
  return String(cause)
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ")

/** The source file, opened read-only, in a read transaction: every read below sees one snapshot. */
const openSource = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const stat = Fs.statSync(file, { throwIfNoEntry: false })
        if (stat === undefined) {
          throw new CopyDbError({ message: `${file}: no such file (--from names the SQLite database to copy)` })
        }
        if (!stat.isFile()) {
          throw new CopyDbError({ message: `${file} is not a file (--from names the SQLite database to copy)` })
        }
        const db = new Database(file, { readonly: true, fileMustExist: true })
        try {
          db.exec("BEGIN")
          // the snapshot starts with the transaction's first read
          db.prepare("SELECT count(*) FROM sqlite_master").get()
        } catch (error) {
          db.close()
          throw error
        }
        return db
      },
      catch: (error) =>
        error instanceof CopyDbError
          ? error
          : new CopyDbError({ message: `cannot read ${file} as a SQLite database: ${oneLine(reason(error))}` })
    }),
    (db) => Effect.sync(() => db.close())
  )

const migrationIds = Object.keys(migrations).map((name) => Number.parseInt(name, 10))

/** The source's schema is the current one, it holds nothing PostgreSQL refuses; its row counts. */
const inspect = (db: Database.Database, file: string) =>
  Effect.try({
    try: (): Counts => {
      const known = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'effect_sql_migrations'")
        .get()
      const applied = known === undefined
        ? []
        : db.prepare("SELECT migration_id FROM effect_sql_migrations").pluck().all() as Array<number>
      const newer = applied.filter((id) => !migrationIds.includes(id))
      if (newer.length > 0) {
        throw new CopyDbError({
          message: `${file} was migrated by a newer parley-server (migration ${
            newer.join(", ")
          } is unknown to this one): copy it with that version`
        })
      }
      const missing = migrationIds.filter((id) => !applied.includes(id))
      if (missing.length > 0) {
        throw new CopyDbError({
          message: `${file} is at schema version ${applied.length} of ${migrationIds.length}: ` +
            `start the server once on it (parley-server --db ${file}) to migrate it, then copy`
        })
      }
      const withNul = db.prepare(
        `SELECT id FROM messages
         WHERE instr(CAST(message AS BLOB), X'00') > 0 OR instr(CAST(client_msg_id AS BLOB), X'00') > 0
         ORDER BY id`
      ).pluck().all() as Array<number>
      if (withNul.length > 0) {
        const some = withNul.slice(0, 5).join(", ") + (withNul.length > 5 ? ", ..." : "")
        throw new CopyDbError({
          message:
            `${file} holds ${
              plural(withNul.length, "message")
            } with U+0000 (NUL) in the text or client_msg_id (id ${some}), ` +
            "which PostgreSQL text cannot store: nothing copied (edit or delete them in the SQLite file first)"
        })
      }
      return db.prepare(COUNTS_SQL).get() as Counts
    },
    catch: (error) =>
      error instanceof CopyDbError
        ? error
        : new CopyDbError({ message: `cannot read ${file}: ${oneLine(reason(error))}` })
  })

/** Copies one table in chunks, saying how far it got every `PROGRESS_EVERY` rows; returns the rows copied. */
const copyTable = (db: Database.Database, file: string, table: Table, expected: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const insert = insertSql(table)
    const readError = (error: unknown) => new CopyDbError({ message: `cannot read ${file}: ${oneLine(reason(error))}` })
    const rows = yield* Effect.acquireRelease(
      Effect.try({
        try: () => db.prepare(selectSql(table)).raw(true).iterate() as IterableIterator<Array<unknown>>,
        catch: readError
      }),
      (rows) => Effect.sync(() => rows.return?.())
    )
    let chunk: Array<Array<unknown>> = []
    let chars = 0
    let copied = 0
    while (true) {
      const next = yield* Effect.try({ try: () => rows.next(), catch: readError })
      if (next.done !== true) {
        chunk.push(next.value)
        for (const value of next.value) if (typeof value === "string") chars += value.length
      }
      if (chunk.length > 0 && (next.done === true || chunk.length === CHUNK_ROWS || chars >= CHUNK_CHARS)) {
        const columns = table.columns.map((_, i) => chunk.map((row) => row[i] ?? null))
        yield* sql.unsafe(insert, columns)
        const before = copied
        copied += chunk.length
        chunk = []
        chars = 0
        if (Math.floor(copied / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
          yield* Console.error(
            `copy-db: ${copied.toLocaleString("en-US")} of ${expected.toLocaleString("en-US")} ${table.name} copied`
          )
        }
      }
      if (next.done === true) return copied
    }
  }).pipe(Effect.scoped)

/** Everything into the target, in one transaction; the counts it holds when it commits. */
const copyAll = (db: Database.Database, options: CopyDbOptions, source: Counts) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const target = redactUrl(options.to)
    return yield* sql.withTransaction(Effect.gen(function*() {
      // writers (a server started on the target, another copy) wait for the commit
      yield* sql.unsafe(`LOCK TABLE ${[...new Set(tables.map((t) => t.name))].join(", ")} IN EXCLUSIVE MODE`)
      const [present] = yield* sql.unsafe<Counts>(COUNTS_SQL)
      if (present === undefined || total(present) > 0) {
        return yield* new CopyDbError({
          message: `${target} is not empty (it holds ${present === undefined ? "rows" : describeCounts(present)}): ` +
            "copy-db copies only into an empty database; nothing was changed"
        })
      }
      for (const table of tables) {
        const copied = yield* copyTable(db, options.from, table, Number(source[countKey(table)]))
        if (copied !== Number(source[countKey(table)])) {
          return yield* new CopyDbError({
            message: `read ${copied} ${table.name} from ${options.from}, expected ${
              source[countKey(table)]
            }: nothing copied`
          })
        }
      }
      // general's topic is the one row of general that can differ from a fresh database's
      const generalTopic = db.prepare("SELECT topic FROM rooms WHERE id = 0").pluck().get() as string | undefined
      if (generalTopic !== undefined && generalTopic !== "") {
        yield* sql.unsafe("UPDATE rooms SET topic = $1 WHERE id = 0", [generalTopic])
      }
      for (const table of tables) {
        if (!table.identity) continue
        // an empty table: the next id is 1 (is_called false); general's id 0 is no copied id
        yield* sql.unsafe(
          `SELECT setval(pg_get_serial_sequence('${table.name}', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM ${table.name} WHERE id > 0`
        )
      }
      const [after] = yield* sql.unsafe<Counts>(COUNTS_SQL)
      const wrong = tables.filter((t) => Number(after?.[countKey(t)]) !== Number(source[countKey(t)]))
      if (after === undefined || wrong.length > 0) {
        return yield* new CopyDbError({
          message: `${target} would hold ${after === undefined ? "no counts" : describeCounts(after)}, ` +
            `not the ${describeCounts(source)} of ${options.from}: nothing copied (rolled back)`
        })
      }
      return after
    }))
  }).pipe(
    Effect.catchIf(
      (error): error is SqlError => error instanceof SqlError,
      (error) =>
        Effect.fail(
          new CopyDbError({
            message: `writing to ${redactUrl(options.to)} failed, nothing copied (rolled back): ${
              oneLine(reason(error))
            }`
          })
        )
    )
  )

/** Copies the SQLite file `from` into the empty PostgreSQL database `to`; prints one summary line. */
export const copyDb = Effect.fn("copyDb")(function*(options: CopyDbOptions) {
  const target = redactUrl(options.to)
  const db = yield* openSource(options.from)
  const source = yield* inspect(db, options.from)
  const copied = yield* copyAll(db, options, source).pipe(
    Effect.provide(PgDatabase.pipe(Layer.provide(ServerConfig.layer({ db: options.to })))),
    // PgDatabase dies when it cannot connect or migrate: that is the operator's to fix, in one line
    Effect.catchSomeDefect((defect) =>
      defect instanceof SqlError || defect instanceof MigrationError
        ? Option.some(Effect.fail(new CopyDbError({ message: `cannot open ${target}: ${oneLine(reason(defect))}` })))
        : Option.none()
    ),
    Effect.onInterrupt(() =>
      Effect.zipRight(
        Effect.sync(() => {
          process.exitCode = 1
        }),
        Console.error(`parley-server copy-db: interrupted; nothing copied to ${target} (rolled back)`)
      )
    )
  )
  yield* Console.log(`copied ${describeCounts(copied)} from ${options.from} to ${target}`)
  return copied
}, Effect.scoped)
