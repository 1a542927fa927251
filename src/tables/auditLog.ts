/**
 * The `audit_log` table: one row per entry of the hash chain. A row becomes an entry exactly as it is
 * stored (columns are read without the fields' rules): verification must see what was written,
 * tampering included, and report it as a broken chain.
 */
import { AuditEntry } from "../domain/audit.js"
import { recordTable, selectFrom } from "./table.js"

export const auditLogTable = recordTable({ name: "audit_log", fields: AuditEntry.fields, key: ["seq"] })

/** The entry with the highest seq (the same SQL in both dialects: it has no parameters). */
export const selectLastEntry = `${selectFrom(auditLogTable)} ORDER BY seq DESC LIMIT 1`
