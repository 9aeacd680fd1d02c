// A separate writer process for concurrency and crash tests. Imports the BUILT lake
// (dist/src/lake/index.js) and writes `batches` upsert batches plus appends to one table.
// Usage: node child-writer.mjs <table> <appendTable> <writer> <firstKey> <keys> <batches> <seqOffset>
// WRITE_MODE=merge-on-read in the environment: the upserts mark replaced rows with deletion vectors.
import { Lake } from '../../dist/src/lake/index.js';

const [table, appendTable, writer, firstKey, keys, batches, seqOffset] = process.argv.slice(2);
const lake = await Lake.create({ threads: 1 });
let conflicts = 0;
for (let b = 0; b < Number(batches); b++) {
  const rows = [];
  for (let k = 0; k < Number(keys); k++) {
    rows.push({ id: Number(firstKey) + k, seq: b * 2 + Number(seqOffset), writer, batch: b });
  }
  const txn = { appId: `writer-${writer}`, version: b };
  const r = await lake.write(table, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn, ...(process.env.WRITE_MODE ? { writeMode: process.env.WRITE_MODE } : {}) });
  conflicts += r.conflictsRetried;
  if (appendTable !== '-') {
    const a = await lake.write(appendTable, { kind: 'rows', rows: rows.map((x) => ({ ...x, uid: `${writer}-${b}-${x.id}` })) }, { mode: 'append', txn });
    conflicts += a.conflictsRetried;
  }
}
process.stdout.write(JSON.stringify({ writer, conflicts }) + '\n');
lake.close();
