import { LOAD_LEDGER_TABLE } from "../core/batchLoad";
import { ledgerHistoryQuery } from "../core/loadLedger";
import type { LedgerSelection } from "../core/loadLedger";
import type { BigQueryStandIn, QueryAnswer, QueryResponder } from "./bigQueryStandIn";

interface LedgerRow {
  readonly object: string;
  readonly outcome: string;
  readonly recorded_at: string;
}

/**
 * An emulation, not BigQuery: answers the ledger's history query (core/loadLedger.ts, whose SQL
 * test/core/loadLedger.test.ts has Google's analyzer check) from the rows insertAll stored in the
 * stand-in's ledger table. It recognises the query by regenerating it for the selection its
 * literal names, so any other SQL gets "no such query".
 */
export function ledgerQueries(bigQuery: BigQueryStandIn, dataset: string): QueryResponder {
  return (sql) => {
    const selection = selectionOf(sql);
    if (selection === undefined || ledgerHistoryQuery(dataset, selection) !== sql) return undefined;
    const selected = (bigQuery.rowsIn(LOAD_LEDGER_TABLE) as LedgerRow[]).filter((row) =>
      "object" in selection ? row.object === selection.object : row.object.startsWith(selection.objectsUnder) && Date.parse(row.recorded_at) >= selection.recordedSince.getTime(),
    );
    const groups = new Map<string, { object: string; outcome: string; attempts: number; first: number }>();
    for (const row of selected) {
      const key = JSON.stringify([row.object, row.outcome]);
      const group = groups.get(key) ?? { object: row.object, outcome: row.outcome, attempts: 0, first: Infinity };
      groups.set(key, { ...group, attempts: group.attempts + 1, first: Math.min(group.first, Date.parse(row.recorded_at)) });
    }
    const answer: QueryAnswer = {
      fields: [
        { name: "object", type: "STRING" },
        { name: "outcome", type: "STRING" },
        { name: "attempts", type: "INTEGER" },
        { name: "first_recorded_at", type: "TIMESTAMP" },
      ],
      rows: [...groups.values()].map((group) => [group.object, group.outcome, String(group.attempts), String(group.first * 1000)]),
    };
    return answer;
  };
}

/** The selection whose literals the query carries (as googleSqlString and the TIMESTAMP literal wrote them). */
function selectionOf(sql: string): LedgerSelection | undefined {
  const match = /WHERE (object = |STARTS_WITH\(object, )'((?:[^'\\]|\\.)*)'/.exec(sql);
  if (!match) return undefined;
  const text = match[2].replace(/\\u([0-9a-f]{4})|\\(.)/g, (_all, hex: string | undefined, character: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : (character ?? "")));
  if (match[1] === "object = ") return { object: text };
  const since = /recorded_at >= TIMESTAMP '([^']*)'/.exec(sql);
  return since ? { objectsUnder: text, recordedSince: new Date(since[1].replace(" ", "T").replace("+00", "Z")) } : undefined;
}
