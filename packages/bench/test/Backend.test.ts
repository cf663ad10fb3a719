import { assert, describe, it } from "@effect/vitest"
import { databaseUrl, freshDatabaseName, parseBackends, redactUrl, serverName, serverOf } from "../src/Backend.ts"

describe("parseBackends", () => {
  it("takes sqlite and postgres URLs in the order given", () => {
    assert.deepStrictEqual(parseBackends([]), [])
    assert.deepStrictEqual(parseBackends(["sqlite", "postgresql://u@h/db"]), [
      { kind: "sqlite" },
      { kind: "postgres", adminUrl: "postgresql://u@h/db" }
    ])
    assert.deepStrictEqual(parseBackends(["postgres://u@h:5433/db"]).map(serverName), ["parley-pg"])
  })

  it("refuses anything else, and a backend twice, without printing a password", () => {
    assert.throws(() => parseBackends(["mysql://u:secret@h/db"]), /--db mysql:\/\/u:\*\*\*@h\/db: give sqlite/)
    assert.throws(() => parseBackends(["/tmp/bench.db"]), /give sqlite or a postgres/)
    assert.throws(() => parseBackends(["sqlite", "SQLite"]), /sqlite given twice/)
    assert.throws(() => parseBackends(["postgres://h/a", "postgres://h/b"]), /postgres given twice/)
    try {
      parseBackends(["postgres://u:secret@h:99999/db"])
      assert.fail("a port past 65535 is not a URL")
    } catch (e) {
      assert.notInclude(String(e), "secret")
    }
  })
})

describe("databaseUrl", () => {
  it("keeps the server, the credentials and the parameters, and names the new database", () => {
    assert.strictEqual(
      databaseUrl("postgres://postgres@127.0.0.1:5432/postgres", "parley_bench_1a2b3c4d"),
      "postgres://postgres@127.0.0.1:5432/parley_bench_1a2b3c4d"
    )
    assert.strictEqual(
      databaseUrl("postgresql://bench:p%40ss@db.example:6432/admin?sslmode=require", "parley_bench_x"),
      "postgresql://bench:p%40ss@db.example:6432/parley_bench_x?sslmode=require"
    )
  })

  it("adds the database to a URL that names none", () => {
    assert.strictEqual(databaseUrl("postgres://u@h", "parley_bench_x"), "postgres://u@h/parley_bench_x")
    assert.strictEqual(databaseUrl("postgres://u@h:5432/", "parley_bench_x"), "postgres://u@h:5432/parley_bench_x")
  })
})

describe("redactUrl", () => {
  it("replaces the password, and only that", () => {
    assert.strictEqual(redactUrl("postgres://bench:s3cret@h:5432/db?x=1"), "postgres://bench:***@h:5432/db?x=1")
    assert.strictEqual(redactUrl("postgres://bench@h:5432/db"), "postgres://bench@h:5432/db")
  })

  it("redacts what does not parse as a URL too", () => {
    const redacted = redactUrl("postgres://bench:s3cret@h:notaport/db")
    assert.notInclude(redacted, "s3cret")
    assert.strictEqual(redacted, "postgres://bench:***@h:notaport/db")
  })
})

describe("serverOf and freshDatabaseName", () => {
  it("says where PostgreSQL is without user or password", () => {
    assert.strictEqual(serverOf("postgres://u:pw@10.0.0.2:6543/db"), "10.0.0.2:6543")
    assert.strictEqual(serverOf("postgres://u:pw@pg/db"), "pg:5432")
    assert.strictEqual(serverOf("postgres:///db?host=/run/postgresql"), "/run/postgresql:5432")
  })

  it("makes names that need no quoting and differ from run to run", () => {
    assert.strictEqual(freshDatabaseName("00ff"), "parley_bench_00ff")
    const a = freshDatabaseName()
    assert.match(a, /^parley_bench_[0-9a-f]{8}$/)
    assert.notStrictEqual(a, freshDatabaseName())
  })
})
