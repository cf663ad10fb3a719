/**
 * `parley-server copy-db`: moves a SQLite database to PostgreSQL, all or
 * nothing. What it guarantees:
 *
 * - The source is only read: opened read-only, from one snapshot (a server may
 *   still be running on it; what it writes after the snapshot is not copied).
 *   Its schema must be the current one: an older file is migrated by starting
 *   the server on it once, which this command will not do behind your back.
 * - The target is migrated by `PgDatabase` (as the server would), must hold no
 *   row, and gets every row in one transaction with the four tables locked
 *   against writers, so a server started on it meanwhile waits for the commit.
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

/** Rows in each table, source or target. */
export interface Counts {
  readonly users: number
  readonly messages: number
  readonly sessions: number
  readonly tokens: number
}

/** Rows per INSERT, unless they reach `CHUNK_CHARS` first (a chunk of 4096-character messages would be 80 MB). */
const CHUNK_ROWS = 5_000
const CHUNK_CHARS = 4 * 1024 * 1024
/** A progress line on stderr each time this many more rows of a table are copied. */
const PROGRESS_EVERY = 50_000

type TableName = keyof Counts

interface Table {
  readonly name: TableName
  /** Columns in order, with the PostgreSQL array type they are sent as. */
  readonly columns: ReadonlyArray<readonly [column: string, pgType: "int4" | "int8" | "text"]>
  readonly key: string
  /** Whether its `id` is an identity whose sequence must follow the copied ids. */
  readonly identity: boolean
}

/** In the order the foreign keys need. */
const tables: ReadonlyArray<Table> = [
  {
    name: "users",
    columns: [["id", "int8"], ["username", "text"], ["password_hash", "text"], ["created_at", "text"], [
      "last_login",
      "text"
    ]],
    key: "id",
    identity: true
  },
  {
    name: "tokens",
    columns: [["token_hash", "text"], ["user_id", "int8"], ["created_at", "text"], ["expires_at", "text"]],
    key: "token_hash",
    identity: false
  },
  {
    name: "sessions",
    columns: [["id", "int8"], ["user_id", "int8"], ["ip_address", "text"], ["connect_time", "text"], [
      "disconnect_time",
      "text"
    ], ["token_hash", "text"]],
    key: "id",
    identity: true
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
      ["client_msg_id", "text"]
    ],
    key: "id",
    identity: true
  }
]

const selectSql = (t: Table) => `SELECT ${t.columns.map(([c]) => c).join(", ")} FROM ${t.name} ORDER BY ${t.key}`

const insertSql = (t: Table) =>
  `INSERT INTO ${t.name} (${t.columns.map(([c]) => c).join(", ")}) ` +
  `SELECT * FROM unnest(${t.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")})`

const COUNTS_SQL = `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t.name}) AS ${t.name}`).join(", ")}`

/**
 * Rows of what protocol v1.2 added (rooms, memberships, sanctions, the audit
 * log, room messages, edits and deletions, admins and locked accounts).
 * copy-db copies the four tables of protocol v1 only: a database that holds
 * any of these is refused rather than copied without them (a private room's
 * messages would become public ones, a deleted message would come back, a
 * locked account would be unlocked). Read marks in general (every account
 * has one) are not copied and not refused: after a copy, general's unread
 * counts from the start of the timeline.
 */
const ROOMS_USED_SQL = `SELECT
  (SELECT count(*) FROM rooms WHERE id <> 0 OR topic <> '') +
  (SELECT count(*) FROM room_members WHERE room_id <> 0 OR role <> 'member') +
  (SELECT count(*) FROM room_invites) + (SELECT count(*) FROM room_bans) + (SELECT count(*) FROM room_mutes) +
  (SELECT count(*) FROM room_audit) +
  (SELECT count(*) FROM messages WHERE room_id IS NOT NULL OR edited_at IS NOT NULL OR deleted_at IS NOT NULL) +
  (SELECT count(*) FROM users WHERE is_admin <> 0 OR locked_at IS NOT NULL)`

const plural = (n: number, noun: string) => `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`

/** "3 users, 120 messages, 7 sessions, 2 tokens" */
export const describeCounts = (c: Counts) =>
  [plural(c.users, "user"), plural(c.messages, "message"), plural(c.sessions, "session"), plural(c.tokens, "token")]
    .join(", ")

const total = (c: Counts) => c.users + c.messages + c.sessions + c.tokens

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
      if ((db.prepare(ROOMS_USED_SQL).pluck().get() as number) > 0) {
        throw new CopyDbError({
          message:
            `${file} uses rooms, moderation or server admins (protocol v1.2), which copy-db does not copy yet: ` +
            "nothing copied"
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
      yield* sql.unsafe(`LOCK TABLE ${tables.map((t) => t.name).join(", ")} IN EXCLUSIVE MODE`)
      const [present] = yield* sql.unsafe<Counts>(COUNTS_SQL)
      if (present === undefined || total(present) > 0) {
        return yield* new CopyDbError({
          message: `${target} is not empty (it holds ${present === undefined ? "rows" : describeCounts(present)}): ` +
            "copy-db copies only into an empty database; nothing was changed"
        })
      }
      for (const table of tables) {
        const copied = yield* copyTable(db, options.from, table, source[table.name])
        if (copied !== source[table.name]) {
          return yield* new CopyDbError({
            message: `read ${copied} ${table.name} from ${options.from}, expected ${source[table.name]}: nothing copied`
          })
        }
      }
      for (const table of tables) {
        if (!table.identity) continue
        // an empty table: the next id is 1 (is_called false)
        yield* sql.unsafe(
          `SELECT setval(pg_get_serial_sequence('${table.name}', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM ${table.name}`
        )
      }
      const [after] = yield* sql.unsafe<Counts>(COUNTS_SQL)
      const wrong = tables.filter((t) => after?.[t.name] !== source[t.name])
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
