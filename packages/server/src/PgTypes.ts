/**
 * How PostgreSQL values become JavaScript ones, for every connection the
 * server (and its tests) open: node-postgres's own parsing, except int8.
 */
import Pg from "pg"

/** int8 (`bigint`, `count(*)`): node-postgres gives strings; ids and counts are JSON integers on the wire. */
const INT8_OID = 20

const int8 = (text: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 ${text} is past 2^53`)
  return n
}

/** node-postgres type parsing: int8 as a JS number (refused past 2^53), the rest as node-postgres does. */
export const pgTypes: Pg.CustomTypesConfig = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      oid === INT8_OID ? int8 : Pg.types.getTypeParser(oid, format)) as Pg.CustomTypesConfig["getTypeParser"]
}
